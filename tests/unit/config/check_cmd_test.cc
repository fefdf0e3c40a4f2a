// `pathpilot check`: exit codes, the printed plan and the JSON output, run on the built binary.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "cli_test_util.h"
#include "config_test_util.h"

namespace pathpilot::config {
namespace {

using testing::CommandRun;

class CheckCommandTest : public testing::CliBinaryTest {
 protected:
  CheckCommandTest() : CliBinaryTest("pp_check_") {}
};

TEST_F(CheckCommandTest, SeedExamplePrintsThePlanAndExitsZero) {
  CommandRun r = run("check '" + std::string(PP_SOURCE_DIR) + "/examples/seed-2az.yaml'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("site Singapore (region ap-southeast-1)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("next hop  instance_id i-0e1466e8a5dd4892c"), std::string::npos);
  EXPECT_NE(r.out.find("pinning   fwmark 0x65"), std::string::npos);
  EXPECT_NE(r.out.find("rtb-468f5222 (Private-1, az ap-southeast-1a) 10.10.0.0/16: "
                       "dx \u2192 vpn-a \u2192 vpn-b"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("rtb-4b8f522f (Private-2, az ap-southeast-1b) 10.10.0.0/16: "
                       "dx \u2192 vpn-b \u2192 vpn-a"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("1. dx     preferred link kind dx"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2. vpn-a  vpn gateway in the table's own AZ"), std::string::npos);
  EXPECT_NE(r.out.find("3. vpn-b  vpn gateway in another AZ"), std::string::npos);
}

TEST_F(CheckCommandTest, LinuxExampleShowsTableNumbers) {
  CommandRun r = run("check '" + std::string(PP_SOURCE_DIR) + "/examples/linux-2az.yaml'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("table 101 (Private-1, az zone-a) 10.10.0.0/16: dx \u2192 vpn-a \u2192 "
                       "vpn-b"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("next hop  via 10.255.1.2 dev vpna0"), std::string::npos);
}

TEST_F(CheckCommandTest, InvalidConfigPrintsEveryErrorAndExitsOne) {
  std::string text = testing::withLine(4, "    kind: dxx");
  text = testing::replaceLine(text, 15, "    destinations: [10.10.0.1/16]");
  std::string path = write("bad.yaml", text);
  CommandRun r = run("check '" + path + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find(path + ":4:11: error: paths[0].kind: expected one of dx or vpn"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(path + ":15:20: error: route_tables[0].destinations[0]"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(path + ": invalid: 2 errors, 0 warnings"), std::string::npos) << r.err;
}

// SMS are refused in a China region when the config is checked, not at the first outage.
TEST_F(CheckCommandTest, SmsInAChinaRegionIsAnErrorAtCheckTime) {
  std::string text =
      testing::replaceLine(testing::kMinimal, 1, "site: {name: Beijing, region: cn-north-1}");
  text = testing::replaceLine(text, 9, "    az: cn-north-1a");
  text = testing::replaceLine(text, 14, "    az: cn-north-1a");
  text +=
      "alerts:\n"                                // 16
      "  outbox: /tmp/pp-check-sms-outbox.db\n"  // 17
      "  channels:\n"                            // 18
      "    - name: oncall-sms\n"                 // 19
      "      kind: sns\n"                        // 20
      "      phone_number: '+8613800138000'\n";  // 21
  std::string path = write("sms-cn.yaml", text);
  CommandRun r = run("check '" + path + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(path + ":21:21: error: alerts.channels[0].phone_number: Amazon SNS does "
                              "not send SMS in the China regions (cn-north-1, from site.region"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(path + ": invalid: 1 error"), std::string::npos) << r.err;
}

TEST_F(CheckCommandTest, WarningsStillExitZero) {
  std::string path = write("warn.yaml", std::string(testing::kMinimal) + "    paths: [dx]\n");
  CommandRun r = run("check '" + path + "'");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.err.find(path + ":7:5: warning: paths[1]: path 'vpn-a' is not used"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.out.find("OK (2 paths, 1 route tables, 1 warning)"), std::string::npos) << r.out;
}

TEST_F(CheckCommandTest, MissingFileExitsOneWithClearError) {
  std::string path = (dir_ / "absent.yaml").string();
  CommandRun r = run("check '" + path + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(path + ": error: cannot open: No such file or directory"),
            std::string::npos)
      << r.err;
}

TEST_F(CheckCommandTest, MissingArgumentIsAUsageError) {
  CommandRun r = run("check");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("FILE is required"), std::string::npos) << r.err;
  EXPECT_EQ(run("check --no-such-flag x.yaml").exit_code, 2);
}

TEST_F(CheckCommandTest, JsonPlanHasOrderedCandidates) {
  CommandRun r = run("check --json '" + std::string(PP_SOURCE_DIR) + "/examples/seed-2az.yaml'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["valid"], true);
  EXPECT_EQ(j["errors"], 0);
  EXPECT_EQ(j["site"]["name"], "Singapore");
  ASSERT_EQ(j["paths"].size(), 3u);
  EXPECT_EQ(j["paths"][1]["next_hop"]["instance_id"], "i-0e1466e8a5dd4892c");
  EXPECT_EQ(j["paths"][1]["recovery"]["action"], "ec2-restart");
  EXPECT_EQ(j["paths"][0]["pinning"]["fwmark"], "0x64");
  ASSERT_EQ(j["plan"].size(), 2u);
  const auto& second = j["plan"][1];
  EXPECT_EQ(second["table"], "rtb-4b8f522f");
  EXPECT_EQ(second["destination"], "10.10.0.0/16");
  ASSERT_EQ(second["candidates"].size(), 3u);
  EXPECT_EQ(second["candidates"][0]["path"], "dx");
  EXPECT_EQ(second["candidates"][1]["path"], "vpn-b");
  EXPECT_EQ(second["candidates"][2]["path"], "vpn-a");
}

TEST_F(CheckCommandTest, JsonForInvalidConfigCarriesDiagnostics) {
  std::string path = write("bad.yaml", testing::withLine(8, "    kind: vnp"));
  CommandRun r = run("check --json '" + path + "'");
  EXPECT_EQ(r.exit_code, 1);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["valid"], false);
  ASSERT_EQ(j["diagnostics"].size(), 1u);
  EXPECT_EQ(j["diagnostics"][0]["line"], 8);
  EXPECT_EQ(j["diagnostics"][0]["column"], 11);
  EXPECT_EQ(j["diagnostics"][0]["severity"], "error");
  EXPECT_FALSE(j.contains("plan"));
}

TEST_F(CheckCommandTest, SecretsNeverReachTheOutput) {
  std::string path = write("secret.yaml", std::string(testing::kMinimal) +
                                              "api: {auth_token: hunter2-very-secret}\n");
  for (const char* flags : {"", "--json "}) {
    CommandRun r = run(std::string("check ") + flags + "'" + path + "'");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.find("hunter2"), std::string::npos) << r.out;
    EXPECT_EQ(r.err.find("hunter2"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("secret written inline"), std::string::npos);
  }
}

TEST_F(CheckCommandTest, BinaryJunkExitsOne) {
  std::string junk("\x7f" "ELF\x02\x01\x01\0\0\0", 10);
  std::string path = write("junk.yaml", junk);
  CommandRun r = run("check '" + path + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(path + ":1:1: error: control character 0x7F"), std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace pathpilot::config
