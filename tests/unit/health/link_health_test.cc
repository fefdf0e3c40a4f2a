// Tests for health::LinkHealth: windows, rise/fall, loss and RTT thresholds, quorum, damping.
#include "health/link_health.h"

#include <cmath>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fakes/fake_clock.h"

namespace pathpilot::health {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr Duration kRtt = std::chrono::milliseconds(10);

class LinkHealthTest : public ::testing::Test {
 protected:
  LinkHealth make(const HealthParams& p, std::vector<std::string> targets = {"10.10.3.100"}) {
    auto h = LinkHealth::create(p, std::move(targets), clock_.now());
    EXPECT_TRUE(h.has_value()) << (h ? "" : h.error().message());
    return std::move(*h);
  }

  // Feeds one result one second after the previous one.
  Transition ok(LinkHealth& h, Duration rtt = kRtt, std::size_t target = 0) {
    clock_.advance(std::chrono::seconds(1));
    return h.onProbeResult({target, true, rtt, {}}, clock_.now());
  }
  Transition miss(LinkHealth& h, std::size_t target = 0, std::string_view error = "timeout") {
    clock_.advance(std::chrono::seconds(1));
    return h.onProbeResult({target, false, Duration(0), error}, clock_.now());
  }

  testing::FakeClock clock_;
};

TEST_F(LinkHealthTest, StartsUnknownAndRisesAfterThreeAnswers) {
  LinkHealth h = make({});
  EXPECT_EQ(h.state(), PathState::Unknown);
  EXPECT_FALSE(ok(h).changed);
  EXPECT_FALSE(ok(h).changed);
  const Transition t = ok(h);
  ASSERT_TRUE(t.changed);
  EXPECT_EQ(t.from, PathState::Unknown);
  EXPECT_EQ(t.to, PathState::Up);
  EXPECT_EQ(t.reason, "3 consecutive probes answered (loss 0% over 3, rtt p50 10.0ms p95 10.0ms)");
  EXPECT_EQ(h.stats(clock_.now()).since, clock_.now());
  EXPECT_EQ(h.stats().since, clock_.now());
  EXPECT_EQ(h.stats().state, PathState::Up);
}

TEST_F(LinkHealthTest, DownAfterThreeMisses) {
  LinkHealth h = make({});
  for (int i = 0; i < 3; ++i) {
    ok(h);
  }
  ASSERT_EQ(h.state(), PathState::Up);
  EXPECT_FALSE(miss(h).changed);
  EXPECT_FALSE(miss(h).changed);
  const Transition t = miss(h);
  ASSERT_TRUE(t.changed);
  EXPECT_EQ(t.from, PathState::Up);
  EXPECT_EQ(t.to, PathState::Down);
  EXPECT_EQ(t.reason,
            "3 consecutive probes lost (loss 50% over 6, rtt p50 10.0ms p95 10.0ms, last error: "
            "timeout)");
  EXPECT_EQ(t.measured.consecutive_misses, 3);
  EXPECT_EQ(t.measured.samples, 6u);
  EXPECT_EQ(t.measured.lost, 3u);
  EXPECT_DOUBLE_EQ(t.measured.loss, 0.5);
  EXPECT_EQ(t.measured.last_error, "timeout");
  EXPECT_EQ(t.measured.rtt_p50, kRtt);
}

TEST_F(LinkHealthTest, UnknownGoesDownAfterFallMissesWithoutPenalty) {
  LinkHealth h = make({});
  miss(h);
  miss(h);
  const Transition t = miss(h, 0, "host unreachable");
  ASSERT_TRUE(t.changed);
  EXPECT_EQ(t.from, PathState::Unknown);
  EXPECT_EQ(t.to, PathState::Down);
  EXPECT_THAT(t.reason, HasSubstr("last error: host unreachable"));
  EXPECT_EQ(t.penalty, 0.0) << "start-up is not a flap";
}

TEST_F(LinkHealthTest, RiseAfterNRestartsTheWindow) {
  HealthParams p;
  p.rise = 4;
  LinkHealth h = make(p);
  for (int i = 0; i < 10; ++i) {
    miss(h);
  }
  ASSERT_EQ(h.state(), PathState::Down);
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(ok(h).changed) << i;
  }
  const Transition t = ok(h);
  ASSERT_TRUE(t.changed);
  EXPECT_EQ(t.to, PathState::Up);
  // The outage's 10 losses are forgotten: the window restarts from the 4 answers.
  EXPECT_EQ(t.measured.samples, 4u);
  EXPECT_EQ(t.measured.loss, 0.0);
  EXPECT_THAT(t.reason, StartsWith("4 consecutive probes answered (loss 0% over 4"));
}

