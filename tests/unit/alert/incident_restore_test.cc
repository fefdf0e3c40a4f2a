// Open incidents across a daemon restart (issue 8): the manager is dropped without stop()
// (as by kill -9) and rebuilt on the same outbox file; FakeClock and pump(), no threads, no
// sleeps. The FIRING went out before the restart; the RESOLVED must follow after it, once per
// channel the incident fired on, with the same Alertmanager identity (labels, startsAt).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "alert/alert_manager.h"
#include "alert/http_channels.h"
#include "alert_test_util.h"
#include "fakes/fake_clock.h"
#include "http/curl_http_client.h"

namespace pathpilot::alert {
namespace {

using journal::EventKind;
using testing::event;
using testing::FakeChannel;

class IncidentRestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("pp_alert_restore_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    settings_.outbox = (dir_ / "alerts.db").string();
    settings_.group_window = std::chrono::seconds(10);
    settings_.max_age = std::chrono::hours(1);
    for (const char* name : {"chat", "am"}) {
      config::AlertChannelConfig c;
      c.name = name;
      c.kind = std::string(name) == "am" ? config::AlertChannelKind::Alertmanager
                                         : config::AlertChannelKind::Webhook;
      c.rate.per_minute = 600;
      c.rate.burst = 100;
      settings_.channels.push_back(c);
    }
  }
  void TearDown() override {
    manager_.reset();
    std::filesystem::remove_all(dir_);
  }

  // (Re)builds the manager on the same file, as a restarted daemon does. The previous one is
  // destroyed without stop(): nothing of it is flushed, like kill -9.
  void restart() {
    manager_.reset();
    chat_ = nullptr;
    am_ = nullptr;
    auto box = Outbox::open(settings_.outbox);
    ASSERT_TRUE(box) << box.error().message();
    std::vector<std::unique_ptr<Channel>> channels;
    for (const auto& c : settings_.channels) {
      auto ch = std::make_unique<FakeChannel>(c.name, c.kind);
      (c.name == "chat" ? chat_ : am_) = ch.get();
      channels.push_back(std::move(ch));
    }
    manager_ = std::make_unique<AlertManager>(settings_, "Beijing", std::move(channels),
                                              std::move(*box), clock_, nullptr,
                                              [] { return 0.5; });
  }

  void submit(EventKind kind, const std::string& path) {
    manager_->submit(event(kind, clock_.wallNow(), path));
  }

  // Pumps what was submitted, lets the group window close and pumps again: everything
  // submitted so far is grouped, rendered and handed to the channels.
  void flushWindow() {
    manager_->pump();
    clock_.advance(settings_.group_window);
    manager_->pump();
  }

  // dx down, window closes, the FIRING is delivered on both channels.
  Notification fireDx() {
    restart();
    submit(EventKind::PathDown, "dx");
    manager_->submit(
        event(EventKind::RouteChanged, clock_.wallNow(), "vpn-a", "rtb-1", "dx", "vpn-a"));
    flushWindow();
    EXPECT_EQ(chat_->delivered().size(), 1u);
    EXPECT_EQ(am_->delivered().size(), 1u);
    return am_->delivered().at(0);
  }

  // Every delivered notification of `ch` with `status`.
  static std::vector<Notification> with(const FakeChannel& ch, AlertStatus status) {
    std::vector<Notification> out;
    for (const auto& n : ch.delivered()) {
      if (n.status == status) {
        out.push_back(n);
      }
    }
    return out;
  }

