#include "probe/schedule.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "fakes/fake_clock.h"

namespace pathpilot::probe {
namespace {

using std::chrono::milliseconds;

TEST(JitterTest, ZeroJitterKeepsInterval) {
  SplitMix64 rng(1);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(jitteredInterval(milliseconds(100), 0, rng.next()), milliseconds(100));
  }
}

TEST(JitterTest, StaysWithinBoundsAndCoversThem) {
  SplitMix64 rng(42);
  Duration lo = Duration::max();
  Duration hi = Duration::min();
  double sum = 0;
  constexpr int kN = 20000;
  for (int i = 0; i < kN; ++i) {
    const Duration d = jitteredInterval(milliseconds(100), 20, rng.next());
    ASSERT_GE(d, milliseconds(80));
    ASSERT_LT(d, milliseconds(120));
    lo = std::min(lo, d);
    hi = std::max(hi, d);
    sum += toMillis(d);
  }
  EXPECT_LT(lo, milliseconds(81));
  EXPECT_GT(hi, milliseconds(119));
  EXPECT_NEAR(sum / kN, 100.0, 0.5);  // uniform: mean is the nominal interval
}

TEST(JitterTest, ExtremeRandomValues) {
  EXPECT_EQ(jitteredInterval(milliseconds(100), 10, 0), milliseconds(90));
  EXPECT_LE(jitteredInterval(milliseconds(100), 10, ~0ull), milliseconds(110));
  EXPECT_GT(jitteredInterval(milliseconds(100), 10, ~0ull), milliseconds(109));
}

TEST(JitterTest, SameSeedSameSchedule) {
  SplitMix64 a(7);
  SplitMix64 b(7);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(a.next(), b.next());
  }
  EXPECT_NE(SplitMix64(7).next(), SplitMix64(8).next());
}

TEST(FirstOffsetTest, WithinInterval) {
  SplitMix64 rng(3);
  for (int i = 0; i < 1000; ++i) {
    const Duration d = firstProbeOffset(milliseconds(10), rng.next());
    ASSERT_GE(d, Duration::zero());
    ASSERT_LT(d, milliseconds(10));
  }
}

TEST(NextDueTest, OnScheduleAddsTheStep) {
  testing::FakeClock clock;
  const MonoTime due = clock.now();
  EXPECT_EQ(nextDue(due, milliseconds(11), milliseconds(10), clock.now()), due + milliseconds(11));
}

TEST(NextDueTest, AfterAStallSkipsWholeIntervalsAndKeepsPhase) {
  testing::FakeClock clock;
  const MonoTime due = clock.now();
  clock.advance(milliseconds(35));  // the loop stalled for 3.5 intervals
  const MonoTime next = nextDue(due, milliseconds(10), milliseconds(10), clock.now());
  EXPECT_GT(next, clock.now());
  EXPECT_LE(next, clock.now() + milliseconds(10));
  EXPECT_EQ((next - due) % milliseconds(10), Duration::zero());  // same phase as before
  EXPECT_EQ(next, due + milliseconds(40));
}

// Regression: after a stall every overdue target used to be re-based on `now`, after which a
// thousand targets fired in one burst each period (and overflowed the veth backlog).
TEST(NextDueTest, TargetsStaySpreadAfterAStall) {
  testing::FakeClock clock;
  SplitMix64 rng(5);
  constexpr int kTargets = 1000;
  const Duration interval = milliseconds(20);
  std::vector<MonoTime> due(kTargets);
  for (auto& d : due) {
    d = clock.now() + firstProbeOffset(interval, rng.next());
  }
  clock.advance(milliseconds(100));  // nobody ran for 5 intervals
  std::map<std::int64_t, int> per_ms;
  for (auto& d : due) {
    d = nextDue(d, interval, interval, clock.now());
    ++per_ms[std::chrono::duration_cast<milliseconds>(d - clock.now()).count()];
  }
  int worst = 0;
  for (const auto& [ms, n] : per_ms) {
    worst = std::max(worst, n);
  }
  EXPECT_EQ(per_ms.size(), 20u);  // still spread over the whole interval
  EXPECT_LT(worst, 100);          // ~50 per millisecond, not 1000 at once
}