TEST_F(LinkHealthTest, AMissInterruptsTheRise) {
  LinkHealth h = make({});
  for (int i = 0; i < 3; ++i) {
    miss(h);
  }
  ok(h);
  ok(h);
  miss(h);
  ok(h);
  ok(h);
  EXPECT_EQ(h.state(), PathState::Down);
  EXPECT_TRUE(ok(h).changed);
}

TEST_F(LinkHealthTest, LossRatioDegradedAboveThreshold) {
  LinkHealth h = make({});
  for (int i = 0; i < 20; ++i) {
    ok(h);
  }
  ASSERT_EQ(h.state(), PathState::Up);
  // 1 of 20 = 5% is not above the 5% threshold.
  EXPECT_FALSE(miss(h).changed);
  ok(h);
  const Transition t = miss(h);  // 2 of 20 = 10%
  ASSERT_TRUE(t.changed);
  EXPECT_EQ(t.to, PathState::Degraded);
  EXPECT_EQ(t.reason,
            "loss 10% over 20 probes above the degraded threshold 5% (rtt p50 10.0ms p95 10.0ms, "
            "last error: timeout)");
  EXPECT_DOUBLE_EQ(t.measured.loss, 0.1);

  // Back Up only once clean (at or below half the threshold: 2.5%, so no loss at all in the
  // window) for a whole window: the last loss leaves after 20 results, then 19 more clean ones.
  int answers = 0;
  Transition back;
  while (!back.changed && answers < 60) {
    back = ok(h);
    ++answers;
  }
  EXPECT_EQ(back.to, PathState::Up);
  EXPECT_EQ(answers, 39);
  EXPECT_THAT(back.reason,
              StartsWith("loss 0% over 20, rtt p50 10.0ms p95 10.0ms clean again (at or below "
                         "loss 2.5%"));
}

TEST_F(LinkHealthTest, LossRatioDownWithoutConsecutiveMisses) {
  LinkHealth h = make({});
  for (int i = 0; i < 20; ++i) {
    ok(h);
  }
  // miss, miss, answer: never 3 in a row, but loss climbs to 2/3.
  Transition down;
  int results = 0;
  for (int round = 0; round < 20 && !down.changed; ++round) {
    for (int k = 0; k < 3 && !down.changed; ++k) {
      down = k < 2 ? miss(h) : ok(h);
      ++results;
      if (down.changed && down.to == PathState::Degraded) {
        down = Transition{};  // Degraded comes first; keep going for Down
      }
    }
  }
  ASSERT_TRUE(down.changed);
  EXPECT_EQ(down.to, PathState::Down);
  EXPECT_EQ(results, 16);  // 11 losses in the last 20 results
  EXPECT_EQ(down.reason,
            "loss 55% over 20 probes above the down threshold 50% (1 consecutive lost, rtt p50 "
            "10.0ms p95 10.0ms, last error: timeout)");
}

TEST_F(LinkHealthTest, RttDegradedWhenP95AboveThreshold) {
  HealthParams p;
  p.degraded_rtt_p95 = std::chrono::milliseconds(100);
  LinkHealth h = make(p);
  for (int i = 0; i < 20; ++i) {
    ok(h);
  }
  ASSERT_EQ(h.state(), PathState::Up);
  // Nearest-rank p95 of 20 values is the 19th smallest: one slow answer is not enough.
  EXPECT_FALSE(ok(h, std::chrono::milliseconds(200)).changed);
  const Transition t = ok(h, std::chrono::milliseconds(200));
  ASSERT_TRUE(t.changed);
  EXPECT_EQ(t.to, PathState::Degraded);
  EXPECT_EQ(t.reason,
            "rtt p95 200.0ms above the degraded threshold 100.0ms (loss 0% over 20, rtt p50 "
            "10.0ms p99 200.0ms)");
  EXPECT_EQ(t.measured.rtt_p95, std::chrono::milliseconds(200));
  EXPECT_EQ(t.measured.rtt_p50, kRtt);
}

// The mean RTT over the window, as dpinger / pfSense compare it: one slow reply among fast ones
// moves it a little (and, evicted, not at all), a slow link moves it for good.
TEST_F(LinkHealthTest, RttDegradedWhenMeanAboveThreshold) {
  HealthParams p;
  p.window = 10;
  p.min_samples = 10;
  p.degraded_rtt_mean = std::chrono::milliseconds(50);
  LinkHealth h = make(p);
  for (int i = 0; i < 9; ++i) {
    ok(h);
  }
  EXPECT_FALSE(ok(h, std::chrono::milliseconds(400)).changed);  // mean 49 ms: Up
  EXPECT_EQ(h.state(), PathState::Up);
  EXPECT_EQ(h.stats().measured.rtt_mean, std::chrono::milliseconds(49));
  EXPECT_EQ(h.stats().measured.rtt_p95, std::chrono::milliseconds(400));
  ok(h, std::chrono::milliseconds(60));  // mean 54 ms
  EXPECT_EQ(h.state(), PathState::Degraded);
  EXPECT_THAT(h.stats().reason, HasSubstr("rtt mean 54.0ms above the degraded threshold 50.0ms"));
  // The slow reply leaves the window and the link is fast again: Up once a whole window has
  // been at or below the clear thresholds (hysteresis: rtt mean 40 ms, 80% of 50 ms).
  for (int i = 0; i < 9; ++i) {
    ok(h);
  }
  EXPECT_EQ(h.stats().measured.rtt_mean, std::chrono::milliseconds(15));
  EXPECT_EQ(h.state(), PathState::Degraded) << "clean, but not yet for a whole window";
  for (int i = 0; i < 10; ++i) {
    ok(h);
  }
  EXPECT_EQ(h.state(), PathState::Up);
  EXPECT_THAT(h.stats().reason, HasSubstr("clean again (at or below loss 2.5% and rtt mean 40.0ms"));
}