  std::filesystem::path dir_;
  config::AlertSettings settings_;
  pathpilot::testing::FakeClock clock_;
  std::unique_ptr<AlertManager> manager_;
  FakeChannel* chat_ = nullptr;
  FakeChannel* am_ = nullptr;
};

TEST_F(IncidentRestoreTest, FiredBeforeRestartResolvedAfterOnEveryChannel) {
  Notification firing = fireDx();
  clock_.advance(std::chrono::minutes(5));
  restart();
  EXPECT_EQ(manager_->openIncidents(), 1u);
  // The first probes after the restart still say down: no second FIRING.
  submit(EventKind::PathDown, "dx");
  clock_.advance(std::chrono::minutes(1));
  manager_->pump();
  EXPECT_TRUE(chat_->delivered().empty());
  EXPECT_TRUE(am_->delivered().empty());

  submit(EventKind::PathUp, "dx");
  flushWindow();
  ASSERT_EQ(with(*chat_, AlertStatus::Resolved).size(), 1u);
  auto resolved = with(*am_, AlertStatus::Resolved);
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].fingerprint, firing.fingerprint);
  EXPECT_EQ(resolved[0].starts_at, firing.starts_at);
  ASSERT_TRUE(resolved[0].ends_at.has_value());
  EXPECT_GT(*resolved[0].ends_at, firing.starts_at);
  EXPECT_NE(resolved[0].title.find("RESOLVED"), std::string::npos) << resolved[0].title;
  EXPECT_EQ(manager_->openIncidents(), 0u);

  // What Alertmanager receives: the same labels and startsAt as the FIRING, and endsAt.
  HttpChannelOptions o;
  o.name = "am";
  o.kind = config::AlertChannelKind::Alertmanager;
  o.url = "http://127.0.0.1:9093";
  auto fire_req = buildHttpRequest(o, firing, clock_.wallNow());
  auto res_req = buildHttpRequest(o, resolved[0], clock_.wallNow());
  ASSERT_TRUE(fire_req && res_req);
  auto f = nlohmann::json::parse(fire_req->body)[0];
  auto r = nlohmann::json::parse(res_req->body)[0];
  EXPECT_EQ(f["labels"], r["labels"]);
  EXPECT_EQ(f["startsAt"], r["startsAt"]);
  EXPECT_EQ(r["endsAt"], formatRfc3339(*resolved[0].ends_at));
}

TEST_F(IncidentRestoreTest, HealthyAtStartResolvesWithinTheGroupWindow) {
  fireDx();
  restart();
  // The restarted daemon's first probes say Up: path_up (unknown → up).
  submit(EventKind::PathUp, "dx");
  manager_->pump();
  clock_.advance(settings_.group_window - std::chrono::milliseconds(1));
  manager_->pump();
  EXPECT_TRUE(am_->delivered().empty());
  clock_.advance(std::chrono::milliseconds(1));
  manager_->pump();
  EXPECT_EQ(with(*am_, AlertStatus::Resolved).size(), 1u);
  EXPECT_EQ(with(*chat_, AlertStatus::Resolved).size(), 1u);
}

TEST_F(IncidentRestoreTest, NoDuplicateResolvedOnASecondRestart) {
  fireDx();
  restart();
  submit(EventKind::PathUp, "dx");
  flushWindow();
  ASSERT_EQ(with(*am_, AlertStatus::Resolved).size(), 1u);
  restart();
  EXPECT_EQ(manager_->openIncidents(), 0u);
  submit(EventKind::PathUp, "dx");
  clock_.advance(std::chrono::minutes(1));
  manager_->pump();
  EXPECT_TRUE(chat_->delivered().empty());
  EXPECT_TRUE(am_->delivered().empty());
}

TEST_F(IncidentRestoreTest, CrashAfterResolvedAcceptedDeliversItOnceAfterRestart) {
  fireDx();
  restart();
  am_->setDown(true);
  chat_->setDown(true);
  submit(EventKind::PathUp, "dx");
  flushWindow();  // RESOLVED accepted into the outbox, not delivered
  EXPECT_EQ(manager_->outboxDepth(), 2u);
  restart();
  EXPECT_EQ(manager_->openIncidents(), 0u);
  submit(EventKind::PathUp, "dx");
  clock_.advance(std::chrono::minutes(1));
  manager_->pump();
  EXPECT_EQ(with(*am_, AlertStatus::Resolved).size(), 1u);
  EXPECT_EQ(with(*chat_, AlertStatus::Resolved).size(), 1u);
  EXPECT_EQ(manager_->outboxDepth(), 0u);
}

