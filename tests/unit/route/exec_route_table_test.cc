#include "route/exec/exec_route_table.h"

#include <stdlib.h>

#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <sstream>

namespace pathpilot::route {
namespace {

IpPrefix prefix(const char* text) { return *IpPrefix::parse(text); }

class ExecRouteTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "pp_exec_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

  ExecOptions hook(const std::string& script) {
    ExecOptions options;
    options.argv = {"/bin/sh", "-c", script, "hook"};
    options.timeout = seconds(20);
    return options;
  }

  static RouteDelta change() {
    RouteDelta delta;
    delta.destination = prefix("10.10.0.0/16");
    delta.old_next_hop = NextHop::opaque("vgw-078bcc55");
    delta.old_path = "dx";
    delta.new_next_hop = NextHop::gateway(*IpAddress::parse("169.254.100.1"), "vti0");
    delta.new_path = "vpn-a";
    return delta;
  }

  std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream out;
    out << in.rdbuf();
    return out.str();
  }

  runtime::PosixProcessRunner runner_;
  std::string dir_;
};

TEST_F(ExecRouteTableTest, HookReceivesTheChangeInEnvironmentVariables) {
  std::string out = dir_ + "/env";
  ExecRouteTable table("rtb-468f5222", hook("env | grep '^PATHPILOT_' | sort > '" + out + "'"),
                       runner_);
  ASSERT_TRUE(table.apply(change()));
  EXPECT_EQ(slurp(out),
            "PATHPILOT_ACTION=replace\n"
            "PATHPILOT_DESTINATION=10.10.0.0/16\n"
            "PATHPILOT_NEW_NEXT_HOP=via 169.254.100.1 dev vti0\n"
            "PATHPILOT_OLD_NEXT_HOP=vgw-078bcc55\n"
            "PATHPILOT_OLD_PATH=dx\n"
            "PATHPILOT_PATH=vpn-a\n"
            "PATHPILOT_TABLE=rtb-468f5222\n");

  RouteDelta del = change();
  del.new_next_hop.reset();
  ASSERT_TRUE(table.apply(del));
  std::string env = slurp(out);
  EXPECT_NE(env.find("PATHPILOT_ACTION=delete\n"), std::string::npos);
  EXPECT_NE(env.find("PATHPILOT_NEW_NEXT_HOP=\n"), std::string::npos);
  EXPECT_NE(env.find("PATHPILOT_PATH=\n"), std::string::npos);
}

// The daemon's AWS keys and {env:} secrets stay out of the hook; listed names and the
// PATHPILOT_* change pass; what the hook prints on stderr reaches the error redacted.
TEST_F(ExecRouteTableTest, HookSeesNoSecretOfTheDaemonAndItsStderrIsRedacted) {
  ::setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", 1);
  ::setenv("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEXAMPLESESSIONTOKEN", 1);
  ::setenv("PP_EXEC_API_TOKEN", "api-token-0123456789abcdef", 1);  // an {env:} secret
  ::setenv("PP_EXEC_FIREWALL_HOST", "fw1.example.net", 1);         // listed
  std::string out = dir_ + "/env";
  ExecOptions options = hook("env > '" + out +
                             "'; echo \"login with api-token-0123456789abcdef refused\" >&2; "
                             "exit 1");
  options.inherit = {"PP_EXEC_FIREWALL_HOST", "AWS_SECRET_ACCESS_KEY"};
  auto redactor = std::make_shared<Redactor>();
  redactor->add("api-token-0123456789abcdef");
  options.redactor = redactor;
  ExecRouteTable table("rtb-468f5222", options, runner_);
  auto r = table.apply(change());
  ASSERT_FALSE(r);
  std::string env = slurp(out);
  for (const char* secret : {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI", "FwoGZXIvYXdz",
                             "api-token-0123456789abcdef", "AWS_", "PP_EXEC_API_TOKEN"}) {
    EXPECT_EQ(env.find(secret), std::string::npos) << secret << " in\n" << env;
  }
  EXPECT_NE(env.find("PP_EXEC_FIREWALL_HOST=fw1.example.net\n"), std::string::npos) << env;
  EXPECT_NE(env.find("PATHPILOT_TABLE=rtb-468f5222\n"), std::string::npos) << env;
  EXPECT_NE(env.find("PATH="), std::string::npos) << env;
  EXPECT_EQ(r.error().message().find("api-token-0123456789abcdef"), std::string::npos);
  EXPECT_NE(r.error().message().find("login with <redacted> refused"), std::string::npos)
      << r.error().message();
  for (const char* name : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                           "PP_EXEC_API_TOKEN", "PP_EXEC_FIREWALL_HOST"}) {
    ::unsetenv(name);
  }
}

