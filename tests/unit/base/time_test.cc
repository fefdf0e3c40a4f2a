#include "base/time.h"

#include <gtest/gtest.h>

namespace pathpilot {
namespace {

TEST(DurationTest, ParsesUnits) {
  EXPECT_EQ(*parseDuration("100ms"), milliseconds(100));
  EXPECT_EQ(*parseDuration("2s"), seconds(2));
  EXPECT_EQ(*parseDuration("5m"), minutes(5));
  EXPECT_EQ(*parseDuration("1h30m"), minutes(90));
  EXPECT_EQ(*parseDuration("1.5s"), milliseconds(1500));
  EXPECT_EQ(*parseDuration("250us"), microseconds(250));
  EXPECT_EQ(*parseDuration("10ns"), Duration(10));
  EXPECT_EQ(*parseDuration("1d"), hours(24));
  EXPECT_EQ(*parseDuration("0"), Duration::zero());
}

TEST(DurationTest, RejectsAmbiguousOrMalformed) {
  for (const char* bad : {"", "100", "ms", "1x", "1.2.3s", "-1s", "s1", "1e3ms",
                          "99999999999999999999s", ".s"}) {
    auto r = parseDuration(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.error().code(), ErrorCode::InvalidArgument);
    }
  }
  EXPECT_NE(parseDuration("100").error().message().find("missing unit"), std::string::npos);
}

TEST(DurationTest, FormatsRoundTrip) {
  EXPECT_EQ(formatDuration(milliseconds(100)), "100ms");
  EXPECT_EQ(formatDuration(seconds(2)), "2s");
  EXPECT_EQ(formatDuration(minutes(90)), "1h30m");
  EXPECT_EQ(formatDuration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(formatDuration(Duration::zero()), "0s");
  EXPECT_EQ(formatDuration(microseconds(7)), "7us");
  for (const char* s : {"100ms", "2s", "5m", "1h30m", "250us"}) {
    EXPECT_EQ(formatDuration(*parseDuration(s)), s);
  }
}

TEST(Rfc3339Test, FormatsWithMillisecondsUtc) {
  WallTime t = WallTime(std::chrono::milliseconds(1764075172123LL));
  EXPECT_EQ(formatRfc3339(t), "2025-11-25T12:52:52.123Z");
}

TEST(Rfc3339Test, ParsesZuluAndOffsets) {
  auto a = parseRfc3339("2025-11-25T12:52:52.123Z");
  ASSERT_TRUE(a);
  EXPECT_EQ(formatRfc3339(*a), "2025-11-25T12:52:52.123Z");
  auto b = parseRfc3339("2025-11-25T20:52:52+08:00");
  ASSERT_TRUE(b);
  EXPECT_EQ(formatRfc3339(*b), "2025-11-25T12:52:52.000Z");
  EXPECT_FALSE(parseRfc3339("2025-11-25 12:52"));
  EXPECT_FALSE(parseRfc3339("2025-13-25T12:52:52Z"));
  EXPECT_FALSE(parseRfc3339("2025-11-25T12:52:52"));
  EXPECT_FALSE(parseRfc3339("2025-11-25T12:52:52Zjunk"));
}

}  // namespace
}  // namespace pathpilot
