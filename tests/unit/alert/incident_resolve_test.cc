// Issue 8: incidents that used to stay open while the daemon ran. A recovery incident ends
// when its gateway's path is up again even without recovery_succeeded; a route_error incident
// ends when every failed route was programmed since. Exactly one RESOLVED each, never two.
#include <gtest/gtest.h>

#include "alert/incident.h"
#include "alert/render.h"
#include "alert_test_util.h"
#include "fakes/fake_clock.h"

namespace pathpilot::alert {
namespace {

using journal::EventKind;
using testing::event;

class IncidentResolveTest : public ::testing::Test {
 protected:
  pathpilot::testing::FakeClock clock;
  IncidentTracker tracker{TrackerOptions{std::chrono::seconds(30), std::chrono::hours(4)}};

  std::vector<Alert> feed(const journal::Event& e) { return tracker.onEvent(e, clock.now()); }
  // Lets the grouping window pass and returns what became due.
  std::vector<Alert> afterWindow() {
    clock.advance(std::chrono::seconds(31));
    return tracker.due(clock.now());
  }
  // A route_error of `table` (destination "" = a failed list() of the whole table).
  journal::Event routeError(const std::string& table, const std::string& destination) {
    auto e = event(EventKind::RouteError, clock.wallNow(), "", table);
    e.destination = destination;
    e.reason = "UnauthorizedOperation";
    return e;
  }
  // A successful programming of `table` 10.10.0.0/16 (the helper's destination).
  journal::Event routeChanged(const std::string& table) {
    return event(EventKind::RouteChanged, clock.wallNow(), "vpn-a", table, "dx", "vpn-a");
  }
  // Opens the recovery incident of vpn-a and lets its FIRING go out.
  void announceRecoveryFailed() {
    feed(event(EventKind::RecoveryFailed, clock.wallNow(), "vpn-a"));
    auto firing = afterWindow();
    ASSERT_EQ(firing.size(), 1u);
    ASSERT_EQ(firing[0].fingerprint, "Beijing/recovery/vpn-a");
  }
};

std::size_t countResolved(const std::vector<Alert>& alerts, const std::string& fingerprint) {
  std::size_t n = 0;
  for (const Alert& a : alerts) {
    n += a.fingerprint == fingerprint && a.status == AlertStatus::Resolved ? 1 : 0;
  }
  return n;
}

// The gateway came back by itself during the backoff (or after the hourly limit): path_up is
// the only verdict, and it resolves the recovery incident, saying so.
TEST_F(IncidentResolveTest, PathUpResolvesRecoveryIncidentWithoutSuccessfulAttempt) {
  announceRecoveryFailed();
  clock.advance(std::chrono::minutes(5));
  feed(event(EventKind::PathUp, clock.wallNow(), "vpn-a"));
  EXPECT_EQ(tracker.openIncidents(), 0u);
  auto alerts = afterWindow();
  ASSERT_EQ(countResolved(alerts, "Beijing/recovery/vpn-a"), 1u);
  const Alert* resolved = nullptr;
  for (const Alert& a : alerts) {
    if (a.fingerprint == "Beijing/recovery/vpn-a") {
      resolved = &a;
    }
  }
  ASSERT_NE(resolved, nullptr);
  EXPECT_FALSE(resolved->brief);
  ASSERT_EQ(resolved->events.size(), 1u);
  EXPECT_NE(resolved->events[0].reason.find(
                "vpn-a is up again; the recovery incident ends (no successful recovery attempt"),
            std::string::npos)
      << resolved->events[0].reason;
  EXPECT_EQ(summarize(*resolved).rfind("vpn-a recovered after 5m", 0), 0u) << summarize(*resolved);

  // A recovery_succeeded after the RESOLVED went out is not a second message.
  feed(event(EventKind::RecoverySucceeded, clock.wallNow(), "vpn-a"));
  EXPECT_TRUE(afterWindow().empty());
  EXPECT_TRUE(tracker.flushAll().empty());
}

// The engine writes path_up just before the recovery_succeeded of a confirmed attempt: the
// one RESOLVED carries the success, not the "no successful attempt" line.
TEST_F(IncidentResolveTest, RecoverySucceededRightAfterPathUpJoinsTheOneResolved) {
  announceRecoveryFailed();
  clock.advance(std::chrono::minutes(2));
  feed(event(EventKind::PathUp, clock.wallNow(), "vpn-a"));
  auto succeeded = event(EventKind::RecoverySucceeded, clock.wallNow(), "vpn-a");
  succeeded.reason = "ec2 stop/start confirmed by the probes";
  feed(succeeded);
  auto alerts = afterWindow();
  ASSERT_EQ(countResolved(alerts, "Beijing/recovery/vpn-a"), 1u);
  for (const Alert& a : alerts) {
    EXPECT_NE(a.opening.kind, EventKind::RecoverySucceeded) << "no one-shot success message";
    if (a.fingerprint == "Beijing/recovery/vpn-a") {
      ASSERT_EQ(a.events.size(), 1u);
      EXPECT_EQ(a.events[0].kind, EventKind::RecoverySucceeded);
      EXPECT_EQ(a.events[0].reason, "ec2 stop/start confirmed by the probes");
    }
  }
  EXPECT_TRUE(tracker.flushAll().empty());
}

// recovery_succeeded first (an attempt confirmed while the path was already up): it resolves
// as before, and the later path_up adds no second RESOLVED.
TEST_F(IncidentResolveTest, RecoverySucceededThenPathUpIsOneResolved) {
  announceRecoveryFailed();
  clock.advance(std::chrono::minutes(1));
  feed(event(EventKind::RecoverySucceeded, clock.wallNow(), "vpn-a"));
  feed(event(EventKind::PathUp, clock.wallNow(), "vpn-a"));
  auto alerts = afterWindow();
  EXPECT_EQ(countResolved(alerts, "Beijing/recovery/vpn-a"), 1u);
  EXPECT_EQ(alerts.size(), 1u);
  EXPECT_EQ(tracker.openIncidents(), 0u);
}

// After a path_up resolution, a new failed attempt opens a new incident and a later success
// of that one is news again.
TEST_F(IncidentResolveTest, NewRecoveryFailureAfterPathUpResolutionIsANewIncident) {
  announceRecoveryFailed();
  feed(event(EventKind::PathUp, clock.wallNow(), "vpn-a"));
  ASSERT_EQ(countResolved(afterWindow(), "Beijing/recovery/vpn-a"), 1u);
  clock.advance(std::chrono::minutes(10));
  announceRecoveryFailed();
  clock.advance(std::chrono::minutes(1));
  feed(event(EventKind::RecoverySucceeded, clock.wallNow(), "vpn-a"));
  auto alerts = afterWindow();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].status, AlertStatus::Resolved);
  EXPECT_EQ(alerts[0].events[0].kind, EventKind::RecoverySucceeded);
}

