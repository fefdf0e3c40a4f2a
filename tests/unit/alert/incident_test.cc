#include "alert/incident.h"
#include "alert/render.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "alert_test_util.h"
#include "fakes/fake_clock.h"

namespace pathpilot::alert {
namespace {

using journal::EventKind;
using testing::event;

class IncidentTrackerTest : public ::testing::Test {
 protected:
  pathpilot::testing::FakeClock clock;
  IncidentTracker tracker{TrackerOptions{std::chrono::seconds(30), std::chrono::hours(4)}};

  std::vector<Alert> feed(const journal::Event& e) { return tracker.onEvent(e, clock.now()); }
};

TEST_F(IncidentTrackerTest, DxFailureMovingTwentyTablesIsOneAlert) {
  EXPECT_TRUE(feed(event(EventKind::PathDown, clock.wallNow(), "dx")).empty());
  for (int i = 0; i < 20; ++i) {
    clock.advance(std::chrono::milliseconds(50));
    EXPECT_TRUE(feed(event(EventKind::RouteChanged, clock.wallNow(), "vpn-a",
                           "rtb-" + std::to_string(i), "dx", "vpn-a"))
                    .empty());
  }
  clock.advance(std::chrono::seconds(28));  // 29 s after the path_down
  EXPECT_TRUE(tracker.due(clock.now()).empty());
  clock.advance(std::chrono::seconds(1));
  auto alerts = tracker.due(clock.now());
  ASSERT_EQ(alerts.size(), 1u);
  const Alert& a = alerts[0];
  EXPECT_EQ(a.status, AlertStatus::Firing);
  EXPECT_EQ(a.fingerprint, "Beijing/path/dx");
  EXPECT_EQ(a.events.size(), 21u);
  EXPECT_EQ(a.route_tables.size(), 20u);
  EXPECT_EQ(a.from, "dx");
  EXPECT_EQ(a.to, "vpn-a");
  EXPECT_EQ(a.severity, journal::Severity::Critical);
  EXPECT_EQ(tracker.stats().grouped, 20u);
}

TEST_F(IncidentTrackerTest, PathUpAfterAnnouncementGivesResolvedWithSameFingerprint) {
  feed(event(EventKind::PathDown, clock.wallNow(), "dx"));
  clock.advance(std::chrono::seconds(30));
  ASSERT_EQ(tracker.due(clock.now()).size(), 1u);
  clock.advance(std::chrono::minutes(3));
  feed(event(EventKind::PathUp, clock.wallNow(), "dx"));
  clock.advance(std::chrono::seconds(5));
  feed(event(EventKind::RouteChanged, clock.wallNow(), "dx", "rtb-1", "vpn-a", "dx"));
  clock.advance(std::chrono::seconds(30));
  auto alerts = tracker.due(clock.now());
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].status, AlertStatus::Resolved);
  EXPECT_EQ(alerts[0].fingerprint, "Beijing/path/dx");
  EXPECT_EQ(alerts[0].severity, journal::Severity::Critical);  // of the incident it closes
  ASSERT_TRUE(alerts[0].ended.has_value());
  EXPECT_EQ(*alerts[0].ended - alerts[0].started, std::chrono::seconds(210));
  EXPECT_EQ(alerts[0].events.size(), 2u);  // path_up + the route moving back
  EXPECT_EQ(tracker.openIncidents(), 0u);
}

TEST_F(IncidentTrackerTest, DownAndUpWithinWindowIsOneBriefAlert) {
  feed(event(EventKind::PathDown, clock.wallNow(), "vpn-a"));
  clock.advance(std::chrono::seconds(12));
  feed(event(EventKind::PathUp, clock.wallNow(), "vpn-a"));
  clock.advance(std::chrono::seconds(30));
  auto alerts = tracker.due(clock.now());
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_TRUE(alerts[0].brief);
  EXPECT_EQ(alerts[0].status, AlertStatus::Resolved);
}

TEST_F(IncidentTrackerTest, DuplicateDownIsSuppressedButEscalationIsSent) {
  feed(event(EventKind::PathDegraded, clock.wallNow(), "dx"));
  clock.advance(std::chrono::seconds(30));
  ASSERT_EQ(tracker.due(clock.now()).size(), 1u);
  auto dup = event(EventKind::PathDegraded, clock.wallNow(), "dx");
  feed(dup);
  clock.advance(std::chrono::seconds(30));
  EXPECT_TRUE(tracker.due(clock.now()).empty());
  EXPECT_EQ(tracker.stats().suppressed, 1u);
  feed(event(EventKind::PathDown, clock.wallNow(), "dx"));
  clock.advance(std::chrono::seconds(30));
  auto alerts = tracker.due(clock.now());
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_TRUE(alerts[0].update);
  EXPECT_EQ(alerts[0].opening.kind, EventKind::PathDown);
  EXPECT_EQ(alerts[0].severity, journal::Severity::Critical);
}