// After an outage the window restarts from the answers that brought the target back; the
// mean restarts with it (no RTT of the old window survives).
TEST_F(LinkHealthTest, MeanRttRestartsWithTheWindow) {
  HealthParams p;
  p.window = 10;
  p.min_samples = 3;
  p.damping = false;
  p.degraded_rtt_mean = std::chrono::milliseconds(50);
  LinkHealth h = make(p);
  for (int i = 0; i < 5; ++i) {
    ok(h, std::chrono::milliseconds(300));
  }
  EXPECT_EQ(h.state(), PathState::Degraded);
  for (int i = 0; i < 3; ++i) {
    miss(h);
  }
  EXPECT_EQ(h.state(), PathState::Down);
  for (int i = 0; i < 3; ++i) {
    ok(h, std::chrono::milliseconds(20));
  }
  // Degraded before it went down: back Degraded (it must earn Up), with a fresh mean.
  EXPECT_EQ(h.state(), PathState::Degraded);
  EXPECT_EQ(h.stats().measured.rtt_mean, std::chrono::milliseconds(20));
}

TEST_F(LinkHealthTest, RttNotJudgedBeforeMinSamples) {
  HealthParams p;
  p.degraded_rtt_p95 = std::chrono::milliseconds(100);
  LinkHealth h = make(p);
  for (int i = 0; i < 3; ++i) {
    ok(h, std::chrono::milliseconds(300));
  }
  EXPECT_EQ(h.state(), PathState::Up);
  for (int i = 0; i < 6; ++i) {
    EXPECT_FALSE(ok(h, std::chrono::milliseconds(300)).changed);
  }
  EXPECT_EQ(ok(h, std::chrono::milliseconds(300)).to, PathState::Degraded);  // 10th answer
}

TEST_F(LinkHealthTest, PercentilesAreNearestRank) {
  LinkHealth h = make({});
  for (int ms = 20; ms >= 1; --ms) {
    ok(h, std::chrono::milliseconds(ms));
  }
  const Stats s = h.stats(clock_.now());
  EXPECT_EQ(s.measured.rtt_samples, 20u);
  EXPECT_EQ(s.measured.rtt_p50, std::chrono::milliseconds(10));
  EXPECT_EQ(s.measured.rtt_p95, std::chrono::milliseconds(19));
  EXPECT_EQ(s.measured.rtt_p99, std::chrono::milliseconds(20));
  // Evicting the oldest (20 ms) keeps the sorted view right.
  ok(h, std::chrono::milliseconds(5));
  const Stats s2 = h.stats(clock_.now());
  EXPECT_EQ(s2.measured.rtt_p99, std::chrono::milliseconds(19));
  EXPECT_EQ(s2.measured.rtt_p50, std::chrono::milliseconds(9));
}

TEST_F(LinkHealthTest, UsableSinceSurvivesUpDegradedChanges) {
  LinkHealth h = make({});
  for (int i = 0; i < 20; ++i) {
    ok(h);
  }
  const MonoTime up_at = h.stats(clock_.now()).usable_since.value();
  miss(h);
  ok(h);
  ASSERT_EQ(miss(h).to, PathState::Degraded);
  const Stats s = h.stats(clock_.now());
  EXPECT_EQ(s.since, clock_.now());
  EXPECT_EQ(s.usable_since, up_at);
  miss(h);
  miss(h);
  EXPECT_EQ(h.state(), PathState::Down);
  EXPECT_FALSE(h.stats(clock_.now()).usable_since.has_value());
}

// Flap damping: rise 1 / fall 1 so that every result can flap the path; loss thresholds off.
class LinkHealthDampingTest : public LinkHealthTest {
 protected:
  static HealthParams params() {
    HealthParams p;
    p.rise = 1;
    p.fall = 1;
    p.degraded_loss = 1.0;
    p.down_loss = 1.0;
    return p;
  }
};

