#include "aws/endpoints.h"

#include <array>

namespace pathpilot::aws {

namespace {

struct PartitionRule {
  std::string_view prefix;  // matched against the region up to its last two components
  std::string_view id;
  std::string_view dns_suffix;
};

// Most specific first: "us-gov-" and "us-iso-" before the commercial "us-".
constexpr std::array<PartitionRule, 6> kRules = {{
    {"cn-", "aws-cn", "amazonaws.com.cn"},
    {"us-gov-", "aws-us-gov", "amazonaws.com"},
    {"us-isob-", "aws-iso-b", "sc2s.sgov.gov"},
    {"us-isof-", "aws-iso-f", "csp.hci.ic.gov"},
    {"us-iso-", "aws-iso", "c2s.ic.gov"},
    {"eu-isoe-", "aws-iso-e", "cloud.adc-e.uk"},
}};

bool isLowerAlpha(char c) { return c >= 'a' && c <= 'z'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

// <2 letters>(-<letters>)+-<digits>: "us-east-1", "us-gov-west-1", "ap-southeast-3".
bool wellFormedRegion(std::string_view r) {
  if (r.size() < 6 || !isLowerAlpha(r[0]) || !isLowerAlpha(r[1]) || r[2] != '-') {
    return false;
  }
  std::size_t last_dash = r.rfind('-');
  std::string_view number = r.substr(last_dash + 1);
  if (number.empty() || number.size() > 3) {
    return false;
  }
  for (char c : number) {
    if (!isDigit(c)) {
      return false;
    }
  }
  std::string_view middle = r.substr(3, last_dash - 3);  // "east", "gov-west"
  if (middle.empty() || middle.front() == '-' || middle.back() == '-') {
    return false;
  }
  for (std::size_t i = 0; i < middle.size(); ++i) {
    char c = middle[i];
    if (!(isLowerAlpha(c) || (c == '-' && middle[i - 1] != '-'))) {
      return false;
    }
  }
  return true;
}

bool wellFormedService(std::string_view s) {
  if (s.empty() || s.size() > 63) {
    return false;
  }
  for (char c : s) {
    if (!(isLowerAlpha(c) || isDigit(c) || c == '-')) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<Partition> partitionForRegion(std::string_view region) {
  if (!wellFormedRegion(region)) {
    return fail(ErrorCode::InvalidArgument,
                "AWS region '" + std::string(region.substr(0, 40)) +
                    "' is malformed; expected a name like us-east-1, cn-north-1 or "
                    "us-gov-west-1");
  }
  for (const PartitionRule& rule : kRules) {
    if (region.substr(0, rule.prefix.size()) == rule.prefix) {
      return Partition{std::string(rule.id), std::string(rule.dns_suffix)};
    }
  }
  return Partition{"aws", "amazonaws.com"};
}

// The hostname pattern <service>.<region>.<dnsSuffix> holds for ec2, sns and monitoring in
// every partition pathpilot supports; services with global or legacy endpoints (iam, s3 in
// us-east-1) are not used, so no per-service exception table is needed.
Result<Endpoint> resolveEndpoint(std::string_view service, std::string_view region,
                                 std::string_view endpoint_url) {
  if (!wellFormedService(service)) {
    return fail(ErrorCode::InvalidArgument,
                "AWS service name '" + std::string(service.substr(0, 40)) + "' is malformed");
  }
  auto partition = partitionForRegion(region);
  if (!partition) {
    return fail(partition.error());
  }
  Endpoint out;
  out.signing_region = std::string(region);
  out.signing_name = std::string(service);
  out.partition = *partition;
  std::string url = endpoint_url.empty()
                        ? "https://" + std::string(service) + "." + std::string(region) + "." +
                              partition->dns_suffix + "/"
                        : std::string(endpoint_url);
  auto parsed = http::parseUrl(url);
  if (!parsed) {
    return fail(parsed.error().withContext("endpoint_url for " + std::string(service)));
  }
  if (!parsed->query.empty()) {
    return fail(ErrorCode::InvalidArgument,
                "endpoint_url for " + std::string(service) + " must not have a query string");
  }
  out.url = std::move(*parsed);
  return out;
}

Result<Arn> parseArn(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return fail(ErrorCode::InvalidArgument,
                "'" + std::string(text.substr(0, 120)) + "' is not an ARN: " + why);
  };
  if (text.substr(0, 4) != "arn:") {
    return bad("it does not start with 'arn:'");
  }
  std::string_view rest = text.substr(4);
  std::string parts[4];
  for (std::string& part : parts) {
    std::size_t colon = rest.find(':');
    if (colon == std::string_view::npos) {
      return bad("expected arn:partition:service:region:account:resource");
    }
    part = std::string(rest.substr(0, colon));
    rest.remove_prefix(colon + 1);
  }
  Arn arn{parts[0], parts[1], parts[2], parts[3], std::string(rest)};
  if (arn.partition.empty() || arn.service.empty() || arn.resource.empty()) {
    return bad("the partition, service and resource must not be empty");
  }
  return arn;
}

std::string makeArn(const Partition& partition, std::string_view service,
                    std::string_view region, std::string_view account,
                    std::string_view resource) {
  std::string out = "arn:" + partition.id + ":" + std::string(service) + ":" +
                    std::string(region) + ":" + std::string(account) + ":" +
                    std::string(resource);
  return out;
}

}  // namespace pathpilot::aws
