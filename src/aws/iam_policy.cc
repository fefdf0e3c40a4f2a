#include "aws/iam_policy.h"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "aws/ec2.h"
#include "aws/endpoints.h"

namespace pathpilot::aws {
namespace {

using Json = nlohmann::ordered_json;

bool isHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// i- and 8 or 17 lowercase hex digits, as EC2 issues them.
bool isInstanceId(std::string_view id) {
  if (id.substr(0, 2) != "i-") {
    return false;
  }
  std::string_view hex = id.substr(2);
  return (hex.size() == 8 || hex.size() == 17) && std::all_of(hex.begin(), hex.end(), isHex);
}

bool isAccountId(std::string_view id) {
  return id.size() == 12 &&
         std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// CloudWatch namespaces: 1..255 characters of [A-Za-z0-9.-_/#:], not starting with "AWS/"
// (reserved for AWS services: PutMetricData refuses it anyway).
bool isNamespace(std::string_view ns) {
  if (ns.empty() || ns.size() > 255 || ns.substr(0, 4) == "AWS/") {
    return false;
  }
  return std::all_of(ns.begin(), ns.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '-' || c == '_' || c == '/' || c == '#' || c == ':';
  });
}

std::string quoteText(std::string_view s) {
  return "'" + std::string(s.substr(0, 80)) + (s.size() > 80 ? "...'" : "'");
}

// A single resource is written as a string, several as an array (as the IAM console does).
Json resources(const std::set<std::string>& arns) {
  if (arns.size() == 1) {
    return *arns.begin();
  }
  return Json(std::vector<std::string>(arns.begin(), arns.end()));
}

Json statement(std::string_view sid, std::vector<std::string> actions, Json resource) {
  return Json{{"Sid", sid},
              {"Effect", "Allow"},
              {"Action", actions.size() == 1 ? Json(actions[0]) : Json(actions)},
              {"Resource", std::move(resource)}};
}

}  // namespace

Result<IamPolicy> buildIamPolicy(const IamPolicyInput& input) {
  auto bad = [](std::string what) { return fail(ErrorCode::InvalidArgument, std::move(what)); };
  IamPolicy out;
  // An empty Statement list is a valid document that allows nothing; printing it would look
  // like success to a script that attaches whatever `check --iam` prints. Say so instead.
  bool needs_ec2 = !input.route_table_ids.empty() || !input.restart_instance_ids.empty();
  if (!needs_ec2 && input.sns_topic_arns.empty() && input.sns_sms_regions.empty() &&
      input.cloudwatch_namespaces.empty()) {
    return fail(ErrorCode::NotFound,
                "nothing to allow: no AWS route table, ec2-restart recovery, SNS channel or "
                "CloudWatch namespace is configured");
  }

  // The EC2 ARNs are the only ones we compose (topic ARNs come complete), so region, partition
  // and account matter only when there are tables or instances.
  Partition partition;
  if (needs_ec2) {
    auto p = partitionForRegion(input.region);
    if (!p) {
      return fail(p.error().withContext("iam policy"));
    }
    partition = *p;
    if (input.account_id == "*") {
      // Acceptable only because the caller asked for it; a reviewer must see it.
      out.warnings.push_back(
          "the EC2 resources use a wildcard account (\"*\"): the policy then allows these "
          "route tables and instance ids in ANY account the role can reach; set "
          "backends.aws.account_id or pass --account-id for a tight policy");
    } else if (!isAccountId(input.account_id)) {
      return bad(input.account_id.empty()
                     ? "iam policy: no AWS account id (needed for route table and instance ARNs)"
                     : "iam policy: account id " + quoteText(input.account_id) +
                           " is not 12 digits");
    }
  }
  auto ec2Arn = [&](std::string_view type, const std::string& id) {
    return makeArn(partition, "ec2", input.region, input.account_id, std::string(type) + "/" + id);
  };

  // Every id is validated before it goes into an ARN: the ids come from a config file, and a
  // crafted one must not widen a Resource (wildcards, quotes) — the format checks allow only
  // the characters EC2 itself uses. Sets make the output sorted and free of duplicates.
  std::set<std::string> tables;
  for (const std::string& id : input.route_table_ids) {
    if (!isRouteTableId(id)) {
      return bad("iam policy: " + quoteText(id) + " is not a VPC route table id");
    }
    tables.insert(ec2Arn("route-table", id));
  }
  std::set<std::string> instances;
  for (const std::string& id : input.restart_instance_ids) {
    if (!isInstanceId(id)) {
      return bad("iam policy: " + quoteText(id) + " is not an EC2 instance id");
    }
    instances.insert(ec2Arn("instance", id));
  }
  std::set<std::string> topics;
  for (const std::string& text : input.sns_topic_arns) {
    auto arn = parseArn(text);
    if (!arn || arn->service != "sns" || arn->region.empty() || !isAccountId(arn->account)) {
      return bad("iam policy: " + quoteText(text) + " is not an SNS topic ARN");
    }
    // Credentials belong to one partition: a role in aws-cn can never publish to an aws
    // topic, whatever its policy says. Not an error (the topic may have its own credentials
    // via the channel's endpoint/profile), but the reviewer must know.
    if (needs_ec2 && arn->partition != partition.id) {
      out.warnings.push_back("SNS topic " + text + " is in partition " + arn->partition +
                             " but the EC2 region " + input.region + " is in " + partition.id +
                             ": one role cannot call both; the topic needs a role (and "
                             "credentials) of its own partition");
    }
    topics.insert(text);
  }
  std::set<std::string> sms_regions;
  for (const std::string& region : input.sns_sms_regions) {
    auto p = partitionForRegion(region);
    if (!p) {
      return fail(p.error().withContext("iam policy: SMS region"));
    }
    if (p->id == "aws-cn") {
      return bad("iam policy: SMS region " + quoteText(region) +
                 " is in the China partition, where Amazon SNS sends no SMS");
    }
    if (needs_ec2 && p->id != partition.id) {
      out.warnings.push_back("SMS go out from " + region + " in partition " + p->id +
                             " but the EC2 region " + input.region + " is in " + partition.id +
                             ": one role cannot call both; the SMS channel needs a role (and "
                             "credentials) of its own partition");
    }
    sms_regions.insert(region);
  }
  if (!sms_regions.empty()) {
    out.warnings.push_back(
        "sending SMS to a phone number needs sns:Publish on \"*\" (a phone number is not an IAM "
        "resource): that statement also allows publishing to any SNS topic the role can reach");
  }
  std::set<std::string> namespaces;
  for (const std::string& ns : input.cloudwatch_namespaces) {
    if (!isNamespace(ns)) {
      return bad("iam policy: " + quoteText(ns) + " is not a custom CloudWatch namespace");
    }
    namespaces.insert(ns);
  }

  Json statements = Json::array();
  // Describe* first: the reviewer sees at once why "*" appears at all.
  std::vector<std::string> describe;
  if (!tables.empty()) {
    describe.push_back("ec2:DescribeRouteTables");  // start-up adoption and drift checks
  }
  if (!instances.empty()) {
    describe.push_back("ec2:DescribeInstances");  // waiting for stopped / running
  }
  if (!describe.empty()) {
    statements.push_back(
        statement("Ec2DescribeActionsAllowNoResourceScoping",
                  std::move(describe), "*"));
  }
  // CreateRoute is needed for a destination a table has no route for yet (first start on a
  // fresh table); ReplaceRoute for every failover and failback. The route table is the
  // required resource type of both actions, so it is what we scope them to.
  if (!tables.empty()) {
    statements.push_back(statement("ProgramConfiguredRouteTables",
                                   {"ec2:CreateRoute", "ec2:ReplaceRoute"}, resources(tables)));
  }
  // Only the instances of ec2-restart gateways: a command recovery (ssh, systemctl) needs no
  // EC2 permission, and the instances that are only route targets are never stopped.
  if (!instances.empty()) {
    statements.push_back(statement("RestartGatewayInstancesWithEc2RestartRecovery",
                                   {"ec2:StartInstances", "ec2:StopInstances"},
                                   resources(instances)));
  }
  if (!topics.empty()) {
    statements.push_back(statement("PublishAlertsToConfiguredTopics", {"sns:Publish"},
                                   resources(topics)));
  }
  if (!sms_regions.empty()) {
    // Publish with PhoneNumber has no resource to scope to; "*" is the only Resource IAM
    // accepts for it.
    statements.push_back(
        statement("PublishSmsToPhoneNumbersAllowsNoResourceScoping", {"sns:Publish"}, "*"));
  }
  if (!namespaces.empty()) {
    // PutMetricData has no resource type: the namespace condition is the only scoping.
    Json s = statement("PutMetricDataOnlyInConfiguredNamespaces", {"cloudwatch:PutMetricData"},
                       "*");
    s["Condition"] = {{"StringEquals", {{"cloudwatch:namespace", resources(namespaces)}}}};
    statements.push_back(std::move(s));
  }
  // 2012-10-17 is the current (and only sensible) policy language version; ordered_json keeps
  // Version before Statement, as people expect to read it.
  Json policy = {{"Version", "2012-10-17"}, {"Statement", std::move(statements)}};
  out.json = policy.dump(2);
  return out;
}

}  // namespace pathpilot::aws