TEST_F(LinkHealthDampingTest, SuppressAndReuseFollowTheDecayMath) {
  LinkHealth h = make(params());
  ASSERT_EQ(ok(h).to, PathState::Up);  // t=1 (not a flap)
  Transition t = miss(h);              // t=2: flap 1
  EXPECT_DOUBLE_EQ(t.penalty, 1000.0);
  EXPECT_FALSE(t.suppressed);
  ok(h);  // t=3
  // Half-life 30 s: after one half-life the penalty has exactly halved.
  EXPECT_NEAR(h.penaltyAt(clock_.now() + std::chrono::seconds(29)), 500.0, 1e-9);
  t = miss(h);                                                 // t=4: flap 2, 2 s after flap 1
  const double p2 = 1000.0 * std::exp2(-2.0 / 30.0) + 1000.0;  // 1954.83
  EXPECT_NEAR(t.penalty, p2, 1e-9);
  EXPECT_FALSE(t.suppressed) << "1954.8 is not above 2000";
  ok(h);                                                   // t=5
  t = miss(h);                                             // t=6: flap 3
  const double p3 = p2 * std::exp2(-2.0 / 30.0) + 1000.0;  // 2866.57
  EXPECT_NEAR(t.penalty, p3, 1e-9);
  EXPECT_TRUE(t.suppressed);
  EXPECT_TRUE(t.suppression_changed);
  EXPECT_TRUE(t.changed);
  EXPECT_EQ(t.to, PathState::Down);
  EXPECT_THAT(t.reason, HasSubstr("suppressed by flap damping: penalty 2867 above the suppress "
                                  "threshold 2000, released when it decays to 750 (in 58.0s)"));
  const MonoTime flap3 = clock_.now();

  // Probes succeed again, but the path is held Down.
  t = ok(h);
  EXPECT_FALSE(t.changed);
  EXPECT_EQ(h.state(), PathState::Down);
  const Stats s = h.stats(clock_.now());
  EXPECT_EQ(s.raw_state, PathState::Up);
  EXPECT_TRUE(s.suppressed);
  EXPECT_THAT(s.reason, HasSubstr("held down by flap damping"));

  // Reuse when p3 * 2^(-dt/30) = 750: dt = 30 * log2(p3 / 750) = 58.04 s.
  const double dt = 30.0 * std::log2(p3 / 750.0);
  const MonoTime reuse = h.reuseTime().value();
  EXPECT_NEAR(std::chrono::duration<double>(reuse - flap3).count(), dt, 1e-6);
  ASSERT_EQ(s.reuse_at, reuse);

  EXPECT_FALSE(h.tick(reuse - std::chrono::milliseconds(1)).changed);
  EXPECT_TRUE(h.suppressed());
  t = h.tick(reuse);
  ASSERT_TRUE(t.changed);
  EXPECT_EQ(t.from, PathState::Down);
  EXPECT_EQ(t.to, PathState::Up);
  EXPECT_TRUE(t.suppression_changed);
  EXPECT_FALSE(t.suppressed);
  EXPECT_NEAR(t.penalty, 750.0, 1e-6);
  EXPECT_THAT(t.reason, StartsWith("flap damping released: penalty 750 decayed to the reuse "
                                   "threshold 750; "));
  EXPECT_EQ(h.stats(reuse).usable_since, reuse);
}

TEST_F(LinkHealthDampingTest, ReleasedByProbeResultAfterDecay) {
  LinkHealth h = make(params());
  for (int i = 0; i < 3; ++i) {
    ok(h);
    miss(h);
  }
  ASSERT_TRUE(h.suppressed());
  clock_.advance(std::chrono::minutes(2));
  const Transition t = ok(h);
  EXPECT_TRUE(t.changed);
  EXPECT_EQ(t.to, PathState::Up);
  EXPECT_FALSE(h.suppressed());
}

TEST_F(LinkHealthDampingTest, CeilingBoundsSuppressionToMaxSuppress) {
  HealthParams p = params();
  p.max_suppress = std::chrono::minutes(2);  // ceiling 750 * 2^(120/30) = 12000
  LinkHealth h = make(p);
  for (int i = 0; i < 50; ++i) {  // a storm of flaps, one every 2 s
    ok(h);
    miss(h);
  }
  ASSERT_TRUE(h.suppressed());
  EXPECT_NEAR(h.penaltyAt(clock_.now()), 12000.0, 1e-6);
  // From the ceiling, decaying to reuse takes exactly max_suppress.
  const MonoTime reuse = h.reuseTime().value();
  EXPECT_NEAR(std::chrono::duration<double>(reuse - clock_.now()).count(), 120.0, 1e-6);
  ok(h);
  EXPECT_FALSE(h.tick(reuse - std::chrono::milliseconds(1)).changed);
  EXPECT_TRUE(h.tick(reuse).changed);
  EXPECT_EQ(h.state(), PathState::Up);
}

