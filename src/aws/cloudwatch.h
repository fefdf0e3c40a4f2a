// aws/cloudwatch.h — Amazon CloudWatch PutMetricData, for path health and tunnel traffic.
//
// Purpose: publish metric data points under one namespace with dimensions (site, path,
// link), split into as few requests as the API allows: at most 1000 metrics and 1 MB of
// POST body per request (the limits since 2023; older partitions may still enforce 20
// metrics / 40 KB, so both are configurable). Every datum is validated first, so that one
// bad value (NaN, an empty name, 31 dimensions) is reported by name instead of failing a
// whole batch at AWS: names 1..255 characters, at most 30 dimensions with names 1..255 and
// values 1..1024 characters, finite values within ±2^360, a StandardUnit, storage
// resolution 1 or 60. Namespaces may not start with "AWS/".
// Threading: as thread-safe as the QueryClient. Metrics: none here.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/query.h"
#include "aws/query_client.h"
#include "base/error.h"
#include "base/time.h"

namespace pathpilot::aws {

inline constexpr std::string_view kCloudWatchApiVersion = "2010-08-01";

struct MetricDimension {
  std::string name;   // "Site"
  std::string value;  // "Singapore"
};

struct MetricDatum {
  std::string name;  // "PathUp"
  double value = 0;
  // A CloudWatch StandardUnit: "None", "Count", "Percent", "Milliseconds", "Seconds",
  // "Bytes", "Bits", "Bytes/Second", "Bits/Second", "Count/Second", ...
  std::string unit = "None";
  std::optional<WallTime> timestamp;  // default: when AWS receives it
  std::vector<MetricDimension> dimensions;
  int storage_resolution = 60;  // 1 = high resolution
};

struct PutMetricDataLimits {
  std::size_t max_metrics_per_request = 1000;
  std::size_t max_body_bytes = 1024 * 1024;
};

// Checks one datum (see the header comment). Errors: InvalidArgument naming the metric.
[[nodiscard]] Result<void> validateMetricDatum(const MetricDatum& datum);

// Validates everything, then packs the data into PutMetricData requests in order, each
// within the limits. Errors: InvalidArgument (bad namespace or datum; a single datum larger
// than max_body_bytes).
[[nodiscard]] Result<std::vector<QueryRequest>> putMetricDataRequests(
    std::string_view metric_namespace, const std::vector<MetricDatum>& data,
    const PutMetricDataLimits& limits = {});

// Parses PutMetricDataResponse; returns the request id ("" when absent).
[[nodiscard]] Result<std::string> parsePutMetricData(std::string_view xml);

struct PutMetricDataResult {
  std::size_t requests = 0;
  std::size_t metrics = 0;
};

class CloudWatchClient {
 public:
  // `query` must be configured for CloudWatch (api "CloudWatch", version
  // kCloudWatchApiVersion, endpoint from resolveEndpoint("monitoring", region)).
  explicit CloudWatchClient(QueryClient& query, PutMetricDataLimits limits = {})
      : query_(query), limits_(limits) {}

  // Sends every batch in order; stops at the first failed batch, whose Error says how many
  // data points were already accepted.
  [[nodiscard]] Result<PutMetricDataResult> putMetricData(std::string_view metric_namespace,
                                                          const std::vector<MetricDatum>& data);

 private:
  QueryClient& query_;
  PutMetricDataLimits limits_;
};

}  // namespace pathpilot::aws
