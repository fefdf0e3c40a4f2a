// `pathpilot check --iam`: the policy printed for real config files, run on the built binary
// (the builder itself is tested in tests/unit/aws/iam_policy_test.cc).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_test_util.h"
#include "config_test_util.h"

namespace pathpilot::config {
namespace {

using Json = nlohmann::json;

using testing::CommandRun;

// One AWS site: a China, global or gov region; tables; optional ec2-restart and SNS channel.
std::string site(const std::string& region, bool recovery, const std::string& extra = {}) {
  std::string az = region + "a";
  std::string text =
      "site: {name: Test, region: " + region + "}\n"
      "paths:\n"
      "  - name: dx\n"
      "    kind: dx\n"
      "    probe: {targets: [10.10.3.100], fwmark: 100}\n"
      "    next_hop: {gateway_id: vgw-078bcc55}\n"
      "  - name: vpn-a\n"
      "    kind: vpn\n"
      "    az: " + az + "\n"
      "    probe: {targets: [169.254.100.1], fwmark: 101}\n"
      "    next_hop: {instance_id: i-0e1466e8a5dd4892c}\n";
  if (recovery) {
    text += "    recovery: {action: ec2-restart}\n";
  }
  text +=
      "route_tables:\n"
      "  - id: rtb-468f5222\n"
      "    az: " + az + "\n"
      "    destinations: [10.10.0.0/16]\n"
      "backends:\n"
      "  aws: {account_id: '210987654321'}\n" + extra;
  return text;
}

class CheckIamTest : public testing::CliBinaryTest {
 protected:
  CheckIamTest() : CliBinaryTest("pp_check_iam_") {}

  std::string write(const std::string& content) {
    return CliBinaryTest::write("site.yaml", content);
  }

  // `pathpilot check --iam <args>`.
  CommandRun run(const std::string& args) { return CliBinaryTest::run("check --iam " + args); }

