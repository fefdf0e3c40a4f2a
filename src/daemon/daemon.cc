#include "daemon/daemon.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <tuple>

#include <asio.hpp>

#include "alert/alert_manager.h"
#include "api/daemon_api.h"
#include "base/version.h"
#include "config/loader.h"
#include "daemon/aws_tables.h"
#include "daemon/control_server.h"
#include "daemon/engine.h"
#include "daemon/fenced.h"
#include "daemon/ha_coordinator.h"
#include "daemon/ha_setup.h"
#include "daemon/logging.h"
#include "daemon/operator_drain.h"
#include "daemon/secrets.h"
#include "daemon/state_file.h"
#include "daemon/systemd.h"
#include "daemon/topology_builder.h"
#include "http/curl_http_client.h"
#include "journal/journal.h"
#include "probe/probe_engine.h"
#include "recovery/ec2_restart_action.h"
#include "recovery/recovery_action.h"
#include "route/exec/exec_route_table.h"
#include "route/linux/linux_route_table.h"
#include "route/linux/route_monitor.h"
#include "runtime/executor.h"
#include "runtime/process_runner.h"

namespace pathpilot::daemon {
namespace {

// Creates the parent directory of a file the daemon writes, if it is missing.
void ensureParent(const std::string& file) {
  if (file.empty()) {
    return;
  }
  std::error_code ec;
  auto parent = std::filesystem::path(file).parent_path();
  if (!parent.empty()) {
    std::filesystem::create_directories(parent, ec);
  }
}

Result<std::unique_ptr<route::RouteTable>> openTable(runtime::ProcessRunner& runner, AwsTables& aws,
                                                     const std::shared_ptr<const Redactor>& secrets,
                                                     const config::Config& cfg,
                                                     const config::RouteTableConfig& t) {
  switch (t.backend) {
    case config::BackendKind::Linux: {
      route::LinuxRouteOptions options;
      options.netns = cfg.backends.linux_backend.netns;
      options.protocol = cfg.backends.linux_backend.protocol;
      options.adopt_protocols = cfg.backends.linux_backend.adopt_protocols;
      return std::unique_ptr<route::RouteTable>(
          std::make_unique<route::LinuxRouteTable>(t.id, t.linux_table, options));
    }
    case config::BackendKind::Exec: {
      route::ExecOptions options;
      options.argv = cfg.backends.exec.command;
      options.list_argv = cfg.backends.exec.list_command;
      options.timeout = cfg.backends.exec.timeout;
      options.inherit = cfg.backends.exec.env_passthrough;
      options.redactor = secrets;
      if (auto v = options.validate(); !v) {
        return fail(v.error());
      }
      return std::unique_ptr<route::RouteTable>(
          std::make_unique<route::ExecRouteTable>(t.id, options, runner));
    }
    case config::BackendKind::Aws:
      return aws.open(cfg, t);
  }
  return fail(ErrorCode::Internal, "unknown backend");
}

// What the engine's factories open, behind the HA fence when there is one (daemon/fenced.h).
Result<std::unique_ptr<route::RouteTable>> fenced(Result<std::unique_ptr<route::RouteTable>> t,
                                                  const WriteFence& fence) {
  if (t && fence) {
    return fencedTable(std::move(*t), fence);
  }
  return t;
}
Result<std::unique_ptr<recovery::RecoveryAction>> fenced(
    Result<std::unique_ptr<recovery::RecoveryAction>> a, const WriteFence& fence,
    runtime::Executor& executor) {
  if (a && fence) {
    return fencedAction(std::move(*a), fence, executor);
  }
  return a;
}

// Every event the daemon emits goes to the API, the journal and the alerts; with HA, alerts
// only from the writer (etcd lost or back concerns the whole group and no monitor may lead
// meanwhile: each monitor alerts those), and a path transition tells the group at once.
struct EventFanout {
  asio::io_context& io;
  journal::Journal& events;
  const std::unique_ptr<alert::AlertManager>& alerts;
  api::DaemonApi& observability;
  const std::unique_ptr<ha::HaNode>& ha_node;
  const std::function<void()>& on_path_change;

