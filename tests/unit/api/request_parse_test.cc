// The request parts read from untrusted input, without a server (api/request_parse.h); the
// same functions run behind the HTTP server in server_test.cc and under the fuzzer.
#include "api/request_parse.h"

#include <gtest/gtest.h>

#include <string>

namespace pathpilot::api {
namespace {

TEST(RequestParseTest, ControlTargetsAndPathNames) {
  auto t = controlTarget("/api/v1/paths/vpn-a/drain");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->first, "vpn-a");
  EXPECT_EQ(t->second, "drain");
  EXPECT_TRUE(controlTarget("/api/v1/paths/dx/undrain"));
  EXPECT_FALSE(controlTarget("/api/v1/paths//drain"));
  EXPECT_FALSE(controlTarget("/api/v1/paths/dx/reboot"));
  EXPECT_FALSE(controlTarget("/api/v1/paths/dx"));
  EXPECT_FALSE(controlTarget("/api/v1/paths/" + std::string(300, 'a') + "/drain"));
  EXPECT_TRUE(validPathName("vpn-a.az_1"));
  EXPECT_FALSE(validPathName(".."));
  EXPECT_FALSE(validPathName("a/b"));
  EXPECT_FALSE(validPathName(std::string(65, 'a')));
}

TEST(RequestParseTest, HostHeaders) {
  EXPECT_EQ(hostOf("Monitor.Example.com:9180"), "monitor.example.com");
  EXPECT_EQ(hostOf("[::1]:9180"), "::1");
  EXPECT_EQ(hostOf(std::string(1000, 'a')).size(), 255u);
  EXPECT_TRUE(hostAllowed("", {}));
  EXPECT_TRUE(hostAllowed("127.0.0.1:9180", {}));
  EXPECT_TRUE(hostAllowed("localhost", {}));
  EXPECT_FALSE(hostAllowed("attacker.example:9180", {}));
  EXPECT_TRUE(hostAllowed("MONITOR.example.com", {"monitor.example.com"}));
}

TEST(RequestParseTest, EventQueries) {
  const WallTime now = WallTime(std::chrono::seconds(1'796'000'000));
  journal::Query q;
  EXPECT_FALSE(parseEventQuery({{"path", "dx"}, {"limit", "10"}, {"since", "1h"}}, now, 1000, q));
  EXPECT_EQ(q.path, "dx");
  EXPECT_EQ(q.limit, 10u);
  EXPECT_EQ(q.since, now - std::chrono::hours(1));
  journal::Query r;
  EXPECT_EQ(parseEventQuery({{"limit", "1"}, {"limit", "2"}}, now, 1000, r),
            "parameter \"limit\" is given more than once");
  EXPECT_EQ(parseEventQuery({{"limit", "0"}}, now, 1000, r),
            "parameter \"limit\" must be between 1 and 1000");
  EXPECT_EQ(parseEventQuery({{"limit", "-1"}}, now, 1000, r),
            "parameter \"limit\" must be a non-negative integer, not \"-1\"");
  EXPECT_NE(parseEventQuery({{"bogus", "1"}}, now, 1000, r)->find("unknown parameter \"bogus\""),
            std::string::npos);
  EXPECT_NE(parseEventQuery({{"q", std::string(2000, 'x')}}, now, 1000, r)
                ->find("longer than 1024 bytes"),
            std::string::npos);
}

TEST(RequestParseTest, DrainBodies) {
  EXPECT_EQ(*parseDrainBody(""), "");
  EXPECT_EQ(*parseDrainBody("{}"), "");
  EXPECT_EQ(*parseDrainBody(R"({"comment":"maintenance window"})"), "maintenance window");
  EXPECT_EQ(parseDrainBody("{").error().message(), "the request body is not valid JSON");
  EXPECT_EQ(parseDrainBody("[1]").error().message(), "the request body must be a JSON object");
  EXPECT_EQ(parseDrainBody(R"({"who":"me"})").error().message(),
            "unknown field \"who\" in the request body (known: comment)");
  EXPECT_EQ(parseDrainBody("{\"comment\":\"" + std::string(300, 'x') + "\"}").error().message(),
            "field \"comment\" must be a string of at most 256 bytes");
}

}  // namespace
}  // namespace pathpilot::api