TEST_F(LinkHealthDampingTest, DisabledNeverSuppresses) {
  HealthParams p = params();
  p.damping = false;
  LinkHealth h = make(p);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(ok(h).to, PathState::Up);
    EXPECT_EQ(miss(h).to, PathState::Down);
  }
  EXPECT_FALSE(h.suppressed());
  EXPECT_EQ(h.penaltyAt(clock_.now()), 0.0);
}

// Random loss on a path with two targets and quorum 1: target A loses three in a row and goes
// Down, answers once, then B loses three in a row. Every round had an answer, so the path is
// not down; it goes Down only once the Down targets have all lost their latest probe (a real
// outage), and A's rise brings nothing back that was lost.
TEST_F(LinkHealthTest, StaggeredTargetMissesDoNotTakeAQuorumPathDown) {
  HealthParams p;
  p.quorum = 1;
  LinkHealth h = make(p, {"10.10.3.100", "10.10.0.1"});
  const auto round = [&](bool a, bool b) {
    Transition ta = a ? ok(h, kRtt, 0) : miss(h, 0);
    Transition tb = b ? ok(h, kRtt, 1) : miss(h, 1);
    return std::pair{ta, tb};
  };
  for (int i = 0; i < 3; ++i) {
    round(true, true);
  }
  ASSERT_EQ(h.state(), PathState::Up);
  round(false, true);
  round(false, true);
  round(false, true);  // A Down (3 in a row), B up: path Up
  round(true, false);  // A answers (1 of its rise 3), B misses
  round(true, false);
  auto [ta, tb] = round(true, false);  // B Down now; A is answering
  EXPECT_FALSE(tb.changed) << tb.reason;
  EXPECT_EQ(h.state(), PathState::Up);
  round(true, true);  // A back up (3 answers), B answering
  EXPECT_EQ(h.state(), PathState::Up);

  // A real outage: both lose everything. Down after `fall` rounds, as before.
  for (int i = 0; i < 5; ++i) {
    round(true, true);
  }
  round(false, false);
  round(false, false);
  auto [da, db] = round(false, false);
  EXPECT_TRUE(da.changed || db.changed);
  EXPECT_EQ(h.state(), PathState::Down);
  // One answer from one target is not enough to call it up, nor does it flap the path.
  auto [ua, ub] = round(true, false);
  EXPECT_FALSE(ua.changed || ub.changed);
  EXPECT_EQ(h.state(), PathState::Down);

  // Both Down, A answering (held Down), then A misses again: still Down, and a dead path held
  // by a recovering target goes Down as soon as that target misses again.
  for (int i = 0; i < 3; ++i) {
    round(true, true);
  }
  ASSERT_EQ(h.state(), PathState::Up);
  round(false, true);
  round(false, true);
  round(false, true);  // A Down
  round(true, false);  // A answers once
  round(false, false);
  round(false, false);  // B Down (3 misses: one above and these two)
  EXPECT_EQ(h.state(), PathState::Down) << "both Down and both lost their latest probe";
}

TEST_F(LinkHealthTest, QuorumTwoOfThreeTargets) {
  HealthParams p;
  p.quorum = 2;
  LinkHealth h = make(p, {"10.10.3.100", "10.10.3.101", "10.10.3.102"});
  // Round-robin probing: each round one result per target.
  const auto round = [&](bool a, bool b, bool c) {
    std::vector<Transition> out;
    for (std::size_t i = 0; i < 3; ++i) {
      const bool good = i == 0 ? a : (i == 1 ? b : c);
      out.push_back(good ? ok(h, kRtt, i) : miss(h, i));
    }
    return out;
  };
  round(true, true, false);
  round(true, true, false);
  auto r = round(true, true, false);
  EXPECT_FALSE(r[0].changed) << "one target up is below the quorum";
  ASSERT_TRUE(r[1].changed);
  EXPECT_EQ(r[1].to, PathState::Up);
  EXPECT_EQ(r[1].reason,
            "2 of 3 targets up (quorum 2); 10.10.3.101 up: 3 consecutive probes answered (loss "
            "0% over 3, rtt p50 10.0ms p95 10.0ms)");
  EXPECT_FALSE(r[2].changed) << "third target down does not break the quorum";

  // Second target fails: only one of three left, the quorum cannot be met.
  round(true, false, false);
  round(true, false, false);
  r = round(true, false, false);
  ASSERT_TRUE(r[1].changed);
  EXPECT_EQ(r[1].to, PathState::Down);
  EXPECT_THAT(r[1].reason, StartsWith("2 of 3 targets down, quorum 2 cannot be met; 10.10.3.101 "
                                      "down: 3 consecutive probes lost (loss 50% over 6"));
  const Stats s = h.stats(clock_.now());
  ASSERT_EQ(s.targets.size(), 3u);
  EXPECT_EQ(s.targets[0].state, PathState::Up);
  EXPECT_EQ(s.targets[1].state, PathState::Down);
  EXPECT_EQ(s.targets[2].state, PathState::Down);
  EXPECT_EQ(s.measured.samples, 18u);  // 6 rounds of 3 targets
}

