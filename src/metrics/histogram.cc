#include "metrics/histogram.h"

#include <algorithm>
#include <cmath>

#include "base/check.h"

namespace pathpilot::metrics {

Histogram::Histogram(std::span<const double> bounds) : bounds_(bounds), counts_(bounds.size() + 1, 0) {
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    PP_CHECK(std::isfinite(bounds[i]));
    PP_CHECK(i == 0 || bounds[i - 1] < bounds[i]);
  }
}

void Histogram::observe(double value) {
  if (std::isnan(value)) {
    return;
  }
  // Bucket i counts bounds[i-1] < v <= bounds[i] ("le" is inclusive in Prometheus).
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
  ++counts_[static_cast<std::size_t>(it - bounds_.begin())];
  sum_ += value;
  ++count_;
}

void Histogram::merge(const Histogram& other) {
  PP_CHECK(other.bounds_.data() == bounds_.data() && other.bounds_.size() == bounds_.size());
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    counts_[i] += other.counts_[i];
  }
  sum_ += other.sum_;
  count_ += other.count_;
}

}  // namespace pathpilot::metrics
