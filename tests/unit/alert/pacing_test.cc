#include "alert/pacing.h"

#include <gtest/gtest.h>

#include "fakes/fake_clock.h"

namespace pathpilot::alert {
namespace {

TEST(TokenBucketTest, BurstThenRefillAtRate) {
  pathpilot::testing::FakeClock clock;
  TokenBucket bucket(/*per_minute=*/6, /*burst=*/2);  // one token per 10 s
  EXPECT_TRUE(bucket.tryTake(clock.now()));
  EXPECT_TRUE(bucket.tryTake(clock.now()));
  EXPECT_FALSE(bucket.tryTake(clock.now()));
  MonoTime next = bucket.nextAvailable(clock.now());
  EXPECT_GE(next - clock.now(), std::chrono::milliseconds(9999));
  EXPECT_LE(next - clock.now(), std::chrono::milliseconds(10001));
  clock.advance(std::chrono::seconds(9));
  EXPECT_FALSE(bucket.tryTake(clock.now()));
  clock.advance(std::chrono::seconds(1));
  EXPECT_TRUE(bucket.tryTake(clock.now()));
  clock.advance(std::chrono::hours(1));
  EXPECT_DOUBLE_EQ(bucket.tokens(clock.now()), 2.0);  // never above burst
}

TEST(RetryPolicyTest, ExponentialCappedWithJitter) {
  RetryPolicy p;
  p.initial = std::chrono::seconds(2);
  p.max = std::chrono::seconds(60);
  EXPECT_EQ(p.delay(1, 0.5), std::chrono::seconds(2));
  EXPECT_EQ(p.delay(2, 0.5), std::chrono::seconds(4));
  EXPECT_EQ(p.delay(3, 0.5), std::chrono::seconds(8));
  EXPECT_EQ(p.delay(10, 0.5), std::chrono::seconds(60));
  EXPECT_EQ(p.delay(1000, 0.5), std::chrono::seconds(60));
  EXPECT_EQ(p.delay(1, 0.0), std::chrono::milliseconds(1600));
  EXPECT_EQ(p.delay(1, 1.0), std::chrono::milliseconds(2400));
}

TEST(RetryPolicyTest, RetryAfterIsALowerBound) {
  RetryPolicy p;
  EXPECT_EQ(p.delay(1, 0.5, std::chrono::seconds(30)), std::chrono::seconds(30));
  EXPECT_EQ(p.delay(1, 0.5, std::chrono::milliseconds(1)), std::chrono::seconds(2));
}

TEST(RetryPolicyTest, GivesUpAfterMaxAge) {
  RetryPolicy p;
  p.max_age = std::chrono::hours(1);
  WallTime t0{std::chrono::hours(1000)};
  EXPECT_TRUE(p.mayRetry(t0, t0 + std::chrono::minutes(59)));
  EXPECT_FALSE(p.mayRetry(t0, t0 + std::chrono::hours(1)));
}

}  // namespace
}  // namespace pathpilot::alert