TEST(DeadlineQueueTest, PopsEarliestFirstAndTiesInInsertionOrder) {
  testing::FakeClock clock;
  const MonoTime t0 = clock.now();
  DeadlineQueue<int> q;
  q.push(t0 + milliseconds(30), 3);
  q.push(t0 + milliseconds(10), 1);
  q.push(t0 + milliseconds(20), 20);
  q.push(t0 + milliseconds(20), 21);
  q.push(t0 + milliseconds(20), 22);
  ASSERT_EQ(q.size(), 5u);
  EXPECT_EQ(q.nextDeadline(), t0 + milliseconds(10));
  EXPECT_EQ(q.pop(), 1);
  EXPECT_EQ(q.pop(), 20);
  EXPECT_EQ(q.pop(), 21);
  EXPECT_EQ(q.pop(), 22);
  EXPECT_EQ(q.pop(), 3);
  EXPECT_TRUE(q.empty());
}

// Drives a simulated engine schedule with the fake clock: every target's sends stay within
// its jittered interval and no target is starved.
TEST(DeadlineQueueTest, SimulatedScheduleKeepsEveryTargetsRate) {
  testing::FakeClock clock;
  SplitMix64 rng(99);
  DeadlineQueue<int> q;
  constexpr int kTargets = 500;
  std::vector<int> sends(kTargets, 0);
  std::vector<MonoTime> next(kTargets);
  for (int t = 0; t < kTargets; ++t) {
    next[static_cast<std::size_t>(t)] = clock.now() + firstProbeOffset(milliseconds(10), rng.next());
    q.push(next[static_cast<std::size_t>(t)], t);
  }
  const MonoTime end = clock.now() + std::chrono::seconds(1);
  while (clock.now() < end) {
    clock.advance(std::chrono::microseconds(500));
    while (!q.empty() && q.nextDeadline() <= clock.now()) {
      const int t = q.pop();
      auto& n = next[static_cast<std::size_t>(t)];
      ++sends[static_cast<std::size_t>(t)];
      n += jitteredInterval(milliseconds(10), 10, rng.next());
      q.push(n, t);
    }
  }
  for (int s : sends) {
    EXPECT_GE(s, 90);
    EXPECT_LE(s, 112);
  }
}

class SeqTableTest : public ::testing::Test {
 protected:
  testing::FakeClock clock;
};

TEST_F(SeqTableTest, ValidReplyCompletesProbeOnce) {
  SeqTable table(4);
  auto seq = table.allocate(/*target=*/5, /*gen=*/2, /*nonce=*/111, clock.now());
  ASSERT_TRUE(seq);
  EXPECT_EQ(table.waiting(), 1u);
  InFlight probe;
  EXPECT_EQ(table.onReply(*seq, 111, clock.now(), &probe), ReplyMatch::Valid);
  EXPECT_EQ(probe.target, 5u);
  EXPECT_EQ(probe.target_gen, 2u);
  EXPECT_EQ(table.waiting(), 0u);
  // A duplicate of the same reply is not counted twice.
  EXPECT_EQ(table.onReply(*seq, 111, clock.now(), &probe), ReplyMatch::Foreign);
}

TEST_F(SeqTableTest, WrongNonceOrSendTimeIsForeign) {
  SeqTable table(4);
  auto seq = table.allocate(1, 1, 111, clock.now());
  ASSERT_TRUE(seq);
  EXPECT_EQ(table.onReply(*seq, 112, clock.now(), nullptr), ReplyMatch::Foreign);
  EXPECT_EQ(table.onReply(*seq, 111, clock.now() + milliseconds(1), nullptr), ReplyMatch::Foreign);
  EXPECT_EQ(table.onReply(static_cast<std::uint16_t>(*seq + 1), 111, clock.now(), nullptr),
            ReplyMatch::Foreign);
  EXPECT_EQ(table.onReply(60000, 111, clock.now(), nullptr), ReplyMatch::Foreign);
  EXPECT_EQ(table.waiting(), 1u);  // the real probe is still waiting
  EXPECT_EQ(table.onReply(*seq, 111, clock.now(), nullptr), ReplyMatch::Valid);
}