TEST_F(IncidentTrackerTest, ReminderAfterRepeatInterval) {
  feed(event(EventKind::PathDown, clock.wallNow(), "dx"));
  clock.advance(std::chrono::seconds(30));
  ASSERT_EQ(tracker.due(clock.now()).size(), 1u);
  clock.advance(std::chrono::hours(4));
  feed(event(EventKind::PathDown, clock.wallNow(), "dx"));
  clock.advance(std::chrono::seconds(30));
  auto alerts = tracker.due(clock.now());
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_TRUE(alerts[0].update);
}

// A path that stays down is re-announced every repeat_interval by the owner's timer
// (remind() at nextDeadline()), with no new event, until it resolves.
TEST_F(IncidentTrackerTest, OpenIncidentIsRemindedEveryRepeatIntervalWithoutNewEvents) {
  const MonoTime opened = clock.now();
  feed(event(EventKind::PathDown, clock.wallNow(), "dx"));
  feed(event(EventKind::RouteChanged, clock.wallNow(), "vpn-a", "rtb-1", "dx", "vpn-a"));
  clock.advance(std::chrono::seconds(30));
  ASSERT_EQ(tracker.due(clock.now()).size(), 1u);
  ASSERT_EQ(tracker.nextDeadline(), opened + std::chrono::hours(4));
  clock.advance(std::chrono::hours(4) - std::chrono::seconds(31));
  tracker.remind(clock.now(), clock.wallNow());
  EXPECT_TRUE(tracker.due(clock.now()).empty());
  for (int n = 1; n <= 2; ++n) {
    SCOPED_TRACE(n);
    clock.advance(opened + std::chrono::hours(4 * n) - clock.now());
    tracker.remind(clock.now(), clock.wallNow());
    auto alerts = tracker.due(clock.now());
    ASSERT_EQ(alerts.size(), 1u);
    const Alert& a = alerts[0];
    EXPECT_EQ(a.fingerprint, "Beijing/path/dx");
    EXPECT_EQ(a.status, AlertStatus::Firing);
    EXPECT_TRUE(a.update);
    EXPECT_TRUE(a.reminder);
    EXPECT_EQ(a.opening.kind, EventKind::PathDown);
    EXPECT_EQ(a.started, clock.wallNow() - std::chrono::hours(4 * n));
    EXPECT_EQ(a.time, clock.wallNow());
    EXPECT_EQ(summarize(a), "dx down (still open after " + std::to_string(4 * n) + "h)");
    EXPECT_EQ(tracker.nextDeadline(), clock.now() + std::chrono::hours(4));
    // Reminding again at once sends nothing.
    tracker.remind(clock.now(), clock.wallNow());
    EXPECT_TRUE(tracker.due(clock.now()).empty());
  }
  clock.advance(std::chrono::hours(1));
  feed(event(EventKind::PathUp, clock.wallNow(), "dx"));
  clock.advance(std::chrono::seconds(30));
  auto resolved = tracker.due(clock.now());
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].status, AlertStatus::Resolved);
  EXPECT_EQ(tracker.nextDeadline(), std::nullopt);
  clock.advance(std::chrono::hours(8));
  tracker.remind(clock.now(), clock.wallNow());
  EXPECT_TRUE(tracker.due(clock.now()).empty());
}

// A reminder waits for its incident's FIRING: with repeat_interval shorter than the group
// window the next deadline is the FIRING's, never one already past (the grouping thread
// would spin on it).
TEST_F(IncidentTrackerTest, ReminderNeverComesBeforeTheFiring) {
  IncidentTracker t(TrackerOptions{std::chrono::seconds(30), std::chrono::seconds(10)});
  const MonoTime opened = clock.now();
  t.onEvent(event(EventKind::PathDown, clock.wallNow(), "dx"), clock.now());
  EXPECT_EQ(t.nextDeadline(), opened + std::chrono::seconds(30));
  clock.advance(std::chrono::seconds(20));
  t.remind(clock.now(), clock.wallNow());
  EXPECT_TRUE(t.due(clock.now()).empty());
  EXPECT_EQ(t.nextDeadline(), opened + std::chrono::seconds(30));
  clock.advance(std::chrono::seconds(10));
  t.remind(clock.now(), clock.wallNow());
  auto alerts = t.due(clock.now());
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_FALSE(alerts[0].update);            // the FIRING itself, not a reminder
  EXPECT_LE(t.nextDeadline(), clock.now());  // 10 s after it was opened: remind now
  t.remind(clock.now(), clock.wallNow());
  alerts = t.due(clock.now());
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_TRUE(alerts[0].reminder);
  EXPECT_EQ(t.nextDeadline(), clock.now() + std::chrono::seconds(10));
}

