// api.rate_limit and backends.aws.account_id: defaults, values, and the diagnostics for bad ones.
#include <gtest/gtest.h>

#include <string>

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

TEST(ApiRateLimitTest, DefaultsWhenAbsent) {
  LoadReport report = check(withTail("api: {listen: '127.0.0.1:9180'}\n"));
  ASSERT_TRUE(report.ok()) << report.format();
  const ApiSettings& api = *report.config->api;
  EXPECT_EQ(api.read_limit, (ApiRateLimit{100, 200}));
  EXPECT_EQ(api.write_limit, (ApiRateLimit{2, 10}));
  EXPECT_EQ(report.warnings, 0u);
}

TEST(ApiRateLimitTest, ValuesAreRead) {
  LoadReport report = check(withTail(
      "api:\n"
      "  rate_limit:\n"
      "    read_per_second: 50\n"
      "    read_burst: 80\n"
      "    write_per_second: 0.5\n"
      "    write_burst: 3\n"));
  ASSERT_TRUE(report.ok()) << report.format();
  const ApiSettings& api = *report.config->api;
  EXPECT_EQ(api.read_limit, (ApiRateLimit{50, 80}));
  EXPECT_EQ(api.write_limit, (ApiRateLimit{0.5, 3}));
  EXPECT_EQ(report.warnings, 0u) << report.format();
}

TEST(ApiRateLimitTest, ZeroReadRateMeansUnlimited) {
  LoadReport report = check(withTail("api: {rate_limit: {read_per_second: 0}}\n"));
  ASSERT_TRUE(report.ok()) << report.format();
  EXPECT_EQ(report.config->api->read_limit.per_second, 0);
  EXPECT_EQ(report.warnings, 0u);
}

TEST(ApiRateLimitTest, OutOfRangeAndWrongTypesAreErrorsWithPositions) {
  LoadReport report = check(withTail(
      "api:\n"                         // 16
      "  rate_limit:\n"                // 17
      "    read_per_second: -1\n"      // 18
      "    read_burst: 0\n"            // 19
      "    write_per_second: fast\n"   // 20
      "    write_burst: 2000000\n"));  // 21
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(report.errors, 4u) << report.format();
  EXPECT_TRUE(hasError(report, 18, 22, "api.rate_limit.read_per_second"));
  EXPECT_TRUE(hasError(report, 19, 17, "api.rate_limit.read_burst"));
  EXPECT_TRUE(hasError(report, 20, 23, "api.rate_limit.write_per_second"));
  EXPECT_TRUE(hasError(report, 21, 18, "api.rate_limit.write_burst"));
}

TEST(ApiRateLimitTest, UnknownKeySuggestsTheRightOne) {
  LoadReport report = check(withTail("api: {rate_limit: {read_per_sec: 10}}\n"));
  EXPECT_FALSE(report.ok());
  EXPECT_NE(report.format().find("did you mean 'read_per_second'"), std::string::npos)
      << report.format();
}

TEST(ApiRateLimitTest, RateLimitOutsideApiIsPlacedForTheUser) {
  LoadReport report = check(withTail("rate_limit: {read_per_second: 10}\n"));
  EXPECT_FALSE(report.ok());
  EXPECT_NE(report.format().find("api"), std::string::npos) << report.format();
}

TEST(ApiRateLimitTest, BurstBelowRateAndUnlimitedWritesWarn) {
  LoadReport report = check(withTail(
      "api:\n"                         // 16
      "  rate_limit:\n"                // 17
      "    read_per_second: 100\n"     // 18
      "    read_burst: 10\n"           // 19
      "    write_per_second: 0\n"));   // 20
  ASSERT_TRUE(report.ok()) << report.format();
  EXPECT_TRUE(hasDiag(report, 19, 17, Severity::Warning, "read_burst 10 is below"));
  EXPECT_TRUE(hasDiag(report, 20, 23, Severity::Warning, "drain/undrain unlimited"));
}

TEST(AwsAccountIdTest, OptionalAndReadAsWritten) {
  LoadReport report = check(kMinimal);
  ASSERT_TRUE(report.ok()) << report.format();
  EXPECT_EQ(report.config->backends.aws.account_id, "");

  report = check(withTail("backends: {aws: {account_id: 012345678901}}\n"));
  ASSERT_TRUE(report.ok()) << report.format();
  EXPECT_EQ(report.config->backends.aws.account_id, "012345678901");
}

TEST(AwsAccountIdTest, MalformedAccountIdIsAnError) {
  for (const char* bad : {"12345", "1111222233334", "11112222333a", "'arn:aws:iam::1'"}) {
    LoadReport report = check(withTail(std::string("backends:\n  aws:\n    account_id: ") + bad +
                                       "\n"));
    EXPECT_FALSE(report.ok()) << bad;
    EXPECT_TRUE(hasError(report, 18, 17, "expected a 12-digit AWS account id")) << bad;
  }
}

}  // namespace
}  // namespace pathpilot::config
