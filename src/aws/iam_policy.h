// aws/iam_policy.h — the least-privilege IAM policy for what one pathpilot site calls in AWS.
//
// Purpose: `pathpilot check --iam FILE` prints the identity policy an operator attaches to the
// monitor's instance role, so that nobody grants "ec2:*" to get started. The policy allows
// exactly the calls the daemon makes, on exactly the configured resources:
//   * ec2:CreateRoute, ec2:ReplaceRoute on the configured route tables
//     (arn:<partition>:ec2:<region>:<account>:route-table/rtb-…). No ec2:DeleteRoute: the
//     daemon never deletes a route (fail static keeps routes as they are);
//   * ec2:StopInstances, ec2:StartInstances on the instances of gateways whose recovery is
//     ec2-restart (…:instance/i-…);
//   * ec2:DescribeRouteTables, ec2:DescribeInstances on "*": EC2 Describe* actions support no
//     resource-level permissions, which the statement's Sid says;
//   * sns:Publish on the configured topic ARNs (taken as written: they carry their own
//     partition, region and account);
//   * sns:Publish on "*" when an sns channel sends SMS to a phone number: a Publish with
//     PhoneNumber names no resource, and IAM only lets such a call through a statement whose
//     Resource is "*" (the statement's Sid says so). That statement also allows publishing to
//     any topic the role can reach, which the reviewer must know;
//   * cloudwatch:PutMetricData on "*" (it has no resource type either) with a
//     StringEquals condition on cloudwatch:namespace.
// The partition comes from the region: aws, aws-cn (cn-north-1, cn-northwest-1), aws-us-gov.
// Only what is configured appears: no ec2-restart gateway, no Stop/Start statement.
//
// Threading: pure functions. Metrics: none.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"

namespace pathpilot::aws {

// Everything the policy is built from, already extracted from the config.
struct IamPolicyInput {
  std::string region;      // EC2 region of the tables and instances: "cn-north-1"
  // The 12-digit account owning the tables and instances, or "*" (any account: the caller
  // must have asked for it explicitly; the builder warns).
  std::string account_id;
  std::vector<std::string> route_table_ids;       // rtb-… (aws backend tables)
  std::vector<std::string> restart_instance_ids;  // i-… (ec2-restart recovery)
  std::vector<std::string> sns_topic_arns;        // alert channels of kind sns with a topic
  // The regions SMS go out from (alert channels of kind sns with a phone number).
  std::vector<std::string> sns_sms_regions;
  std::vector<std::string> cloudwatch_namespaces;  // namespaces the config publishes to
};

struct IamPolicy {
  std::string json;  // the policy document, pretty-printed, Version 2012-10-17
  // Things a security reviewer should see (printed on stderr by the CLI): a wildcard account,
  // an SNS topic or SMS region in another partition than the EC2 region (one role cannot reach
  // both), SMS needing sns:Publish on "*".
  std::vector<std::string> warnings;
};

// Builds the policy. Duplicate ids are listed once; lists are sorted so that the output is
// stable. Errors (InvalidArgument, naming the value): a malformed region, account id, route
// table id, instance id, topic ARN or namespace; NotFound when the input needs no AWS call at
// all (nothing to allow — the caller says which config keys would need one).
[[nodiscard]] Result<IamPolicy> buildIamPolicy(const IamPolicyInput& input);

}  // namespace pathpilot::aws