  void operator()(const journal::Event& e) const {
    using journal::EventKind;
    if (on_path_change && (e.kind == EventKind::PathDown || e.kind == EventKind::PathUp ||
                           e.kind == EventKind::PathDegraded)) {
      asio::post(io, on_path_change);
    }
    observability.onEvent(e);
    if (e.kind == EventKind::RouteChanged) {
      // Written before the engine goes on (a fraction of a millisecond; bounded): a kill -9
      // right after a route change must not lose its event.
      events.appendAndWait(e, std::chrono::milliseconds(50));
    } else {
      events.append(e);
    }
    const bool group_event = e.kind == EventKind::HaLost || e.kind == EventKind::HaRestored;
    if (alerts && (!ha_node || group_event || ha_node->mayWrite())) {
      alerts->submit(e);
    }
  }
};

// The journal of `cfg`. Its events about itself are logged at once and handed, on the loop
// thread, to `on_problem` (set later: the API and alerts do not exist yet). Fails only for
// invalid options: a journal file that cannot be opened or is unusable is the journal's own
// problem (moved aside, retried, reported), never a reason not to route.
Result<std::unique_ptr<journal::Journal>> openJournal(
    const config::Config& cfg, const Clock& clock, asio::io_context& io,
    const std::function<void(const journal::Event&)>& on_problem) {
  journal::JournalOptions jopts;
  jopts.on_problem = [&io, &on_problem](const journal::Event& e) {
    spdlog::log(
        e.severity == journal::Severity::Critical ? spdlog::level::err : spdlog::level::info,
        "{}: {} ({})", journal::eventKindName(e.kind), e.message, e.reason);
    asio::post(io, [e, &on_problem] {
      if (on_problem) {
        on_problem(e);
      }
    });
  };
  jopts.sqlite_path = cfg.journal.sqlite;
  jopts.jsonl_path = cfg.journal.jsonl;
  jopts.site = cfg.site.name;
  jopts.queue_capacity = static_cast<std::size_t>(cfg.journal.queue_size);
  jopts.retry_capacity = jopts.queue_capacity;
  ensureParent(jopts.sqlite_path);
  ensureParent(jopts.jsonl_path);
  return journal::Journal::open(jopts, clock);
}

// Drains and recovery limits of the previous run (daemon/state_file.h), given to the engine.
// A state file that could not be read is reported as a state_reset event in `early`.
void restoreState(Engine& engine, StateFile& state_file, const config::Config& cfg,
                  const Clock& clock, std::vector<journal::Event>& early) {
  std::string problem;
  PersistentState restored = state_file.load(problem);
  if (!problem.empty()) {
    spdlog::error("{}", problem);
    auto e = journal::makeEvent(journal::EventKind::StateReset, clock.wallNow(), cfg.site.name);
    e.message = problem;
    early.push_back(e);
  } else if (!restored.drains.empty() || !restored.recovery.empty()) {
    spdlog::info("state {}: {} drained path(s), recovery memory of {} gateway(s)",
                 state_file.path(), restored.drains.size(), restored.recovery.size());
  }
  engine.restoreState(std::move(restored));
}

// What the HTTP API serves (api/daemon_api.h): the status document, the counters behind
// /metrics, and drain/undrain (the same applyDrain as the control socket).
api::DaemonApiSources apiSources(Engine& engine, probe::ProbeEngine& prober,
                                 journal::Journal& events, AwsTables& aws_tables,
                                 const std::unique_ptr<alert::AlertManager>& alerts,
                                 const std::unique_ptr<ha::HaNode>& ha_node,
                                 std::function<nlohmann::json()> full_status) {
  api::DaemonApiSources sources;
  sources.status = std::move(full_status);
  // First-choice path per table (policy order with every path healthy), per config.
  const config::Config* ranked_for = nullptr;
  std::shared_ptr<const std::map<std::string, std::string>> primary;
  // The references name objects of runDaemon, which outlive the API.
  sources.counters = [&engine, &prober, &events, &aws_tables, &alerts, &ha_node, ranked_for,
                      primary](api::SnapshotInputs& in) mutable {
    if (ranked_for != &engine.config()) {
      ranked_for = &engine.config();
      primary = std::make_shared<const std::map<std::string, std::string>>(
          api::primaryPaths(buildTopology(engine.config())));
    }
    in.primary_paths = primary;
    // Each module describes its own families (metrics/family.h).
    in.module_families = metricFamilies(engine.stats());
    auto add = [&in](std::vector<metrics::MetricFamily> families) {
      std::move(families.begin(), families.end(), std::back_inserter(in.module_families));
    };
    add(probe::metricFamilies(prober.counters()));
    add(route::metricFamilies(engine.reconciler().stats()));
    add(journal::metricFamilies(events.stats()));
    std::tie(in.aws_calls, in.aws_call_latency) = aws_tables.apiCalls();
    if (alerts) {
      in.alert_outbox_depth = alerts->outboxDepth();
    }
    if (ha_node) {
      add(haMetricFamilies(ha_node->view(), engine.config().site.name));
    }
  };
  sources.control = [&engine, &ha_node](api::ControlAction action, const std::string& path) {
    return applyDrain(engine, path, action == api::ControlAction::Drain, {"HTTP API", ""},
                      ha_node.get());
  };
  return sources;
}

// The status document of `pathpilot status --json` and GET /api/v1/status.
nlohmann::json statusDocument(const Engine& engine, journal::Journal& events,
                              const std::unique_ptr<alert::AlertManager>& alerts,
                              const std::unique_ptr<ha::HaNode>& ha_node) {
  auto status = engine.statusJson();
  status["version"] = std::string(kVersion);
  auto js = events.stats();
  status["journal"] = {{"accepted", js.accepted},     {"written", js.written},
                       {"overflowed", js.overflowed}, {"queue_depth", js.queue_depth},
                       {"errors", js.errors},         {"held", js.held},
                       {"lost", js.lost},             {"moved_aside", js.moved_aside},
                       {"syncs", js.syncs}};
  if (ha_node) {
    status["ha"] = haStatusJson(ha_node->view());
  }
  if (alerts) {
    // open_incidents: fired and awaiting their RESOLVED (restored after a restart too).
    status["alerts"] = {{"outbox_depth", alerts->outboxDepth()},
                        {"open_incidents", alerts->openIncidents()}};
  }
  return status;
}

// The recovery action of path `p`. ec2-restart shares the route tables' EC2 client
// (credentials chain, region/endpoint, connection pool, API metrics) and runs its blocking
// stop/start on the recovery executor.
Result<std::unique_ptr<recovery::RecoveryAction>> makeRecovery(
    runtime::Executor& executor, runtime::ProcessRunner& runner, AwsTables& aws, const Clock& clock,
    const std::shared_ptr<const Redactor>& secrets, const config::Config& cfg,
    const config::PathConfig& p) {
  switch (p.recovery->action) {
    case config::RecoveryAction::Command: {
      recovery::CommandActionOptions options;
      options.argv = p.recovery->command;
      options.timeout = p.recovery->timeout;
      options.inherit = p.recovery->env_passthrough;
      options.redactor = secrets;
      if (auto v = options.validate(); !v) {
        return fail(v.error());
      }
      return std::unique_ptr<recovery::RecoveryAction>(
          std::make_unique<recovery::CommandAction>(options, executor, runner));
    }
    case config::RecoveryAction::Ec2Restart: {
      auto ec2 = aws.ec2(cfg);
      if (!ec2) {
        return fail(ec2.error());
      }
      recovery::Ec2RestartOptions options;
      options.instance_id = p.recovery->instance_id;
      options.timeout = p.recovery->timeout;
      if (auto v = options.validate(); !v) {
        return fail(v.error());
      }
      return std::unique_ptr<recovery::RecoveryAction>(
          std::make_unique<recovery::Ec2RestartAction>(options, **ec2, executor, clock));
    }
  }
  return fail(ErrorCode::Internal, "unknown recovery action");
}

std::map<std::uint32_t, std::string> linuxTables(const config::Config& cfg) {
  std::map<std::uint32_t, std::string> tables;
  for (const auto& t : cfg.tables) {
    if (t.backend == config::BackendKind::Linux) {
      tables[t.linux_table] = t.id;
    }
  }
  return tables;
}

// Reloads the engine with `cfg`; the secrets of `cfg` join `secrets` first, so the new
// config's hooks and events are scrubbed of them from the start.
Result<void> reloadEngine(Engine& engine, std::shared_ptr<const Redactor>& secrets,
                          config::Config cfg) {
  auto merged = std::make_shared<Redactor>(*secrets);
  merged->merge(*knownSecrets(cfg, alert::processEnv()));
  secrets = std::move(merged);
  engine.setRedactor(secrets);
  return engine.reload(std::move(cfg));
}

// What a reload (SIGHUP) touches besides the engine.
struct ReloadTargets {
  const std::string& config_path;
  const Clock& clock;
  journal::Journal& events;
  Engine& engine;
  const std::optional<config::HaSettings>& ha;  // the section this monitor started with
  std::unique_ptr<alert::AlertManager>& alerts;
  const alert::AlertManager::EventSink& alert_sink;
  std::shared_ptr<const Redactor>& secrets;
  ha::HaNode* ha_node;  // nullable
  const std::function<void(const config::Config&)>& start_monitor;
};

// Reads the config again and applies it, or rejects it as a whole (config_rejected, the
// running config stays): an invalid file, a changed `ha` section, an alerts section that
// cannot be set up, or an engine reload that fails.
void reloadConfig(const ReloadTargets& t) {
  t.events.reopen();
  // One event for every way a reload can be refused.
  const auto reject = [&](const std::string& message, const std::string& reason, bool multiline) {
    auto e = journal::makeEvent(journal::EventKind::ConfigRejected, t.clock.wallNow(),
                                t.engine.config().site.name);
    e.message = message + "; the previous config stays active";
    e.reason = reason;
    spdlog::error("{}:{}{}", e.message, multiline ? "\n" : " ", e.reason);
    t.events.append(e);
  };
  auto r = config::checkFile(t.config_path);
  if (!r.ok()) {
    reject("config reload rejected (" + std::to_string(r.errors) + " error(s))", r.format(), true);
    return;
  }
  if (r.config->ha != t.ha) {
    // The election runs with the settings it started with: a changed node name, endpoint or
    // TTL applied in place would change who this monitor is in the group.
    reject("config reload rejected (ha)",
           "the ha section differs from the one this monitor started with; it is read at start "
           "only: restart the monitor to apply it",
           false);
    return;
  }
  // Alerts first: everything that can fail (channels, secrets, CA files, a new outbox) is done
  // before anything changes, so a broken alerts section rejects the whole reload like any
  // invalid config.
  auto prepared = alert::AlertReload::prepare(*r.config, t.alerts.get(), t.clock,
                                              http::curlClients(), t.alert_sink);
  if (!prepared) {
    reject("config reload rejected (alerts)", prepared.error().toString(), false);
    return;
  }
  if (auto applied = reloadEngine(t.engine, t.secrets, std::move(*r.config)); !applied) {
    reject("config reload rejected", applied.error().toString(), false);
    return;
  }
  // Cannot fail; does not wait for the alert workers (alert/alert_manager.h).
  prepared->apply(t.alerts);
  if (t.alerts && t.ha_node != nullptr) {
    shareIncidents(*t.alerts, *t.ha_node);  // a new outbox means a new manager
  }
  if (!prepared->summary().empty()) {
    spdlog::info("{}", prepared->summary());
  }
  t.start_monitor(t.engine.config());
}

// HA: what the leader keeps for its successor besides routes (daemon/ha_setup.h). Open alert
// incidents belong to the leader: this monitor's own (from its outbox) are left to it, and
// taken over from etcd, with the recovery limits, when this monitor leads.
void shareLeaderState(HaCoordinator& group, ha::HaNode& node, Engine& engine,
                      const std::unique_ptr<alert::AlertManager>& alerts,
                      RecoveryShare& recovery_share, const Clock& clock) {
  if (alerts) {
    alerts->releaseIncidents();
    shareIncidents(*alerts, node);
  }
  group.setLeaderState(
      [&alerts, &engine, &node, &clock, &recovery_share](
          const std::map<std::string, std::string>& state, const nlohmann::json& status) {
        engine.adoptRecovery(recovery_share.adopt(state));
        if (alerts) {
          takeOverIncidents(*alerts, state, status, engine.config().site.name, node.view().node,
                            clock.wallNow());
        }
      },
      [&alerts] {
        if (alerts) {
          alerts->releaseIncidents();
        }
      });
}

}  // namespace

int runDaemon(const RunOptions& options) {
  setupLogging("pathpilot", options.verbose);
  // Before any secret is read: no core file may hold the tokens and keys loaded below.
  if (auto off = disableCoreDumps(); !off) {
    spdlog::warn("cannot turn core dumps off: {}", off.error().toString());
  }
  auto report = config::checkFile(options.config_path);
  if (!report.ok()) {
    std::fputs(report.format().c_str(), stderr);
    spdlog::error("{}: invalid config ({} error(s)); not starting", options.config_path,
                  report.errors);
    return 1;
  }
  if (report.warnings > 0) {
    std::fputs(report.format().c_str(), stderr);
  }
  config::Config cfg = std::move(*report.config);

  RealClock clock;
  asio::io_context io;
  // The journal's events about itself (journal_failed / journal_recovered) are journaled by
  // the journal; here they are logged at once and, on the loop thread, shown by the API and
  // given to the alerts (set up below, before the loop runs).
  std::function<void(const journal::Event&)> on_journal_problem;
  auto journal = openJournal(cfg, clock, io, on_journal_problem);
  if (!journal) {
    spdlog::error("journal: {}", journal.error().toString());
    return 1;
  }

  probe::ProbeEngine prober(io, clock);
  // One route job per table runs at a time; as many workers as EC2 connections
  // (backends.aws.max_concurrency, 1..32), so that bound, not the worker count, limits how
  // many tables switch at once (bench/aws_switch_bench.cc). Set at start, like the pool.
  runtime::ThreadPoolExecutor executor(
      io, std::max<std::size_t>(4, static_cast<std::size_t>(cfg.backends.aws.max_concurrency)));
  // Recovery commands and ec2-restart attempts may run for minutes: they get their own
  // workers, so that gateways being restarted never hold up route programming, and one worker
  // per gateway with a recovery (at least 2), so that one gateway's restart never waits for
  // another's. (A reload that adds gateways beyond that queues their attempts.)
  std::size_t recovering = 0;
  for (const auto& p : cfg.paths) {
    recovering += p.recovery ? 1 : 0;
  }
  runtime::ThreadPoolExecutor recovery_executor(io, std::max<std::size_t>(2, recovering));
  runtime::PosixProcessRunner runner;
  AwsTables aws_tables(clock);
  // Every secret the config loads: scrubbed from hook/recovery output and from events. A
  // reload adds the new config's secrets (old ones stay: a command of the old config may
  // still be running, and a rotated token is still a secret).
  std::shared_ptr<const Redactor> secrets = knownSecrets(cfg, alert::processEnv());
  journal::Journal& events = **journal;
  // Alerts: fed every event (below), delivered from a durable outbox on their own threads;
  // alert_sent / alert_failed come back as journal events.
  std::unique_ptr<alert::AlertManager> alerts;
  const alert::AlertManager::EventSink alert_sink = [&events](journal::Event e) {
    events.append(std::move(e));
  };
  std::string outbox_problem;  // a bad outbox moved aside or replaced by memory: reported below
  if (cfg.alerts) {
    auto opened = alert::openAlertManager(cfg, clock, http::curlClients(), alert_sink,
                                          alert::processEnv(), &outbox_problem);
    if (!opened) {
      spdlog::error("alerts: {}", opened.error().toString());
      return 1;
    }
    alerts = std::move(*opened);
    alerts->start();
  }
  // HTTP API, /metrics and dashboard (api/daemon_api.h): sees every probe result through the
  // tap and every event; serves snapshots the engine thread publishes.
  api::DaemonApi observability(io, clock);
  // High availability (docs/ha.md): with an `ha` section this monitor is one of a group that
  // elects one writer on etcd. Every route change and recovery passes the fence on the worker
  // that performs it; the engine's write gate follows the election (below); only the writer
  // sends alerts. Every monitor probes, decides and journals for itself.
  std::unique_ptr<ha::HaNode> ha_node;
  WriteFence fence;
  if (cfg.ha) {
    auto made = makeHaNode(cfg, clock);
    if (!made) {
      spdlog::error("{}", made.error().toString());
      return 1;
    }
    ha_node = std::move(*made);
    fence = [&ha_node] { return ha_node->fence(); };
  }
  // HA: a path's state changed — the group hears of it now, not at the next view tick.
  std::function<void()> on_path_change;
  const EventFanout publish{io, events, alerts, observability, ha_node, on_path_change};
  Engine engine(
      io, clock, observability.tap(prober), executor,
      [&runner, &aws_tables, &secrets, &fence](const config::Config& c,
                                               const config::RouteTableConfig& t) {
        return fenced(openTable(runner, aws_tables, secrets, c, t), fence);
      },
      [&recovery_executor, &runner, &aws_tables, &clock, &secrets, &fence](
          const config::Config& c, const config::PathConfig& p) {
        return fenced(makeRecovery(recovery_executor, runner, aws_tables, clock, secrets, c, p),
                      fence, recovery_executor);
      },
      publish);
  if (ha_node) {
    // Before start(): no route may be written before the election says this monitor leads.
    engine.setWriteAllowed(false);
    engine.requireConfirmation(cfg.ha->require_agreement);
  }

  engine.setRedactor(secrets);

  // Drains and recovery limits of the previous run (daemon/state_file.h).
  std::vector<journal::Event> on_journal_problem_early;
  if (!outbox_problem.empty()) {
    spdlog::error("alerts: {}", outbox_problem);
    auto e =
        journal::makeEvent(journal::EventKind::AlertOutboxReset, clock.wallNow(), cfg.site.name);
    e.message = "alert outbox " + cfg.alerts->outbox + " was unusable";
    e.reason = outbox_problem;
    on_journal_problem_early.push_back(e);
  }
  ensureParent(cfg.journal.stateFile());
  StateFile state_file(cfg.journal.stateFile(), cfg.site.name);
  restoreState(engine, state_file, cfg, clock, on_journal_problem_early);
  // HA: the leader's recovery limits go to etcd too, for the next leader (daemon/ha_setup.h).
  std::optional<RecoveryShare> recovery_share;
  if (ha_node) {
    recovery_share.emplace(
        [&ha_node](std::string name, std::optional<std::string> value) {
          ha_node->publishState(std::move(name), std::move(value));
        },
        cfg.site.name);
  }
  engine.setStateSink([&state_file, &recovery_share](const PersistentState& s) {
    state_file.save(s);
    if (recovery_share) {
      recovery_share->onState(s);
    }
  });

  on_journal_problem = [&observability, &alerts](const journal::Event& e) {
    observability.onEvent(e);
    if (alerts) {
      alerts->submit(e);
    }
  };
  for (const auto& e : on_journal_problem_early) {
    events.append(e);
    on_journal_problem(e);
  }

  if (auto started = engine.start(cfg); !started) {
    spdlog::error("cannot start: {}", started.error().toString());
    return 1;
  }

  std::unique_ptr<route::LinuxRouteMonitor> monitor;
  const std::function<void(const config::Config&)> start_monitor = [&](const config::Config& c) {
    monitor.reset();
    auto tables = linuxTables(c);
    if (tables.empty()) {
      return;
    }
    monitor = std::make_unique<route::LinuxRouteMonitor>(
        io, route::LinuxMonitorOptions{c.backends.linux_backend.netns, tables},
        [&engine](const route::RouteNotice& n) { engine.onRouteNotice(n); });
    if (auto m = monitor->start(); !m) {
      // Drift is still found by the periodic check.
      spdlog::warn("route notifications unavailable ({}); relying on periodic checks",
                   m.error().toString());
      monitor.reset();
    }
  };
  start_monitor(engine.config());

  auto full_status = [&] { return statusDocument(engine, events, alerts, ha_node); };
  // Status documents are built on this thread on request, coalesced (control_server.h);
  // connections and answers are handled on the control server's own thread.
  ControlServer control(
      io, cfg.control.socket, full_status, [&](const ControlRequest& req, const ControlPeer& peer) {
        const bool drain = req.cmd == ControlRequest::Cmd::Drain;
        if (drain || req.cmd == ControlRequest::Cmd::Undrain) {
          // Who moves traffic is logged and journalled (SO_PEERCRED: set by the kernel).
          auto r = applyDrain(engine, req.path, drain, {"control socket", peer.describe()},
                              ha_node.get());
          if (!r) {
            return nlohmann::json{{"ok", false}, {"error", r.error().message()}};
          }
          return nlohmann::json{{"ok", true}, {"message", *r}};
        }
        return nlohmann::json{{"ok", false}, {"error", "not a command for the engine"}};
      });
  if (auto c = control.start(); !c) {
    spdlog::error("{}", c.error().toString());
    return 1;
  }
  if (cfg.api) {
    api::DaemonApiSources sources =
        apiSources(engine, prober, events, aws_tables, alerts, ha_node, full_status);
    // The API's settings are read at start only; a reload that changes them needs a restart.
    if (auto a = observability.start(*cfg.api, std::move(sources), &events); !a) {
      spdlog::error("{}", a.error().toString());
      return 1;
    }
  }

  SystemdNotifier systemd(io);
  bool stopping = false;
  int exit_code = 0;
  std::optional<HaCoordinator> ha_group;  // with an `ha` section (started below)
  asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
  std::function<void(const asio::error_code&, int)> on_signal =
      [&](const asio::error_code& ec, int sig) {
        if (ec) {
          return;
        }
        if (sig == SIGHUP) {
          systemd.reloading();
          reloadConfig({options.config_path, clock, events, engine, cfg.ha, alerts, alert_sink,
                        secrets, ha_node.get(), start_monitor});
          systemd.ready();
          signals.async_wait(on_signal);
          return;
        }
        if (stopping) {
          return;
        }
        stopping = true;
        spdlog::info("signal {}: draining and stopping", sig);
        systemd.stopping();
        control.stop();
        observability.stop();
        monitor.reset();
        if (ha_group) {
          ha_group->stop();
        }
        engine.shutdown(std::chrono::seconds(10), [&] { io.stop(); });
        signals.async_wait(on_signal);
      };
  signals.async_wait(on_signal);

  if (ha_node) {
    ha_group.emplace(io, clock, engine, *ha_node, *cfg.ha, publish);
    on_path_change = [&ha_group] { ha_group->onPathChange(); };
    shareLeaderState(*ha_group, *ha_node, engine, alerts, *recovery_share, clock);
    ha_group->start([&](const Error& error) {
      spdlog::error("ha: {}", error.message());
      exit_code = 1;
      on_signal({}, SIGTERM);
    });
  }

  systemd.ready();
  systemd.status("probing " + std::to_string(engine.config().paths.size()) + " paths");
  systemd.startWatchdog();
  spdlog::info("pathpilot {} running: site {}, control socket {}", kVersion,
               engine.config().site.name, cfg.control.socket);
  io.run();
  if (ha_node) {
    ha_node->stop();  // a leader gives its key up: a follower takes over at once
  }
  control.stop();
  observability.stop();
  if (alerts) {
    alerts->stop(std::chrono::seconds(5));  // undelivered alerts stay in the outbox
  }
  events.close();
  auto js = events.stats();
  if (js.overflowed > 0) {
    spdlog::warn("journal dropped {} events (queue full)", js.overflowed);
  }
  spdlog::info("stopped");
  return exit_code;
}

}  // namespace pathpilot::daemon
