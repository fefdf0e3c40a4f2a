// metrics/exposition.h — writes the Prometheus text exposition format, version 0.0.4.
//
// Purpose: there is no C++ Prometheus client in Debian, so pathpilot renders /metrics itself.
// This writer is the one place that knows the format's rules, so that no caller can emit a
// line Prometheus would reject:
//   - every family starts with `# HELP name text` and `# TYPE name type`, once, and its samples
//     follow contiguously (a family is never split or repeated: PP_CHECK);
//   - metric names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* and do
//     not start with "__" (reserved); both are checked (PP_CHECK: names are compile-time
//     choices of ours, never user input);
//   - label values escape backslash, double quote and newline (\\, \", \n); HELP text escapes
//     backslash and newline. Invalid UTF-8 in either is replaced by U+FFFD, because Prometheus
//     rejects the whole scrape on one bad byte and label values come from the config;
//   - values: integers exactly, floats in the shortest form that reads back to the same double,
//     and NaN, +Inf, -Inf spelt as Prometheus expects;
//   - histograms: cumulative `_bucket` lines with `le` bounds in increasing order and a final
//     le="+Inf" equal to `_count`, then `_sum` and `_count`.
// The output is what `promtool check metrics` accepts (tests run it on real output).
//
// Threading: one writer per rendering; not synchronised.
// Metrics: none of its own.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/histogram.h"

namespace pathpilot::metrics {

enum class MetricType : std::uint8_t { Counter, Gauge, Histogram, Untyped };

// "counter", "gauge", "histogram", "untyped".
std::string_view metricTypeName(MetricType type);

// One label of one sample. The writer escapes the value; the name must be valid.
struct Label {
  std::string_view name;
  std::string_view value;
};

// The grammar of the exposition format (see the header comment).
bool isValidMetricName(std::string_view name);
bool isValidLabelName(std::string_view name);

// Appends `value` escaped for use between the double quotes of a label value.
void appendEscapedLabelValue(std::string& out, std::string_view value);
// Appends `text` escaped for a HELP line.
void appendEscapedHelp(std::string& out, std::string_view text);
// Appends a sample value: shortest round-trip form, "NaN", "+Inf" or "-Inf".
void appendValue(std::string& out, double value);
void appendValue(std::string& out, std::uint64_t value);

class ExpositionWriter {
 public:
  // Appends to `out`, which must outlive the writer.
  explicit ExpositionWriter(std::string& out) : out_(out) {}

  // Starts the family `name`: writes its HELP and TYPE lines. Every sample written until the
  // next family() belongs to it. Requires: a valid name, not used before in this writer.
  void family(std::string_view name, MetricType type, std::string_view help);

  // One sample of the current family: `name{labels} value`. Requires: family() was called and
  // the family is not a histogram (use histogram()).
  void sample(std::span<const Label> labels, double value);
  void sample(std::span<const Label> labels, std::uint64_t value);
  void sample(std::initializer_list<Label> labels, double value) {
    sample(std::span<const Label>(labels.begin(), labels.size()), value);
  }
  void sample(std::initializer_list<Label> labels, std::uint64_t value) {
    sample(std::span<const Label>(labels.begin(), labels.size()), value);
  }

  // The series of one histogram of the current family (which must be a histogram), with the
  // given labels plus `le` on the buckets.
  void histogram(std::span<const Label> labels, const Histogram& h);
  void histogram(std::initializer_list<Label> labels, const Histogram& h) {
    histogram(std::span<const Label>(labels.begin(), labels.size()), h);
  }

 private:
  void writeSeries(std::string_view suffix, std::span<const Label> labels,
                   const Label* extra);

  std::string& out_;
  std::string current_;  // name of the open family
  MetricType current_type_ = MetricType::Untyped;
  std::set<std::string, std::less<>> seen_;
  const double* le_bounds_ = nullptr;  // the bounds le_text_ was formatted for
  std::vector<std::string> le_text_;
};

}  // namespace pathpilot::metrics
