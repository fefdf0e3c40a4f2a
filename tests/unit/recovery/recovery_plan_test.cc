#include "recovery/recovery_plan.h"

#include <gtest/gtest.h>

#include "fakes/fake_clock.h"

namespace pathpilot::recovery {
namespace {

using health::PathState;
using Kind = RecoveryDecision::Kind;
using pathpilot::testing::FakeClock;

RecoveryPolicy policy() {
  RecoveryPolicy p;
  p.after = seconds(60);
  p.backoff_initial = seconds(60);
  p.backoff_max = minutes(10);
  p.max_attempts_per_hour = 3;
  p.settle = seconds(120);
  return p;
}

class RecoveryPlanTest : public ::testing::Test {
 protected:
  // Moves the clock to the plan's next wake-up and polls.
  RecoveryDecision advanceAndPoll() {
    EXPECT_NE(plan.nextWakeup(), MonoTime::max());
    clock.advance(plan.nextWakeup() - clock.now());
    return plan.poll(clock.now());
  }

  FakeClock clock;
  GatewayRecoveryPlan plan{policy()};
};

TEST_F(RecoveryPlanTest, StartsOnlyAfterBeingDownForAfter) {
  EXPECT_EQ(plan.poll(clock.now()).kind, Kind::None);
  plan.observe(PathState::Down, clock.now());
  EXPECT_EQ(plan.phase(), RecoveryPhase::WaitingDown);
  EXPECT_EQ(plan.nextWakeup(), clock.now() + seconds(60));
  clock.advance(seconds(59));
  EXPECT_EQ(plan.poll(clock.now()).kind, Kind::None);
  // Repeated Down reports do not restart the wait.
  plan.observe(PathState::Down, clock.now());
  clock.advance(seconds(1));
  RecoveryDecision d = plan.poll(clock.now());
  ASSERT_EQ(d.kind, Kind::Start);
  EXPECT_EQ(d.attempt, 1);
  EXPECT_EQ(d.down_for, seconds(60));
  EXPECT_EQ(plan.phase(), RecoveryPhase::Running);
  EXPECT_EQ(plan.nextWakeup(), MonoTime::max());
  EXPECT_EQ(plan.poll(clock.now()).kind, Kind::None) << "one attempt at a time";
}

TEST_F(RecoveryPlanTest, ShortOutageHealsWithoutAnAttempt) {
  plan.observe(PathState::Down, clock.now());
  clock.advance(seconds(30));
  plan.observe(PathState::Up, clock.now());
  clock.advance(seconds(60));
  EXPECT_EQ(plan.poll(clock.now()).kind, Kind::None);
  EXPECT_EQ(plan.phase(), RecoveryPhase::Idle);
}

TEST_F(RecoveryPlanTest, UnknownAndDegradedNeverTrigger) {
  plan.observe(PathState::Unknown, clock.now());
  plan.observe(PathState::Degraded, clock.now());
  clock.advance(hours(1));
  EXPECT_EQ(plan.poll(clock.now()).kind, Kind::None);
  // Unknown in the middle of an outage keeps the outage (no proof of health).
  plan.observe(PathState::Down, clock.now());
  clock.advance(seconds(30));
  plan.observe(PathState::Unknown, clock.now());
  clock.advance(seconds(30));
  EXPECT_EQ(plan.poll(clock.now()).kind, Kind::Start);
}

TEST_F(RecoveryPlanTest, FailedAttemptsBackOffExponentially) {
  std::vector<Duration> waits;
  RecoveryPolicy p = policy();
  p.max_attempts_per_hour = 100;
  GatewayRecoveryPlan many(p);
  many.observe(PathState::Down, clock.now());
  clock.advance(seconds(60));
  ASSERT_EQ(many.poll(clock.now()).kind, Kind::Start);
  for (int i = 0; i < 6; ++i) {
    MonoTime failed_at = clock.now();
    many.finished(false, clock.now());
    EXPECT_EQ(many.phase(), RecoveryPhase::BackingOff);
    waits.push_back(many.nextWakeup() - failed_at);
    clock.advance(many.nextWakeup() - clock.now());
    RecoveryDecision d = many.poll(clock.now());
    ASSERT_EQ(d.kind, Kind::Start);
    EXPECT_EQ(d.attempt, i + 2);
  }
  EXPECT_EQ(waits, (std::vector<Duration>{seconds(60), seconds(120), seconds(240), seconds(480),
                                          minutes(10), minutes(10)}));
  EXPECT_EQ(many.consecutiveFailures(), 6);
}

TEST_F(RecoveryPlanTest, HourlyCapIsASlidingWindowReportedOnce) {
  plan.observe(PathState::Down, clock.now());
  MonoTime first = MonoTime::max();
  for (int i = 0; i < 3; ++i) {
    RecoveryDecision d = advanceAndPoll();
    ASSERT_EQ(d.kind, Kind::Start);
    if (i == 0) {
      first = clock.now();
    }
    plan.finished(false, clock.now());
  }
  // 60 s + 120 s of backoff later the fourth attempt would be due: the cap says no.
  RecoveryDecision capped = advanceAndPoll();
  ASSERT_EQ(capped.kind, Kind::Capped);
  EXPECT_EQ(capped.next_allowed, first + hours(1));
  EXPECT_NE(capped.reason.find("3 attempts in the last hour"), std::string::npos) << capped.reason;
  EXPECT_EQ(plan.phase(), RecoveryPhase::Capped);
  EXPECT_EQ(plan.attemptsInWindow(clock.now()), 3);
  EXPECT_EQ(plan.poll(clock.now()).kind, Kind::None) << "reported once";
  EXPECT_EQ(plan.nextWakeup(), first + hours(1));
  clock.advance(first + hours(1) - clock.now() - seconds(1));
  EXPECT_EQ(plan.poll(clock.now()).kind, Kind::None);
  clock.advance(seconds(1));
  RecoveryDecision d = plan.poll(clock.now());
  ASSERT_EQ(d.kind, Kind::Start);
  EXPECT_EQ(d.attempt, 4);
  EXPECT_EQ(plan.attemptsInWindow(clock.now()), 3) << "the first start aged out";
}

TEST_F(RecoveryPlanTest, CapSurvivesRecoveryAndRelapse) {
  // A gateway that dies, is healed, dies again... is still limited per hour.
  for (int i = 0; i < 3; ++i) {
    plan.observe(PathState::Down, clock.now());
    ASSERT_EQ(advanceAndPoll().kind, Kind::Start);
    plan.finished(true, clock.now());
    plan.observe(PathState::Up, clock.now());
    clock.advance(seconds(1));
  }
  plan.observe(PathState::Down, clock.now());
  EXPECT_EQ(advanceAndPoll().kind, Kind::Capped);
}

TEST_F(RecoveryPlanTest, SuccessWaitsToSettleThenTriesAgainIfStillDown) {
  plan.observe(PathState::Down, clock.now());
  ASSERT_EQ(advanceAndPoll().kind, Kind::Start);
  clock.advance(seconds(40));
  plan.finished(true, clock.now());
  EXPECT_EQ(plan.phase(), RecoveryPhase::Settling);
  EXPECT_EQ(plan.nextWakeup(), clock.now() + seconds(120));
  clock.advance(seconds(119));
  EXPECT_EQ(plan.poll(clock.now()).kind, Kind::None);
  clock.advance(seconds(1));
  RecoveryDecision d = plan.poll(clock.now());
  ASSERT_EQ(d.kind, Kind::Start);
  EXPECT_EQ(d.attempt, 2);
  EXPECT_EQ(d.down_for, seconds(60 + 40 + 120));
  // Had the probes seen it come back while settling, nothing more would have happened.
  plan.finished(true, clock.now());
  plan.observe(PathState::Up, clock.now());
  EXPECT_EQ(plan.phase(), RecoveryPhase::Idle);
  EXPECT_EQ(plan.consecutiveFailures(), 0);
  EXPECT_EQ(plan.nextWakeup(), MonoTime::max());
}

TEST_F(RecoveryPlanTest, GatewayBackUpWhileRunningCancelsTheAttempt) {
  plan.observe(PathState::Down, clock.now());
  ASSERT_EQ(advanceAndPoll().kind, Kind::Start);
  RecoveryDecision d = plan.observe(PathState::Up, clock.now());
  ASSERT_EQ(d.kind, Kind::Cancel);
  EXPECT_EQ(d.attempt, 1);
  EXPECT_NE(d.reason.find("up again"), std::string::npos);
  EXPECT_EQ(plan.phase(), RecoveryPhase::Idle);
  // The cancelled attempt's late outcome changes nothing.
  plan.finished(false, clock.now());
  EXPECT_EQ(plan.phase(), RecoveryPhase::Idle);
  EXPECT_EQ(plan.observe(PathState::Up, clock.now()).kind, Kind::None);
}

// A daemon in a crash loop must not get a fresh hourly cap and back-off at every start: the
// memory of a plan, put into a new plan, keeps both.
TEST_F(RecoveryPlanTest, MemoryCarriesTheCapAndTheBackOffIntoANewPlan) {
  plan.observe(PathState::Down, clock.now());
  ASSERT_EQ(advanceAndPoll().kind, Kind::Start);
  clock.advance(seconds(10));
  plan.finished(false, clock.now());  // back-off 60 s
  ASSERT_EQ(advanceAndPoll().kind, Kind::Start);
  clock.advance(seconds(10));
  plan.finished(false, clock.now());  // back-off 120 s
  RecoveryMemory m = plan.memory(clock.now());
  EXPECT_EQ(m.starts.size(), 2u);
  EXPECT_EQ(m.attempts, 2);
  EXPECT_EQ(m.failures, 2);
  ASSERT_TRUE(m.not_before);
  EXPECT_EQ(*m.not_before, clock.now() + seconds(120));

  // The process dies and starts again 5 s later.
  clock.advance(seconds(5));
  GatewayRecoveryPlan fresh{policy()};
  fresh.restore(m, clock.now());
  EXPECT_EQ(fresh.attemptsInWindow(clock.now()), 2);
  fresh.observe(PathState::Down, clock.now());
  EXPECT_EQ(fresh.nextWakeup(), clock.now() + seconds(115)) << "the back-off, not `after`";
  clock.advance(seconds(115));
  RecoveryDecision d = fresh.poll(clock.now());
  ASSERT_EQ(d.kind, Kind::Start);
  EXPECT_EQ(d.attempt, 3) << "attempt numbers go on";
  clock.advance(seconds(10));
  fresh.finished(false, clock.now());
  clock.advance(fresh.nextWakeup() - clock.now());
  EXPECT_EQ(fresh.poll(clock.now()).kind, Kind::Capped) << "3 attempts in the hour, counted "
                                                           "across the restart";
}

// A crash loop: restarted once during the back-off, then again before the attempt. The
// second restart must still wait out the back-off the first one restored, not `after` anew.
TEST_F(RecoveryPlanTest, ASecondRestartKeepsTheRestoredBackOff) {
  plan.observe(PathState::Down, clock.now());
  ASSERT_EQ(advanceAndPoll().kind, Kind::Start);
  clock.advance(seconds(10));
  plan.finished(false, clock.now());  // back-off 60 s
  ASSERT_EQ(advanceAndPoll().kind, Kind::Start);
  clock.advance(seconds(10));
  plan.finished(false, clock.now());  // back-off 120 s: longer than `after` (60 s)
  const MonoTime due = clock.now() + seconds(120);
  clock.advance(seconds(5));
  GatewayRecoveryPlan first{policy()};
  first.restore(plan.memory(clock.now()), clock.now());
  first.observe(PathState::Down, clock.now());  // waiting for the back-off
  ASSERT_EQ(first.nextWakeup(), due);
  clock.advance(seconds(5));
  RecoveryMemory m = first.memory(clock.now());
  ASSERT_TRUE(m.not_before) << "the back-off is part of what a waiting plan remembers";
  EXPECT_EQ(*m.not_before, due);
  GatewayRecoveryPlan second{policy()};
  second.restore(m, clock.now());
  second.observe(PathState::Down, clock.now());
  EXPECT_EQ(second.nextWakeup(), due);
  clock.advance(due - clock.now());
  RecoveryDecision d = second.poll(clock.now());
  ASSERT_EQ(d.kind, Kind::Start);
  EXPECT_EQ(d.attempt, 3);
}

TEST_F(RecoveryPlanTest, RestoredOutageIsDroppedWhenTheGatewayIsUp) {
  RecoveryMemory m;
  m.starts = {clock.now() - minutes(70), clock.now() - minutes(10)};
  m.attempts = 1;
  m.failures = 1;
  m.not_before = clock.now() + minutes(5);
  plan.restore(m, clock.now());
  EXPECT_EQ(plan.attemptsInWindow(clock.now()), 1) << "starts older than an hour are dropped";
  plan.observe(PathState::Up, clock.now());
  clock.advance(minutes(1));
  plan.observe(PathState::Down, clock.now());
  EXPECT_EQ(plan.nextWakeup(), clock.now() + seconds(60)) << "a new outage: `after` only";
  ASSERT_EQ(advanceAndPoll().attempt, 1);
}

TEST(RecoveryPolicyTest, ValidateNamesTheProblem) {
  EXPECT_TRUE(policy().validate());
  RecoveryPolicy p = policy();
  p.max_attempts_per_hour = 0;
  ASSERT_FALSE(p.validate());
  EXPECT_NE(p.validate().error().message().find("max_attempts_per_hour"), std::string::npos);
  p = policy();
  p.backoff_max = seconds(1);
  EXPECT_FALSE(p.validate());
  p = policy();
  p.after = -seconds(1);
  EXPECT_FALSE(p.validate());
}

}  // namespace
}  // namespace pathpilot::recovery

