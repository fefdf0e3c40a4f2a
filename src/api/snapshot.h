// api/snapshot.h — the immutable picture of the daemon that the API serves.
//
// Purpose: the HTTP API must never block the engine and never see half-updated state. The
// engine thread therefore builds a Snapshot (status JSON, metrics model, sparkline history)
// and publishes it as a `shared_ptr<const Snapshot>` into a SnapshotStore; API threads take
// the current pointer and read it at leisure. A reader holding an old snapshot keeps it alive;
// the engine never waits for readers (docs/development.md, leveldb's Version). Publishing swaps one
// pointer under a mutex held for a few nanoseconds; nothing else is shared.
//
// Serialisation is lazy and done once per snapshot, on the first API thread that needs it
// (statusBody(), historyBody()), so the engine thread pays only for building the values.
//
// Threading: Snapshot is immutable after publication (its lazy caches are guarded by
// std::call_once). SnapshotStore is thread-safe.
// Metrics: pathpilot_snapshot_timestamp_seconds (metrics/daemon_metrics.h) and
// pathpilot_api_snapshot_age_seconds (api/server.h).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "base/time.h"
#include "metrics/daemon_metrics.h"
#include "metrics/path_recorder.h"

namespace pathpilot::api {

struct Snapshot {
  std::uint64_t generation = 0;  // increases with every published snapshot
  WallTime taken_at{};           // wall clock when the engine built it
  MonoTime taken_mono{};         // monotonic time when the engine built it
  nlohmann::json status;         // the content of `pathpilot status --json`
  metrics::DaemonMetrics metrics;
  // Sparkline history; shared between consecutive snapshots while no bucket closes.
  std::shared_ptr<const metrics::History> history;

  // `status` dumped as JSON, computed once.
  const std::string& statusBody() const;
  // `history` as the JSON of GET /api/v1/history, computed once.
  const std::string& historyBody() const;

 private:
  mutable std::once_flag status_once_;
  mutable std::string status_body_;
  mutable std::once_flag history_once_;
  mutable std::string history_body_;
};

// The JSON form of a History (GET /api/v1/history):
//   {"bucket_seconds":5,"origin":"<RFC 3339>","first_index":0,"last_index":119,"buckets":120,
//    "paths":{"dx":[[index,sent,lost,rtt_mean_ms],...],...}}
nlohmann::json historyJson(const metrics::History& history);

class SnapshotStore {
 public:
  // Makes `snapshot` the current one. Called by the engine thread.
  void publish(std::shared_ptr<const Snapshot> snapshot);
  // The current snapshot, or nullptr before the first publish. Any thread.
  std::shared_ptr<const Snapshot> current() const;

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const Snapshot> current_;
};

}  // namespace pathpilot::api