// repeat_interval 0: an open incident is never announced again.
TEST_F(IncidentTrackerTest, ZeroRepeatIntervalNeverReminds) {
  IncidentTracker t(TrackerOptions{std::chrono::seconds(30), Duration::zero()});
  t.onEvent(event(EventKind::PathDown, clock.wallNow(), "dx"), clock.now());
  clock.advance(std::chrono::seconds(30));
  ASSERT_EQ(t.due(clock.now()).size(), 1u);
  EXPECT_EQ(t.nextDeadline(), std::nullopt);
  clock.advance(std::chrono::hours(24 * 30));
  t.remind(clock.now(), clock.wallNow());
  EXPECT_TRUE(t.due(clock.now()).empty());
}

TEST_F(IncidentTrackerTest, FailStaticResolvesWhenLastTableClears) {
  feed(event(EventKind::FailStatic, clock.wallNow(), "", "rtb-1"));
  feed(event(EventKind::FailStatic, clock.wallNow(), "", "rtb-2"));
  clock.advance(std::chrono::seconds(30));
  auto firing = tracker.due(clock.now());
  ASSERT_EQ(firing.size(), 1u);
  EXPECT_EQ(firing[0].route_tables.size(), 2u);
  feed(event(EventKind::FailStaticCleared, clock.wallNow(), "", "rtb-1"));
  clock.advance(std::chrono::seconds(30));
  EXPECT_TRUE(tracker.due(clock.now()).empty());
  feed(event(EventKind::FailStaticCleared, clock.wallNow(), "", "rtb-2"));
  clock.advance(std::chrono::seconds(30));
  auto resolved = tracker.due(clock.now());
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].status, AlertStatus::Resolved);
  EXPECT_EQ(resolved[0].fingerprint, "Beijing/fail_static");
}

TEST_F(IncidentTrackerTest, PathUpWithoutIncidentIsSilent) {
  feed(event(EventKind::PathUp, clock.wallNow(), "dx"));
  clock.advance(std::chrono::minutes(1));
  EXPECT_TRUE(tracker.due(clock.now()).empty());
}

TEST_F(IncidentTrackerTest, AlertEventsAreIgnored) {
  feed(event(EventKind::AlertFailed, clock.wallNow()));
  feed(event(EventKind::AlertSent, clock.wallNow()));
  EXPECT_FALSE(tracker.nextDeadline().has_value());
  EXPECT_TRUE(tracker.flushAll().empty());
}

TEST_F(IncidentTrackerTest, RepeatedDriftSuppressedWithinRepeatInterval) {
  feed(event(EventKind::RouteDrift, clock.wallNow(), "", "rtb-1", "x", "y"));
  clock.advance(std::chrono::seconds(31));
  ASSERT_EQ(tracker.due(clock.now()).size(), 1u);
  feed(event(EventKind::RouteDrift, clock.wallNow(), "", "rtb-1", "x", "y"));
  clock.advance(std::chrono::seconds(31));
  EXPECT_TRUE(tracker.due(clock.now()).empty());
  clock.advance(std::chrono::hours(4));
  feed(event(EventKind::RouteDrift, clock.wallNow(), "", "rtb-1", "x", "y"));
  clock.advance(std::chrono::seconds(31));
  auto alerts = tracker.due(clock.now());
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_TRUE(alerts[0].one_shot);
}

TEST_F(IncidentTrackerTest, ZeroWindowEmitsAtOnce) {
  IncidentTracker now_tracker(TrackerOptions{Duration::zero(), std::chrono::hours(4)});
  auto alerts = now_tracker.onEvent(event(EventKind::PathDown, clock.wallNow(), "dx"), clock.now());
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].opening.kind, EventKind::PathDown);
}

// A recovery that ends inside the grouping window of its "recovering" one-shot: one brief
// RESOLVED message, not a FIRING that is already over.
TEST_F(IncidentTrackerTest, RecoveryEndedWithinWindowIsOneBriefResolvedMessage) {
  auto started = event(EventKind::RecoveryStarted, clock.wallNow(), "vpn-a");
  EXPECT_TRUE(feed(started).empty());
  clock.advance(std::chrono::seconds(2));
  EXPECT_TRUE(feed(event(EventKind::RecoverySucceeded, clock.wallNow(), "vpn-a")).empty());
  clock.advance(std::chrono::seconds(30));
  auto alerts = tracker.due(clock.now());
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].fingerprint, "Beijing/recovery_started/vpn-a");
  EXPECT_EQ(alerts[0].status, AlertStatus::Resolved);
  EXPECT_TRUE(alerts[0].brief);
  ASSERT_TRUE(alerts[0].ended);
  EXPECT_EQ(alerts[0].events.size(), 2u);
  EXPECT_EQ(summarize(alerts[0]), "recovery of vpn-a succeeded after 2s");
  // After the window, a success with nothing pending is its own one-shot, as before.
  feed(event(EventKind::RecoveryStarted, clock.wallNow(), "vpn-b"));
  clock.advance(std::chrono::seconds(31));
  auto firing = tracker.due(clock.now());
  ASSERT_EQ(firing.size(), 1u);
  EXPECT_EQ(firing[0].status, AlertStatus::Firing);
}