// With no grouping window the path_up RESOLVED goes out at once; the recovery_succeeded
// right behind it then sends nothing (one message, whose wording is still true).
TEST(IncidentResolveZeroWindowTest, PathUpThenRecoverySucceededIsOneMessage) {
  pathpilot::testing::FakeClock clock;
  IncidentTracker tracker{TrackerOptions{Duration::zero(), std::chrono::hours(4)}};
  ASSERT_EQ(tracker.onEvent(event(EventKind::RecoveryFailed, clock.wallNow(), "vpn-a"), clock.now())
                .size(),
            1u);
  clock.advance(std::chrono::minutes(3));
  auto up = tracker.onEvent(event(EventKind::PathUp, clock.wallNow(), "vpn-a"), clock.now());
  ASSERT_EQ(countResolved(up, "Beijing/recovery/vpn-a"), 1u);
  EXPECT_TRUE(
      tracker.onEvent(event(EventKind::RecoverySucceeded, clock.wallNow(), "vpn-a"), clock.now())
          .empty());
  EXPECT_TRUE(tracker.flushAll().empty());
  EXPECT_EQ(tracker.openIncidents(), 0u);
}

TEST_F(IncidentResolveTest, RouteErrorResolvesWhenEveryFailedRouteIsProgrammed) {
  feed(routeError("rtb-1", "10.10.0.0/16"));
  feed(routeError("rtb-2", "10.10.0.0/16"));
  auto firing = afterWindow();
  ASSERT_EQ(firing.size(), 1u);
  EXPECT_EQ(firing[0].fingerprint, "Beijing/route_error");
  EXPECT_EQ(firing[0].status, AlertStatus::Firing);

  clock.advance(std::chrono::seconds(20));
  // Another table, or another destination of the failed table, proves nothing.
  feed(routeChanged("rtb-3"));
  auto other = event(EventKind::RouteChanged, clock.wallNow(), "vpn-a", "rtb-1", "dx", "vpn-a");
  other.destination = "10.20.0.0/16";
  feed(other);
  feed(routeChanged("rtb-1"));
  EXPECT_EQ(tracker.openIncidents(), 1u) << "rtb-2 still failing";
  feed(routeChanged("rtb-2"));
  EXPECT_EQ(tracker.openIncidents(), 0u);
  auto alerts = afterWindow();
  ASSERT_EQ(countResolved(alerts, "Beijing/route_error"), 1u);
  for (const Alert& a : alerts) {
    if (a.fingerprint == "Beijing/route_error") {
      ASSERT_EQ(a.events.size(), 1u);
      EXPECT_EQ(a.events[0].route_table, "rtb-2");
      EXPECT_EQ(summarize(a).rfind("route programming works again after 51s", 0), 0u)
          << summarize(a);
    }
  }
  // Later successes of the same routes are ordinary route changes, no second RESOLVED.
  feed(routeChanged("rtb-2"));
  EXPECT_EQ(countResolved(afterWindow(), "Beijing/route_error"), 0u);
}

