// aws/endpoints.h — region → partition, endpoint host and signing scope.
//
// Purpose: turn "cn-north-1" into https://ec2.cn-north-1.amazonaws.com.cn signed for
// region cn-north-1 with ARNs in partition aws-cn, and honour an `endpoint_url` override
// (interface VPC endpoints such as https://vpce-0abc-xyz.ec2.cn-north-1.vpce.amazonaws.com.cn,
// or http://127.0.0.1:PORT for the fake endpoint in tests and the lab).
// Partitions (from the public AWS partition metadata):
//   aws         amazonaws.com      us-*, eu-*, ap-*, sa-*, ca-*, me-*, af-*, il-*, mx-* ...
//   aws-cn      amazonaws.com.cn   cn-north-1 (Beijing), cn-northwest-1 (Ningxia)
//   aws-us-gov  amazonaws.com      us-gov-west-1, us-gov-east-1
//   aws-iso     c2s.ic.gov         us-iso-*;  aws-iso-b  sc2s.sgov.gov  us-isob-*
//   aws-iso-e   cloud.adc-e.uk     eu-isoe-*; aws-iso-f  csp.hci.ic.gov us-isof-*
// A well-formed region with an unknown prefix is placed in "aws" (new commercial regions
// appear every year); a malformed one ("us-east1", "US-EAST-1", "") is an error.
// Threading: pure functions. Metrics: none.
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"
#include "http/url.h"

namespace pathpilot::aws {

struct Partition {
  std::string id;          // "aws", "aws-cn", "aws-us-gov", ...
  std::string dns_suffix;  // "amazonaws.com", "amazonaws.com.cn", ...
};

// The partition of `region`. Errors: InvalidArgument quoting a malformed region.
[[nodiscard]] Result<Partition> partitionForRegion(std::string_view region);

// Where to send requests for one service in one region, and how to sign them.
struct Endpoint {
  http::Url url;               // scheme, host, port, path ("/")
  std::string signing_region;  // the region (also with an endpoint_url override)
  std::string signing_name;    // SigV4 service name: "ec2", "sns", "monitoring"
  Partition partition;
};

// Resolves `service` (the endpoint prefix, equal to the signing name for ec2, sns and
// monitoring) in `region`. A non-empty `endpoint_url` replaces the host (and scheme, port,
// path) but keeps the region for signing. Errors: InvalidArgument for a malformed region,
// service or URL, naming which.
[[nodiscard]] Result<Endpoint> resolveEndpoint(std::string_view service, std::string_view region,
                                               std::string_view endpoint_url = {});

// The parts of an ARN.
struct Arn {
  std::string partition;  // "aws", "aws-cn", ...
  std::string service;    // "sns"
  std::string region;     // may be empty (IAM)
  std::string account;    // may be empty (S3)
  std::string resource;   // "DCI-Status", "route-table/rtb-1" (may contain ':' and '/')
};

// Parses "arn:partition:service:region:account:resource". Errors: InvalidArgument quoting
// the text when it has fewer than six parts or an empty partition/service/resource.
[[nodiscard]] Result<Arn> parseArn(std::string_view text);

// "arn:<partition>:<service>:<region>:<account>:<resource>", e.g.
// arn:aws-cn:sns:cn-north-1:111122223333:DCI-Status. Empty region/account stay empty (IAM).
std::string makeArn(const Partition& partition, std::string_view service,
                    std::string_view region, std::string_view account,
                    std::string_view resource);

}  // namespace pathpilot::aws
