#include "api/snapshot_builder.h"

#include <chrono>
#include <set>

#include "policy/policy.h"

namespace pathpilot::api {
namespace {

// Field readers that never throw: a missing key or a value of another type reads as the
// fallback (the status document is ours, but a reader must not crash on a partial one).
std::string str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

double num(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : 0.0;
}

bool boolean(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

const nlohmann::json& array(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kEmpty = nlohmann::json::array();
  if (!j.is_object()) {
    return kEmpty;
  }
  auto it = j.find(key);
  return it != j.end() && it->is_array() ? *it : kEmpty;
}

double unixSeconds(WallTime t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

}  // namespace

void metricsFromStatus(const nlohmann::json& status, const metrics::PathRecorder& recorder,
                       WallTime wall_now, metrics::DaemonMetrics& out) {
  if (status.is_object()) {
    out.site = str(status, "site");
    out.version = str(status, "version");
  }
  const auto& paths = array(status, "paths");
  out.paths.clear();
  out.paths.reserve(paths.size());
  for (const auto& p : paths) {
    if (!p.is_object()) {
      continue;
    }
    metrics::PathMetrics m;
    m.name = str(p, "name");
    m.link = str(p, "link");
    m.az = str(p, "az");
    m.state = str(p, "state");
    m.drained = boolean(p, "drained");
    m.usable = boolean(p, "usable");
    m.loss_ratio = num(p, "loss");
    // The status document gives milliseconds; metrics are in seconds (the Prometheus base
    // unit).
    m.rtt_p50_seconds = num(p, "rtt_p50_ms") / 1e3;
    m.rtt_p95_seconds = num(p, "rtt_p95_ms") / 1e3;
    m.rtt_p99_seconds = num(p, "rtt_p99_ms") / 1e3;
    // The status document gives the state's age; the metric is the Unix time it began.
    m.state_since_unix_seconds = unixSeconds(wall_now) - num(p, "since_seconds");
    m.reason = str(p, "reason");
    if (const auto* totals = recorder.totals(m.name)) {
      m.totals = *totals;
    }
    out.paths.push_back(std::move(m));
  }
  const auto& routes = array(status, "routes");
  out.routes.clear();
  out.routes.reserve(routes.size());
  for (const auto& r : routes) {
    if (!r.is_object()) {
      continue;
    }
    metrics::RouteMetrics m;
    m.table = str(r, "route_table");
    m.table_name = str(r, "table_name");
    m.backend = str(r, "backend");
    m.destination = str(r, "destination");
    m.current_path = str(r, "current");
    m.desired_path = str(r, "desired");
    m.preferred_path = str(r, "preferred");
    m.next_hop = str(r, "next_hop");
    m.sync = str(r, "sync");
    m.decision = str(r, "decision");
    m.reason = str(r, "reason");
    m.fail_static = boolean(r, "fail_static");
    m.hold_down_remaining_seconds = num(r, "hold_down_remaining_ms") / 1e3;
    m.changes = recorder.routeChanges(m.table, m.destination);
    out.routes.push_back(std::move(m));
  }
}

std::map<std::string, std::string> primaryPaths(const policy::Topology& topology) {
  std::map<std::string, std::string> out;
  for (const auto& table : topology.tables) {
    auto ranked = policy::rankCandidates(topology, table);
    if (!ranked.empty()) {
      out[table.id] = ranked.front().path;
    }
  }
  return out;
}

SnapshotBuilder::SnapshotBuilder(MonoTime now, WallTime wall_now,
                                 metrics::PathRecorderOptions options)
    : recorder_(now, wall_now, options) {}

void SnapshotBuilder::onEvent(const journal::Event& e) {
  using journal::EventKind;
  switch (e.kind) {
    case EventKind::PathDown:
    case EventKind::PathUp:
    case EventKind::PathDegraded:
      // `to` holds the new state name for path events (engine.cc).
      recorder_.onTransition(e.path, e.to);
      break;
    case EventKind::RouteChanged:
      recorder_.onRouteChange(e.route_table, e.destination);
      break;
    case EventKind::RouteError: {
      // The backend is known from the last build's routes: an error of a table not in them
      // (before the first build, or one a reload just added) counts as "unknown".
      auto it = backend_of_table_.find(e.route_table);
      ++route_errors_by_backend_[it == backend_of_table_.end() ? std::string("unknown")
                                                                : it->second];
      break;
    }
    default:
      break;
  }
}

void SnapshotBuilder::observeLoopLag(Duration lag) {
  // A timer run before its deadline counts as on time: no negative lag is recorded.
  if (lag < Duration::zero()) {
    lag = Duration::zero();
  }
  last_lag_seconds_ = std::chrono::duration<double>(lag).count();
  loop_lag_.observe(last_lag_seconds_);
}

std::shared_ptr<const Snapshot> SnapshotBuilder::build(SnapshotInputs in, MonoTime now,
                                                       WallTime wall_now) {
  // Buckets that ended by `now` close first, so that the totals, the history and its
  // generation read below are current.
  recorder_.advance(now);
  auto snap = std::make_shared<Snapshot>();
  snap->generation = ++generation_;
  snap->taken_at = wall_now;
  snap->taken_mono = now;
  metricsFromStatus(in.status, recorder_, wall_now, snap->metrics);

  // Forget totals of paths and routes that a reload removed, and learn table → backend.
  std::set<std::string, std::less<>> paths;
  for (const auto& p : snap->metrics.paths) {
    paths.insert(p.name);
  }
  std::set<std::string, std::less<>> routes;
  backend_of_table_.clear();
  for (const auto& r : snap->metrics.routes) {
    // The recorder's route key ("table|destination", path_recorder.h).
    routes.insert(r.table + "|" + r.destination);
    backend_of_table_[r.table] = r.backend;
  }
  // A status document without paths (partial or malformed) must not wipe every path's
  // totals and history.
  if (!snap->metrics.paths.empty()) {
    recorder_.retain(paths, routes);
  }

  auto& m = snap->metrics;
  m.snapshot_unix_seconds = std::chrono::duration<double>(wall_now.time_since_epoch()).count();
  m.aws_calls = std::move(in.aws_calls);
  m.aws_call_latency = std::move(in.aws_call_latency);
  m.alert_outbox_depth = in.alert_outbox_depth;
  m.module_families = std::move(in.module_families);
  if (in.primary_paths) {
    for (auto& r : m.routes) {
      auto it = in.primary_paths->find(r.table);
      if (it != in.primary_paths->end()) {
        r.primary_path = it->second;
      }
    }
  }
  m.route_errors_by_backend = route_errors_by_backend_;
  m.loop_lag = loop_lag_;
  m.loop_lag_last_seconds = last_lag_seconds_;
  m.snapshot_status_seconds = in.previous_status_seconds;
  m.snapshot_build_seconds = in.previous_build_seconds;
  m.snapshot_interval_seconds = in.interval_seconds;

  // History changes only when a bucket closes (every 5 s); share it until then.
  if (!history_ || history_generation_ != recorder_.historyGeneration()) {
    history_ = std::make_shared<const metrics::History>(recorder_.history());
    history_generation_ = recorder_.historyGeneration();
  }
  snap->history = history_;
  snap->status = std::move(in.status);
  return snap;
}

}  // namespace pathpilot::api
