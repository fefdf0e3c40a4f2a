#include "probe/rtt_estimator.h"

#include <gtest/gtest.h>

#include <cmath>

#include "probe/schedule.h"

namespace pathpilot::probe {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

AdaptiveTimeoutParams params(Duration min = milliseconds(10), double k = 4,
                             Duration margin = milliseconds(2)) {
  AdaptiveTimeoutParams p;
  p.min = min;
  p.rttvar_factor = k;
  p.margin = margin;
  return p;
}

TEST(RttEstimatorTest, ConfiguredTimeoutUntilTheFirstReply) {
  RttEstimator e(params(), milliseconds(80));
  EXPECT_FALSE(e.hasSamples());
  EXPECT_EQ(e.timeout(), milliseconds(80));
  // Late replies and the passing of probes without replies teach it nothing.
  e.onLate();
  EXPECT_EQ(e.timeout(), milliseconds(80));
}

TEST(RttEstimatorTest, FirstSampleFollowsRfc6298Section2_2) {
  RttEstimator e(params(milliseconds(1), 4, Duration::zero()), milliseconds(500));
  e.onReply(milliseconds(20));
  EXPECT_EQ(e.srtt(), milliseconds(20));
  EXPECT_EQ(e.rttvar(), milliseconds(10));
  EXPECT_EQ(e.timeout(), milliseconds(60));  // 20 + 4 × 10
}

TEST(RttEstimatorTest, LaterSamplesFollowRfc6298Section2_3) {
  RttEstimator e(params(milliseconds(1), 4, Duration::zero()), milliseconds(500));
  e.onReply(milliseconds(20));
  e.onReply(milliseconds(28));
  // RTTVAR = 3/4 × 10 + 1/4 × |20 − 28| = 9.5 (with the old SRTT); SRTT = 7/8 × 20 + 1/8 × 28.
  EXPECT_EQ(e.rttvar(), microseconds(9500));
  EXPECT_EQ(e.srtt(), milliseconds(21));
  EXPECT_EQ(e.timeout(), milliseconds(59));  // 21 + 4 × 9.5
}

TEST(RttEstimatorTest, SteadyFastPathConvergesToTheFloor) {
  // The lab's DX: 0.6 ms, ±0.05 ms.
  RttEstimator e(params(), milliseconds(80));
  for (int i = 0; i < 50; ++i) {
    e.onReply(microseconds(i % 2 == 0 ? 550 : 650));
  }
  EXPECT_NEAR(toMillis(e.srtt()), 0.6, 0.06);
  EXPECT_LT(e.rttvar(), microseconds(100));
  EXPECT_EQ(e.timeout(), milliseconds(10));  // SRTT + margin 2 ms is below the 10 ms floor
}

TEST(RttEstimatorTest, MarginAboveSrttOnASteadySlowPath) {
  // A steady 30 ms WAN: the spread is the margin (K × RTTVAR decays to ~0).
  RttEstimator e(params(milliseconds(10), 4, milliseconds(5)), milliseconds(200));
  for (int i = 0; i < 200; ++i) {
    e.onReply(milliseconds(30));
  }
  EXPECT_EQ(e.timeout(), milliseconds(35));
}

TEST(RttEstimatorTest, NeverAboveTheCeiling) {
  RttEstimator e(params(), milliseconds(80));
  e.onReply(milliseconds(70));  // 70 + 4 × 35 = 210
  EXPECT_EQ(e.timeout(), milliseconds(80));
  e.onReply(std::chrono::hours(1));  // absurd sample: saturates, no overflow
  EXPECT_EQ(e.timeout(), milliseconds(80));
}

TEST(RttEstimatorTest, NegativeSampleIsTreatedAsZero) {
  RttEstimator e(params(), milliseconds(80));
  e.onReply(milliseconds(-5));
  EXPECT_EQ(e.srtt(), Duration::zero());
  EXPECT_EQ(e.timeout(), milliseconds(10));
}

// A loaded gateway: RTT jumps from 0.6 ms to 5–25 ms. RTTVAR reacts within one or two samples,
// before three probes in a row could be lost (fall = 3).
TEST(RttEstimatorTest, VarianceGrowsTheTimeoutQuickly) {
  RttEstimator e(params(), milliseconds(80));
  for (int i = 0; i < 50; ++i) {
    e.onReply(microseconds(600));
  }
  ASSERT_EQ(e.timeout(), milliseconds(10));
  e.onReply(milliseconds(9));  // in time (< 10 ms): a sample
  const Duration after_one = e.timeout();
  EXPECT_GE(after_one, milliseconds(9));  // 1.65 + 4 × 2.1 = 10.05
  e.onReply(milliseconds(9));
  EXPECT_GT(e.timeout(), after_one);
  EXPECT_GE(e.timeout(), milliseconds(14));
  // A jittery 5–25 ms stays covered: every sample is below the timeout it was measured with.
  SplitMix64 rng(5);
  int late = 0;
  for (int i = 0; i < 1000; ++i) {
    const Duration rtt = milliseconds(5) + milliseconds(static_cast<int>(rng.next() % 21));
    if (rtt > e.timeout()) {
      ++late;
      e.onLate();
    } else {
      e.onReply(rtt);
    }
  }
  EXPECT_LT(late, 20);  // < 2%
}

// A step in RTT below the configured timeout (a delay added on the path) costs one lost probe
// per target, not `fall` of them: the late reply lifts the timeout to the ceiling at once.
TEST(RttEstimatorTest, LateReplyLiftsTheTimeoutToTheCeiling) {
  RttEstimator e(params(), milliseconds(80));
  for (int i = 0; i < 50; ++i) {
    e.onReply(microseconds(600));
  }
  const Duration step = milliseconds(50);
  ASSERT_GT(step, e.timeout());
  e.onLate();  // the first probe after the step timed out; its reply came 50 ms later
  EXPECT_EQ(e.timeout(), milliseconds(80));
  int late = 0;
  for (int i = 0; i < 100; ++i) {
    if (step > e.timeout()) {
      ++late;
      e.onLate();
    } else {
      e.onReply(step);
    }
  }
  EXPECT_EQ(late, 0);
  // Learned: SRTT ≈ 50 ms and a timeout just above it.
  EXPECT_NEAR(toMillis(e.srtt()), 50, 1);
  EXPECT_GT(e.timeout(), step);
  EXPECT_LT(e.timeout(), milliseconds(60));
}

// After a one-off spike the boost fades within a few in-time replies.
TEST(RttEstimatorTest, BoostHalvesWithEachValidReply) {
  RttEstimator e(params(), milliseconds(80));
  for (int i = 0; i < 50; ++i) {
    e.onReply(microseconds(600));
  }
  e.onLate();
  EXPECT_EQ(e.timeout(), milliseconds(80));
  e.onReply(microseconds(600));
  EXPECT_EQ(e.timeout(), milliseconds(40));
  e.onReply(microseconds(600));
  EXPECT_EQ(e.timeout(), milliseconds(20));
  e.onReply(microseconds(600));
  EXPECT_EQ(e.timeout(), milliseconds(10));
  e.onReply(microseconds(600));
  EXPECT_EQ(e.timeout(), milliseconds(10));
}

// A real outage: no replies at all. Nothing lengthens the timeout, so detection keeps the
// short one (RFC 6298 §5.5 backoff on timeouts would slow it down exactly then).
TEST(RttEstimatorTest, OutageKeepsTheShortTimeout) {
  RttEstimator e(params(), milliseconds(80));
  for (int i = 0; i < 50; ++i) {
    e.onReply(microseconds(600));
  }
  // The engine calls nothing on a timeout; the timeout stays at the floor.
  EXPECT_EQ(e.timeout(), milliseconds(10));
}

TEST(RttEstimatorTest, FloorEqualToCeilingIsFixed) {
  RttEstimator e(params(milliseconds(80)), milliseconds(80));
  e.onReply(microseconds(600));
  EXPECT_EQ(e.timeout(), milliseconds(80));
}

TEST(AdaptiveTimeoutValidationTest, RejectsBadParameters) {
  EXPECT_TRUE(validateAdaptiveTimeout(params(), milliseconds(80)).has_value());
  auto min_above = validateAdaptiveTimeout(params(milliseconds(90)), milliseconds(80));
  ASSERT_FALSE(min_above.has_value());
  EXPECT_EQ(min_above.error().message(),
            "adaptive timeout min 90ms is above the timeout 80ms (its ceiling)");
  EXPECT_FALSE(validateAdaptiveTimeout(params(Duration::zero()), milliseconds(80)).has_value());
  EXPECT_FALSE(validateAdaptiveTimeout(params(milliseconds(10), 0.5), milliseconds(80)));
  EXPECT_FALSE(validateAdaptiveTimeout(params(milliseconds(10), 17), milliseconds(80)));
  EXPECT_FALSE(validateAdaptiveTimeout(params(milliseconds(10), std::nan("")), milliseconds(80)));
  EXPECT_FALSE(
      validateAdaptiveTimeout(params(milliseconds(10), 4, milliseconds(-1)), milliseconds(80)));
  EXPECT_FALSE(
      validateAdaptiveTimeout(params(milliseconds(10), 4, milliseconds(81)), milliseconds(80)));
}

}  // namespace
}  // namespace pathpilot::probe
