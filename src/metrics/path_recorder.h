// metrics/path_recorder.h — per-path probe totals, RTT histograms and sparkline history.
//
// Purpose: the health module keeps loss and RTT over a short window, which is what decisions
// need; operators also want totals since start (probes sent and lost per path), an RTT
// histogram that Prometheus can aggregate, how often each path changed state, how often each
// route moved, and the last few minutes of loss and RTT as a sparkline in the dashboard. The
// PathRecorder accumulates all of that from the probe results and events the engine sees.
//
// History: time is cut into buckets of `bucket` (default 5 s), numbered from the recorder's
// origin; each path keeps the last `buckets` of them (default 120 = 10 minutes) in a ring:
// probes sent and lost and the RTT sum of the successful ones. history() exports the closed
// buckets of every path; historyGeneration() changes whenever a bucket closes, so a snapshot
// publisher can skip re-exporting unchanged history.
//
// Pure: every call takes the current time; the recorder never reads a clock.
// Threading: owned by the engine thread; not synchronised. Snapshots carry copies.
// Metrics: the totals are exported as pathpilot_path_probes_sent_total,
// pathpilot_path_probes_lost_total, pathpilot_path_probe_rtt_seconds (histogram),
// pathpilot_path_transitions_total and pathpilot_route_changes_total (metrics/daemon_metrics.h).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/time.h"
#include "metrics/histogram.h"

namespace pathpilot::metrics {

// States a path can move to, in the order of PathTotals::transitions.
inline constexpr std::array<std::string_view, 4> kPathStates = {"unknown", "up", "degraded",
                                                                "down"};
// Index of `state` in kPathStates, or nullopt.
std::optional<std::size_t> pathStateIndex(std::string_view state);

// Everything counted for one path since it appeared.
struct PathTotals {
  std::uint64_t sent = 0;  // probe results seen (one per probe sent, once it completed)
  std::uint64_t lost = 0;  // results that failed (timeout, unreachable, send or socket error)
  Histogram rtt{kRttBucketsSeconds};  // RTT of the successful probes, seconds
  std::array<std::uint64_t, kPathStates.size()> transitions{};  // state changes, by new state
};

// One closed history bucket of one path.
struct HistoryPoint {
  std::int64_t index = 0;  // bucket number (time = origin + index × bucket)
  std::uint32_t sent = 0;
  std::uint32_t lost = 0;
  double rtt_mean_ms = 0;  // mean RTT of the successful probes; 0 when none succeeded
};

struct PathHistory {
  std::string path;
  std::vector<HistoryPoint> points;  // oldest first, only buckets with probes
};

// The exported history of every path.
struct History {
  WallTime origin{};     // wall time of bucket 0
  Duration bucket{0};    // bucket length
  std::int64_t first_index = 0;  // oldest bucket covered
  std::int64_t last_index = -1;  // newest closed bucket covered
  std::size_t buckets = 0;       // window length in buckets (the ring size)
  std::vector<PathHistory> paths;
};

struct PathRecorderOptions {
  Duration bucket = std::chrono::seconds(5);  // > 0
  std::size_t buckets = 120;                  // > 0
};

class PathRecorder {
 public:
  // `now` and `wall_now` fix the origin of bucket 0.
  PathRecorder(MonoTime now, WallTime wall_now, PathRecorderOptions options = {});

  // One completed probe of `path`. `rtt` counts only when `success`.
  void onProbe(std::string_view path, bool success, Duration rtt, MonoTime now);
  // `path` changed state to `to` ("up", "down", ...). Unknown names are ignored.
  void onTransition(std::string_view path, std::string_view to);
  // A route of `table` for `destination` was reprogrammed.
  void onRouteChange(std::string_view table, std::string_view destination);

  // Forgets paths and routes that are no longer configured (after a reload). `routes` holds
  // "table|destination" keys.
  void retain(const std::set<std::string, std::less<>>& paths,
              const std::set<std::string, std::less<>>& routes);

  // Totals of `path`, or nullptr if nothing was recorded for it.
  const PathTotals* totals(std::string_view path) const;
  // Route changes of (table, destination).
  std::uint64_t routeChanges(std::string_view table, std::string_view destination) const;

  // Closes buckets that ended before `now` (also for paths that saw no probe).
  void advance(MonoTime now);
  // Changes each time a bucket closes (advance() or onProbe() moved to a new bucket).
  std::uint64_t historyGeneration() const { return generation_; }
  // The closed buckets of every path, oldest first, at most `buckets` of them.
  History history() const;

 private:
  struct Bucket {
    std::int64_t index = -1;  // -1: empty slot
    std::uint32_t sent = 0;
    std::uint32_t lost = 0;
    double rtt_sum_ms = 0;
  };
  struct PathData {
    PathTotals totals;
    std::vector<Bucket> ring;
  };

  std::int64_t bucketIndex(MonoTime now) const;
  PathData& data(std::string_view path);

  MonoTime origin_;
  WallTime wall_origin_;
  PathRecorderOptions options_;
  std::int64_t current_ = 0;  // the open bucket
  std::uint64_t generation_ = 0;
  std::map<std::string, PathData, std::less<>> paths_;
  std::map<std::string, std::uint64_t, std::less<>> route_changes_;
};

}  // namespace pathpilot::metrics
