// aws::buildIamPolicy: ARNs per partition, only the statements the input needs, stable output.
#include "aws/iam_policy.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace pathpilot::aws {
namespace {

using Json = nlohmann::json;

IamPolicyInput seedInput() {
  IamPolicyInput in;
  in.region = "ap-southeast-1";
  in.account_id = "111122223333";
  in.route_table_ids = {"rtb-468f5222", "rtb-4b8f522f"};
  in.restart_instance_ids = {"i-0e1466e8a5dd4892c", "i-0430fe110cdec5835"};
  return in;
}

Json build(const IamPolicyInput& in) {
  auto policy = buildIamPolicy(in);
  EXPECT_TRUE(policy.has_value()) << policy.error().toString();
  if (!policy) {
    return Json();
  }
  return Json::parse(policy->json);
}

// The statement whose Sid is `sid`, or null.
Json statementBySid(const Json& policy, std::string_view sid) {
  for (const Json& s : policy["Statement"]) {
    if (s["Sid"] == sid) {
      return s;
    }
  }
  return Json();
}

// Every action anywhere in the policy.
std::vector<std::string> allActions(const Json& policy) {
  std::vector<std::string> out;
  for (const Json& s : policy["Statement"]) {
    if (s["Action"].is_string()) {
      out.push_back(s["Action"]);
    } else {
      for (const Json& a : s["Action"]) {
        out.push_back(a);
      }
    }
  }
  return out;
}

TEST(IamPolicyTest, GlobalRegionScopesRoutesAndInstancesToTheirArns) {
  Json p = build(seedInput());
  EXPECT_EQ(p["Version"], "2012-10-17");
  ASSERT_EQ(p["Statement"].size(), 3u) << p.dump(2);

  Json describe = statementBySid(p, "Ec2DescribeActionsAllowNoResourceScoping");
  EXPECT_EQ(describe["Effect"], "Allow");
  EXPECT_EQ(describe["Action"], Json({"ec2:DescribeRouteTables", "ec2:DescribeInstances"}));
  EXPECT_EQ(describe["Resource"], "*");

  Json routes = statementBySid(p, "ProgramConfiguredRouteTables");
  EXPECT_EQ(routes["Action"], Json({"ec2:CreateRoute", "ec2:ReplaceRoute"}));
  EXPECT_EQ(routes["Resource"],
            Json({"arn:aws:ec2:ap-southeast-1:111122223333:route-table/rtb-468f5222",
                  "arn:aws:ec2:ap-southeast-1:111122223333:route-table/rtb-4b8f522f"}));

  Json restart = statementBySid(p, "RestartGatewayInstancesWithEc2RestartRecovery");
  EXPECT_EQ(restart["Action"], Json({"ec2:StartInstances", "ec2:StopInstances"}));
  EXPECT_EQ(restart["Resource"],
            Json({"arn:aws:ec2:ap-southeast-1:111122223333:instance/i-0430fe110cdec5835",
                  "arn:aws:ec2:ap-southeast-1:111122223333:instance/i-0e1466e8a5dd4892c"}));

  // Nothing the daemon does not call, and never a wildcard action.
  for (const std::string& action : allActions(p)) {
    EXPECT_EQ(action.find('*'), std::string::npos) << action;
    EXPECT_NE(action, "ec2:DeleteRoute");
  }
}

TEST(IamPolicyTest, ChinaRegionsUseTheAwsCnPartition) {
  for (const char* region : {"cn-north-1", "cn-northwest-1"}) {
    IamPolicyInput in = seedInput();
    in.region = region;
    Json p = build(in);
    Json routes = statementBySid(p, "ProgramConfiguredRouteTables");
    EXPECT_EQ(routes["Resource"][0],
              std::string("arn:aws-cn:ec2:") + region + ":111122223333:route-table/rtb-468f5222");
    Json restart = statementBySid(p, "RestartGatewayInstancesWithEc2RestartRecovery");
    EXPECT_EQ(restart["Resource"][1],
              std::string("arn:aws-cn:ec2:") + region + ":111122223333:instance/i-0e1466e8a5dd4892c");
  }
}

TEST(IamPolicyTest, GovCloudUsesTheAwsUsGovPartition) {
  IamPolicyInput in = seedInput();
  in.region = "us-gov-west-1";
  Json p = build(in);
  EXPECT_EQ(statementBySid(p, "ProgramConfiguredRouteTables")["Resource"][0],
            "arn:aws-us-gov:ec2:us-gov-west-1:111122223333:route-table/rtb-468f5222");
}

TEST(IamPolicyTest, NoRecoveryMeansNoStopStartAndNoDescribeInstances) {
  IamPolicyInput in = seedInput();
  in.restart_instance_ids.clear();
  Json p = build(in);
  ASSERT_EQ(p["Statement"].size(), 2u) << p.dump(2);
  EXPECT_TRUE(statementBySid(p, "RestartGatewayInstancesWithEc2RestartRecovery").is_null());
  EXPECT_EQ(statementBySid(p, "Ec2DescribeActionsAllowNoResourceScoping")["Action"],
            "ec2:DescribeRouteTables");
  for (const std::string& action : allActions(p)) {
    EXPECT_EQ(action.find("Instances"), std::string::npos) << action;
  }
}

TEST(IamPolicyTest, SingleTableIsWrittenAsAString) {
  IamPolicyInput in = seedInput();
  in.route_table_ids = {"rtb-468f5222", "rtb-468f5222"};  // duplicates listed once
  Json p = build(in);
  EXPECT_EQ(statementBySid(p, "ProgramConfiguredRouteTables")["Resource"],
            "arn:aws:ec2:ap-southeast-1:111122223333:route-table/rtb-468f5222");
}

TEST(IamPolicyTest, SnsTopicsAreAllowedByTheirOwnArns) {
  IamPolicyInput in = seedInput();
  in.sns_topic_arns = {"arn:aws:sns:ap-southeast-1:111122223333:DCI-Status",
                       "arn:aws:sns:us-east-1:444455556666:Oncall"};
  auto built = buildIamPolicy(in);
  ASSERT_TRUE(built.has_value());
  EXPECT_TRUE(built->warnings.empty());
  Json p = Json::parse(built->json);
  Json sns = statementBySid(p, "PublishAlertsToConfiguredTopics");
  EXPECT_EQ(sns["Action"], "sns:Publish");
  EXPECT_EQ(sns["Resource"], Json({"arn:aws:sns:ap-southeast-1:111122223333:DCI-Status",
                                   "arn:aws:sns:us-east-1:444455556666:Oncall"}));
}

TEST(IamPolicyTest, SnsOnlyPolicyNeedsNoRegionOrAccount) {
  IamPolicyInput in;
  in.sns_topic_arns = {"arn:aws-cn:sns:cn-north-1:111122223333:DCI-Status"};
  Json p = build(in);
  ASSERT_EQ(p["Statement"].size(), 1u);
  EXPECT_EQ(p["Statement"][0]["Resource"], "arn:aws-cn:sns:cn-north-1:111122223333:DCI-Status");
}

TEST(IamPolicyTest, TopicInAnotherPartitionIsWarnedAbout) {
  IamPolicyInput in = seedInput();
  in.region = "cn-north-1";
  in.sns_topic_arns = {"arn:aws:sns:ap-southeast-1:111122223333:DCI-Status"};
  auto built = buildIamPolicy(in);
  ASSERT_TRUE(built.has_value());
  ASSERT_EQ(built->warnings.size(), 1u);
  EXPECT_NE(built->warnings[0].find("partition aws but the EC2 region cn-north-1 is in aws-cn"),
            std::string::npos)
      << built->warnings[0];
}

// Publish with PhoneNumber has no resource: IAM needs Resource "*" for it, and the reviewer
// is told what that also allows.
TEST(IamPolicyTest, SmsToAPhoneNeedsPublishOnEverything) {
  IamPolicyInput in = seedInput();
  in.sns_topic_arns = {"arn:aws:sns:ap-southeast-1:111122223333:DCI-Status"};
  in.sns_sms_regions = {"ap-southeast-1", "ap-southeast-1"};
  auto built = buildIamPolicy(in);
  ASSERT_TRUE(built.has_value()) << built.error().message();
  Json p = Json::parse(built->json);
  Json sms = statementBySid(p, "PublishSmsToPhoneNumbersAllowsNoResourceScoping");
  EXPECT_EQ(sms["Action"], "sns:Publish");
  EXPECT_EQ(sms["Resource"], "*");
  EXPECT_EQ(sms["Effect"], "Allow");
  // The topic statement stays: it says which topic the config means.
  EXPECT_EQ(statementBySid(p, "PublishAlertsToConfiguredTopics")["Resource"],
            "arn:aws:sns:ap-southeast-1:111122223333:DCI-Status");
  ASSERT_EQ(built->warnings.size(), 1u);
  EXPECT_NE(built->warnings[0].find("sns:Publish on \"*\""), std::string::npos);
  EXPECT_NE(built->warnings[0].find("any SNS topic"), std::string::npos);

  // SMS alone is reason enough for a policy.
  IamPolicyInput only;
  only.sns_sms_regions = {"us-east-1"};
  Json q = build(only);
  ASSERT_EQ(q["Statement"].size(), 1u);
  EXPECT_EQ(q["Statement"][0]["Resource"], "*");
}

TEST(IamPolicyTest, SmsRegionsAreCheckedForPartition) {
  IamPolicyInput in = seedInput();
  in.region = "cn-north-1";
  in.sns_sms_regions = {"ap-southeast-1"};
  auto built = buildIamPolicy(in);
  ASSERT_TRUE(built.has_value());
  ASSERT_EQ(built->warnings.size(), 2u);
  EXPECT_NE(built->warnings[0].find("SMS go out from ap-southeast-1 in partition aws but the EC2 "
                                    "region cn-north-1 is in aws-cn"),
            std::string::npos)
      << built->warnings[0];

  in.sns_sms_regions = {"cn-northwest-1"};
  auto china = buildIamPolicy(in);
  ASSERT_FALSE(china.has_value());
  EXPECT_EQ(china.error().code(), ErrorCode::InvalidArgument);
  EXPECT_NE(china.error().message().find("sends no SMS"), std::string::npos);
}

TEST(IamPolicyTest, CloudWatchIsScopedByANamespaceCondition) {
  IamPolicyInput in = seedInput();
  in.cloudwatch_namespaces = {"pathpilot/Tunnels"};
  Json p = build(in);
  Json cw = statementBySid(p, "PutMetricDataOnlyInConfiguredNamespaces");
  EXPECT_EQ(cw["Action"], "cloudwatch:PutMetricData");
  EXPECT_EQ(cw["Resource"], "*");
  EXPECT_EQ(cw["Condition"], Json::parse(R"({"StringEquals":
                                               {"cloudwatch:namespace": "pathpilot/Tunnels"}})"));
}

TEST(IamPolicyTest, WildcardAccountIsAllowedOnlyWithAWarning) {
  IamPolicyInput in = seedInput();
  in.account_id = "*";
  auto built = buildIamPolicy(in);
  ASSERT_TRUE(built.has_value());
  ASSERT_EQ(built->warnings.size(), 1u);
  EXPECT_NE(built->warnings[0].find("wildcard account"), std::string::npos);
  EXPECT_NE(built->json.find("arn:aws:ec2:ap-southeast-1:*:route-table/rtb-468f5222"),
            std::string::npos);
}

TEST(IamPolicyTest, MissingOrMalformedValuesAreErrorsNamingThem) {
  IamPolicyInput in = seedInput();
  in.account_id.clear();
  auto r = buildIamPolicy(in);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("no AWS account id"), std::string::npos);

  in = seedInput();
  in.account_id = "1111-2222-3333";
  r = buildIamPolicy(in);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("'1111-2222-3333' is not 12 digits"), std::string::npos);

  in = seedInput();
  in.region = "mars-1";
  EXPECT_FALSE(buildIamPolicy(in).has_value());

  in = seedInput();
  in.route_table_ids.push_back("rtb-\"},{\"Effect\":\"Allow\",\"Action\":\"*\"");
  r = buildIamPolicy(in);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("is not a VPC route table id"), std::string::npos);

  in = seedInput();
  in.sns_topic_arns = {"arn:aws:sqs:us-east-1:111122223333:q"};
  EXPECT_FALSE(buildIamPolicy(in).has_value());

  in = seedInput();
  in.cloudwatch_namespaces = {"AWS/EC2"};
  EXPECT_FALSE(buildIamPolicy(in).has_value());
}

TEST(IamPolicyTest, NothingToAllowIsNotFound) {
  IamPolicyInput in;
  in.region = "ap-southeast-1";
  in.account_id = "111122223333";
  auto r = buildIamPolicy(in);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::NotFound);
}

}  // namespace
}  // namespace pathpilot::aws