namespace pathpilot::recovery {
namespace {

// A takeover: the new leader's plan watched the same outage without acting (WaitingDown); the
// old leader's attempt and back-off carry on, so the gateway is not restarted at once again.
TEST_F(RecoveryPlanTest, AdoptContinuesThePreviousLeadersOutage) {
  plan.observe(PathState::Down, clock.now());
  clock.advance(seconds(70));  // the old leader tried at 60 s and failed at 65 s
  RecoveryMemory old;
  old.starts = {clock.now() - seconds(10)};
  old.attempts = 1;
  old.failures = 1;
  old.not_before = clock.now() - seconds(5) + seconds(60);  // its back-off
  plan.adopt(old, clock.now());
  EXPECT_EQ(plan.attemptsInWindow(clock.now()), 1);
  EXPECT_EQ(plan.nextWakeup(), *old.not_before);
  EXPECT_EQ(plan.poll(clock.now()).kind, Kind::None);
  RecoveryDecision d = advanceAndPoll();
  ASSERT_EQ(d.kind, Kind::Start);
  EXPECT_EQ(d.attempt, 2);  // numbering goes on
  // The same memory adopted again (a second read) counts its start once.
  plan.adopt(old, clock.now());
  EXPECT_EQ(plan.attemptsInWindow(clock.now()), 2);
}

// While Idle it waits for the outage like a restored memory; a plan that acted itself keeps
// its own outage and takes the hourly window only.
TEST_F(RecoveryPlanTest, AdoptWhileIdleOrAfterActing) {
  RecoveryMemory old;
  old.starts = {clock.now()};
  old.attempts = 2;
  old.failures = 2;
  old.not_before = clock.now() + seconds(300);
  plan.adopt(old, clock.now());
  EXPECT_EQ(plan.phase(), RecoveryPhase::Idle);
  plan.observe(PathState::Down, clock.now());
  EXPECT_EQ(plan.nextWakeup(), clock.now() + seconds(300));

  GatewayRecoveryPlan acted{policy()};
  acted.observe(PathState::Down, clock.now());
  clock.advance(seconds(60));
  ASSERT_EQ(acted.poll(clock.now()).kind, Kind::Start);
  acted.finished(false, clock.now());
  const MonoTime own_backoff = acted.nextWakeup();
  RecoveryMemory other;
  other.starts = {clock.now() - seconds(30)};
  other.attempts = 5;
  other.not_before = clock.now() + hours(1);
  acted.adopt(other, clock.now());
  EXPECT_EQ(acted.phase(), RecoveryPhase::BackingOff);
  EXPECT_EQ(acted.nextWakeup(), own_backoff);
  EXPECT_EQ(acted.attemptsInWindow(clock.now()), 2);
  // Starts older than an hour are not adopted.
  RecoveryMemory stale;
  stale.starts = {clock.now() - hours(2)};
  acted.adopt(stale, clock.now());
  EXPECT_EQ(acted.attemptsInWindow(clock.now()), 2);
}

}  // namespace
}  // namespace pathpilot::recovery