// A failed list() of a table (no destination) clears with any successful apply in it.
TEST_F(IncidentResolveTest, TableLevelRouteErrorClearsWithAnyRouteOfTheTable) {
  feed(routeError("rtb-1", ""));
  ASSERT_EQ(afterWindow().size(), 1u);
  feed(routeChanged("rtb-1"));
  EXPECT_EQ(countResolved(afterWindow(), "Beijing/route_error"), 1u);
  EXPECT_EQ(tracker.openIncidents(), 0u);
}

// Failed and fixed within the grouping window: one brief message, nothing after.
TEST_F(IncidentResolveTest, RouteErrorFixedWithinWindowIsOneBriefAlert) {
  feed(routeError("rtb-1", "10.10.0.0/16"));
  clock.advance(std::chrono::seconds(3));
  feed(routeChanged("rtb-1"));
  auto alerts = afterWindow();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].status, AlertStatus::Resolved);
  EXPECT_TRUE(alerts[0].brief);
  EXPECT_TRUE(tracker.flushAll().empty());
}

// After a restart the failed routes are not known: a route_change alone does not end the
// restored incident; once route_error is seen again, that route's success does, and the
// 2-minute "not seen again" rule no longer applies.
TEST_F(IncidentResolveTest, RestoredRouteErrorResolvesOnceConfirmedRouteIsProgrammed) {
  IncidentRecord r;
  r.key = "Beijing/route_error";
  r.opening = routeError("rtb-1", "10.10.0.0/16");
  r.severity = journal::Severity::Critical;
  r.started = clock.wallNow();
  r.last_announced = clock.wallNow();
  tracker.restore(r, clock.now(), clock.wallNow());
  feed(routeChanged("rtb-9"));
  EXPECT_EQ(tracker.openIncidents(), 1u);
  clock.advance(std::chrono::seconds(10));
  feed(routeError("rtb-1", "10.10.0.0/16"));  // confirmed
  for (const Alert& a : afterWindow()) {
    EXPECT_NE(a.fingerprint, "Beijing/route_error") << "no second FIRING";
  }
  clock.advance(std::chrono::minutes(3));
  tracker.expireUnconfirmed(clock.now(), clock.wallNow());
  EXPECT_EQ(tracker.openIncidents(), 1u);
  feed(routeChanged("rtb-1"));
  EXPECT_EQ(countResolved(afterWindow(), "Beijing/route_error"), 1u);
  EXPECT_EQ(tracker.openIncidents(), 0u);
}

}  // namespace
}  // namespace pathpilot::alert
