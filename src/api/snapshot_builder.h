// api/snapshot_builder.h — turns the engine's state into published Snapshots.
//
// Purpose: the engine exposes its state as the status JSON (`Engine::statusJson()`, the same
// document `pathpilot status --json` prints) plus plain counter structs. The builder keeps the
// few things the engine does not (per-path probe totals, RTT histograms, sparkline history,
// transition and route-change counts, route errors by backend, loop lag) and, when asked,
// combines both into a Snapshot: the status JSON as is, plus a metrics::DaemonMetrics derived
// from it. Deriving the metrics from the status document (instead of from engine internals)
// means /metrics, /api/v1/status and the CLI can never disagree.
//
// Feeding: onProbe() for every probe result (api/probe_tap.h does it), onEvent() for every
// journal event, observeLoopLag() for each measured timer. All on the engine thread.
// A malformed or partial status document never throws: missing fields read as empty/zero.
//
// Threading: engine thread only; build() returns an immutable snapshot for any thread.
// Metrics: see metrics/daemon_metrics.h.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/snapshot.h"
#include "base/time.h"
#include "journal/event.h"
#include "metrics/daemon_metrics.h"
#include "metrics/path_recorder.h"
#include "policy/topology.h"

namespace pathpilot::api {

// What the engine thread hands over for one snapshot.
struct SnapshotInputs {
  nlohmann::json status;  // Engine::statusJson() (+ "version", "journal"), moved in
  std::vector<metrics::AwsCallCount> aws_calls;        // empty without AWS tables
  std::vector<metrics::AwsCallLatency> aws_call_latency;
  // First-choice path per route table id (primaryPaths()); shared between snapshots.
  std::shared_ptr<const std::map<std::string, std::string>> primary_paths;
  std::optional<std::uint64_t> alert_outbox_depth;      // hook (absent until wired)
  // Described by their modules (engine, probe, route, journal, ha: metrics/family.h).
  std::vector<metrics::MetricFamily> module_families;
  // Cost of the previous snapshot on the engine thread, and the current publish interval.
  double previous_status_seconds = 0;
  double previous_build_seconds = 0;
  double interval_seconds = 0;
};

class SnapshotBuilder {
 public:
  SnapshotBuilder(MonoTime now, WallTime wall_now, metrics::PathRecorderOptions options = {});

  // One completed probe of `path`.
  void onProbe(std::string_view path, bool success, Duration rtt, MonoTime now) {
    recorder_.onProbe(path, success, rtt, now);
  }
  // Counts path transitions, route changes and route errors (by backend) from events.
  void onEvent(const journal::Event& event);
  // One measurement of how late the engine ran a timer.
  void observeLoopLag(Duration lag);

  // Builds the next snapshot. `now`/`wall_now`: the engine's clock.
  std::shared_ptr<const Snapshot> build(SnapshotInputs inputs, MonoTime now, WallTime wall_now);

  const metrics::PathRecorder& recorder() const { return recorder_; }

 private:
  metrics::PathRecorder recorder_;
  metrics::Histogram loop_lag_{metrics::kLagBucketsSeconds};
  double last_lag_seconds_ = 0;
  std::map<std::string, std::uint64_t> route_errors_by_backend_;
  std::map<std::string, std::string, std::less<>> backend_of_table_;  // from the last status
  std::uint64_t generation_ = 0;
  std::uint64_t history_generation_ = ~std::uint64_t{0};
  std::shared_ptr<const metrics::History> history_;
};

// The first-choice path of every route table of `topology` (policy::rankCandidates: the order
// used when every path is healthy), by table id. Tables without candidates are left out.
std::map<std::string, std::string> primaryPaths(const policy::Topology& topology);

// Reads the path and route parts of a status document into `out` (exposed for tests).
void metricsFromStatus(const nlohmann::json& status, const metrics::PathRecorder& recorder,
                       WallTime wall_now, metrics::DaemonMetrics& out);

}  // namespace pathpilot::api