TEST_F(LinkHealthTest, QuorumDegradedWhenAnUpTargetDegrades) {
  HealthParams p;
  p.quorum = 2;
  p.degraded_rtt_p95 = std::chrono::milliseconds(50);
  LinkHealth h = make(p, {"a", "b"});
  for (int i = 0; i < 10; ++i) {
    ok(h, kRtt, 0);
    ok(h, std::chrono::milliseconds(i < 3 ? 10 : 80), 1);
  }
  EXPECT_EQ(h.state(), PathState::Degraded);
  EXPECT_THAT(h.stats(clock_.now()).reason, StartsWith("2 of 2 targets usable, 1 up (quorum 2)"));
}

TEST_F(LinkHealthTest, TimeGoingBackwardsIsClamped) {
  LinkHealth h = make({});
  for (int i = 0; i < 3; ++i) {
    ok(h);
  }
  const MonoTime later = clock_.now();
  h.onProbeResult({0, false, Duration(0), "timeout"}, later - std::chrono::hours(1));
  h.onProbeResult({0, false, Duration(0), "timeout"}, later - std::chrono::hours(1));
  const Transition t = h.onProbeResult({0, false, Duration(0), "timeout"}, later);
  ASSERT_TRUE(t.changed);
  EXPECT_EQ(h.stats(later).since, later);
}

TEST(LinkHealthParamsTest, RejectsBadParameters) {
  const auto err = [](HealthParams p, std::size_t targets = 1) {
    auto r = validateHealthParams(p, targets);
    return r ? std::string() : r.error().message();
  };
  EXPECT_EQ(err({}), "");
  HealthParams p;
  p.window = 0;
  EXPECT_THAT(err(p), HasSubstr("window must be between 1 and 4096, got 0"));
  p = {};
  p.rise = 30;
  EXPECT_THAT(err(p), HasSubstr("rise must be between 1 and the window (20), got 30"));
  p = {};
  p.fall = 0;
  EXPECT_THAT(err(p), HasSubstr("fall must be at least 1"));
  p = {};
  p.degraded_loss = 0.6;
  EXPECT_THAT(err(p), HasSubstr("degraded_loss <= down_loss"));
  p = {};
  p.quorum = 3;
  EXPECT_THAT(err(p, 2), HasSubstr("quorum must be between 1 and the number of targets (2)"));
  EXPECT_THAT(err({}, 0), HasSubstr("at least one probe target"));
  p = {};
  p.reuse = 2500;
  EXPECT_THAT(err(p), HasSubstr("0 < reuse < suppress"));
  p = {};
  p.max_suppress = std::chrono::seconds(30);  // ceiling 1500 < 2000
  EXPECT_THAT(err(p), HasSubstr("max_suppress 30s is too short"));
  p.damping = false;
  EXPECT_EQ(err(p), "");
  EXPECT_FALSE(LinkHealth::create(HealthParams{}, {}, MonoTime{}).has_value());
}

}  // namespace
}  // namespace pathpilot::health

