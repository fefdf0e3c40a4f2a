// probe.adaptive_timeout: defaults, inheritance, per-path overrides and diagnostics.
#include <gtest/gtest.h>

#include "config/config.h"
#include "config_test_util.h"

namespace pathpilot::config::testing {
namespace {

using std::chrono::milliseconds;

TEST(AdaptiveTimeoutConfigTest, OffByDefault) {
  LoadReport report = check(kMinimal);
  ASSERT_TRUE(report.ok()) << report.format();
  EXPECT_FALSE(report.config->probe.adaptive_timeout.enabled);
  EXPECT_FALSE(report.config->paths[0].probe.adaptive_timeout.enabled);
}

TEST(AdaptiveTimeoutConfigTest, BlockTurnsItOnWithDocumentedDefaults) {
  LoadReport report = check(std::string(kMinimal) +
                            "probe: {interval: 100ms, timeout: 80ms, adaptive_timeout: {}}\n");
  ASSERT_TRUE(report.ok()) << report.format();
  const AdaptiveTimeoutSettings& at = report.config->paths[1].probe.adaptive_timeout;
  EXPECT_TRUE(at.enabled);
  EXPECT_EQ(at.min, milliseconds(10));
  EXPECT_EQ(at.rttvar_factor, 4.0);
  EXPECT_EQ(at.margin, milliseconds(2));
}

TEST(AdaptiveTimeoutConfigTest, PathOverridesKeyByKey) {
  std::string text = std::string(kMinimal) +
                     "probe: {interval: 100ms, timeout: 80ms,\n"
                     "        adaptive_timeout: {min: 5ms, rttvar_factor: 3}}\n";
  text = replaceLine(text, 10,
                     "    probe: {targets: [169.254.100.1], fwmark: 101,\n"
                     "            adaptive_timeout: {margin: 4ms}}");
  text = replaceLine(text, 5,
                     "    probe: {targets: [10.10.3.100], fwmark: 100,\n"
                     "            adaptive_timeout: {enabled: false}}");
  LoadReport report = check(text);
  ASSERT_TRUE(report.ok()) << report.format();
  const Config& c = *report.config;
  EXPECT_FALSE(c.paths[0].probe.adaptive_timeout.enabled);
  const AdaptiveTimeoutSettings& a = c.paths[1].probe.adaptive_timeout;
  EXPECT_TRUE(a.enabled);
  EXPECT_EQ(a.min, milliseconds(5));     // inherited
  EXPECT_EQ(a.rttvar_factor, 3.0);       // inherited
  EXPECT_EQ(a.margin, milliseconds(4));  // own
}

TEST(AdaptiveTimeoutConfigTest, FloorAboveTheCeilingIsAnError) {
  LoadReport report = check(std::string(kMinimal) +
                            "probe: {interval: 100ms, timeout: 80ms,\n"
                            "        adaptive_timeout: {min: 90ms}}\n");
  EXPECT_FALSE(report.ok());
  EXPECT_TRUE(hasError(report, 17, 33, "min 90ms must not exceed the timeout 80ms"));
}

TEST(AdaptiveTimeoutConfigTest, PathTimeoutBelowTheInheritedFloorIsAnError) {
  std::string text = std::string(kMinimal) +
                     "probe: {interval: 100ms, timeout: 80ms, adaptive_timeout: {min: 20ms}}\n";
  text = replaceLine(text, 10, "    probe: {targets: [169.254.100.1], fwmark: 101, timeout: 15ms}");
  LoadReport report = check(text);
  EXPECT_FALSE(report.ok());
  EXPECT_NE(report.format().find("paths[1].probe.adaptive_timeout.min"), std::string::npos)
      << report.format();
}

TEST(AdaptiveTimeoutConfigTest, RangesAndUnknownKeys) {
  auto with = [](const std::string& block) {
    return check(std::string(kMinimal) + "probe: {timeout: 80ms, adaptive_timeout: " + block +
                 "}\n");
  };
  EXPECT_TRUE(hasError(with("{rttvar_factor: 0.5}"), 16, 58, "between 1 and 16"));
  EXPECT_TRUE(hasError(with("{min: 0ms}"), 16, 48, "min"));
  EXPECT_TRUE(hasError(with("{margin: 90ms}"), 16, 51, "margin 90ms must not exceed"));
  EXPECT_TRUE(hasError(with("{mni: 5ms}"), 16, 43, "did you mean 'min'"));
  EXPECT_FALSE(with("5ms").ok());  // a mapping, not a duration
}

}  // namespace
}  // namespace pathpilot::config::testing
