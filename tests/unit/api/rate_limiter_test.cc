#include "api/rate_limiter.h"

#include <gtest/gtest.h>

#include "fakes/fake_clock.h"

namespace pathpilot::api {
namespace {

using std::chrono::milliseconds;

TEST(RateLimiterTest, BurstThenRefusedThenRefilled) {
  pathpilot::testing::FakeClock clock;
  RateLimiter limiter({10, 3});
  EXPECT_TRUE(limiter.allow("a", clock.now()));
  EXPECT_TRUE(limiter.allow("a", clock.now()));
  EXPECT_TRUE(limiter.allow("a", clock.now()));
  EXPECT_FALSE(limiter.allow("a", clock.now()));
  EXPECT_EQ(limiter.retryAfter("a", clock.now()), milliseconds(100));
  clock.advance(milliseconds(99));
  EXPECT_FALSE(limiter.allow("a", clock.now()));
  clock.advance(milliseconds(2));
  EXPECT_TRUE(limiter.allow("a", clock.now()));
  // Another client has its own bucket.
  EXPECT_TRUE(limiter.allow("b", clock.now()));
}

TEST(RateLimiterTest, RefillIsCappedAtBurst) {
  pathpilot::testing::FakeClock clock;
  RateLimiter limiter({1, 2});
  EXPECT_TRUE(limiter.allow("a", clock.now()));
  clock.advance(std::chrono::hours(1));
  EXPECT_TRUE(limiter.allow("a", clock.now()));
  EXPECT_TRUE(limiter.allow("a", clock.now()));
  EXPECT_FALSE(limiter.allow("a", clock.now()));
}

TEST(RateLimiterTest, UnlimitedWhenRateIsZero) {
  pathpilot::testing::FakeClock clock;
  RateLimiter limiter({0, 1});
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(limiter.allow("a", clock.now()));
  }
  EXPECT_EQ(limiter.clients(), 0u);
}

TEST(RateLimiterTest, ClientTableIsBoundedAndKeepsBusyClients) {
  pathpilot::testing::FakeClock clock;
  RateLimiter limiter({1, 1}, 3);
  EXPECT_TRUE(limiter.allow("busy", clock.now()));  // now empty: not idle
  for (int i = 0; i < 100; ++i) {
    clock.advance(milliseconds(1));
    limiter.allow("c" + std::to_string(i), clock.now());
    ASSERT_LE(limiter.clients(), 3u);
  }
  // "busy" was the least recently used, so it was evicted eventually; a new bucket is full.
  EXPECT_TRUE(limiter.allow("busy", clock.now()));
}

}  // namespace
}  // namespace pathpilot::api
