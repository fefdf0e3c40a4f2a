// metrics/histogram.h — a fixed-bucket histogram in the shape Prometheus exports.
//
// Purpose: count observations (probe RTTs, engine loop lag) into buckets with fixed upper
// bounds, plus their sum and count, so that /metrics can export them as a Prometheus
// histogram (cumulative `_bucket{le=...}`, `_sum`, `_count`) and PromQL's
// histogram_quantile() can estimate percentiles across paths and over time.
//
// Buckets are stored non-cumulatively (one count per bucket, the last one for +Inf); the
// exposition writer accumulates them while rendering. The bounds are not owned: they live in
// static storage (see kRttBucketsSeconds), so that a thousand histograms share one array and
// copying a histogram into a snapshot copies counts only.
//
// Threading: value type, not synchronised. The engine thread owns the live histograms;
// snapshots carry copies.
// Metrics: this is the metric.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace pathpilot::metrics {

// Upper bounds for round-trip times, in seconds: 0.5 ms to 2.5 s. Chosen for the paths
// pathpilot watches: a DX link is typically 1-5 ms away, a VPN tunnel 5-50 ms, a cross-region
// detour 50-250 ms; anything above 1 s is a timeout in all but name.
inline constexpr std::array<double, 13> kRttBucketsSeconds = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0};

// Upper bounds for loop lag (how late a timer fires), in seconds: 100 µs to 1 s.
inline constexpr std::array<double, 11> kLagBucketsSeconds = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.25, 1.0};

class Histogram {
 public:
  // An empty histogram without buckets (only +Inf). Useful as a placeholder.
  Histogram() : counts_(1, 0) {}
  // Requires: `bounds` is strictly increasing, finite, and outlives the histogram and every
  // copy of it (static storage).
  explicit Histogram(std::span<const double> bounds);

  // Counts `value` in the first bucket whose bound is >= value (+Inf if none). NaN is
  // ignored: it has no bucket and would poison the sum.
  void observe(double value);

  // Adds the counts of `other`. Requires: the same bounds.
  void merge(const Histogram& other);

  std::span<const double> bounds() const { return bounds_; }
  // Per-bucket counts, bounds().size() + 1 of them; the last is the +Inf bucket.
  const std::vector<std::uint64_t>& counts() const { return counts_; }
  double sum() const { return sum_; }
  std::uint64_t count() const { return count_; }

 private:
  std::span<const double> bounds_;
  std::vector<std::uint64_t> counts_;
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

}  // namespace pathpilot::metrics