TEST_F(IncidentRestoreTest, PathGoneFromConfigIsResolvedWithAClearMessage) {
  Notification firing = fireDx();
  restart();
  manager_->closeIncidentsOutside({"vpn-a", "vpn-b"});
  flushWindow();
  auto resolved = with(*am_, AlertStatus::Resolved);
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].fingerprint, firing.fingerprint);
  EXPECT_EQ(resolved[0].starts_at, firing.starts_at);
  EXPECT_NE(resolved[0].body.find("path dx is no longer in the config"), std::string::npos)
      << resolved[0].body;
  EXPECT_EQ(manager_->openIncidents(), 0u);
  // Closed for good: not restored again.
  restart();
  EXPECT_EQ(manager_->openIncidents(), 0u);
}

// The daemon's path: openAlertManager() with a config that no longer has path dx resolves the
// restored dx incident by itself (the RESOLVED row is in the outbox after the window).
TEST_F(IncidentRestoreTest, OpenAlertManagerClosesIncidentsOfRemovedPaths) {
  fireDx();
  manager_.reset();
  config::Config cfg;
  cfg.site.name = "Beijing";
  config::PathConfig vpn;
  vpn.name = "vpn-a";
  cfg.paths.push_back(vpn);
  // "chat" only, a webhook to a loopback port that is bound (port 0) but not listening: the
  // delivery is refused at once and nothing receives it.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  std::string url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/";
  config::AlertSettings s = settings_;
  s.channels.resize(1);
  s.channels[0].url = config::SecretRef{config::SecretRef::Source::Inline, url};
  cfg.alerts = s;
  auto opened = openAlertManager(cfg, clock_, http::curlClients(), nullptr);
  ASSERT_TRUE(opened) << opened.error().message();
  auto& m = **opened;
  clock_.advance(settings_.group_window);
  m.submit(event(EventKind::DaemonStarted, clock_.wallNow()));
  m.pump();  // the delivery fails (nobody listens): the row stays pending
  auto rows = m.outbox().list(10);
  ASSERT_TRUE(rows);
  bool found = false;
  for (const auto& row : *rows) {
    auto n = parseNotification(row.payload);
    ASSERT_TRUE(n);
    if (n->status == AlertStatus::Resolved && n->fingerprint == "Beijing/path/dx") {
      found = true;
      EXPECT_NE(n->body.find("path dx is no longer in the config"), std::string::npos) << n->body;
    }
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(m.openIncidents(), 0u);
  ::close(fd);
}

TEST_F(IncidentRestoreTest, ResolvedReachesTheChannelItFiredOnAfterRoutesChanged) {
  // Before the restart only "am" gets the alerts; after it, the routes name only "chat".
  // Alertmanager must still get its endsAt, or it keeps the alert active.
  config::AlertRoute route;
  route.channels = {"am"};
  settings_.routes = {route};
  restart();
  submit(EventKind::PathDown, "dx");
  flushWindow();
  ASSERT_EQ(am_->delivered().size(), 1u);
  ASSERT_TRUE(chat_->delivered().empty());
  settings_.routes[0].channels = {"chat"};
  restart();
  submit(EventKind::PathUp, "dx");
  flushWindow();
  EXPECT_EQ(with(*am_, AlertStatus::Resolved).size(), 1u);
  // The routes in force apply as to any alert (as after a reload).
  EXPECT_EQ(with(*chat_, AlertStatus::Resolved).size(), 1u);
}

TEST_F(IncidentRestoreTest, ResolvedFalseRouteStillOptsOut) {
  config::AlertRoute route;
  route.channels = {"am", "chat"};
  settings_.routes = {route};
  restart();
  submit(EventKind::PathDown, "dx");
  flushWindow();
  ASSERT_EQ(chat_->delivered().size(), 1u);
  config::AlertRoute am_only;
  am_only.channels = {"am"};
  settings_.routes[0].channels = {"chat"};
  settings_.routes[0].resolved = false;
  settings_.routes.push_back(am_only);
  restart();
  submit(EventKind::PathUp, "dx");
  flushWindow();
  EXPECT_EQ(with(*am_, AlertStatus::Resolved).size(), 1u);
  EXPECT_TRUE(chat_->delivered().empty());
}

TEST_F(IncidentRestoreTest, RestoredFailStaticNotSeenAgainIsResolved) {
  restart();
  manager_->submit(event(EventKind::FailStatic, clock_.wallNow(), "", "rtb-1"));
  flushWindow();
  ASSERT_EQ(am_->delivered().size(), 1u);
  restart();
  // Nothing says fail static again: after restore_confirm (2 min) and the window, resolved.
  clock_.advance(std::chrono::minutes(2) - std::chrono::seconds(1));
  manager_->pump();
  EXPECT_TRUE(am_->delivered().empty());
  clock_.advance(std::chrono::seconds(1));
  flushWindow();
  auto resolved = with(*am_, AlertStatus::Resolved);
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_NE(resolved[0].body.find("not seen again"), std::string::npos) << resolved[0].body;
}

TEST_F(IncidentRestoreTest, RestoredFailStaticConfirmedStaysOpen) {
  restart();
  manager_->submit(event(EventKind::FailStatic, clock_.wallNow(), "", "rtb-1"));
  flushWindow();
  restart();
  manager_->submit(event(EventKind::FailStatic, clock_.wallNow(), "", "rtb-1"));
  clock_.advance(std::chrono::minutes(10));
  manager_->pump();
  EXPECT_TRUE(am_->delivered().empty());
  EXPECT_EQ(manager_->openIncidents(), 1u);
  manager_->submit(event(EventKind::FailStaticCleared, clock_.wallNow(), "", "rtb-1"));
  flushWindow();
  EXPECT_EQ(with(*am_, AlertStatus::Resolved).size(), 1u);
}

TEST_F(IncidentRestoreTest, RestoredRecoveryIncidentResolvesWhenItsPathIsUp) {
  restart();
  submit(EventKind::RecoveryFailed, "vpn-a");
  flushWindow();
  ASSERT_EQ(am_->delivered().size(), 1u);
  restart();
  submit(EventKind::PathUp, "vpn-a");
  flushWindow();
  auto resolved = with(*am_, AlertStatus::Resolved);
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].fingerprint, "Beijing/recovery/vpn-a");
}