namespace pathpilot::health {
namespace {

// Hysteresis: a link losing ~30% of its probes (the threshold) must stay Degraded while the
// loss lasts, not flip to Up whenever one window measures 25%.
class HysteresisTest : public ::testing::Test {
 protected:
  HealthParams params() {
    HealthParams p;
    p.window = 20;
    p.min_samples = 20;
    p.rise = 3;
    p.fall = 5;
    p.degraded_loss = 0.30;
    p.down_loss = 0.90;
    p.damping = false;
    return p;
  }
  Transition feed(LinkHealth& h, bool ok) {
    clock_.advance(std::chrono::milliseconds(100));
    return h.onProbeResult({0, ok, std::chrono::milliseconds(5), ok ? "" : "timeout"},
                           clock_.now());
  }
  testing::FakeClock clock_;
};

TEST_F(HysteresisTest, ADegradedPathIsUpOnlyAfterAWholeWindowAtOrBelowTheClearThreshold) {
  auto h = *LinkHealth::create(params(), {"10.10.3.100"}, clock_.now());
  for (int i = 0; i < 20; ++i) {
    feed(h, true);
  }
  ASSERT_EQ(h.state(), PathState::Up);
  // One probe in two lost: 35% after 14 results, Degraded.
  for (int i = 0; i < 7; ++i) {
    feed(h, false);
    feed(h, true);
  }
  ASSERT_EQ(h.state(), PathState::Degraded);
  // 25% loss (one probe in four) for a minute: above the clear threshold (15%), never Up.
  for (int i = 0; i < 600; ++i) {
    EXPECT_FALSE(feed(h, i % 4 != 3).changed) << "25% loss must not make a degraded path up";
  }
  // 10% loss (one in ten): at or below 15% once the 25% results left the window; Up after a
  // whole window of such measurements.
  Transition up;
  int results = 0;
  for (; results < 100 && !up.changed; ++results) {
    up = feed(h, results % 10 != 9);
  }
  ASSERT_TRUE(up.changed);
  EXPECT_EQ(up.to, PathState::Up);
  EXPECT_GT(results, 20) << "a whole window of clean measurements after the 25% ones";
  EXPECT_THAT(up.reason, HasSubstr("clean again (at or below loss 15%"));
  EXPECT_LE(up.measured.loss, 0.15);
}

// An hour of random loss at 10 probes/s, window 50 (5 s): how often would the path be Up for a
// 5 s failback hold-down? Never at 30% or 60%; a 10% loss path (below the 30% threshold) is never
// degraded at all.
TEST_F(HysteresisTest, RandomLossNeverLooksCleanForAHoldDown) {
  struct Counts {
    int degraded = 0;
    int ups = 0;
    int clean_hold_downs = 0;  // Up periods of at least 50 results after a Degraded one
  };
  auto simulate = [&](int loss_percent) {
    HealthParams p = params();
    p.window = 50;
    p.min_samples = 50;
    auto h = *LinkHealth::create(p, {"10.10.3.100"}, clock_.now());
    std::uint64_t state = 12345;  // a fixed LCG: the same "random" loss every run
    Counts c;
    int up_run = 0;
    bool was_degraded = false;
    for (int i = 0; i < 36000; ++i) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      const bool ok = static_cast<int>((state >> 33) % 100) >= loss_percent;
      Transition t = feed(h, ok);
      if (t.changed && t.to == PathState::Degraded) {
        ++c.degraded;
        was_degraded = true;
      }
      if (t.changed && t.to == PathState::Up && t.from == PathState::Degraded) {
        ++c.ups;
      }
      up_run = h.state() == PathState::Up ? up_run + 1 : 0;
      if (was_degraded && up_run == 50) {
        ++c.clean_hold_downs;
      }
    }
    return c;
  };
  const Counts ten = simulate(10);
  EXPECT_LE(ten.degraded, 1) << "10% is far below the 30% threshold";
  const Counts thirty = simulate(30);
  EXPECT_GE(thirty.degraded, 1);
  EXPECT_EQ(thirty.clean_hold_downs, 0);
  EXPECT_LE(thirty.ups, 2);
  const Counts sixty = simulate(60);
  EXPECT_EQ(sixty.clean_hold_downs, 0);
}

TEST_F(HysteresisTest, ClearThresholdsAreValidated) {
  HealthParams p = params();
  p.degraded_clear_loss = 0.4;
  EXPECT_FALSE(validateHealthParams(p, 1));
  p = params();
  p.degraded_clear_rtt_p95 = std::chrono::milliseconds(10);
  EXPECT_FALSE(validateHealthParams(p, 1)) << "needs degraded_rtt_p95";
  p.degraded_rtt_p95 = std::chrono::milliseconds(20);
  EXPECT_TRUE(validateHealthParams(p, 1));
  EXPECT_EQ(params().clearLoss(), 0.15);
}

}  // namespace
}  // namespace pathpilot::health

namespace pathpilot::health {
namespace {

// Back from Down after `rise` answers, a path is Up (usable for failover at once) but not yet
// clean: its fresh window says nothing about loss. clean_since is set once the window is full.
TEST_F(HysteresisTest, ACleanPathNeedsAFullWindowAfterComingBack) {
  auto h = *LinkHealth::create(params(), {"10.10.3.100"}, clock_.now());
  for (int i = 0; i < 20; ++i) {
    feed(h, true);
  }
  ASSERT_EQ(h.state(), PathState::Up);
  ASSERT_TRUE(h.stats(clock_.now()).clean_since);
  for (int i = 0; i < 5; ++i) {
    feed(h, false);
  }
  ASSERT_EQ(h.state(), PathState::Down);
  EXPECT_FALSE(h.stats(clock_.now()).clean_since);
  for (int i = 0; i < 3; ++i) {
    feed(h, true);
  }
  ASSERT_EQ(h.state(), PathState::Up);
  EXPECT_FALSE(h.stats(clock_.now()).clean_since) << "3 answers are not a clean window";
  Transition t;
  int results = 3;
  for (; results < 40 && !t.clean_changed; ++results) {
    t = feed(h, true);
  }
  EXPECT_TRUE(t.clean_changed);
  EXPECT_EQ(results, 20) << "clean once the window holds 20 results";
  EXPECT_EQ(h.stats(clock_.now()).clean_since, clock_.now());
}

}  // namespace
}  // namespace pathpilot::health

