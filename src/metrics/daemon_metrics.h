// metrics/daemon_metrics.h — what the daemon exports on /metrics, and how it is rendered.
//
// Purpose: one plain value (DaemonMetrics) holds every figure the daemon exports: the state of
// each path and route, the engine's counters, loop lag, AWS API calls, the alert outbox, and
// the families other modules describe themselves (metrics/family.h: the prober's, the
// reconciler's, the journal's, the HA election's). The engine
// thread fills it into each published snapshot (api/snapshot.h); /metrics renders it on an API
// thread with renderDaemonMetrics(). Keeping the model separate from the renderer keeps the
// renderer pure, testable and fast (bench/metrics_bench.cc: 1,000 paths × 1,000 tables).
//
// Exported families (units in the name, counters end in _total, Prometheus conventions):
//   pathpilot_build_info{version,site}                              gauge, always 1
//   pathpilot_snapshot_timestamp_seconds                            when the engine took it
//   pathpilot_path_up{site,path,link,az}                            1 = usable (up/degraded, not
//   drained) pathpilot_path_state{site,path,link,state}                      1 for the current
//   state, 0 others pathpilot_path_drained{site,path,link}                          1 = drained by
//   an operator pathpilot_path_state_since_timestamp_seconds{site,path,link}    when the state last
//   changed pathpilot_path_loss_ratio{site,path,link}                       loss over the health
//   window, 0..1 pathpilot_path_window_rtt_seconds{site,path,link,percentile}    p50/p95/p99 over
//   the window pathpilot_path_probes_sent_total{site,path,link}                probes completed
//   pathpilot_path_probes_lost_total{site,path,link}                probes failed
//   pathpilot_path_probe_rtt_seconds{site,path,link}                histogram of successful RTTs
//   pathpilot_path_transitions_total{site,path,link,to}             state changes by new state
//   pathpilot_route_next_hop_info{site,route_table,table_name,destination,path,next_hop,backend}
//                                                                   1 per route: where it points
//                                                                   now
//   pathpilot_route_on_primary_path{site,route_table,destination}   1 = uses its first choice
//                                                                   (0 = failed over)
//   pathpilot_route_on_preferred_path{site,route_table,destination} 1 = uses the best usable
//                                                                   path (0 = hold-down, change
//                                                                   in flight)
//   pathpilot_route_fail_static{site,route_table,destination}       1 = no healthy path, kept as is
//   pathpilot_route_hold_down_remaining_seconds{...}                until failback may happen
//   pathpilot_route_in_sync{site,route_table,destination}           1 = programmed as decided
//   pathpilot_route_changes_total{site,route_table,destination}     times the route moved
//   pathpilot_reconciler_*_total                                    applies, failures, lists,
//   drifts
//                                                                   (route::metricFamilies)
//   pathpilot_route_errors_total{backend}                           failed attempts (each is
//   retried) pathpilot_routes_pending{backend}                               routes not yet as
//   decided pathpilot_probe_*_total                                         the prober's counters
//                                                                   (probe::metricFamilies)
//   pathpilot_engine_*                                              results, decisions, events
//                                                                   (daemon::metricFamilies), lag
//   pathpilot_engine_loop_lag_seconds                               histogram of timer lateness
//   pathpilot_snapshot_duration_seconds{phase}                      engine time per snapshot
//   pathpilot_snapshot_interval_seconds                             how often snapshots are taken
//   pathpilot_journal_*                                             events by result, queue depth
//                                                                   (journal::metricFamilies)
//   pathpilot_aws_api_calls_total{operation,outcome}                AWS requests (every attempt)
//   pathpilot_aws_api_request_duration_seconds{operation}           histogram of their durations
//   pathpilot_alert_outbox_depth                                    (hook; absent until wired)
//   pathpilot_ha_*                                                  HA role, term, lease, fence
//                                                                   (daemon/ha_setup.h)
//
// Threading: value types; render from any thread.
// Metrics: this is the list.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "metrics/exposition.h"
#include "metrics/family.h"
#include "metrics/histogram.h"
#include "metrics/path_recorder.h"