// The pure part: record() → restore() into a new tracker keeps identity and reminder rhythm.
TEST(IncidentTrackerRestoreTest, RecordRestoreKeepsIdentityAndReminderRhythm) {
  TrackerOptions o;
  o.group_window = std::chrono::seconds(10);
  o.repeat_interval = std::chrono::hours(4);
  pathpilot::testing::FakeClock clock;
  IncidentTracker before(o);
  auto down = event(EventKind::PathDown, clock.wallNow(), "dx");
  before.onEvent(down, clock.now());
  clock.advance(std::chrono::seconds(10));
  ASSERT_EQ(before.due(clock.now()).size(), 1u);
  clock.advance(std::chrono::hours(1));
  auto rec = before.record("Beijing/path/dx", clock.now(), clock.wallNow());
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->started, down.time);
  EXPECT_EQ(rec->last_announced, down.time);
  EXPECT_FALSE(before.record("Beijing/path/vpn-a", clock.now(), clock.wallNow()));

  // A new process: another monotonic epoch.
  clock.advance(std::chrono::minutes(30));
  IncidentTracker after(o);
  after.restore(*rec, clock.now(), clock.wallNow());
  after.restore(*rec, clock.now(), clock.wallNow());  // twice: still one incident
  EXPECT_EQ(after.openIncidents(), 1u);
  EXPECT_EQ(after.openKeys(), std::vector<std::string>{"Beijing/path/dx"});
  // Still down: suppressed until the reminder, 4 h after the FIRING (2.5 h from now).
  after.onEvent(event(EventKind::PathDown, clock.wallNow(), "dx"), clock.now());
  clock.advance(std::chrono::minutes(149));
  EXPECT_TRUE(after.due(clock.now()).empty());
  clock.advance(std::chrono::minutes(1));
  after.onEvent(event(EventKind::PathDown, clock.wallNow(), "dx"), clock.now());
  clock.advance(std::chrono::seconds(10));
  auto reminder = after.due(clock.now());
  ASSERT_EQ(reminder.size(), 1u);
  EXPECT_TRUE(reminder[0].update);
  EXPECT_EQ(reminder[0].started, down.time);
  after.onEvent(event(EventKind::PathUp, clock.wallNow(), "dx"), clock.now());
  clock.advance(std::chrono::seconds(10));
  auto resolved = after.due(clock.now());
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0].status, AlertStatus::Resolved);
  EXPECT_EQ(resolved[0].fingerprint, "Beijing/path/dx");
  EXPECT_EQ(resolved[0].started, down.time);
  EXPECT_EQ(resolved[0].opening.link, journal::Link::Dx);
  EXPECT_EQ(after.openIncidents(), 0u);
}

