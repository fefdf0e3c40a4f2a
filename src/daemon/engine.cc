#include "daemon/engine.h"

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "base/check.h"
#include "daemon/secrets.h"
#include "daemon/topology_builder.h"

namespace pathpilot::daemon {

using health::PathState;
using journal::EventKind;

struct Engine::PathRuntime {
  const config::PathConfig* cfg = nullptr;  // points into *config_
  health::LinkHealth health;
  bool drained = false;
  // Whether each target's latest probe failed. A path with a failing latest probe is not
  // trusted as a failover target until it answers again (see decide()).
  std::vector<bool> last_failed = std::vector<bool>(cfg ? cfg->probe.targets.size() : 0, false);
  std::size_t failing = 0;
  bool suspect() const { return failing > 0; }
};

struct Engine::TableRuntime {
  const config::RouteTableConfig* cfg = nullptr;  // points into *config_
  std::unique_ptr<route::RouteTable> table;
  bool listed = false;  // the reconciler has read what the table holds
};

namespace {

// A stored (wall-clock) recovery memory on this process's monotonic clock.
recovery::RecoveryMemory toMemory(const StoredRecovery& stored, MonoTime now, WallTime wall_now) {
  auto mono = [&](WallTime t) { return now - std::chrono::duration_cast<Duration>(wall_now - t); };
  recovery::RecoveryMemory m;
  for (WallTime t : stored.starts) {
    m.starts.push_back(mono(t));
  }
  m.attempts = stored.attempts;
  m.failures = stored.failures;
  if (stored.not_before) {
    m.not_before = mono(*stored.not_before);
  }
  return m;
}

// The inverse of toMemory: what the state file and the group keep (wall-clock times).
StoredRecovery toStored(const recovery::RecoveryMemory& m, MonoTime now, WallTime wall_now) {
  auto wall = [&](MonoTime t) {
    return wall_now - std::chrono::duration_cast<WallTime::duration>(now - t);
  };
  StoredRecovery r;
  for (MonoTime t : m.starts) {
    r.starts.push_back(wall(t));
  }
  r.attempts = m.attempts;
  r.failures = m.failures;
  if (m.not_before) {
    r.not_before = wall(*m.not_before);
  }
  return r;
}

health::HealthParams healthParams(const config::PathConfig& path) {
  const config::HealthSettings& h = path.health;
  health::HealthParams p;
  p.window = static_cast<std::size_t>(h.window);
  p.rise = h.rise;
  p.fall = h.fall;
  p.min_samples = std::min<std::size_t>(p.window, static_cast<std::size_t>(h.window));
  p.degraded_loss = h.degraded_loss;
  p.down_loss = h.down_loss;
  // health.degraded_rtt is the mean RTT over the window (docs/config.md), degraded_rtt_p95
  // its p95; 0 leaves a threshold off.
  if (h.degraded_rtt > Duration::zero()) {
    p.degraded_rtt_mean = h.degraded_rtt;
  }
  if (h.degraded_rtt_p95 > Duration::zero()) {
    p.degraded_rtt_p95 = h.degraded_rtt_p95;
  }
  if (h.degraded_clear_loss >= 0) {
    p.degraded_clear_loss = h.degraded_clear_loss;
  }
  if (h.degraded_clear_rtt > Duration::zero()) {
    p.degraded_clear_rtt_mean = h.degraded_clear_rtt;
  }
  p.quorum = static_cast<std::size_t>(path.probe.quorum);
  p.damping = h.damping.enabled;
  p.half_life = h.damping.half_life;
  p.penalty = h.damping.penalty;
  p.suppress = h.damping.suppress;
  p.reuse = h.damping.reuse;
  p.max_suppress = h.damping.max_suppress;
  return p;
}

std::vector<std::string> targetNames(const config::PathConfig& path) {
  std::vector<std::string> names;
  for (const auto& t : path.probe.targets) {
    names.push_back(t.toString());
  }
  return names;
}

// Probe and health settings decide whether a path's health state survives a reload.
bool sameProbing(const config::PathConfig& a, const config::PathConfig& b) {
  const auto& pa = a.probe;
  const auto& pb = b.probe;
  return pa.targets == pb.targets && pa.pinning == pb.pinning && pa.kind == pb.kind &&
         pa.quorum == pb.quorum && pa.interval == pb.interval && pa.timeout == pb.timeout &&
         a.health.window == b.health.window && a.health.rise == b.health.rise &&
         a.health.fall == b.health.fall && a.health.degraded_loss == b.health.degraded_loss &&
         a.health.down_loss == b.health.down_loss &&
         a.health.degraded_rtt == b.health.degraded_rtt &&
         a.health.degraded_clear_loss == b.health.degraded_clear_loss &&
         a.health.degraded_clear_rtt == b.health.degraded_clear_rtt &&
         a.health.degraded_rtt_p95 == b.health.degraded_rtt_p95 &&
         a.health.damping.enabled == b.health.damping.enabled &&
         a.health.damping.half_life == b.health.damping.half_life &&
         a.health.damping.penalty == b.health.damping.penalty &&
         a.health.damping.suppress == b.health.damping.suppress &&
         a.health.damping.reuse == b.health.damping.reuse &&
         a.health.damping.max_suppress == b.health.damping.max_suppress;
}

bool sameRecovery(const config::RecoverySettings& a, const config::RecoverySettings& b) {
  return a.action == b.action && a.command == b.command && a.instance_id == b.instance_id &&
         a.after == b.after && a.timeout == b.timeout && a.backoff_initial == b.backoff_initial &&
         a.backoff_max == b.backoff_max && a.max_attempts_per_hour == b.max_attempts_per_hour;
}

journal::Link toLink(config::LinkKind k) {
  return k == config::LinkKind::Dx ? journal::Link::Dx : journal::Link::Vpn;
}

std::string hopText(const std::optional<route::NextHop>& hop) {
  return hop ? hop->toString() : std::string("none");
}

double millis(Duration d) { return toMillis(d); }

}  // namespace

Engine::Engine(asio::io_context& io, const Clock& clock, probe::Prober& prober,
               runtime::Executor& executor, TableFactory tables, RecoveryFactory recoveries,
               EventSink events)
    : io_(io),
      clock_(clock),
      prober_(prober),
      executor_(executor),
      table_factory_(std::move(tables)),
      recovery_factory_(std::move(recoveries)),
      sink_(std::move(events)),
      decision_timer_(io),
      health_timer_(io),
      reconcile_timer_(io),
      recovery_timer_(io) {}

Engine::~Engine() {
  prober_.stop();
  // A timer handler already queued with success still runs after the engine is gone; the
  // expired alive_ is what keeps it from touching the engine (its error code alone does not).
  alive_.reset();
}

namespace {

// The probe of the monitor's own reference targets (config `monitor.probe`). Path names are
// [A-Za-z0-9_.-], so this one cannot clash with a configured path.
constexpr std::string_view kMonitorProbe = "@monitor";

void appendTargetSpecs(const std::string& name, const config::ProbeSettings& settings,
                       std::vector<probe::TargetSpec>& specs) {
  probe::TargetSpec base;
  base.path = name;
  base.kind =
      settings.kind == config::ProbeKind::Tcp ? probe::ProbeKind::Tcp : probe::ProbeKind::Icmp;
  base.interval = settings.interval;
  base.timeout = settings.timeout;
  base.jitter_pct = static_cast<std::uint32_t>(settings.jitter_percent);
  base.pinning = settings.pinning;
  if (const config::AdaptiveTimeoutSettings& at = settings.adaptive_timeout; at.enabled) {
    base.adaptive_timeout = probe::AdaptiveTimeoutParams{at.min, at.rttvar_factor, at.margin};
  }
  for (std::size_t i = 0; i < settings.targets.size(); ++i) {
    probe::TargetSpec s = base;
    s.index = static_cast<std::uint32_t>(i);
    // Phase-locked so that the targets whose loss takes the path down probe together.
    // (The config checks 1 ≤ quorum ≤ targets; clamped so a hand-built config cannot abort.)
    s.phase = probe::quorumPhaseSlot(
        i, settings.targets.size(),
        std::clamp<std::size_t>(static_cast<std::size_t>(std::max(settings.quorum, 1)), 1,
                                settings.targets.size()));
    s.address = settings.targets[i].address;
    s.port = settings.targets[i].port;
    specs.push_back(std::move(s));
  }
}

// The monitor's reference targets as a pseudo-path, for health::LinkHealth.
config::PathConfig monitorPath(const config::Config& config) {
  config::PathConfig p;
  p.name = std::string(kMonitorProbe);
  p.probe = *config.monitor.probe;
  p.health = config.health;
  return p;
}

}  // namespace

std::vector<probe::TargetSpec> Engine::targetSpecs(const config::Config& config) const {
  std::vector<probe::TargetSpec> specs;
  for (const config::PathConfig& path : config.paths) {
    appendTargetSpecs(path.name, path.probe, specs);
  }
  if (config.monitor.probe) {
    appendTargetSpecs(std::string(kMonitorProbe), *config.monitor.probe, specs);
  }
  return specs;
}

Result<void> Engine::start(config::Config config) {
  PP_CHECK(!started_);
  started_at_ = clock_.wallNow();
  auto built = build(std::move(config), /*is_reload=*/false);
  if (!built) {
    return built;
  }
  started_ = true;
  MonoTime now = clock_.now();
  reconciler_->start(now);
  prober_.setSink([this](const probe::ProbeResult& r) { onProbeResult(r); });
  prober_.start();
  scheduleReconcile(reconciler_->poll(now));
  auto e = event(EventKind::DaemonStarted);
  e.message = "pathpilot started with " + std::to_string(paths_.size()) + " paths and " +
              std::to_string(tables_.size()) + " route tables";
  emit(std::move(e));
  return ok();
}

Result<void> Engine::reload(config::Config config) {
  PP_CHECK(started_);
  auto built = build(std::move(config), /*is_reload=*/true);
  if (!built) {
    return built;
  }
  ++stats_.reloads;
  decide("config reload");
  return ok();
}

// Everything a config needs that can fail, built aside: the running state is untouched, so a
// rejected reload leaves the old config in charge.
struct Engine::Plan {
  std::unique_ptr<config::Config> cfg;
  bool is_reload = false;
  std::optional<policy::Policy> policy;
  std::vector<std::unique_ptr<PathRuntime>> paths;
  // Tables in config order; a table open before keeps its RouteTable (moved over at commit).
  std::vector<std::unique_ptr<TableRuntime>> tables;
  std::set<std::string> existing_tables;  // open before this plan
  // Recovery actions of paths whose recovery settings are new or changed, and the paths
  // whose recovery is kept as it runs.
  std::map<std::string,
           std::pair<recovery::RecoveryPolicy, std::unique_ptr<recovery::RecoveryAction>>>
      new_recoveries;
  std::set<std::string> kept_recoveries;
  std::optional<health::LinkHealth> monitor_health;
};

Result<void> Engine::build(config::Config config, bool is_reload) {
  auto plan = prepare(std::move(config), is_reload);
  if (!plan) {
    return fail(plan.error());
  }
  // The one fallible step with an effect, last: the probe engine takes the new targets or
  // keeps the old ones.
  if (auto probes = prober_.replaceTargets(targetSpecs(*plan->cfg)); !probes) {
    return fail(probes.error().withContext("probes"));
  }
  commit(std::move(*plan));
  return ok();
}

Result<Engine::Plan> Engine::prepare(config::Config config, bool is_reload) const {
  const MonoTime now = clock_.now();
  Plan plan;
  // On the heap: the runtimes below keep pointers into it (their cfg), which stay valid when
  // commit() moves the unique_ptr into config_.
  plan.cfg = std::make_unique<config::Config>(std::move(config));
  plan.is_reload = is_reload;
  const config::Config& cfg = *plan.cfg;
  auto compiled = policy::Policy::create(buildTopology(cfg));
  if (!compiled) {
    return fail(compiled.error().withContext("policy"));
  }
  plan.policy.emplace(std::move(*compiled));
  for (const auto& p : cfg.paths) {
    const PathRuntime* old = is_reload ? findPath(p.name) : nullptr;
    if (old != nullptr && sameProbing(*old->cfg, p)) {
      plan.paths.push_back(
          std::make_unique<PathRuntime>(PathRuntime{&p, old->health, old->drained}));
      continue;
    }
    auto h = health::LinkHealth::create(healthParams(p), targetNames(p), now);
    if (!h) {
      return fail(h.error().withContext("path " + p.name + " health"));
    }
    bool drained = old != nullptr ? old->drained
                                  : (!is_reload && restore_ && restore_->drains.count(p.name) > 0);
    plan.paths.push_back(std::make_unique<PathRuntime>(PathRuntime{&p, std::move(*h), drained}));
  }
  if (auto checked = checkReloadable(cfg, is_reload); !checked) {
    return fail(checked.error());
  }
  for (const auto& t : tables_) {
    plan.existing_tables.insert(t->cfg->id);
  }
  for (const auto& t : cfg.tables) {
    auto rt = std::make_unique<TableRuntime>();
    rt->cfg = &t;
    if (plan.existing_tables.count(t.id) == 0) {
      auto opened = table_factory_(cfg, t);
      if (!opened) {
        return fail(opened.error().withContext("route table " + t.id));
      }
      rt->table = std::move(*opened);
    }
    plan.tables.push_back(std::move(rt));
  }
  for (const auto& p : cfg.paths) {
    if (!p.recovery) {
      continue;
    }
    const PathRuntime* old = is_reload ? findPath(p.name) : nullptr;
    if (old != nullptr && old->cfg->recovery && sameRecovery(*old->cfg->recovery, *p.recovery)) {
      plan.kept_recoveries.insert(p.name);
      continue;
    }
    if (!recovery_factory_) {
      return fail(ErrorCode::InvalidArgument, "path " + p.name + ": recovery is not supported");
    }
    auto action = recovery_factory_(cfg, p);
    if (!action) {
      return fail(action.error().withContext("path " + p.name + " recovery"));
    }
    recovery::RecoveryPolicy rp;
    rp.after = p.recovery->after;
    rp.backoff_initial = p.recovery->backoff_initial;
    rp.backoff_max = p.recovery->backoff_max;
    rp.max_attempts_per_hour = p.recovery->max_attempts_per_hour;
    // After a command that reported success, give the probes this long to see the gateway.
    rp.settle = std::max<Duration>(p.recovery->backoff_initial, std::chrono::seconds(10));
    if (auto v = rp.validate(); !v) {
      return fail(v.error().withContext("path " + p.name + " recovery"));
    }
    plan.new_recoveries.emplace(p.name, std::make_pair(rp, std::move(*action)));
  }
  if (cfg.monitor.probe) {
    config::PathConfig mp = monitorPath(cfg);
    auto h = health::LinkHealth::create(healthParams(mp), targetNames(mp), now);
    if (!h) {
      return fail(h.error().withContext("monitor probe health"));
    }
    plan.monitor_health = std::move(*h);
  }
  return plan;
}

Result<void> Engine::checkReloadable(const config::Config& cfg, bool is_reload) const {
  if (!is_reload || !config_) {
    return ok();
  }
  // The Linux tables keep the ownership they were opened with; writing under a new protocol
  // while the old routes carry the old one would make pathpilot's own routes foreign to it.
  const config::LinuxBackendSettings& was = config_->backends.linux_backend;
  const config::LinuxBackendSettings& next = cfg.backends.linux_backend;
  if (was.protocol != next.protocol || was.adopt_protocols != next.adopt_protocols) {
    return fail(ErrorCode::InvalidArgument,
                "backends.linux.protocol and adopt_protocols: changing them needs a restart "
                "(the reload keeps the old ones)");
  }
  for (const auto& t : cfg.tables) {
    for (const auto& old : tables_) {
      if (old->cfg->id == t.id && old->cfg->backend != t.backend) {
        return fail(ErrorCode::InvalidArgument,
                    "route table " + t.id +
                        ": changing its backend needs a restart (the reload keeps the old one)");
      }
    }
  }
  return ok();
}

void Engine::commit(Plan plan) {
  const MonoTime now = clock_.now();
  ensureReconciler(now);
  ensureRecoveryManager(now);
  // These two compare the plan with the running config (config_, tables_), so they run before
  // it is replaced below.
  commitRecoveries(plan, now);
  commitTables(plan, now);
  const bool is_reload = plan.is_reload;
  config_ = std::move(plan.cfg);
  paths_ = std::move(plan.paths);
  tables_ = std::move(plan.tables);
  path_index_.clear();
  for (std::size_t i = 0; i < paths_.size(); ++i) {
    path_index_[paths_[i]->cfg->name] = i;
  }
  table_index_.clear();
  for (std::size_t i = 0; i < tables_.size(); ++i) {
    table_index_[tables_[i]->cfg->id] = i;
  }
  policy_ = std::make_unique<policy::Policy>(std::move(*plan.policy));
  statuses_.assign(paths_.size(), policy::PathStatus{});
  for (std::size_t i = 0; i < paths_.size(); ++i) {
    auto st = paths_[i]->health.stats(now);
    statuses_[i] = {st.state,        paths_[i]->drained, st.since,
                    st.usable_since, st.clean_since,     st.reason};
  }
  resetViewCheck(std::move(plan.monitor_health), now);
  observeNewRecoveries(plan, now);
  adoptStartingPoint();
  announceConfig(is_reload);
  // Cleared only now: commitRecoveries() and announceConfig() of the first build read it, and
  // a reload must not apply it again.
  restore_.reset();
  saveState();
}

void Engine::ensureReconciler(MonoTime now) {
  if (reconciler_) {
    return;
  }
  route::ReconcilerCallbacks cb;
  cb.route_changed = [this](const route::RouteChangedEvent& e) { onRouteChanged(e); };
  cb.route_error = [this](const route::RouteErrorEvent& e) { onRouteError(e); };
  cb.route_drift = [this](const route::RouteDriftEvent& e) { onRouteDrift(e); };
  cb.table_state = [this](const std::string& table, route::SyncState state) {
    // Any state past Awaiting means the table's first listing is done: what it holds is known,
    // so its routes can start from it and be decided (decide() holds those of unlisted tables).
    if (state == route::SyncState::Awaiting) {
      return;
    }
    if (TableRuntime* t = findTable(table); t != nullptr && !t->listed) {
      t->listed = true;
      adoptStartingPoint();
      if (std::all_of(tables_.begin(), tables_.end(), [](const auto& x) { return x->listed; })) {
        adopt_programmed_ = false;
      }
      decide("route table listed");
    }
  };
  cb.wakeup = [this](MonoTime when) { scheduleReconcile(when); };
  reconciler_ = std::make_unique<route::Reconciler>(executor_, clock_, std::move(cb));
  // A setWriteAllowed() made before the reconciler existed only recorded the flag.
  reconciler_->setWriteAllowed(write_allowed_, now);
}

void Engine::ensureRecoveryManager(MonoTime now) {
  if (recovery_) {
    return;
  }
  recovery::RecoveryCallbacks rc;
  rc.started = [this](const recovery::RecoveryEvent& r) {
    onRecovery(EventKind::RecoveryStarted, r);
  };
  // One terminal event per attempt: recovery_succeeded means "the gateway came back" (the
  // journal's contract, and what operators count and alert on). The action's own success
  // (EC2 reports running, the command exited 0) is only half of that — the probes have yet
  // to see the tunnel — so it is a log line, and the status shows the attempt as settling;
  // the settle running out unconfirmed is journalled as recovery_failed by the manager.
  rc.succeeded = [](const recovery::RecoveryEvent& r) {
    spdlog::info(
        "recovery of {}: the {} action finished (attempt {}, {:.1f}s); waiting for "
        "the probes to see the gateway back",
        r.gateway, r.action, r.attempt, toMillis(r.elapsed) / 1000.0);
  };
  rc.failed = [this](const recovery::RecoveryEvent& r) {
    onRecovery(EventKind::RecoveryFailed, r);
  };
  // The gateway came back while the action still ran: the outage is over (the manager
  // stopped the attempt), which is a success for the operator.
  rc.cancelled = [this](const recovery::RecoveryEvent& r) {
    onRecovery(EventKind::RecoverySucceeded, r);
  };
  rc.confirmed = [this](const recovery::RecoveryEvent& r) {
    onRecovery(EventKind::RecoverySucceeded, r);
  };
  rc.wakeup = [this](MonoTime when) { scheduleRecovery(when); };
  recovery_ = std::make_unique<recovery::RecoveryManager>(clock_, std::move(rc));
  recovery_->setWriteAllowed(write_allowed_ && !recovery_held_, now);
}

void Engine::commitRecoveries(Plan& plan, MonoTime now) {
  // A reload that changes a gateway's recovery settings keeps what the old plan remembered
  // (the hourly cap, the back-off of the outage in progress).
  std::map<std::string, recovery::RecoveryMemory> previous = recovery_->memory(now);
  if (config_) {
    for (const auto& p : config_->paths) {
      if (p.recovery && plan.kept_recoveries.count(p.name) == 0) {
        recovery_->removeGateway(p.name, now);
      }
    }
  }
  for (auto& [name, pr] : plan.new_recoveries) {
    auto added = recovery_->addGateway(name, pr.first, std::move(pr.second));
    if (!added) {
      spdlog::error("path {}: recovery not set up: {}", name, added.error().toString());
      continue;
    }
    if (restore_) {
      // The hourly cap and back-off of the previous run (a crash loop must not reset them).
      auto it = restore_->recovery.find(name);
      if (it != restore_->recovery.end()) {
        recovery_->restore(name, toMemory(it->second, now, clock_.wallNow()), now);
      }
    } else if (auto it = previous.find(name); it != previous.end()) {
      recovery_->restore(name, it->second, now);
    }
  }
}

void Engine::observeNewRecoveries(const Plan& plan, MonoTime now) {
  // A gateway whose recovery a reload added or changed hears its path's state now: health
  // carried over reports no transition, and a path already down would otherwise wait for one.
  bool any = false;
  for (const auto& [name, unused] : plan.new_recoveries) {
    if (auto it = path_index_.find(name); it != path_index_.end()) {
      recovery_->onGatewayState(name, statuses_[it->second].state, now);
      any = true;
    }
  }
  if (any) {
    scheduleRecovery(recovery_->poll(now));
  }
}

void Engine::commitTables(Plan& plan, MonoTime now) {
  // Carry over open tables and forget routes that are no longer configured.
  for (auto& t : plan.tables) {
    for (auto& old : tables_) {
      if (old->cfg->id == t->cfg->id) {
        t->table = std::move(old->table);
        // A table listed before is not awaited again: its routes are decided at once.
        t->listed = old->listed;
      }
    }
  }
  // A destination dropped from the config is forgotten, not withdrawn: its route stays in the
  // table as last programmed, no longer managed (route::Reconciler::forget).
  std::set<std::string> wanted;
  for (const auto& t : plan.cfg->tables) {
    for (const auto& d : t.destinations) {
      wanted.insert(t.id + "|" + d.toString());
    }
  }
  if (config_) {
    for (const auto& t : config_->tables) {
      for (const auto& d : t.destinations) {
        if (wanted.count(t.id + "|" + d.toString()) == 0) {
          reconciler_->forget(route::RouteKey{t.id, d}, now);
        }
      }
    }
  }
  for (auto& t : plan.tables) {
    if (plan.existing_tables.count(t->cfg->id) == 0) {
      reconciler_->addTable(*t->table, now);
    }
    // Linux tables are re-read every backends.linux.drift_check_interval (the netlink monitor
    // reports most changes at once; this catches what it missed). Other backends keep the
    // reconciler's default.
    if (t->cfg->backend == config::BackendKind::Linux) {
      reconciler_->setFullCheckInterval(t->cfg->id,
                                        plan.cfg->backends.linux_backend.drift_check_interval, now);
    }
    for (const auto& d : t->cfg->destinations) {
      // track() fails only for a table the reconciler does not know; every table is added by now.
      (void)reconciler_->track(route::RouteKey{t->cfg->id, d}, now);
    }
  }
}

// The view check starts from the current states (on a reload the correlation times of an
// ongoing outage are not known any more: it is judged again from the next changes).
void Engine::resetViewCheck(std::optional<health::LinkHealth> monitor_health, MonoTime now) {
  std::vector<std::string> names;
  for (const auto& p : paths_) {
    names.push_back(p->cfg->name);
  }
  const bool was_suspect = view_ && view_->suspect();
  view_ = std::make_unique<policy::ViewCheck>(
      policy::ViewCheckParams{config_->monitor.correlation_window}, std::move(names));
  for (std::size_t i = 0; i < paths_.size(); ++i) {
    (void)view_->onPathState(i, statuses_[i].state, now);
  }
  monitor_health_ = std::move(monitor_health);
  if (monitor_health_) {
    auto ms = monitor_health_->stats(now);
    (void)view_->onReferenceState(ms.state, ms.reason, now);
  }
  if (was_suspect != view_->suspect()) {
    policy::ViewChange change;
    change.changed = true;
    change.suspect = view_->suspect();
    change.reason = view_->reason();
    applyViewChange(change);
  }
}

void Engine::announceConfig(bool is_reload) {
  auto e = event(EventKind::ConfigLoaded);
  e.message =
      std::string(is_reload ? "config reloaded" : "config loaded") + " from " + config_->source;
  emit(std::move(e));
  if (!restore_ || is_reload) {
    return;
  }
  // Drains an operator made before the restart stay: say so, once per path.
  for (const auto& p : paths_) {
    if (p->drained) {
      auto d = event(EventKind::Drain);
      d.path = p->cfg->name;
      d.link = toLink(p->cfg->kind);
      d.message = "path " + p->cfg->name +
                  " is still drained (an operator drained it before "
                  "the restart; `pathpilot undrain " +
                  p->cfg->name + "` to end it)";
      emit(std::move(d));
    }
  }
  for (const auto& name : restore_->drains) {
    if (findPath(name) == nullptr) {
      spdlog::warn("state: drained path {} is not in the config any more; drain dropped", name);
    }
  }
}

void Engine::restoreState(PersistentState state) { restore_ = std::move(state); }

void Engine::adoptRecovery(const std::map<std::string, StoredRecovery>& recovery) {
  if (!recovery_ || recovery.empty()) {
    return;
  }
  const MonoTime now = clock_.now();
  for (const auto& [gateway, stored] : recovery) {
    spdlog::info("recovery {}: taken over: {} attempt(s) in the last hour, {} in this outage",
                 gateway, stored.starts.size(), stored.attempts);
    recovery_->adopt(gateway, toMemory(stored, now, clock_.wallNow()), now);
  }
  saveState();
  scheduleRecovery(recovery_->poll(now));
}

void Engine::setStateSink(std::function<void(const PersistentState&)> sink) {
  state_sink_ = std::move(sink);
}

void Engine::saveState() {
  if (!state_sink_) {
    return;
  }
  PersistentState state;
  for (const auto& p : paths_) {
    if (p->drained) {
      state.drains.insert(p->cfg->name);
    }
  }
  if (recovery_) {
    const MonoTime now = clock_.now();
    const WallTime wall_now = clock_.wallNow();
    for (const auto& [name, m] : recovery_->memory(now)) {
      if (m.starts.empty() && m.attempts == 0) {
        continue;
      }
      state.recovery.emplace(name, toStored(m, now, wall_now));
    }
  }
  state_sink_(state);
}

void Engine::setWriteAllowed(bool allowed) {
  if (allowed == write_allowed_) {
    return;
  }
  write_allowed_ = allowed;
  if (!reconciler_) {
    return;  // build() applies it
  }
  MonoTime now = clock_.now();
  if (allowed && started_) {
    // Every table is listed again (route/reconciler.h); its table_state callback adopts it
    // and decides, as at start.
    adopt_programmed_ = true;
    for (auto& t : tables_) {
      t->listed = false;
    }
  }
  reconciler_->setWriteAllowed(allowed, now);
  scheduleReconcile(reconciler_->poll(now));
  if (recovery_) {
    recovery_->setWriteAllowed(allowed && !recovery_held_, now);
    scheduleRecovery(recovery_->poll(now));
  }
}

void Engine::holdRecovery(bool held) {
  if (held == recovery_held_) {
    return;
  }
  recovery_held_ = held;
  if (recovery_) {
    const MonoTime now = clock_.now();
    recovery_->setWriteAllowed(write_allowed_ && !recovery_held_, now);
    scheduleRecovery(recovery_->poll(now));
  }
}

void Engine::adoptStartingPoint() {
  // Routes of tables that have been listed start from what they hold, so that a restart keeps
  // the current path (and its hold-down) instead of moving traffic at once.
  std::vector<policy::ProgrammedRoute> programmed;
  auto snapshot = reconciler_->snapshot();
  std::map<std::string, std::string> decided;
  for (const auto& r : previous_.routes) {
    decided[r.table + "|" + r.destination.toString()] = r.path;
  }
  for (const auto& s : snapshot) {
    const TableRuntime* table = findTable(s.key.table);
    if (table == nullptr) {
      continue;
    }
    std::string key = s.key.table + "|" + s.key.destination.toString();
    auto it = decided.find(key);
    if (adopt_programmed_ && table->listed) {
      // A promoted follower: what the previous leader programmed is where it starts, not
      // what it decided while it could not write.
      if (s.programmed) {
        programmed.push_back(
            {s.key.table, s.key.destination, pathForNextHop(*table, *s.programmed)});
      }
      // Erased even when the table holds nothing there, so that the loop below does not bring
      // back a decision this monitor took while it could not write.
      decided.erase(key);
      continue;
    }
    if (it != decided.end() && !it->second.empty()) {
      programmed.push_back({s.key.table, s.key.destination, it->second});
      continue;
    }
    if (table->listed && s.programmed) {
      programmed.push_back({s.key.table, s.key.destination, pathForNextHop(*table, *s.programmed)});
    }
  }
  // Decisions already taken (a reload) are kept by (table, destination).
  for (const auto& entry : decided) {
    const std::string& key = entry.first;
    const std::string& path = entry.second;
    const auto bar = key.find('|');
    if (path.empty() || bar == std::string::npos) {
      continue;
    }
    const std::string table = key.substr(0, bar);
    auto prefix = IpPrefix::parse(key.substr(bar + 1));
    if (!prefix) {
      continue;
    }
    bool present = std::any_of(programmed.begin(), programmed.end(), [&](const auto& p) {
      return p.table == table && p.destination == *prefix;
    });
    if (!present) {
      programmed.push_back({table, *prefix, path});
    }
  }
  previous_ = policy_->startingPoint(programmed);
}

std::string Engine::pathForNextHop(const TableRuntime& table, const route::NextHop& hop) const {
  for (const auto& p : paths_) {
    route::NextHop mine = nextHopFor(table, *p->cfg);
    if (mine.isTarget() || hop.isTarget()) {
      if (mine.target == hop.target && !mine.target.empty()) {
        return p->cfg->name;
      }
      continue;
    }
    if (mine.via && hop.via && *mine.via == *hop.via &&
        (mine.dev.empty() || hop.dev.empty() || mine.dev == hop.dev)) {
      return p->cfg->name;
    }
    if (!mine.via && !hop.via && !mine.dev.empty() && mine.dev == hop.dev) {
      return p->cfg->name;
    }
  }
  return "";
}

route::NextHop Engine::nextHopFor(const TableRuntime& table, const config::PathConfig& path) const {
  const auto& nh = path.next_hop;
  // An exec hook gets whatever the path sets (docs/config.md): its Linux next hop (via/dev)
  // when it has one, its AWS id otherwise.
  bool linux_form = table.cfg->backend == config::BackendKind::Linux ||
                    (table.cfg->backend == config::BackendKind::Exec && nh.hasLinux());
  if (linux_form) {
    if (nh.via) {
      return route::NextHop::gateway(*nh.via, nh.dev);
    }
    return route::NextHop::device(nh.dev);
  }
  return route::NextHop::opaque(nh.aws_id);
}

const Engine::PathRuntime* Engine::findPath(std::string_view name) const {
  auto it = path_index_.find(name);
  return it == path_index_.end() ? nullptr : paths_[it->second].get();
}

Engine::PathRuntime* Engine::findPath(std::string_view name) {
  auto it = path_index_.find(name);
  return it == path_index_.end() ? nullptr : paths_[it->second].get();
}

Engine::TableRuntime* Engine::findTable(std::string_view id) const {
  auto it = table_index_.find(id);
  return it == table_index_.end() ? nullptr : tables_[it->second].get();
}

void Engine::onProbeResult(const probe::ProbeResult& result) {
  if (stopping_) {
    return;
  }
  ++stats_.probe_results;
  auto it = path_index_.find(result.path);
  if (it == path_index_.end()) {
    if (result.path == kMonitorProbe && monitor_health_) {
      onMonitorProbe(result);
      return;
    }
    ++stats_.unknown_results;
    return;
  }
  std::size_t index = it->second;
  MonoTime now = clock_.now();
  std::string_view error;
  if (!result.success) {
    error = result.failure == probe::FailureKind::Timeout ? std::string_view("timeout")
                                                          : std::string_view(result.error);
  }
  health::ProbeSample sample{result.target_index, result.success, result.rtt, error};
  if (result.target_index >= paths_[index]->cfg->probe.targets.size()) {
    ++stats_.unknown_results;
    return;
  }
  PathRuntime& p = *paths_[index];
  bool was_suspect = p.suspect();
  if (p.last_failed.size() == p.cfg->probe.targets.size() &&
      p.last_failed[result.target_index] != !result.success) {
    p.last_failed[result.target_index] = !result.success;
    if (result.success) {
      --p.failing;
    } else {
      ++p.failing;
    }
  }
  auto tr = p.health.onProbeResult(sample, now);
  if (tr.changed || tr.suppression_changed || tr.clean_changed) {
    onHealthTransition(index, tr);
  } else if (was_suspect != p.suspect()) {
    // A route waiting for fresh evidence may move now (or must not move yet).
    decide("probe evidence");
  }
}

void Engine::runDue() {
  if (!started_ || stopping_) {
    return;
  }
  MonoTime now = clock_.now();
  for (std::size_t i = 0; i < paths_.size(); ++i) {
    auto tr = paths_[i]->health.tick(now);
    if (tr.changed || tr.suppression_changed || tr.clean_changed) {
      onHealthTransition(i, tr);
    }
  }
  if (decision_at_ && now >= *decision_at_) {
    decision_at_.reset();
    decide("hold-down expired");
  }
  scheduleReconcile(reconciler_->poll(now));
  if (recovery_) {
    scheduleRecovery(recovery_->poll(now));
  }
}

void Engine::onRouteNotice(const route::RouteNotice& notice) {
  if (reconciler_ && !stopping_) {
    reconciler_->noteExternalChange(notice, clock_.now());
  }
}

void Engine::onHealthTransition(std::size_t index, const health::Transition& tr) {
  MonoTime now = clock_.now();
  PathRuntime& p = *paths_[index];
  auto st = p.health.stats(now);
  statuses_[index] = {st.state, p.drained, st.since, st.usable_since, st.clean_since, st.reason};
  if (tr.changed) {
    ++stats_.transitions;
    EventKind kind = tr.to == PathState::Down       ? EventKind::PathDown
                     : tr.to == PathState::Degraded ? EventKind::PathDegraded
                                                    : EventKind::PathUp;
    if (tr.to == PathState::Unknown) {
      kind = EventKind::PathDegraded;
    }
    auto e = event(kind);
    e.path = p.cfg->name;
    e.link = toLink(p.cfg->kind);
    e.from = std::string(health::pathStateName(tr.from));
    e.to = std::string(health::pathStateName(tr.to));
    e.reason = tr.reason;
    e.message = "path " + p.cfg->name + " is " + e.to + " (was " + e.from + ")";
    emit(std::move(e));
    if (view_) {
      // Before recovery hears of the state: a suspect view holds recovery back.
      applyViewChange(view_->onPathState(index, st.state, now));
    }
  }
  decide(tr.changed               ? "path state change"
         : tr.suppression_changed ? "damping change"
                                  : "path measured clean");
  scheduleHealthTick();
  if (recovery_ && p.cfg->recovery) {
    recovery_->onGatewayState(p.cfg->name, st.state, now);
    scheduleRecovery(recovery_->poll(now));
  }
}

void Engine::onMonitorProbe(const probe::ProbeResult& result) {
  MonoTime now = clock_.now();
  std::string_view error;
  if (!result.success) {
    error = result.failure == probe::FailureKind::Timeout ? std::string_view("timeout")
                                                          : std::string_view(result.error);
  }
  health::ProbeSample sample{result.target_index, result.success, result.rtt, error};
  auto tr = monitor_health_->onProbeResult(sample, now);
  if (tr.changed && view_) {
    spdlog::info("monitor reference targets: {} ({})", health::pathStateName(tr.to), tr.reason);
    applyViewChange(view_->onReferenceState(tr.to, tr.reason, now));
  }
}

void Engine::applyViewChange(const policy::ViewChange& change) {
  if (!change.changed) {
    return;
  }
  MonoTime now = clock_.now();
  auto e = event(change.suspect ? EventKind::MonitorSuspect : EventKind::MonitorTrusted);
  if (change.suspect) {
    e.reason = change.reason;
    e.message = "the monitor doubts its own view: " + change.reason +
                "; routes are kept as they are and gateway recovery is held back";
  } else {
    e.message = "the monitor trusts its view again; gateway recovery may run";
  }
  emit(std::move(e));
  updateRecoveryHold(now);
}

void Engine::updateRecoveryHold(MonoTime now) {
  if (!recovery_) {
    return;
  }
  std::optional<std::string> reason;
  if (view_ && view_->suspect()) {
    reason = "the monitor doubts its own view";
  } else if (!disputed_.empty()) {
    reason = "the group sees " + disputed_.begin()->first + " up (" + disputed_.begin()->second +
             "); this monitor's view is disputed";
  }
  recovery_->setHeld(reason, now);
  scheduleRecovery(recovery_->poll(now));
}

void Engine::requireConfirmation(bool required) { require_confirmation_ = required; }

void Engine::setConfirmed(std::set<std::string> confirmed) {
  if (confirmed == confirmed_) {
    return;
  }
  confirmed_ = std::move(confirmed);
  decide("the group's view changed");
}

void Engine::setDisputed(std::map<std::string, std::string> disputed) {
  if (disputed == disputed_) {
    return;
  }
  const bool was = !disputed_.empty();
  disputed_ = std::move(disputed);
  const bool is = !disputed_.empty();
  std::string list;
  for (const auto& [path, by] : disputed_) {
    list += (list.empty() ? "" : "; ") + path + " up for " + by;
  }
  if (was != is && !(view_ && view_->suspect())) {
    auto e = event(is ? EventKind::MonitorSuspect : EventKind::MonitorTrusted);
    if (is) {
      e.reason = "the group disagrees: " + list;
      e.message =
          "the monitor doubts its own view: the other monitors see up what it sees failing; "
          "routes are kept as they are and gateway recovery is held back";
    } else {
      e.message = "the group agrees with this monitor's view again; gateway recovery may run";
    }
    emit(std::move(e));
  } else {
    spdlog::info("disputed paths: {}", list.empty() ? "none" : list);
  }
  updateRecoveryHold(clock_.now());
  decide("the group's view changed");
}

void Engine::decide(const char* trigger) {
  if (!policy_ || stopping_) {
    return;
  }
  MonoTime now = clock_.now();
  auto t0 = std::chrono::steady_clock::now();
  // What health says, weighed by policy's evidence rules (policy/evidence.h).
  evidence_.resize(paths_.size());
  for (std::size_t i = 0; i < paths_.size(); ++i) {
    const std::string& name = paths_[i]->cfg->name;
    evidence_[i].suspect = paths_[i]->suspect();
    evidence_[i].disputed = disputed_.count(name) != 0;
    evidence_[i].unconfirmed = require_confirmation_ && confirmed_.count(name) == 0;
  }
  policy::decisionInput(statuses_, evidence_, policy_input_);
  policy_->decide(policy_input_, previous_, now, next_);
  // listed_ lines up with next_.routes: both follow the config's order, tables in order and
  // each table's destinations in order (buildTopology() keeps it, and so does tables_).
  listed_.clear();
  for (const auto& t : tables_) {
    listed_.insert(listed_.end(), t->cfg->destinations.size(), t->listed);
  }
  policy::holdUnlisted(listed_, previous_, next_);
  auto elapsed = std::chrono::steady_clock::now() - t0;
  stats_.last_decision_time = elapsed;
  stats_.max_decision_time = std::max(stats_.max_decision_time, stats_.last_decision_time);
  ++stats_.decisions;

  // Fail-static is reported once per table when it starts and when it ends.
  table_ids_.clear();
  for (const auto& t : tables_) {
    table_ids_.push_back(t->cfg->id);
  }
  for (auto& change : fail_static_.update(next_, table_ids_)) {
    auto e = event(change.started ? EventKind::FailStatic : EventKind::FailStaticCleared);
    e.route_table = change.table;
    e.destination = change.destinations.size() == 1 ? change.destinations.front() : "";
    e.reason = std::move(change.reason);
    e.message = std::move(change.message);
    emit(std::move(e));
  }
  // Every decided route is handed to the reconciler once per change of its path: a kept route
  // (adopted at start-up) too, so that drift away from it is repaired.
  for (const auto& r : next_.routes) {
    if (r.path.empty()) {
      continue;
    }
    auto& sent = desired_sent_[r.table + "|" + r.destination.toString()];
    if (r.changed || sent != r.path) {
      sent = r.path;
      applyDecision(r);
    }
  }
  if (next_.changed_count > 0) {
    spdlog::debug("policy ({}): {} route(s) change", trigger, next_.changed_count);
  }
  std::swap(previous_, next_);
  scheduleDecision(previous_.next_decision);
}

void Engine::applyDecision(const policy::RouteDecision& r) {
  const TableRuntime* table = findTable(r.table);
  const PathRuntime* path = findPath(r.path);
  if (table == nullptr || path == nullptr) {
    return;
  }
  route::RouteKey key{r.table, r.destination};
  change_reasons_[key.toString()] = std::string(policy::decisionKindName(r.kind)) + ": " + r.reason;
  auto set = reconciler_->setDesired(key, {nextHopFor(*table, *path->cfg), r.path}, clock_.now());
  if (!set) {
    spdlog::error("cannot program {}: {}", key.toString(), set.error().toString());
  }
  if (r.changed) {
    ++stats_.route_changes;
  }
}

void Engine::scheduleDecision(std::optional<MonoTime> when) {
  // decide() reschedules after every run; for the same instant the armed wait is kept instead
  // of being cancelled and armed again.
  if (decision_at_ && when && *decision_at_ == *when) {
    return;
  }
  decision_at_ = when;
  decision_timer_.cancel();
  if (!when) {
    return;
  }
  decision_timer_.expires_at(*when);
  decision_timer_.async_wait(
      [this, alive = std::weak_ptr<int>(alive_)](const asio::error_code& ec) {
        if (ec || alive.expired()) {
          return;
        }
        decision_at_.reset();
        decide("hold-down expired");
      });
}

void Engine::scheduleHealthTick() {
  MonoTime now = clock_.now();
  // Armed at the earliest damping reuse time: a suppressed path is released by time, not by a
  // probe result.
  std::optional<MonoTime> earliest;
  for (const auto& p : paths_) {
    if (auto at = p->health.reuseTime(); at && (!earliest || *at < *earliest)) {
      earliest = at;
    }
  }
  health_timer_.cancel();
  if (!earliest) {
    return;
  }
  health_timer_.expires_at(std::max(*earliest, now));
  health_timer_.async_wait([this, alive = std::weak_ptr<int>(alive_)](const asio::error_code& ec) {
    if (ec || alive.expired()) {
      return;
    }
    MonoTime t = clock_.now();
    for (std::size_t i = 0; i < paths_.size(); ++i) {
      auto tr = paths_[i]->health.tick(t);
      if (tr.changed || tr.suppression_changed) {
        onHealthTransition(i, tr);
      }
    }
    scheduleHealthTick();
  });
}

void Engine::scheduleReconcile(MonoTime when) {
  if (when == MonoTime::max()) {
    return;
  }
  if (reconcile_at_ != MonoTime::max() && reconcile_at_ <= when) {
    return;  // an earlier wake-up is already armed and will poll
  }
  reconcile_at_ = when;
  reconcile_timer_.expires_at(when);  // cancels a later wait
  reconcile_timer_.async_wait(
      [this, alive = std::weak_ptr<int>(alive_)](const asio::error_code& ec) {
        if (ec || alive.expired()) {
          return;
        }
        reconcile_at_ = MonoTime::max();
        scheduleReconcile(reconciler_->poll(clock_.now()));
      });
}

void Engine::scheduleRecovery(MonoTime when) {
  if (when == MonoTime::max() || stopping_) {
    return;
  }
  if (recovery_at_ != MonoTime::max() && recovery_at_ <= when) {
    return;
  }
  recovery_at_ = when;
  recovery_timer_.expires_at(when);
  recovery_timer_.async_wait(
      [this, alive = std::weak_ptr<int>(alive_)](const asio::error_code& ec) {
        if (ec || alive.expired()) {
          return;
        }
        recovery_at_ = MonoTime::max();
        scheduleRecovery(recovery_->poll(clock_.now()));
      });
}

void Engine::onRecovery(EventKind kind, const recovery::RecoveryEvent& r) {
  auto e = event(kind);
  e.path = r.gateway;
  e.link = linkOf(r.gateway);
  std::string attempt = "attempt " + std::to_string(r.attempt);
  auto secs = [](Duration d) { return fmt::format("{:.1f}s", toMillis(d) / 1000.0); };
  switch (kind) {
    case EventKind::RecoveryStarted:
      e.reason = r.reason;
      e.message = "recovering gateway " + r.gateway + " (" + r.action + ", " + attempt +
                  ", down for " + secs(r.down_for) + ")";
      break;
    case EventKind::RecoverySucceeded:
      // Confirmed (the action had finished) or cancelled (it was still running): the facts an
      // operator asks about — which action, which attempt, how long it took, when it was seen.
      e.reason = r.reason;
      if (r.action_finished) {
        e.message = "recovery of " + r.gateway + " succeeded: the gateway came back (" + r.action +
                    ", " + attempt + "; the action took " + secs(r.action_elapsed) +
                    ", the probes confirmed " + secs(r.confirmed_after) + " later; " +
                    secs(r.elapsed) + " in all, down for " + secs(r.down_for + r.elapsed) + ")";
      } else {
        e.message = "recovery of " + r.gateway + " succeeded: the gateway came back while the " +
                    r.action + " action was still running (" + attempt + ", stopped after " +
                    secs(r.elapsed) + ", down for " + secs(r.down_for + r.elapsed) + ")";
      }
      break;
    default: {
      e.reason = r.reason;
      if (r.exit_code) {
        e.reason += " (exit " + std::to_string(*r.exit_code) + ")";
      }
      if (!r.stderr_tail.empty()) {
        e.reason += ": " + r.stderr_tail;
      }
      e.message = "recovery of " + r.gateway + " failed (" +
                  (r.capped ? std::string("hourly attempt limit reached")
                            : attempt + (r.timed_out ? ", timed out" : "")) +
                  ")";
      break;
    }
  }
  emit(std::move(e));
  // Every attempt event changes what a restart must remember (hourly cap, back-off).
  saveState();
}

journal::Event Engine::event(EventKind kind) const {
  auto e = journal::makeEvent(kind, clock_.wallNow(), config_ ? config_->site.name : "");
  return e;
}

journal::Link Engine::linkOf(const std::string& path) const {
  const PathRuntime* p = findPath(path);
  return p == nullptr ? journal::Link::None : toLink(p->cfg->kind);
}

void Engine::emit(journal::Event e) {
  ++stats_.events;
  if (redactor_) {
    // Reasons quote hook and recovery output and backend errors.
    e = redactEvent(std::move(e), *redactor_);
  }
  auto level = e.severity == journal::Severity::Critical  ? spdlog::level::err
               : e.severity == journal::Severity::Warning ? spdlog::level::warn
                                                          : spdlog::level::info;
  spdlog::log(level, "{}: {}{}", journal::eventKindName(e.kind), e.message,
              e.reason.empty() ? "" : " — " + e.reason);
  if (sink_) {
    sink_(e);
  }
}

void Engine::onRouteChanged(const route::RouteChangedEvent& c) {
  auto e = event(EventKind::RouteChanged);
  e.route_table = c.key.table;
  e.destination = c.key.destination.toString();
  e.from = c.from_path;
  if (e.from.empty() && c.from) {
    // A route adopted at start-up or put there by hand: name its path if it is one of ours.
    if (const TableRuntime* t = findTable(c.key.table); t != nullptr) {
      e.from = pathForNextHop(*t, *c.from);
    }
  }
  if (e.from.empty()) {
    e.from = hopText(c.from);
  }
  e.to = c.to_path.empty() ? hopText(c.to) : c.to_path;
  e.path = c.to_path;
  e.link = linkOf(c.to_path);
  auto it = change_reasons_.find(c.key.toString());
  e.reason = it != change_reasons_.end() ? it->second : "";
  e.message = c.key.table + " " + e.destination + ": " + e.from + " → " + e.to + " (" +
              fmt::format("{:.1f}", millis(c.latency)) + " ms after the decision, " +
              std::to_string(c.attempts) + (c.attempts == 1 ? " attempt)" : " attempts)");
  emit(std::move(e));
}

void Engine::onRouteError(const route::RouteErrorEvent& r) {
  auto e = event(EventKind::RouteError);
  e.route_table = r.key.table;
  if (!r.table_level) {
    e.destination = r.key.destination.toString();
  }
  e.reason = r.error.toString();
  e.message = r.key.table + (r.table_level ? "" : " " + e.destination) + ": " + r.operation +
              " failed (attempt " + std::to_string(r.attempt) + "), retry in " +
              formatDuration(std::chrono::duration_cast<std::chrono::milliseconds>(r.retry_in));
  emit(std::move(e));
}

void Engine::onRouteDrift(const route::RouteDriftEvent& d) {
  auto e = event(EventKind::RouteDrift);
  e.route_table = d.key.table;
  e.destination = d.key.destination.toString();
  e.from = hopText(d.actual);
  e.to = hopText(d.expected);
  e.reason = "found " + e.from + " where " + e.to + " was programmed (" + d.detected_by + ")";
  if (d.actual && d.actual->isForeign()) {
    // Another owner's route now decides the destination; the backend will not overwrite it,
    // so promising to put ours back would be false (route_error says why, until it is gone).
    e.message = d.key.table + " " + e.destination + " is now held by a route pathpilot does " +
                "not own (" + e.from + "): pathpilot leaves it and retries until it is gone";
  } else {
    e.message = d.key.table + " " + e.destination + " was changed outside pathpilot: putting " +
                e.to + " back";
  }
  // The route_changed event of the repair takes its reason from here.
  change_reasons_[d.key.toString()] = "drift repair: " + e.reason;
  emit(std::move(e));
}

Result<std::string> Engine::drain(const std::string& name, const std::string& by) {
  PathRuntime* p = findPath(name);
  if (p == nullptr) {
    return fail(ErrorCode::NotFound, "unknown path \"" + name + "\"");
  }
  if (p->drained) {
    return std::string("path " + name + " is already drained");
  }
  p->drained = true;
  // statuses_ is the policy's input and is refreshed from health only on a transition, so the
  // flag is set there as well.
  statuses_[path_index_[name]].drained = true;
  auto e = event(EventKind::Drain);
  e.path = name;
  e.link = toLink(p->cfg->kind);
  e.reason = by.empty() ? "" : "requested by " + by;
  e.message = "path " + name + " drained by an operator" + (by.empty() ? "" : " (" + by + ")") +
              ": traffic moves off it";
  emit(std::move(e));
  saveState();
  decide("drain");
  return std::string("path " + name + " drained");
}

Result<std::string> Engine::undrain(const std::string& name, const std::string& by) {
  PathRuntime* p = findPath(name);
  if (p == nullptr) {
    return fail(ErrorCode::NotFound, "unknown path \"" + name + "\"");
  }
  if (!p->drained) {
    return std::string("path " + name + " is not drained");
  }
  p->drained = false;
  statuses_[path_index_[name]].drained = false;
  auto e = event(EventKind::Undrain);
  e.path = name;
  e.link = toLink(p->cfg->kind);
  e.reason = by.empty() ? "" : "requested by " + by;
  e.message = "path " + name + " undrained by an operator" + (by.empty() ? "" : " (" + by + ")");
  emit(std::move(e));
  saveState();
  decide("undrain");
  return std::string("path " + name + " undrained");
}

void Engine::shutdown(Duration grace, std::function<void()> done) {
  stopping_ = true;
  prober_.stop();
  decision_timer_.cancel();
  health_timer_.cancel();
  recovery_timer_.cancel();
  // The reconcile timer stays armed until the end, so the reconciler carries on with the route
  // changes in flight; decide() starts no new ones (stopping_).
  auto deadline = clock_.now() + grace;
  auto timer = std::make_shared<asio::steady_timer>(io_);
  auto check = std::make_shared<std::function<void()>>();
  *check = [this, deadline, timer, check, done = std::move(done)]() {
    bool busy = false;
    if (reconciler_) {
      for (const auto& s : reconciler_->snapshot()) {
        busy = busy || s.in_flight;
      }
    }
    if (!busy || clock_.now() >= deadline) {
      if (busy) {
        spdlog::warn("shutdown: route changes still in flight after the grace period");
      }
      auto e = event(EventKind::DaemonStopped);
      e.message = "pathpilot stopped";
      emit(std::move(e));
      reconcile_timer_.cancel();
      // Copied first: the next line destroys this closure, `done` included.
      auto finish = done;
      *check = nullptr;  // break the self-reference
      finish();
      return;
    }
    timer->expires_after(std::chrono::milliseconds(20));
    timer->async_wait([check](const asio::error_code&) {
      if (*check) {
        (*check)();
      }
    });
  };
  (*check)();
}

nlohmann::json Engine::statusJson() const {
  MonoTime now = clock_.now();
  nlohmann::json j;
  j["site"] = config_ ? config_->site.name : "";
  j["config"] = config_ ? config_->source : "";
  j["started_at"] = formatRfc3339(started_at_);
  j["now"] = formatRfc3339(clock_.wallNow());
  auto wall_of = [&](MonoTime t) {
    return formatRfc3339(clock_.wallNow() -
                         std::chrono::duration_cast<WallTime::duration>(now - t));
  };
  if (view_) {
    nlohmann::json m;
    m["view"] = view_->suspect() ? "suspect" : "trusted";
    m["reason"] = view_->reason();
    if (view_->since() != MonoTime{}) {
      m["since"] = wall_of(view_->since());
    }
    if (monitor_health_) {
      m["reference_state"] = std::string(health::pathStateName(monitor_health_->stats(now).state));
    }
    j["monitor"] = std::move(m);
  }
  if (!disputed_.empty()) {
    j["disputed"] = disputed_;  // HA: path → the monitors that see it up
  }
  if (require_confirmation_) {
    j["confirmed"] = confirmed_;  // HA: failing paths the group confirmed
  }
  // One recovery snapshot for every path (it lists all gateways), not one per path.
  const std::vector<recovery::GatewayRecoveryStatus> recoveries =
      recovery_ ? recovery_->snapshot(now) : std::vector<recovery::GatewayRecoveryStatus>{};
  std::map<std::string_view, std::size_t> recovery_by_gateway;
  for (std::size_t i = 0; i < recoveries.size(); ++i) {
    recovery_by_gateway.emplace(recoveries[i].gateway, i);
  }
  nlohmann::json paths = nlohmann::json::array();
  for (const auto& p : paths_) {
    auto st = p->health.stats(now);
    nlohmann::json pj;
    pj["name"] = p->cfg->name;
    pj["link"] = std::string(config::linkKindName(p->cfg->kind));
    pj["az"] = p->cfg->az;
    pj["state"] = std::string(health::pathStateName(st.state));
    pj["drained"] = p->drained;
    pj["answering"] = !p->suspect();
    // Proven clean over a full window (the failback hold-down counts from then).
    pj["clean"] = st.clean_since.has_value();
    pj["usable"] = (st.state == PathState::Up || st.state == PathState::Degraded) && !p->drained;
    pj["since"] = wall_of(st.since);
    pj["since_seconds"] = std::chrono::duration<double>(now - st.since).count();
    pj["reason"] = st.reason;
    pj["loss"] = st.measured.loss;
    pj["samples"] = st.measured.samples;
    pj["rtt_mean_ms"] = millis(st.measured.rtt_mean);  // what health.degraded_rtt compares
    pj["rtt_p50_ms"] = millis(st.measured.rtt_p50);
    pj["rtt_p95_ms"] = millis(st.measured.rtt_p95);
    pj["rtt_p99_ms"] = millis(st.measured.rtt_p99);
    pj["consecutive_misses"] = st.measured.consecutive_misses;
    pj["penalty"] = st.penalty;
    pj["suppressed"] = st.suppressed;
    if (st.reuse_at) {
      pj["reuse_in_ms"] = millis(*st.reuse_at - now);
    }
    nlohmann::json targets = nlohmann::json::array();
    for (const auto& t : st.targets) {
      targets.push_back({{"target", t.name},
                         {"state", std::string(health::pathStateName(t.state))},
                         {"loss", t.measured.loss},
                         {"rtt_p50_ms", millis(t.measured.rtt_p50)},
                         {"reason", t.reason}});
    }
    pj["targets"] = targets;
    if (recovery_ && p->cfg->recovery) {
      if (auto found = recovery_by_gateway.find(p->cfg->name); found != recovery_by_gateway.end()) {
        const auto& g = recoveries[found->second];
        nlohmann::json rj{{"action", g.action},
                          {"phase", std::string(recovery::recoveryPhaseName(g.phase))},
                          {"attempts_last_hour", g.attempts_last_hour},
                          {"consecutive_failures", g.consecutive_failures},
                          {"last_failure", g.last_failure}};
        if (!g.detail.empty()) {
          rj["detail"] = g.detail;  // settling: the action finished, the probes have yet to see
        }
        if (g.next_attempt != MonoTime::max()) {
          rj["next_attempt_in_ms"] = millis(g.next_attempt - now);
        }
        pj["recovery"] = rj;
      }
    }
    paths.push_back(pj);
  }
  j["paths"] = paths;

  std::map<std::string, route::RouteStatus> sync;
  if (reconciler_) {
    for (auto& s : reconciler_->snapshot()) {
      sync.emplace(s.key.toString(), s);
    }
  }
  nlohmann::json routes = nlohmann::json::array();
  for (const auto& r : previous_.routes) {
    route::RouteKey key{r.table, r.destination};
    nlohmann::json rj;
    rj["route_table"] = r.table;
    const TableRuntime* table = findTable(r.table);
    if (table != nullptr) {
      rj["table_name"] = table->cfg->name;
      rj["az"] = table->cfg->az;
      rj["backend"] = std::string(config::backendKindName(table->cfg->backend));
    }
    rj["destination"] = r.destination.toString();
    rj["desired"] = r.path;
    rj["preferred"] = r.preferred;
    rj["decision"] = std::string(policy::decisionKindName(r.kind));
    rj["reason"] = r.reason;
    rj["fail_static"] = r.fail_static;
    rj["hold_down_remaining_ms"] = millis(r.hold_down_remaining);
    auto it = sync.find(key.toString());
    if (it != sync.end()) {
      const auto& s = it->second;
      rj["current"] = s.programmed_path.empty() && s.programmed && table != nullptr
                          ? pathForNextHop(*table, *s.programmed)
                          : s.programmed_path;
      rj["next_hop"] = s.programmed ? s.programmed->toString() : "";
      rj["sync"] =
          s.in_flight ? "in_flight" : (s.dirty ? "pending" : (s.known ? "synced" : "awaiting"));
      if (s.last_error) {
        rj["last_error"] = s.last_error->toString();
        rj["failures"] = s.failures;
      }
    } else {
      rj["current"] = "";
      rj["sync"] = "awaiting";
    }
    routes.push_back(rj);
  }
  j["routes"] = routes;
  j["engine"] = {{"probe_results", stats_.probe_results},
                 {"transitions", stats_.transitions},
                 {"decisions", stats_.decisions},
                 {"route_changes", stats_.route_changes},
                 {"events", stats_.events},
                 {"reloads", stats_.reloads},
                 {"last_decision_us",
                  std::chrono::duration<double, std::micro>(stats_.last_decision_time).count()},
                 {"max_decision_us",
                  std::chrono::duration<double, std::micro>(stats_.max_decision_time).count()}};
  return j;
}

std::vector<metrics::MetricFamily> metricFamilies(const EngineStats& s) {
  using metrics::counterFamily;
  using metrics::gaugeFamily;
  auto seconds = [](Duration d) { return std::chrono::duration<double>(d).count(); };
  return {
      counterFamily("pathpilot_engine_probe_results_total", "Probe results fed to health.",
                    s.probe_results),
      counterFamily("pathpilot_engine_transitions_total", "Path state changes.", s.transitions),
      counterFamily("pathpilot_engine_decisions_total", "Policy runs.", s.decisions),
      counterFamily("pathpilot_engine_route_changes_total",
                    "Decided route changes handed to the reconciler.", s.route_changes),
      counterFamily("pathpilot_engine_events_total", "Events emitted to the journal.", s.events),
      counterFamily("pathpilot_config_reloads_total", "Successful config reloads.", s.reloads),
      gaugeFamily("pathpilot_engine_decision_seconds", "Time the last policy run took.",
                  seconds(s.last_decision_time)),
      gaugeFamily("pathpilot_engine_decision_max_seconds", "Longest policy run since start.",
                  seconds(s.max_decision_time)),
  };
}

}  // namespace pathpilot::daemon
