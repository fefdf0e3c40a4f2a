#include "metrics/path_recorder.h"

#include <algorithm>
#include <chrono>

#include "base/check.h"

namespace pathpilot::metrics {
namespace {

std::string routeKey(std::string_view table, std::string_view destination) {
  std::string key;
  key.reserve(table.size() + destination.size() + 1);
  key.append(table);
  key += '|';
  key.append(destination);
  return key;
}

}  // namespace

std::optional<std::size_t> pathStateIndex(std::string_view state) {
  for (std::size_t i = 0; i < kPathStates.size(); ++i) {
    if (kPathStates[i] == state) {
      return i;
    }
  }
  return std::nullopt;
}

PathRecorder::PathRecorder(MonoTime now, WallTime wall_now, PathRecorderOptions options)
    : origin_(now), wall_origin_(wall_now), options_(options) {
  PP_CHECK(options_.bucket > Duration::zero());
  PP_CHECK(options_.buckets > 0);
}

std::int64_t PathRecorder::bucketIndex(MonoTime now) const {
  if (now <= origin_) {
    return 0;
  }
  return static_cast<std::int64_t>((now - origin_) / options_.bucket);
}

PathRecorder::PathData& PathRecorder::data(std::string_view path) {
  auto it = paths_.find(path);
  if (it == paths_.end()) {
    it = paths_.emplace(std::string(path), PathData{}).first;
    it->second.ring.resize(options_.buckets);
  }
  return it->second;
}

void PathRecorder::advance(MonoTime now) {
  std::int64_t index = bucketIndex(now);
  if (index > current_) {
    current_ = index;
    ++generation_;
  }
}

void PathRecorder::onProbe(std::string_view path, bool success, Duration rtt, MonoTime now) {
  advance(now);
  PathData& d = data(path);
  ++d.totals.sent;
  if (success) {
    d.totals.rtt.observe(std::chrono::duration<double>(rtt).count());
  } else {
    ++d.totals.lost;
  }
  // A result completing late may belong to a bucket that has already closed; it is counted in
  // the open one, which keeps closed buckets immutable (the dashboard never sees them change).
  Bucket& b = d.ring[static_cast<std::size_t>(current_ % static_cast<std::int64_t>(d.ring.size()))];
  if (b.index != current_) {
    b = Bucket{current_, 0, 0, 0};
  }
  ++b.sent;
  if (success) {
    b.rtt_sum_ms += std::chrono::duration<double, std::milli>(rtt).count();
  } else {
    ++b.lost;
  }
}

void PathRecorder::onTransition(std::string_view path, std::string_view to) {
  auto index = pathStateIndex(to);
  if (!index) {
    return;
  }
  ++data(path).totals.transitions[*index];
}

void PathRecorder::onRouteChange(std::string_view table, std::string_view destination) {
  ++route_changes_[routeKey(table, destination)];
}

void PathRecorder::retain(const std::set<std::string, std::less<>>& paths,
                          const std::set<std::string, std::less<>>& routes) {
  std::erase_if(paths_, [&](const auto& entry) { return paths.count(entry.first) == 0; });
  std::erase_if(route_changes_,
                [&](const auto& entry) { return routes.count(entry.first) == 0; });
}

const PathTotals* PathRecorder::totals(std::string_view path) const {
  auto it = paths_.find(path);
  return it == paths_.end() ? nullptr : &it->second.totals;
}

std::uint64_t PathRecorder::routeChanges(std::string_view table,
                                         std::string_view destination) const {
  auto it = route_changes_.find(routeKey(table, destination));
  return it == route_changes_.end() ? 0 : it->second;
}

History PathRecorder::history() const {
  History h;
  h.origin = wall_origin_;
  h.bucket = options_.bucket;
  h.buckets = options_.buckets;
  auto n = static_cast<std::int64_t>(options_.buckets);
  h.last_index = current_ - 1;
  h.first_index = std::max<std::int64_t>(0, current_ - n);
  h.paths.reserve(paths_.size());
  for (const auto& [name, d] : paths_) {
    PathHistory ph;
    ph.path = name;
    for (std::int64_t i = h.first_index; i <= h.last_index; ++i) {
      const Bucket& b = d.ring[static_cast<std::size_t>(i % n)];
      if (b.index != i || b.sent == 0) {
        continue;
      }
      std::uint32_t ok = b.sent - b.lost;
      ph.points.push_back(
          HistoryPoint{i, b.sent, b.lost, ok > 0 ? b.rtt_sum_ms / static_cast<double>(ok) : 0.0});
    }
    h.paths.push_back(std::move(ph));
  }
  return h;
}

}  // namespace pathpilot::metrics