// A daemon down for longer than repeat_interval: the reminder that fell due meanwhile waits
// for the restarted daemon's first verdicts (restore_confirm), so a path that healed gets its
// RESOLVED and no "still open" before it; one still down is reminded of then.
TEST(IncidentTrackerRestoreTest, OverdueReminderWaitsForTheFirstVerdicts) {
  TrackerOptions o;
  o.group_window = std::chrono::seconds(10);
  o.repeat_interval = std::chrono::hours(4);
  pathpilot::testing::FakeClock clock;
  IncidentTracker before(o);
  before.onEvent(event(EventKind::PathDown, clock.wallNow(), "dx"), clock.now());
  clock.advance(std::chrono::seconds(10));
  ASSERT_EQ(before.due(clock.now()).size(), 1u);
  auto rec = before.record("Beijing/path/dx", clock.now(), clock.wallNow());
  ASSERT_TRUE(rec);
  clock.advance(std::chrono::hours(6));  // the daemon was down
  for (bool heals : {true, false}) {
    SCOPED_TRACE(heals);
    pathpilot::testing::FakeClock c;  // the restarted process, as far as `clock` came
    c.advance(clock.now() - c.now());
    IncidentTracker after(o);
    after.restore(*rec, c.now(), c.wallNow());
    EXPECT_EQ(after.nextDeadline(), c.now() + o.restore_confirm);
    after.remind(c.now(), c.wallNow());
    EXPECT_TRUE(after.due(c.now()).empty());
    c.advance(std::chrono::seconds(5));
    if (heals) {
      after.onEvent(event(EventKind::PathUp, c.wallNow(), "dx"), c.now());
      c.advance(o.restore_confirm);
      after.remind(c.now(), c.wallNow());
      auto alerts = after.due(c.now());
      ASSERT_EQ(alerts.size(), 1u);
      EXPECT_EQ(alerts[0].status, AlertStatus::Resolved);
    } else {
      c.advance(o.restore_confirm);
      after.remind(c.now(), c.wallNow());
      auto alerts = after.due(c.now());
      ASSERT_EQ(alerts.size(), 1u);
      EXPECT_TRUE(alerts[0].reminder);
    }
  }
}

// Schema: a version 1 file (outbox only, as written before incidents were kept) is migrated in
// place with its rows; a file of a newer schema is refused with a message naming the file.
TEST(OutboxSchemaTest, MigratesVersionOneAndRefusesNewer) {
  auto dir = std::filesystem::temp_directory_path() /
             ("pp_alert_schema_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string file = (dir / "alerts.db").string();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
    const char* v1 =
        "CREATE TABLE outbox(id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL,"
        " fingerprint TEXT NOT NULL, created_ms INTEGER NOT NULL, next_ms INTEGER NOT NULL,"
        " attempts INTEGER NOT NULL DEFAULT 0, state INTEGER NOT NULL DEFAULT 0,"
        " payload TEXT NOT NULL, last_error TEXT NOT NULL DEFAULT '', done_ms INTEGER);"
        "INSERT INTO outbox(channel, fingerprint, created_ms, next_ms, payload)"
        " VALUES('chat', 'Beijing/path/dx', 0, 0, '{}');"
        "PRAGMA user_version=1;";
    ASSERT_EQ(sqlite3_exec(db, v1, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  {
    auto box = Outbox::open(file);
    ASSERT_TRUE(box) << box.error().message();
    EXPECT_EQ((*box)->pending(), 1u);
    auto incidents = (*box)->incidents(nullptr);
    ASSERT_TRUE(incidents) << incidents.error().message();
    EXPECT_TRUE(incidents->empty());
  }
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=9", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  auto newer = Outbox::open(file);
  ASSERT_FALSE(newer);
  EXPECT_NE(newer.error().message().find(file), std::string::npos) << newer.error().message();
  EXPECT_NE(newer.error().message().find("schema version 9"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pathpilot::alert
