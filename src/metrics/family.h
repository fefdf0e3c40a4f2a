// metrics/family.h — a metric family as values, described by the module that owns its figures.
//
// Purpose: a module that keeps counters (the prober, the reconciler, the journal, the HA
// election) names and documents its Prometheus families next to the figures, as values of
// this type; the daemon collects them into the snapshot and the renderer writes them as they
// are. Adding a counter then touches the module's struct and its describer, nothing else.
//
// Threading: plain values.
// Metrics: this is how modules describe theirs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "metrics/exposition.h"

namespace pathpilot::metrics {

struct FamilySample {
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};

struct MetricFamily {
  std::string name;                     // a valid metric name, unique in the exposition
  MetricType type = MetricType::Gauge;  // counter or gauge
  std::string help;
  std::vector<FamilySample> samples;
};

// A family with one unlabelled sample.
inline MetricFamily counterFamily(std::string name, std::string help, std::uint64_t value) {
  return {
      std::move(name), MetricType::Counter, std::move(help), {{{}, static_cast<double>(value)}}};
}
inline MetricFamily gaugeFamily(std::string name, std::string help, double value) {
  return {std::move(name), MetricType::Gauge, std::move(help), {{{}, value}}};
}

// The family named `name` in `all`, or nullptr.
inline const MetricFamily* findFamily(const std::vector<MetricFamily>& all, std::string_view name) {
  for (const MetricFamily& f : all) {
    if (f.name == name) {
      return &f;
    }
  }
  return nullptr;
}

}  // namespace pathpilot::metrics