  // The printed policy; fails the test unless the run succeeded with valid JSON.
  Json policy(const CommandRun& r) {
    EXPECT_EQ(r.exit_code, 0) << r.err;
    Json p = Json::parse(r.out, nullptr, false);
    EXPECT_FALSE(p.is_discarded()) << r.out;
    return p;
  }
};

Json statementBySid(const Json& policy, std::string_view sid) {
  for (const Json& s : policy["Statement"]) {
    if (s["Sid"] == sid) {
      return s;
    }
  }
  return Json();
}

TEST_F(CheckIamTest, SeedExamplePrintsAValidPolicy) {
  CommandRun r = run("'" + std::string(PP_SOURCE_DIR) + "/examples/seed-2az.yaml'");
  Json p = policy(r);
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(p["Version"], "2012-10-17");
  EXPECT_EQ(statementBySid(p, "ProgramConfiguredRouteTables")["Resource"],
            Json({"arn:aws:ec2:ap-southeast-1:111122223333:route-table/rtb-468f5222",
                  "arn:aws:ec2:ap-southeast-1:111122223333:route-table/rtb-4b8f522f"}));
  EXPECT_EQ(statementBySid(p, "RestartGatewayInstancesWithEc2RestartRecovery")["Resource"],
            Json({"arn:aws:ec2:ap-southeast-1:111122223333:instance/i-0430fe110cdec5835",
                  "arn:aws:ec2:ap-southeast-1:111122223333:instance/i-0e1466e8a5dd4892c"}));
}

TEST_F(CheckIamTest, GlobalRegion) {
  Json p = policy(run(write(site("eu-west-1", true))));
  EXPECT_EQ(statementBySid(p, "ProgramConfiguredRouteTables")["Resource"],
            "arn:aws:ec2:eu-west-1:210987654321:route-table/rtb-468f5222");
}

TEST_F(CheckIamTest, ChinaRegionGivesAwsCnArns) {
  Json p = policy(run(write(site("cn-northwest-1", true))));
  EXPECT_EQ(statementBySid(p, "ProgramConfiguredRouteTables")["Resource"],
            "arn:aws-cn:ec2:cn-northwest-1:210987654321:route-table/rtb-468f5222");
  EXPECT_EQ(statementBySid(p, "RestartGatewayInstancesWithEc2RestartRecovery")["Resource"],
            "arn:aws-cn:ec2:cn-northwest-1:210987654321:instance/i-0e1466e8a5dd4892c");
}

TEST_F(CheckIamTest, NoRecoveryNoStopStart) {
  CommandRun r = run(write(site("ap-southeast-1", false)));
  Json p = policy(r);
  EXPECT_EQ(p["Statement"].size(), 2u) << r.out;
  EXPECT_EQ(r.out.find("StopInstances"), std::string::npos);
  EXPECT_EQ(r.out.find("StartInstances"), std::string::npos);
}

TEST_F(CheckIamTest, SnsAlertChannelsArePublishable) {
  Json p = policy(run(write(site("cn-north-1", false,
                                 "alerts:\n"
                                 "  channels:\n"
                                 "    - name: oncall\n"
                                 "      kind: sns\n"
                                 "      topic_arn: arn:aws-cn:sns:cn-north-1:210987654321:DCI\n"))));
  Json sns = statementBySid(p, "PublishAlertsToConfiguredTopics");
  EXPECT_EQ(sns["Action"], "sns:Publish");
  EXPECT_EQ(sns["Resource"], "arn:aws-cn:sns:cn-north-1:210987654321:DCI");
}

// The classic pair: mail through a topic, SMS to the on-call phone. The SMS needs sns:Publish
// on "*", which the output says (statement Sid, warning on stderr).
TEST_F(CheckIamTest, SmsChannelNeedsPublishOnEverything) {
  CommandRun r = run(write(site("ap-southeast-1", false,
                                "alerts:\n"
                                "  channels:\n"
                                "    - name: mail\n"
                                "      kind: sns\n"
                                "      topic_arn: arn:aws:sns:ap-southeast-1:210987654321:DCI\n"
                                "    - name: sms\n"
                                "      kind: sns\n"
                                "      phone_number: '+15555550100'\n")));
  Json p = policy(r);
  EXPECT_EQ(statementBySid(p, "PublishAlertsToConfiguredTopics")["Resource"],
            "arn:aws:sns:ap-southeast-1:210987654321:DCI");
  Json sms = statementBySid(p, "PublishSmsToPhoneNumbersAllowsNoResourceScoping");
  EXPECT_EQ(sms["Action"], "sns:Publish");
  EXPECT_EQ(sms["Resource"], "*");
  EXPECT_NE(r.err.find("warning: sending SMS to a phone number needs sns:Publish on \"*\""),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.out.find("+15555550100"), std::string::npos) << "the number is not in the policy";
}

TEST_F(CheckIamTest, LinuxOnlyConfigNeedsNoPolicy) {
  CommandRun r = run("'" + std::string(PP_SOURCE_DIR) + "/examples/linux-2az.yaml'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("no IAM policy needed: this config makes no AWS call"), std::string::npos)
      << r.err;
}

TEST_F(CheckIamTest, MissingAccountIdIsNamedNotInvented) {
  std::string text = site("ap-southeast-1", true);
  text = text.substr(0, text.find("backends:"));
  std::string file = write(text);
  CommandRun r = run("'" + file + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("backends.aws.account_id is not set and --account-id was not given"),
            std::string::npos)
      << r.err;

  r = run("'" + file + "' --account-id 333344445555");
  EXPECT_NE(policy(r).dump().find("arn:aws:ec2:ap-southeast-1:333344445555:route-table/"),
            std::string::npos);

  // A wildcard only when asked for, and never without a warning.
  r = run("'" + file + "' --account-id '*'");
  EXPECT_NE(policy(r).dump().find("arn:aws:ec2:ap-southeast-1:*:route-table/rtb-468f5222"),
            std::string::npos);
  EXPECT_NE(r.err.find("warning: the EC2 resources use a wildcard account"), std::string::npos)
      << r.err;
}

// The gateway agent publishes CloudWatch metrics only: PutMetricData, scoped by namespace.
TEST_F(CheckIamTest, AgentConfigGetsPutMetricDataInItsNamespace) {
  CommandRun r = run("--agent '" + std::string(PP_SOURCE_DIR) + "/examples/agent.yaml'");
  Json p = policy(r);
  ASSERT_EQ(p["Statement"].size(), 1u) << r.out;
  Json cw = p["Statement"][0];
  EXPECT_EQ(cw["Sid"], "PutMetricDataOnlyInConfiguredNamespaces");
  EXPECT_EQ(cw["Action"], "cloudwatch:PutMetricData");
  EXPECT_EQ(cw["Resource"], "*");
  EXPECT_EQ(cw["Condition"]["StringEquals"]["cloudwatch:namespace"], "pathpilot/Tunnels");
}

TEST_F(CheckIamTest, UsageAndConfigErrors) {
  std::string file = write(site("ap-southeast-1", true));
  EXPECT_EQ(run("'" + file + "' --account-id 12").exit_code, 2);
  EXPECT_EQ(run("'" + file + "' --json").exit_code, 2);
  EXPECT_EQ(run("--agent '" + file + "'").exit_code, 1);  // not an agent.yaml
  CommandRun r = run(write("site: {name: Test}\npaths: []\n"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("no IAM policy printed"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace pathpilot::config