namespace pathpilot::health {
namespace {

// The lab's DX path (examples/lab.yaml): two targets, quorum 1, window 50 at 100 ms, fall and
// rise 3, degraded above 30%, damping on. Each round probes both targets; each probe is lost
// at random with the given ratio (a fixed LCG per seed, the same "random" loss every run).
// Counts how often the path, after having been Degraded or Down, stays clean for a 5 s
// failback hold-down — each such time the policy would move routes back to a lossy DX.
struct LossRun {
  int clean_hold_downs = 0;
  int degraded = 0;
};

LossRun simulateLabDx(int loss_percent, std::uint64_t seed, int rounds) {
  HealthParams p;
  p.window = 50;
  p.min_samples = 50;  // as the daemon sets it (engine.cc: min_samples = window)
  p.rise = 3;
  p.fall = 3;
  p.degraded_loss = 0.30;
  p.down_loss = 0.60;
  p.quorum = 1;
  p.damping = true;
  p.half_life = std::chrono::minutes(1);
  p.penalty = 1000;
  p.suppress = 3000;
  p.reuse = 750;
  p.max_suppress = std::chrono::minutes(5);
  testing::FakeClock clock;
  auto h = *LinkHealth::create(p, {"10.10.3.100", "10.10.0.1"}, clock.now());
  std::uint64_t state = seed;
  LossRun r;
  bool was_bad = false;
  bool counted = false;
  for (int i = 0; i < rounds; ++i) {
    clock.advance(std::chrono::milliseconds(100));
    for (std::size_t target = 0; target < 2; ++target) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      const bool ok = static_cast<int>((state >> 33) % 100) >= loss_percent;
      const Transition t = h.onProbeResult(
          {target, ok, std::chrono::milliseconds(5), ok ? "" : "timeout"}, clock.now());
      if (t.changed && t.to == PathState::Degraded) {
        ++r.degraded;
      }
    }
    h.tick(clock.now());
    const Stats s = h.stats(clock.now());
    if (s.state == PathState::Degraded || s.state == PathState::Down) {
      was_bad = true;
      counted = false;
    }
    if (was_bad && !counted && s.state == PathState::Up && s.clean_since &&
        clock.now() - *s.clean_since >= std::chrono::seconds(5)) {
      ++r.clean_hold_downs;
      counted = true;
    }
  }
  return r;
}

// Found in the lab (30% loss on DX for a minute moved a table off DX, back, and off again):
// one target going Down from Up came back with a fresh window and counted as clean after
// `min_samples` results, and with quorum 1 that one target made the path Up and clean.
TEST(LabLossSimulation, ThirtyPercentLossNeverLooksCleanForAHoldDownWithTwoTargets) {
  int degraded = 0;
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    const LossRun r = simulateLabDx(30, seed * 7919, 36000);  // an hour each
    EXPECT_EQ(r.clean_hold_downs, 0) << "seed " << seed;
    degraded += r.degraded;
  }
  EXPECT_GT(degraded, 0) << "the loss was high enough to degrade the path";
}

TEST(LabLossSimulation, SixtyPercentLossNeverLooksCleanForAHoldDown) {
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    EXPECT_EQ(simulateLabDx(60, seed * 104729, 36000).clean_hold_downs, 0) << "seed " << seed;
  }
}

}  // namespace
}  // namespace pathpilot::health

namespace pathpilot::health {
namespace {

// Clean is stricter than Up: a full window at or below the clear thresholds. A target losing
// one probe in five (20%: Up, under the 30% degraded threshold, above the 15% clear one) is
// usable but never clean, so it never ends a failback hold-down; at one in ten it is clean.
TEST_F(HysteresisTest, UpBetweenTheClearAndTheDegradedThresholdIsNotClean) {
  auto h = *LinkHealth::create(params(), {"10.10.3.100"}, clock_.now());
  for (int i = 0; i < 200; ++i) {
    feed(h, i % 5 != 4);
    if (i >= 20) {
      ASSERT_EQ(h.state(), PathState::Up) << i;
      ASSERT_FALSE(h.stats(clock_.now()).clean_since) << i;
    }
  }
  Transition t;
  int results = 0;
  for (; results < 100 && !t.clean_changed; ++results) {
    t = feed(h, results % 10 != 9);
  }
  ASSERT_TRUE(t.clean_changed);
  EXPECT_TRUE(h.stats(clock_.now()).clean_since);
  EXPECT_LE(h.stats(clock_.now()).measured.loss, 0.15);
  // One more lost probe than the clear threshold allows ends the clean period at once.
  for (int i = 0; i < 3 && h.stats(clock_.now()).clean_since; ++i) {
    feed(h, false);
    feed(h, true);
  }
  EXPECT_FALSE(h.stats(clock_.now()).clean_since);
  EXPECT_EQ(h.state(), PathState::Up);
}

}  // namespace
}  // namespace pathpilot::health