// Each AZ's table leaves DX for its own gateway: the alert names both destinations.
TEST_F(IncidentTrackerTest, TablesMovingToDifferentPathsNameThemAll) {
  feed(event(EventKind::PathDown, clock.wallNow(), "dx"));
  feed(event(EventKind::RouteChanged, clock.wallNow(), "vpn-a", "rtb-a", "dx", "vpn-a"));
  feed(event(EventKind::RouteChanged, clock.wallNow(), "vpn-b", "rtb-b", "dx", "vpn-b"));
  feed(event(EventKind::RouteChanged, clock.wallNow(), "vpn-a", "rtb-c", "dx", "vpn-a"));
  clock.advance(std::chrono::seconds(31));
  auto alerts = tracker.due(clock.now());
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].to, "vpn-a, vpn-b");
  EXPECT_EQ(summarize(alerts[0]), "dx down: 3 route tables moved dx → vpn-a, vpn-b");
}

TEST_F(IncidentTrackerTest, FlushAllEmitsHeldAlertsInOrder) {
  feed(event(EventKind::PathDown, clock.wallNow(), "dx"));
  clock.advance(std::chrono::seconds(1));
  feed(event(EventKind::PathDown, clock.wallNow(), "vpn-a"));
  ASSERT_TRUE(tracker.nextDeadline().has_value());
  auto alerts = tracker.flushAll();
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[0].opening.path, "dx");
  EXPECT_EQ(alerts[1].opening.path, "vpn-a");
}

}  // namespace
}  // namespace pathpilot::alert

namespace pathpilot::alert {
namespace {

// The record a leader leaves in etcd for the next one (daemon/ha_setup.h): every field comes
// back, and broken documents are refused naming the field.
TEST(IncidentRecordCodec, RoundTripAndClearErrors) {
  IncidentRecord r;
  r.key = "Beijing/fail_static";
  r.opening = testing::event(journal::EventKind::FailStatic, journal::fromUnixMillis(1700000000123),
                             "", "rtb-1");
  r.opening.message = "no healthy path for rtb-1 \xff";  // invalid UTF-8 is replaced, not thrown
  r.severity = journal::Severity::Critical;
  r.started = journal::fromUnixMillis(1700000000123);
  r.last_announced = journal::fromUnixMillis(1700000100456);
  r.fail_static_tables = {"rtb-1", "rtb-2"};
  r.channels = {"chat", "am"};
  r.summary = "FIRING: fail static";
  auto back = decodeIncidentRecord(encodeIncidentRecord(r));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->key, r.key);
  EXPECT_EQ(back->opening.kind, journal::EventKind::FailStatic);
  EXPECT_EQ(back->opening.route_table, "rtb-1");
  EXPECT_EQ(back->severity, r.severity);
  EXPECT_EQ(back->started, r.started);
  EXPECT_EQ(back->last_announced, r.last_announced);
  EXPECT_EQ(back->fail_static_tables, r.fail_static_tables);
  EXPECT_EQ(back->channels, r.channels);
  EXPECT_EQ(back->summary, r.summary);

  for (auto [text, names] : std::vector<std::pair<std::string, std::string>>{
           {"", "not a JSON object"},
           {"[1]", "not a JSON object"},
           {R"({"version":2,"key":"k"})", "version"},
           {R"({"version":1,"key":""})", "key"},
           {R"({"version":1,"key":"k","opening":"{"})", "opening"},
           {R"({"version":1,"key":"k","opening":7})", "opening"}}) {
    auto bad = decodeIncidentRecord(text);
    ASSERT_FALSE(bad) << text;
    EXPECT_NE(bad.error().message().find(names), std::string::npos)
        << text << ": " << bad.error().message();
  }
  auto doc = nlohmann::json::parse(encodeIncidentRecord(r));
  doc["severity"] = "loud";
  EXPECT_NE(decodeIncidentRecord(doc.dump()).error().message().find("severity"), std::string::npos);
  doc = nlohmann::json::parse(encodeIncidentRecord(r));
  doc["channels"] = {1, 2};
  EXPECT_NE(decodeIncidentRecord(doc.dump()).error().message().find("channels"), std::string::npos);
  doc.erase("channels");
  EXPECT_NE(decodeIncidentRecord(doc.dump()).error().message().find("channels"), std::string::npos);
}

}  // namespace
}  // namespace pathpilot::alert