TEST_F(SeqTableTest, ReplyAfterTimeoutIsLateOnce) {
  SeqTable table(4);
  const MonoTime sent = clock.now();
  auto seq = table.allocate(1, 1, 5, sent);
  ASSERT_TRUE(seq);
  EXPECT_TRUE(table.expire(*seq, 5));
  EXPECT_FALSE(table.expire(*seq, 5));  // a second deadline for it is stale
  EXPECT_EQ(table.onReply(*seq, 5, sent, nullptr), ReplyMatch::Late);
  EXPECT_EQ(table.onReply(*seq, 5, sent, nullptr), ReplyMatch::Foreign);
}

TEST_F(SeqTableTest, ExpireOfAnsweredProbeIsStale) {
  SeqTable table(4);
  auto seq = table.allocate(1, 1, 5, clock.now());
  ASSERT_EQ(table.onReply(*seq, 5, clock.now(), nullptr), ReplyMatch::Valid);
  EXPECT_FALSE(table.expire(*seq, 5));
}

TEST_F(SeqTableTest, ReusedSequenceRejectsOldReply) {
  SeqTable table(1);
  const MonoTime first = clock.now();
  auto a = table.allocate(1, 1, 100, first);
  ASSERT_TRUE(table.expire(*a, 100));
  clock.advance(milliseconds(10));
  auto b = table.allocate(1, 1, 200, clock.now());
  ASSERT_EQ(a, b);  // one slot: the sequence number is reused
  // The reply to the first probe arrives now: its cookie no longer matches.
  EXPECT_EQ(table.onReply(*a, 100, first, nullptr), ReplyMatch::Foreign);
  EXPECT_EQ(table.onReply(*b, 200, clock.now(), nullptr), ReplyMatch::Valid);
}

TEST_F(SeqTableTest, GrowsWhenAllWaitingAndReportsFullAt65536) {
  SeqTable table(2);
  std::set<std::uint16_t> seen;
  for (int i = 0; i < 65536; ++i) {
    auto seq = table.allocate(0, 0, static_cast<std::uint64_t>(i), clock.now());
    ASSERT_TRUE(seq) << i;
    ASSERT_TRUE(seen.insert(*seq).second) << "sequence handed out twice: " << *seq;
  }
  EXPECT_EQ(table.capacity(), 65536u);
  EXPECT_FALSE(table.allocate(0, 0, 1, clock.now()));
  ASSERT_TRUE(table.finish(1234, std::nullopt, nullptr));
  // The cursor moves on after each failure, so the one free slot is found eventually.
  std::optional<std::uint16_t> again;
  int attempts = 0;
  while (!again && attempts < 65536) {
    again = table.allocate(0, 0, 9, clock.now());
    ++attempts;
  }
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 1234);
  EXPECT_LE(attempts, 65536 / 8 + 1);
}

TEST_F(SeqTableTest, SkipsAFewWaitingSlotsBeforeGrowing) {
  SeqTable table(16);
  auto slow = table.allocate(0, 0, 1, clock.now());  // a long-timeout probe stays waiting
  for (int i = 0; i < 100; ++i) {
    auto seq = table.allocate(1, 0, static_cast<std::uint64_t>(i + 10), clock.now());
    ASSERT_TRUE(seq);
    ASSERT_NE(*seq, *slow);
    ASSERT_EQ(table.onReply(*seq, static_cast<std::uint64_t>(i + 10), clock.now(), nullptr),
              ReplyMatch::Valid);
  }
  EXPECT_EQ(table.capacity(), 16u);
}

TEST_F(SeqTableTest, FinishChecksNonceWhenGiven) {
  SeqTable table(4);
  auto seq = table.allocate(3, 4, 77, clock.now());
  EXPECT_FALSE(table.finish(*seq, 78, nullptr));
  InFlight probe;
  EXPECT_TRUE(table.finish(*seq, 77, &probe));
  EXPECT_EQ(probe.target, 3u);
  EXPECT_FALSE(table.finish(*seq, std::nullopt, nullptr));
}

}  // namespace
}  // namespace pathpilot::probe
