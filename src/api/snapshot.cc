#include "api/snapshot.h"

#include <chrono>

namespace pathpilot::api {

const std::string& Snapshot::statusBody() const {
  std::call_once(status_once_, [this] {
    // `replace`: a reason quoting a foreign error may hold invalid UTF-8; never throw here.
    status_body_ = status.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  });
  return status_body_;
}

const std::string& Snapshot::historyBody() const {
  std::call_once(history_once_, [this] {
    nlohmann::json j = history ? historyJson(*history) : nlohmann::json::object();
    history_body_ = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  });
  return history_body_;
}

nlohmann::json historyJson(const metrics::History& history) {
  nlohmann::json j;
  j["bucket_seconds"] = std::chrono::duration<double>(history.bucket).count();
  j["origin"] = formatRfc3339(history.origin);
  j["origin_unix_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                            history.origin.time_since_epoch())
                            .count();
  j["first_index"] = history.first_index;
  j["last_index"] = history.last_index;
  j["buckets"] = history.buckets;
  nlohmann::json paths = nlohmann::json::object();
  for (const auto& p : history.paths) {
    nlohmann::json points = nlohmann::json::array();
    for (const auto& pt : p.points) {
      // Rounded to 1 µs: the dashboard draws pixels, not nanoseconds.
      double rtt = static_cast<double>(static_cast<std::int64_t>(pt.rtt_mean_ms * 1000.0)) / 1000.0;
      points.push_back(nlohmann::json::array({pt.index, pt.sent, pt.lost, rtt}));
    }
    paths[p.path] = std::move(points);
  }
  j["paths"] = std::move(paths);
  return j;
}

void SnapshotStore::publish(std::shared_ptr<const Snapshot> snapshot) {
  std::shared_ptr<const Snapshot> old;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    old = std::move(current_);
    current_ = std::move(snapshot);
  }
  // `old` is released here, outside the lock; if this was the last reference the snapshot is
  // freed on the engine thread, which is cheap compared to building it.
}

std::shared_ptr<const Snapshot> SnapshotStore::current() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return current_;
}

}  // namespace pathpilot::api
