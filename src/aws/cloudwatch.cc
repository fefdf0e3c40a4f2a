#include "aws/cloudwatch.h"

#include <algorithm>
#include <array>
#include <cmath>

#include <fmt/format.h>

#include "aws/detail/xml.h"
#include "aws/sigv4.h"

namespace pathpilot::aws {

namespace {

constexpr std::array<std::string_view, 27> kUnits = {
    "Seconds",          "Microseconds",     "Milliseconds",     "Bytes",
    "Kilobytes",        "Megabytes",        "Gigabytes",        "Terabytes",
    "Bits",             "Kilobits",         "Megabits",         "Gigabits",
    "Terabits",         "Percent",          "Count",            "Bytes/Second",
    "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
    "Bits/Second",      "Kilobits/Second",  "Megabits/Second",  "Gigabits/Second",
    "Terabits/Second",  "Count/Second",     "None"};

constexpr std::size_t kMaxDimensions = 30;
constexpr std::size_t kMaxNameLength = 255;
constexpr std::size_t kMaxDimensionValueLength = 1024;

// The parameters of one datum, numbered as member `index` (1-based).
void addDatum(QueryRequest& r, std::size_t index, const MetricDatum& d) {
  const std::string p = "MetricData.member." + std::to_string(index) + ".";
  r.add(p + "MetricName", d.name);
  // Shortest representation that reads back to the same double.
  r.add(p + "Value", fmt::format("{}", d.value));
  r.add(p + "Unit", d.unit);
  if (d.timestamp) {
    r.add(p + "Timestamp", formatRfc3339(*d.timestamp));
  }
  if (d.storage_resolution != 60) {
    r.add(p + "StorageResolution", std::to_string(d.storage_resolution));
  }
  std::size_t n = 1;
  for (const MetricDimension& dim : d.dimensions) {
    const std::string q = p + "Dimensions.member." + std::to_string(n++) + ".";
    r.add(q + "Name", dim.name);
    r.add(q + "Value", dim.value);
  }
}

// Encoded size of one datum's parameters ("&k=v" each), to pack requests by body size.
std::size_t encodedSize(std::size_t index, const MetricDatum& d) {
  QueryRequest tmp;
  addDatum(tmp, index, d);
  std::size_t size = 0;
  for (const auto& [k, v] : tmp.params) {
    size += 2 + uriEncode(k, false).size() + uriEncode(v, false).size();
  }
  return size;
}

QueryRequest newRequest(std::string_view metric_namespace) {
  QueryRequest r;
  r.action = "PutMetricData";
  r.version = std::string(kCloudWatchApiVersion);
  r.add("Namespace", std::string(metric_namespace));
  return r;
}

}  // namespace

Result<void> validateMetricDatum(const MetricDatum& d) {
  auto bad = [&](const std::string& why) {
    return fail(ErrorCode::InvalidArgument,
                "CloudWatch metric '" + d.name.substr(0, 80) + "': " + why);
  };
  if (d.name.empty() || d.name.size() > kMaxNameLength) {
    return bad("the name must be 1 to 255 characters");
  }
  if (!std::isfinite(d.value)) {
    return bad("value " + fmt::format("{}", d.value) + " is not a finite number");
  }
  // ±2^360 is CloudWatch's accepted range.
  if (std::fabs(d.value) > std::ldexp(1.0, 360) ||
      (d.value != 0 && std::fabs(d.value) < std::ldexp(1.0, -360))) {
    return bad("value " + fmt::format("{}", d.value) + " is outside ±2^360");
  }
  if (std::find(kUnits.begin(), kUnits.end(), d.unit) == kUnits.end()) {
    return bad("unit '" + d.unit.substr(0, 40) + "' is not a CloudWatch StandardUnit");
  }
  if (d.storage_resolution != 1 && d.storage_resolution != 60) {
    return bad("storage resolution must be 1 or 60");
  }
  if (d.dimensions.size() > kMaxDimensions) {
    return bad(std::to_string(d.dimensions.size()) + " dimensions; at most 30");
  }
  for (const MetricDimension& dim : d.dimensions) {
    if (dim.name.empty() || dim.name.size() > kMaxNameLength) {
      return bad("a dimension name must be 1 to 255 characters");
    }
    if (dim.value.empty() || dim.value.size() > kMaxDimensionValueLength) {
      return bad("dimension '" + dim.name.substr(0, 80) + "' needs a value of 1 to 1024 characters");
    }
  }
  return ok();
}

// Greedy packing in input order: a datum goes into the current request unless that would
// pass the count or body limit. Sizes are computed on the encoded form, because the limit
// applies to the POST body as sent. Everything is validated before anything is packed, so a
// bad datum never leaves a half-sent batch behind.
Result<std::vector<QueryRequest>> putMetricDataRequests(std::string_view metric_namespace,
                                                        const std::vector<MetricDatum>& data,
                                                        const PutMetricDataLimits& limits) {
  if (metric_namespace.empty() || metric_namespace.size() > kMaxNameLength ||
      metric_namespace.front() == ':' || metric_namespace.substr(0, 4) == "AWS/") {
    return fail(ErrorCode::InvalidArgument,
                "CloudWatch namespace '" + std::string(metric_namespace.substr(0, 80)) +
                    "' must be 1 to 255 characters and not start with 'AWS/' or ':'");
  }
  for (const MetricDatum& d : data) {
    if (auto v = validateMetricDatum(d); !v) {
      return fail(v.error());
    }
  }
  const std::size_t max_metrics = std::max<std::size_t>(limits.max_metrics_per_request, 1);
  const std::size_t base_size = encodeQueryBody(newRequest(metric_namespace)).size();
  std::vector<QueryRequest> out;
  QueryRequest current = newRequest(metric_namespace);
  std::size_t in_current = 0;
  std::size_t size = base_size;
  for (const MetricDatum& d : data) {
    std::size_t datum_size = encodedSize(in_current + 1, d);
    if (in_current > 0 &&
        (in_current == max_metrics || size + datum_size > limits.max_body_bytes)) {
      out.push_back(std::move(current));
      current = newRequest(metric_namespace);
      in_current = 0;
      size = base_size;
      datum_size = encodedSize(1, d);
    }
    if (size + datum_size > limits.max_body_bytes) {
      return fail(ErrorCode::InvalidArgument,
                  "CloudWatch metric '" + d.name.substr(0, 80) + "' alone exceeds the " +
                      std::to_string(limits.max_body_bytes) + "-byte request limit");
    }
    addDatum(current, ++in_current, d);
    size += datum_size;
  }
  if (in_current > 0) {
    out.push_back(std::move(current));
  }
  return out;
}

Result<std::string> parsePutMetricData(std::string_view xml) {
  pugi::xml_document doc;
  auto root = detail::parseDocument(doc, xml, "CloudWatch PutMetricData");
  if (!root) {
    return fail(root.error());
  }
  std::string_view name = detail::localName(*root);
  if (name == "ErrorResponse" || name == "Response") {
    return fail(toError(parseAwsError(200, xml), "CloudWatch", "PutMetricData"));
  }
  if (name != "PutMetricDataResponse") {
    return fail(ErrorCode::Internal,
                "CloudWatch PutMetricData: expected <PutMetricDataResponse>, got <" +
                    std::string(name.substr(0, 60)) + ">");
  }
  return detail::childText(detail::child(*root, "ResponseMetadata"), "RequestId");
}

Result<PutMetricDataResult> CloudWatchClient::putMetricData(std::string_view metric_namespace,
                                                            const std::vector<MetricDatum>& data) {
  auto requests = putMetricDataRequests(metric_namespace, data, limits_);
  if (!requests) {
    return fail(requests.error());
  }
  PutMetricDataResult result;
  const std::size_t total = requests->size();
  for (QueryRequest& r : *requests) {
    std::size_t count = 0;
    for (const auto& [k, v] : r.params) {
      count += k.size() > 11 && k.ends_with(".MetricName") ? 1 : 0;
    }
    auto resp = query_.callOrError(std::move(r));
    if (resp) {
      auto parsed = parsePutMetricData(resp->body);
      if (!parsed) {
        resp = fail(parsed.error());
      }
    }
    if (!resp) {
      return fail(resp.error().withContext(
          "CloudWatch PutMetricData batch " + std::to_string(result.requests + 1) + " of " +
          std::to_string(total) + " (" + std::to_string(result.metrics) + " of " +
          std::to_string(data.size()) + " data points already accepted)"));
    }
    ++result.requests;
    result.metrics += count;
  }
  return result;
}

}  // namespace pathpilot::aws
