#include "metrics/daemon_metrics.h"

#include <array>
#include <set>

namespace pathpilot::metrics {
namespace {

std::uint64_t flag(bool b) { return b ? 1 : 0; }

// Writes one family with one sample per path; `value` picks the figure.
template <class F>
void perPath(ExpositionWriter& w, const DaemonMetrics& m, std::string_view name, MetricType type,
             std::string_view help, F value) {
  w.family(name, type, help);
  for (const auto& p : m.paths) {
    w.sample({{"site", m.site}, {"path", p.name}, {"link", p.link}}, value(p));
  }
}

template <class F>
void perRoute(ExpositionWriter& w, const DaemonMetrics& m, std::string_view name,
              MetricType type, std::string_view help, F value) {
  w.family(name, type, help);
  for (const auto& r : m.routes) {
    w.sample({{"site", m.site}, {"route_table", r.table}, {"destination", r.destination}},
             value(r));
  }
}

void renderPaths(const DaemonMetrics& m, ExpositionWriter& w) {
  w.family("pathpilot_path_up", MetricType::Gauge,
           "1 if the path is usable (up or degraded, and not drained), else 0.");
  for (const auto& p : m.paths) {
    w.sample({{"site", m.site}, {"path", p.name}, {"link", p.link}, {"az", p.az}},
             flag(p.usable));
  }
  w.family("pathpilot_path_state", MetricType::Gauge,
           "Health state of the path: 1 for the current state, 0 for the others.");
  for (const auto& p : m.paths) {
    for (std::string_view state : kPathStates) {
      w.sample({{"site", m.site}, {"path", p.name}, {"link", p.link}, {"state", state}},
               flag(p.state == state));
    }
  }
  perPath(w, m, "pathpilot_path_drained", MetricType::Gauge,
          "1 if an operator drained the path (traffic kept off it), else 0.",
          [](const PathMetrics& p) { return flag(p.drained); });
  perPath(w, m, "pathpilot_path_state_since_timestamp_seconds", MetricType::Gauge,
          "Unix time of the path's last state change.",
          [](const PathMetrics& p) { return p.state_since_unix_seconds; });
  perPath(w, m, "pathpilot_path_loss_ratio", MetricType::Gauge,
          "Share of probes lost over the health window, 0 to 1.",
          [](const PathMetrics& p) { return p.loss_ratio; });
  w.family("pathpilot_path_window_rtt_seconds", MetricType::Gauge,
           "Round-trip time percentiles over the health window.");
  for (const auto& p : m.paths) {
    const std::array<std::pair<std::string_view, double>, 3> pct = {
        {{"50", p.rtt_p50_seconds}, {"95", p.rtt_p95_seconds}, {"99", p.rtt_p99_seconds}}};
    for (const auto& [name, v] : pct) {
      w.sample({{"site", m.site}, {"path", p.name}, {"link", p.link}, {"percentile", name}}, v);
    }
  }
  perPath(w, m, "pathpilot_path_probes_sent_total", MetricType::Counter,
          "Probes of the path that completed (answered or failed).",
          [](const PathMetrics& p) { return p.totals.sent; });
  perPath(w, m, "pathpilot_path_probes_lost_total", MetricType::Counter,
          "Probes of the path that failed (timeout, unreachable, send or socket error).",
          [](const PathMetrics& p) { return p.totals.lost; });
  w.family("pathpilot_path_probe_rtt_seconds", MetricType::Histogram,
           "Round-trip time of the path's successful probes.");
  for (const auto& p : m.paths) {
    w.histogram({{"site", m.site}, {"path", p.name}, {"link", p.link}}, p.totals.rtt);
  }
  w.family("pathpilot_path_transitions_total", MetricType::Counter,
           "State changes of the path, by the state it changed to.");
  for (const auto& p : m.paths) {
    for (std::size_t i = 0; i < kPathStates.size(); ++i) {
      w.sample({{"site", m.site}, {"path", p.name}, {"link", p.link}, {"to", kPathStates[i]}},
               p.totals.transitions[i]);
    }
  }
}

void renderRoutes(const DaemonMetrics& m, ExpositionWriter& w) {
  w.family("pathpilot_route_next_hop_info", MetricType::Gauge,
           "Where each route points now: path and next hop as programmed (value always 1).");
  for (const auto& r : m.routes) {
    w.sample({{"site", m.site},
              {"route_table", r.table},
              {"table_name", r.table_name},
              {"destination", r.destination},
              {"path", r.current_path},
              {"next_hop", r.next_hop},
              {"backend", r.backend}},
             std::uint64_t{1});
  }
  w.family("pathpilot_route_on_primary_path", MetricType::Gauge,
           "1 if the route uses its first-choice path (the one it uses when every path is "
           "healthy), 0 if it has failed over.");
  for (const auto& r : m.routes) {
    if (!r.primary_path.empty()) {
      w.sample({{"site", m.site}, {"route_table", r.table}, {"destination", r.destination}},
               flag(r.current_path == r.primary_path));
    }
  }
  perRoute(w, m, "pathpilot_route_on_preferred_path", MetricType::Gauge,
           "1 if the route uses the best usable path now, 0 while a better path waits out its "
           "hold-down or a change is in flight.",
           [](const RouteMetrics& r) {
             return flag(!r.current_path.empty() && r.current_path == r.preferred_path);
           });
  perRoute(w, m, "pathpilot_route_fail_static", MetricType::Gauge,
           "1 if no path is healthy for the route and it is kept as it is (fail static).",
           [](const RouteMetrics& r) { return flag(r.fail_static); });
  perRoute(w, m, "pathpilot_route_hold_down_remaining_seconds", MetricType::Gauge,
           "Time until the route may fail back to a better path (0 when none is waiting).",
           [](const RouteMetrics& r) { return r.hold_down_remaining_seconds; });
  perRoute(w, m, "pathpilot_route_in_sync", MetricType::Gauge,
           "1 if the route is programmed as decided, else 0 (pending, in flight, unknown).",
           [](const RouteMetrics& r) { return flag(r.sync == "synced"); });
  perRoute(w, m, "pathpilot_route_changes_total", MetricType::Counter,
           "Times the route was reprogrammed to another next hop.",
           [](const RouteMetrics& r) { return r.changes; });

  // Backends in use, so that per-backend families have a zero sample from the start
  // (rate() over a series that appears only at the first error misses that error).
  std::set<std::string> backends;
  for (const auto& r : m.routes) {
    backends.insert(r.backend);
  }
  for (const auto& [backend, n] : m.route_errors_by_backend) {
    backends.insert(backend);
  }
  w.family("pathpilot_route_errors_total", MetricType::Counter,
           "Failed attempts to program or list a route table, by backend; each is retried.");
  for (const auto& b : backends) {
    auto it = m.route_errors_by_backend.find(b);
    w.sample({{"backend", b}}, it == m.route_errors_by_backend.end() ? 0 : it->second);
  }
  w.family("pathpilot_routes_pending", MetricType::Gauge,
           "Routes not (yet) programmed as decided, by backend.");
  for (const auto& b : backends) {
    std::uint64_t n = 0;
    for (const auto& r : m.routes) {
      n += flag(r.backend == b && r.sync != "synced");
    }
    w.sample({{"backend", b}}, n);
  }
}

void renderCounters(const DaemonMetrics& m, ExpositionWriter& w) {
  w.family("pathpilot_engine_loop_lag_seconds", MetricType::Histogram,
           "How late the engine thread ran a timer (a stalled loop shows here first).");
  w.histogram({}, m.loop_lag);
  w.family("pathpilot_engine_loop_lag_last_seconds", MetricType::Gauge,
           "Lateness of the most recent measured timer.");
  w.sample({}, m.loop_lag_last_seconds);
  w.family("pathpilot_snapshot_duration_seconds", MetricType::Gauge,
           "Engine-thread time the previous snapshot took, by phase (status document, build).");
  w.sample({{"phase", "status"}}, m.snapshot_status_seconds);
  w.sample({{"phase", "build"}}, m.snapshot_build_seconds);
  w.family("pathpilot_snapshot_interval_seconds", MetricType::Gauge,
           "Interval between periodic snapshots (stretched when snapshots are expensive).");
  w.sample({}, m.snapshot_interval_seconds);

  w.family("pathpilot_aws_api_calls_total", MetricType::Counter,
           "AWS API calls by operation and outcome.");
  for (const auto& c : m.aws_calls) {
    w.sample({{"operation", c.operation}, {"outcome", c.outcome}}, c.count);
  }
  w.family("pathpilot_aws_api_request_duration_seconds", MetricType::Histogram,
           "Duration of AWS API requests (each attempt, backoff excluded), by operation.");
  for (const auto& l : m.aws_call_latency) {
    w.histogram({{"operation", l.operation}}, l.seconds);
  }
  if (m.alert_outbox_depth) {
    w.family("pathpilot_alert_outbox_depth", MetricType::Gauge,
             "Alerts waiting for delivery (with retries).");
    w.sample({}, *m.alert_outbox_depth);
  }
  for (const MetricFamily& f : m.module_families) {
    w.family(f.name, f.type, f.help);
    std::vector<Label> labels;
    for (const FamilySample& s : f.samples) {
      labels.clear();
      for (const auto& [name, value] : s.labels) {
        labels.push_back({name, value});
      }
      w.sample(std::span<const Label>(labels), s.value);
    }
  }
}

}  // namespace

void AwsCallTotals::record(std::string_view operation, std::string_view outcome, double seconds) {
  // A handful of operations × outcomes: the counter map stays tiny.
  auto key = std::make_pair(std::string(operation), std::string(outcome));
  ++counts_[std::move(key)];
  auto it = latency_.find(operation);
  if (it == latency_.end()) {
    it = latency_.emplace(std::string(operation), Histogram(kAwsLatencyBucketsSeconds)).first;
  }
  it->second.observe(seconds);
}

std::vector<AwsCallCount> AwsCallTotals::counts() const {
  std::vector<AwsCallCount> out;
  out.reserve(counts_.size());
  for (const auto& [key, n] : counts_) {
    out.push_back({key.first, key.second, n});
  }
  return out;
}

std::vector<AwsCallLatency> AwsCallTotals::latencies() const {
  std::vector<AwsCallLatency> out;
  out.reserve(latency_.size());
  for (const auto& [op, h] : latency_) {
    out.push_back({op, h});
  }
  return out;
}

void renderDaemonMetrics(const DaemonMetrics& m, ExpositionWriter& w) {
  w.family("pathpilot_build_info", MetricType::Gauge,
           "Build and site of this pathpilot (value always 1).");
  w.sample({{"version", m.version}, {"site", m.site}}, std::uint64_t{1});
  w.family("pathpilot_snapshot_timestamp_seconds", MetricType::Gauge,
           "Unix time at which the engine took the state exported here.");
  w.sample({}, m.snapshot_unix_seconds);
  renderPaths(m, w);
  renderRoutes(m, w);
  renderCounters(m, w);
}

std::string renderDaemonMetrics(const DaemonMetrics& m) {
  std::string out;
  // About 2 KiB per path (histogram) and 1 KiB per route.
  out.reserve(4096 + m.paths.size() * 2600 + m.routes.size() * 1200);
  ExpositionWriter w(out);
  renderDaemonMetrics(m, w);
  return out;
}

}  // namespace pathpilot::metrics