TEST_F(ExecRouteTableTest, NonZeroExitIsAnErrorWithTheStderrTail) {
  ExecRouteTable table("rtb-1", hook("echo 'firewall API: 503 busy' >&2; exit 4"), runner_);
  auto r = table.apply(change());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::Unavailable);
  const std::string& msg = r.error().message();
  EXPECT_NE(msg.find("exited with status 4"), std::string::npos) << msg;
  EXPECT_NE(msg.find("firewall API: 503 busy"), std::string::npos) << msg;
  EXPECT_NE(msg.find("10.10.0.0/16"), std::string::npos) << msg;
  EXPECT_NE(msg.find("rtb-1"), std::string::npos) << msg;
}

TEST_F(ExecRouteTableTest, TimeoutKillsTheHookAndIsATimeoutError) {
  ExecOptions options = hook("sleep 30");
  options.timeout = milliseconds(200);
  ExecRouteTable table("rtb-1", options, runner_);
  auto started = std::chrono::steady_clock::now();
  auto r = table.apply(change());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::Timeout);
  EXPECT_NE(r.error().message().find("timed out after 200ms"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(5));
}

TEST_F(ExecRouteTableTest, MissingHookIsNotFound) {
  ExecOptions options;
  options.argv = {"/nonexistent/route-hook"};
  ExecRouteTable table("rtb-1", options, runner_);
  auto r = table.apply(change());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::NotFound);
  EXPECT_NE(r.error().message().find("/nonexistent/route-hook"), std::string::npos);
}

TEST_F(ExecRouteTableTest, ListWithoutCommandReturnsWhatWasApplied) {
  ExecRouteTable table("rtb-1", hook("exit 0"), runner_);
  EXPECT_TRUE(table.list()->empty());
  ASSERT_TRUE(table.apply(change()));
  auto routes = table.list();
  ASSERT_TRUE(routes);
  ASSERT_EQ(routes->size(), 1u);
  EXPECT_EQ((*routes)[0].next_hop, change().new_next_hop);
  EXPECT_EQ((*routes)[0].table, "rtb-1");
  // A failed hook changes nothing.
  ExecRouteTable failing("rtb-1", hook("exit 1"), runner_);
  EXPECT_FALSE(failing.apply(change()));
  EXPECT_TRUE(failing.list()->empty());
}

TEST_F(ExecRouteTableTest, ListCommandOutputIsParsed) {
  ExecOptions options = hook("exit 0");
  options.list_argv = {"/bin/sh", "-c",
                       "printf '# current routes of %s\\n10.10.0.0/16 vgw-078bcc55\\n\\n"
                       "10.20.0.0/16 via 169.254.100.1 dev vti0\\n' \"$PATHPILOT_TABLE\""};
  ExecRouteTable table("rtb-1", options, runner_);
  auto routes = table.list();
  ASSERT_TRUE(routes) << routes.error().message();
  ASSERT_EQ(routes->size(), 2u);
  EXPECT_EQ((*routes)[0].destination, prefix("10.10.0.0/16"));
  EXPECT_EQ((*routes)[0].next_hop, NextHop::opaque("vgw-078bcc55"));
  EXPECT_EQ((*routes)[1].next_hop.toString(), "via 169.254.100.1 dev vti0");
}

TEST_F(ExecRouteTableTest, BadListOutputNamesTheLine) {
  ExecOptions options = hook("exit 0");
  options.list_argv = {"/bin/sh", "-c", "printf '10.10.0.0/16 vgw-1\\n10.10.0.1/16 vgw-2\\n'"};
  ExecRouteTable table("rtb-1", options, runner_);
  auto routes = table.list();
  ASSERT_FALSE(routes);
  EXPECT_EQ(routes.error().code(), ErrorCode::InvalidArgument);
  EXPECT_NE(routes.error().message().find("line 2"), std::string::npos)
      << routes.error().message();
}

TEST_F(ExecRouteTableTest, BackendValidatesIdsAndOptions) {
  ExecRouteBackend backend(hook("exit 0"), runner_);
  EXPECT_TRUE(backend.openTable("rtb-1"));
  EXPECT_FALSE(backend.openTable(""));
  EXPECT_FALSE(backend.openTable("rtb 1"));
  ExecRouteBackend empty(ExecOptions{}, runner_);
  auto r = empty.openTable("rtb-1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::InvalidArgument);
}

}  // namespace
}  // namespace pathpilot::route
