// Phase-locked schedules (schedule.h): slots from the quorum, grid points, bounded jitter, and
// the detection-time argument behind them, checked by simulation with a seeded generator.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "probe/schedule.h"

namespace pathpilot::probe {
namespace {

using std::chrono::milliseconds;

const MonoTime kT0{std::chrono::seconds(1000)};

TEST(QuorumPhaseSlotTest, QuorumOneAlignsAllTargets) {
  for (std::size_t n = 1; n <= 16; ++n) {
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_EQ(quorumPhaseSlot(i, n, 1), (PhaseSlot{0, 1})) << n << " " << i;
    }
  }
}

TEST(QuorumPhaseSlotTest, FullQuorumStaggersTargetsEvenly) {
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(quorumPhaseSlot(i, 4, 4), (PhaseSlot{static_cast<std::uint32_t>(i), 4}));
  }
}

TEST(QuorumPhaseSlotTest, GroupsOfTargetsThatMustFailTogether) {
  // 4 targets, quorum 3: any 2 down take the path down; 2 groups of 2, half an interval apart.
  EXPECT_EQ(quorumPhaseSlot(0, 4, 3), (PhaseSlot{0, 2}));
  EXPECT_EQ(quorumPhaseSlot(1, 4, 3), (PhaseSlot{0, 2}));
  EXPECT_EQ(quorumPhaseSlot(2, 4, 3), (PhaseSlot{1, 2}));
  EXPECT_EQ(quorumPhaseSlot(3, 4, 3), (PhaseSlot{1, 2}));
  // 5 targets, quorum 4: groups of 2; the odd one joins the first group again.
  EXPECT_EQ(quorumPhaseSlot(4, 5, 4), (PhaseSlot{0, 2}));
  // 3 targets, quorum 2: 2 must fail, only one group of 2 fits: all aligned.
  EXPECT_EQ(quorumPhaseSlot(2, 3, 2), (PhaseSlot{0, 1}));
}

TEST(PhasedGridTest, FirstGridPointAtOrAfterNow) {
  const Duration i = milliseconds(100);
  // Anchor in the future, in the past, and exactly now.
  EXPECT_EQ(phasedFirstGrid(kT0 + milliseconds(30), i, {0, 1}, kT0), kT0 + milliseconds(30));
  EXPECT_EQ(phasedFirstGrid(kT0 + milliseconds(330), i, {0, 1}, kT0), kT0 + milliseconds(30));
  EXPECT_EQ(phasedFirstGrid(kT0 - milliseconds(970), i, {0, 1}, kT0), kT0 + milliseconds(30));
  EXPECT_EQ(phasedFirstGrid(kT0, i, {0, 1}, kT0), kT0);
  EXPECT_EQ(phasedFirstGrid(kT0 - milliseconds(100), i, {0, 1}, kT0), kT0);
  // Slot 1 of 2 is half an interval after the anchor.
  EXPECT_EQ(phasedFirstGrid(kT0 + milliseconds(30), i, {1, 2}, kT0), kT0 + milliseconds(80));
  EXPECT_EQ(phasedFirstGrid(kT0 - milliseconds(40), i, {1, 2}, kT0), kT0 + milliseconds(10));
  // Slots 0..3 of 4 from one anchor are 25 ms apart.
  std::vector<MonoTime> firsts;
  for (std::uint32_t s = 0; s < 4; ++s) {
    firsts.push_back(phasedFirstGrid(kT0 - milliseconds(1), i, {s, 4}, kT0));
  }
  EXPECT_EQ(firsts[0], kT0 + milliseconds(99));
  EXPECT_EQ(firsts[1], kT0 + milliseconds(24));
  EXPECT_EQ(firsts[2], kT0 + milliseconds(49));
  EXPECT_EQ(firsts[3], kT0 + milliseconds(74));
}

TEST(PhasedGridTest, JitterIsBoundedAndCentred) {
  SplitMix64 rng(11);
  double sum = 0;
  Duration lo = Duration::max();
  Duration hi = Duration::min();
  constexpr int kN = 20000;
  for (int n = 0; n < kN; ++n) {
    const Duration j = gridJitter(milliseconds(100), 10, rng.next());
    ASSERT_GE(j, milliseconds(-5));
    ASSERT_LT(j, milliseconds(5));
    lo = std::min(lo, j);
    hi = std::max(hi, j);
    sum += toMillis(j);
  }
  EXPECT_LT(lo, milliseconds(-4));
  EXPECT_GT(hi, milliseconds(4));
  EXPECT_NEAR(sum / kN, 0.0, 0.1);
  EXPECT_EQ(gridJitter(milliseconds(100), 0, 12345), Duration::zero());
}

// Phase does not drift: after 10,000 jittered sends the target is still within the jitter
// of its grid, whereas accumulated jitter (jitteredInterval) random-walks away.
TEST(PhasedGridTest, PhaseDoesNotDrift) {
  SplitMix64 rng(3);
  const Duration i = milliseconds(100);
  MonoTime grid = kT0;
  MonoTime walk = kT0;
  for (int n = 0; n < 10000; ++n) {
    grid = nextDue(grid, i, i, grid);
    walk = nextDue(walk, jitteredInterval(i, 10, rng.next()), i, walk);
  }
  const MonoTime send = grid + gridJitter(i, 10, rng.next());
  EXPECT_LE(std::chrono::abs(send - (kT0 + 10000 * i)), milliseconds(5));
  EXPECT_GT(std::chrono::abs(walk - (kT0 + 10000 * i)), milliseconds(20));
}

// The argument of schedule.h, simulated: a path with 2 targets and quorum 1 is Down when both
// have missed `fall` probes. Median time from the fault to Down, over many fault instants:
// aligned (quorum slots) < independent random phases < I/N stagger.
TEST(PhasedGridTest, QuorumSlotsDetectFasterThanRandomOrStaggeredPhases) {
  const double interval = 100;
  const double fall_and_timeout = 2 * interval + 10;
  SplitMix64 rng(17);
  auto unit = [&rng] { return static_cast<double>(rng.next() >> 11) / 9007199254740992.0; };
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::vector<double> aligned, random, staggered;
  for (int n = 0; n < 20000; ++n) {
    const double w = unit() * interval;  // wait for the first send after the fault
    aligned.push_back(w + fall_and_timeout);
    random.push_back(std::max(w, unit() * interval) + fall_and_timeout);
    staggered.push_back(std::max(w, std::fmod(w + interval / 2, interval)) + fall_and_timeout);
  }
  EXPECT_NEAR(median(aligned), 260, 3);
  EXPECT_NEAR(median(random), 210 + 70.7, 3);
  EXPECT_NEAR(median(staggered), 285, 3);
}

}  // namespace
}  // namespace pathpilot::probe
