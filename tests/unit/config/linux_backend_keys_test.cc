// backends.linux.protocol and backends.linux.adopt_protocols: defaults, values, and the
// diagnostics (file:line:col) for numbers that belong to someone else.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/loader.h"
#include "config_test_util.h"

namespace pathpilot::config {
namespace {

using testing::check;
using testing::hasDiag;
using testing::hasError;
using testing::kMinimal;

// kMinimal is 15 lines; what we append starts on line 16.
std::string withTail(std::string_view tail) { return std::string(kMinimal) + std::string(tail); }

TEST(LinuxProtocolConfigTest, DefaultsWhenAbsent) {
  LoadReport report = check(withTail("backends: {linux: {netns: vpc}}\n"));
  ASSERT_TRUE(report.ok()) << report.format();
  EXPECT_EQ(report.config->backends.linux_backend.protocol, 157);
  EXPECT_EQ(report.config->backends.linux_backend.protocol, kRtprotPathpilot);
  EXPECT_TRUE(report.config->backends.linux_backend.adopt_protocols.empty());
}

TEST(LinuxProtocolConfigTest, ValuesAreRead) {
  LoadReport report =
      check(withTail("backends:\n"
                     "  linux:\n"
                     "    protocol: 201\n"
                     "    adopt_protocols: [boot, 4, 157, 77]\n"));
  ASSERT_TRUE(report.ok()) << report.format();
  const LinuxBackendSettings& l = report.config->backends.linux_backend;
  EXPECT_EQ(l.protocol, 201);
  EXPECT_EQ(l.adopt_protocols, (std::vector<std::uint8_t>{3, 4, 157, 77}))
      << "157 is an ordinary number once the protocol is another one";
  EXPECT_EQ(report.warnings, 0u) << report.format();
}

TEST(LinuxProtocolConfigTest, NumbersOfRoutingSuitesAndTheKernelAreRefused) {
  struct Case {
    const char* value;
    const char* needle;
  };
  for (const Case& c : {
           Case{"196",
                "196 is the routing protocol number of FRR staticd, through zebra, which "
                "treats such routes as its own; pick a number no routing suite uses, such "
                "as the default 157"},
           Case{"186", "FRR bgpd"},
           Case{"12", "BIRD"},
           Case{"18", "keepalived"},
           Case{"3", "3 (boot) is reserved for ip route without proto"},
           Case{"4", "4 (static) is reserved for administrators"},
           Case{"2", "2 (kernel) is reserved for the kernel"},
           Case{"0", "255"},
           Case{"256", "255"},
           Case{"pathpilot", "integer"},
       }) {
    LoadReport report = check(withTail(std::string("backends:\n"        // 16
                                                   "  linux:\n"         // 17
                                                   "    protocol: ") +  // 18
                                       c.value +
                                       "\n"));
    EXPECT_FALSE(report.ok()) << c.value;
    EXPECT_EQ(report.errors, 1u) << report.format();
    EXPECT_TRUE(hasError(report, 18, 15, c.needle)) << c.value;
    EXPECT_TRUE(hasError(report, 18, 15, "backends.linux.protocol")) << c.value;
  }
}

TEST(LinuxProtocolConfigTest, AdoptProtocolsAreCheckedItemByItem) {
  LoadReport report =
      check(withTail("backends:\n"             // 16
                     "  linux:\n"              // 17
                     "    adopt_protocols:\n"  // 18
                     "      - kernel\n"        // 19
                     "      - 157\n"           // 20
                     "      - nonsense\n"      // 21
                     "      - boot\n"          // 22
                     "      - 3\n"             // 23
                     "      - 300\n"           // 24
                     "      - zstatic\n"));    // 25
  EXPECT_EQ(report.errors, 5u) << report.format();
  EXPECT_TRUE(
      hasError(report, 19, 9, "backends.linux.adopt_protocols[0]: \"kernel\" is the kernel's"));
  EXPECT_TRUE(hasError(report, 20, 9, "\"157\" is pathpilot's own protocol"));
  EXPECT_TRUE(hasError(report, 21, 9, "expected a routing protocol number 3-255 or a name"));
  EXPECT_TRUE(hasError(report, 23, 9, "\"3\" is listed twice"));
  EXPECT_TRUE(hasError(report, 24, 9, "got \"300\""));
  // Taking over a routing daemon's routes is allowed (routes an earlier pathpilot wrote with
  // FRR's 196, on a machine without FRR) but warned about.
  EXPECT_TRUE(hasDiag(report, 25, 9, Severity::Warning,
                      "routes of proto 196 (FRR staticd, through zebra) belong to a routing "
                      "daemon"));
}

}  // namespace
}  // namespace pathpilot::config
