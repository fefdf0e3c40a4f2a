// ha/election.h on injected time: the role follows etcd's answers, and the fence deadline is
// computed from the send time of the last answered renewal, so that no answer arriving late,
// no pause and no lost keepalive can leave a leader writing past the point where etcd may
// have let another monitor take the key.
#include "ha/election.h"

#include <gtest/gtest.h>

namespace pathpilot::ha {
namespace {

using namespace std::chrono_literals;
using Step = Election::Step;

ElectionSettings settings() {
  ElectionSettings s;
  s.node = "mon-a";
  s.ttl = 2s;
  s.margin = 500ms;
  s.keepalive_interval = 500ms;
  s.poll_interval = 250ms;
  s.retry_interval = 250ms;
  return s;
}

const MonoTime t0 = MonoTime(std::chrono::hours(1));

CreateResult won(std::int64_t revision, std::int64_t lease) {
  CreateResult r;
  r.created = true;
  r.kv = KeyValue{"/pathpilot/s/leader", "mon-a", revision, revision, 1, lease};
  return r;
}

CreateResult lost(std::string holder, std::int64_t revision, std::int64_t lease) {
  CreateResult r;
  r.kv = KeyValue{"/pathpilot/s/leader", std::move(holder), revision, revision, 1, lease};
  return r;
}

// Grants lease 7 at t0 and wins term 10 at t0 + 1 ms.
Election leaderAtT0() {
  Election e(settings());
  e.leaseGranted(Lease{7, 2s}, t0);
  e.campaigned(won(10, 7), t0 + 1ms);
  return e;
}

TEST(ElectionTest, StartsWithALeaseThenCampaigns) {
  Election e(settings());
  EXPECT_EQ(e.next(t0).step, Step::GrantLease);
  EXPECT_FALSE(e.mayWrite(t0));
  e.leaseGranted(Lease{7, 2s}, t0);
  EXPECT_EQ(e.next(t0).step, Step::Campaign);
  e.campaigned(won(10, 7), t0);
  EXPECT_EQ(e.role(), Role::Leader);
  EXPECT_EQ(e.term(), 10);
  EXPECT_EQ(e.leader(), "mon-a");
  EXPECT_TRUE(e.mayWrite(t0));
}

TEST(ElectionTest, ALostCampaignNamesTheLeaderAndRetriesEveryPoll) {
  Election e(settings());
  e.leaseGranted(Lease{7, 2s}, t0);
  e.campaigned(lost("mon-b", 4, 99), t0);
  EXPECT_EQ(e.role(), Role::Follower);
  EXPECT_EQ(e.leader(), "mon-b");
  EXPECT_EQ(e.term(), 4);
  EXPECT_FALSE(e.mayWrite(t0));
  auto next = e.next(t0 + 1ms);
  EXPECT_EQ(next.step, Step::Wait);
  EXPECT_EQ(next.at, t0 + 250ms);
  EXPECT_EQ(e.next(t0 + 250ms).step, Step::Campaign);
  EXPECT_EQ(e.next(t0 + 500ms).step, Step::KeepAlive);  // keepalive first when both are due
}

TEST(ElectionTest, TheFenceDeadlineIsTheSendTimeOfTheLastAnsweredRenewalPlusTtlMinusMargin) {
  Election e = leaderAtT0();
  EXPECT_EQ(e.fenceDeadline(), t0 + 1500ms);
  // A keepalive sent at +500 ms answered (however late): the deadline counts from its send.
  e.keptAlive(2s, t0 + 500ms);
  EXPECT_EQ(e.fenceDeadline(), t0 + 2000ms);
  EXPECT_TRUE(e.mayWrite(t0 + 1999ms));
  EXPECT_FALSE(e.mayWrite(t0 + 2000ms));
  // An answer to an older request (a retry crossing it) never moves the deadline back.
  e.keptAlive(2s, t0 + 100ms);
  EXPECT_EQ(e.fenceDeadline(), t0 + 2000ms);
}

TEST(ElectionTest, FailedKeepalivesEndWritingAtTheDeadlineThoughTheRoleStays) {
  Election e = leaderAtT0();
  for (MonoTime t = t0 + 500ms; t < t0 + 3s; t += 250ms) {
    if (e.next(t).step == Step::KeepAlive) {
      e.failed(Step::KeepAlive, t + 100ms);
    }
  }
  EXPECT_EQ(e.role(), Role::Leader);
  EXPECT_FALSE(e.mayWrite(t0 + 1500ms));
  EXPECT_TRUE(e.mayWrite(t0 + 1499ms));
  // etcd answers again with the lease alive (no quorum meanwhile: leases do not expire).
  e.keptAlive(2s, t0 + 3s);
  EXPECT_TRUE(e.mayWrite(t0 + 3s));
}

TEST(ElectionTest, APausedLeaderWritesNothingWhenItWakes) {
  // SIGSTOP for 10 s right after a renewal: on waking, before any new answer, the monotonic
  // clock says the deadline passed.
  Election e = leaderAtT0();
  e.keptAlive(2s, t0 + 500ms);
  EXPECT_FALSE(e.mayWrite(t0 + 10s));
  // Its first call is the keepalive, which tells it the lease is gone: a follower.
  EXPECT_EQ(e.next(t0 + 10s).step, Step::KeepAlive);
  e.keptAlive(std::nullopt, t0 + 10s);
  EXPECT_EQ(e.role(), Role::Follower);
  EXPECT_EQ(e.leader(), "");
  EXPECT_EQ(e.next(t0 + 10s).step, Step::GrantLease);
}

TEST(ElectionTest, ALeaderWhoseKeyIsGoneBecomesAFollowerAndCampaignsAtOnce) {
  Election e = leaderAtT0();
  EXPECT_EQ(e.next(t0 + 251ms).step, Step::Check);
  e.checked(true, t0 + 251ms);
  EXPECT_EQ(e.role(), Role::Leader);
  e.checked(false, t0 + 502ms);
  EXPECT_EQ(e.role(), Role::Follower);
  EXPECT_FALSE(e.mayWrite(t0 + 502ms));
  EXPECT_EQ(e.next(t0 + 600ms).step, Step::KeepAlive);
  e.keptAlive(2s, t0 + 600ms);
  EXPECT_EQ(e.next(t0 + 600ms).step, Step::Campaign);
}

TEST(ElectionTest, ALostAnswerToOurOwnCreateIsRecognisedByLeaseAndName) {
  Election e(settings());
  e.leaseGranted(Lease{7, 2s}, t0);
  // The create went through but its answer timed out; the retry finds our own key.
  e.failed(Step::Campaign, t0 + 1s);
  e.campaigned(lost("mon-a", 12, 7), t0 + 1250ms);
  EXPECT_EQ(e.role(), Role::Leader);
  EXPECT_EQ(e.term(), 12);
  // Our name under another lease (a previous run of ours) is not ours.
  Election other(settings());
  other.leaseGranted(Lease{8, 2s}, t0);
  other.campaigned(lost("mon-a", 12, 7), t0);
  EXPECT_EQ(other.role(), Role::Follower);
}

TEST(ElectionTest, FailuresAreRetriedAfterTheRetryInterval) {
  Election e(settings());
  e.failed(Step::GrantLease, t0);
  EXPECT_EQ(e.next(t0 + 100ms).step, Step::Wait);
  EXPECT_EQ(e.next(t0 + 100ms).at, t0 + 250ms);
  EXPECT_EQ(e.next(t0 + 250ms).step, Step::GrantLease);
}

TEST(ElectionTest, ALeaderWakesAtItsFenceDeadline) {
  Election e = leaderAtT0();
  e.checked(true, t0 + 1ms);
  e.keptAlive(2s, t0);  // next keepalive due at +500 ms
  // Keepalives keep failing; between retries the loop still wakes at the deadline.
  e.failed(Step::KeepAlive, t0 + 1400ms);  // retry at +1650 ms
  e.checked(true, t0 + 1400ms);            // next check at +1650 ms
  auto next = e.next(t0 + 1450ms);
  EXPECT_EQ(next.step, Step::Wait);
  EXPECT_EQ(next.at, t0 + 1500ms);
}

TEST(ElectionTest, ResignGivesUpWriting) {
  Election e = leaderAtT0();
  e.resigned();
  EXPECT_EQ(e.role(), Role::Follower);
  EXPECT_FALSE(e.mayWrite(t0 + 1ms));
}

TEST(ElectionTest, AResignedLeaderDoesNotCampaignDuringItsHoldOff) {
  Election e = leaderAtT0();
  e.resigned(t0 + 6s);
  e.keptAlive(2s, t0 + 5s);  // the lease stays alive meanwhile
  auto next = e.next(t0 + 5s + 1ms);
  EXPECT_EQ(next.step, Step::Wait);
  EXPECT_EQ(next.at, t0 + 5500ms) << "the next keepalive comes first";
  e.keptAlive(2s, t0 + 5500ms);
  EXPECT_EQ(e.next(t0 + 5501ms).at, t0 + 6s) << "then the end of the hold-off";
  EXPECT_EQ(e.next(t0 + 6s).step, Step::KeepAlive);
  e.keptAlive(2s, t0 + 6s);
  EXPECT_EQ(e.next(t0 + 6s).step, Step::Campaign);
}

}  // namespace
}  // namespace pathpilot::ha