namespace pathpilot::metrics {

struct PathMetrics {
  std::string name;
  std::string link;   // "dx" | "vpn"
  std::string az;
  std::string state;  // "unknown" | "up" | "degraded" | "down"
  bool drained = false;
  bool usable = false;
  double loss_ratio = 0;
  double rtt_p50_seconds = 0;
  double rtt_p95_seconds = 0;
  double rtt_p99_seconds = 0;
  double state_since_unix_seconds = 0;
  std::string reason;  // why the path is in its state (dashboard only, never a label)
  PathTotals totals;   // from the PathRecorder
};

struct RouteMetrics {
  std::string table;
  std::string table_name;
  std::string backend;      // "aws" | "linux" | "exec"
  std::string destination;  // "10.10.0.0/16"
  std::string current_path;    // what is programmed now ("" = unknown or not ours)
  std::string desired_path;    // what the policy wants
  std::string preferred_path;  // the best usable path now, hold-down aside (policy "preferred")
  std::string primary_path;    // the first choice when every path is healthy ("" = unknown)
  std::string next_hop;        // as programmed, e.g. "via 169.254.100.1 dev vti1"
  std::string sync;            // "synced" | "pending" | "in_flight" | "awaiting"
  std::string decision;        // the policy's decision kind
  std::string reason;          // the policy's reason (dashboard only)
  bool fail_static = false;
  double hold_down_remaining_seconds = 0;
  std::uint64_t changes = 0;
};

// One AWS API operation and how its requests ended ("ok", "throttled", "server_error", ...;
// the words of aws::QueryAttempt::outcome).
struct AwsCallCount {
  std::string operation;  // "ReplaceRoute", "DescribeRouteTables", "PutMetricData", ...
  std::string outcome;
  std::uint64_t count = 0;
};

// Upper bounds for AWS request durations, in seconds: 5 ms to 10 s (the client's timeout).
// EC2 answers in 50-300 ms; the low buckets show the fake endpoint and VPC endpoints.
inline constexpr std::array<double, 11> kAwsLatencyBucketsSeconds = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0};

// Durations of one operation's requests.
struct AwsCallLatency {
  std::string operation;
  Histogram seconds{kAwsLatencyBucketsSeconds};
};

// Accumulates AWS requests as they are reported (aws::QueryAttempt) into the two families
// above. Value type, not synchronised: the daemon wraps it in a mutex, since requests are
// reported from route workers.
class AwsCallTotals {
 public:
  void record(std::string_view operation, std::string_view outcome, double seconds);
  // Sorted by operation, then outcome.
  std::vector<AwsCallCount> counts() const;
  // Sorted by operation.
  std::vector<AwsCallLatency> latencies() const;

 private:
  std::map<std::pair<std::string, std::string>, std::uint64_t, std::less<>> counts_;
  std::map<std::string, Histogram, std::less<>> latency_;
};

struct DaemonMetrics {
  std::string site;
  std::string version;
  double snapshot_unix_seconds = 0;
  std::vector<PathMetrics> paths;
  std::vector<RouteMetrics> routes;
  std::map<std::string, std::uint64_t> route_errors_by_backend;  // failed attempts
  Histogram loop_lag{kLagBucketsSeconds};
  double loop_lag_last_seconds = 0;
  // What the previous snapshot cost the engine thread: building the status document, and
  // turning it into a snapshot (metrics model, history).
  double snapshot_status_seconds = 0;
  double snapshot_build_seconds = 0;
  double snapshot_interval_seconds = 0;  // the current publish interval (adaptive)
  std::vector<AwsCallCount> aws_calls;           // empty without AWS tables
  std::vector<AwsCallLatency> aws_call_latency;  // empty without AWS tables
  std::optional<std::uint64_t> alert_outbox_depth;  // hook: filled once alerting is wired
  // Described by their modules (metrics/family.h), rendered last, as they are.
  std::vector<MetricFamily> module_families;
};

// Appends the exposition of `m` to `out` through `writer` (so callers can add families of
// their own to the same writer).
void renderDaemonMetrics(const DaemonMetrics& m, ExpositionWriter& writer);

// Convenience: the whole exposition as a string.
std::string renderDaemonMetrics(const DaemonMetrics& m);

}  // namespace pathpilot::metrics
