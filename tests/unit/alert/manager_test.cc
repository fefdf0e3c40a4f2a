// AlertManager driven by pump() with a FakeClock: outbox, order, backoff, rate limit,
// restart — deterministic, no threads, no sleeps.
#include "alert/alert_manager.h"

#include <gtest/gtest.h>

#include <fcntl.h>

#include <sys/stat.h>
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <future>

#include "alert_test_util.h"
#include "config/loader.h"
#include "fakes/fake_clock.h"
#include "http/curl_http_client.h"

namespace pathpilot::alert {
namespace {

using journal::EventKind;
using testing::event;
using testing::FakeChannel;

class AlertManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("pp_alert_mgr_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    settings_.outbox = (dir_ / "alerts.db").string();
    settings_.group_window = std::chrono::seconds(10);
    settings_.retry_initial = std::chrono::seconds(2);
    settings_.retry_max = std::chrono::seconds(60);
    settings_.max_age = std::chrono::hours(1);
    config::AlertChannelConfig c;
    c.name = "chat";
    c.rate.per_minute = 60;
    c.rate.burst = 100;
    settings_.channels.push_back(c);
  }
  void TearDown() override {
    manager_.reset();
    std::filesystem::remove_all(dir_);
  }

  // (Re)opens the manager on the same outbox file, as after a daemon restart.
  FakeChannel& open() {
    manager_.reset();
    auto box = Outbox::open(settings_.outbox);
    EXPECT_TRUE(box) << box.error().message();
    auto ch = std::make_unique<FakeChannel>("chat");
    FakeChannel& ref = *ch;
    std::vector<std::unique_ptr<Channel>> channels;
    channels.push_back(std::move(ch));
    manager_ = std::make_unique<AlertManager>(
        settings_, "Beijing", std::move(channels), std::move(*box), clock_,
        [this](journal::Event e) { emitted_.push_back(std::move(e)); }, [] { return 0.5; });
    return ref;
  }

  // Submits path_down + route_changed for `path`; with `pump`, processes them at once (as the
  // grouping thread would).
  void incident(const std::string& path, bool pump = true) {
    manager_->submit(event(EventKind::PathDown, clock_.wallNow(), path));
    manager_->submit(event(EventKind::RouteChanged, clock_.wallNow(), "vpn-a", "rtb-1", path,
                           "vpn-a"));
    if (pump) {
      manager_->pump();
    }
  }

  std::filesystem::path dir_;
  config::AlertSettings settings_;
  pathpilot::testing::FakeClock clock_;
  std::unique_ptr<AlertManager> manager_;
  std::vector<journal::Event> emitted_;
};

TEST_F(AlertManagerTest, GroupsThenDeliversOnceAndReportsAlertSent) {
  FakeChannel& ch = open();
  incident("dx");
  EXPECT_EQ(manager_->pump(), 0u);  // still inside the grouping window
  clock_.advance(std::chrono::seconds(10));
  EXPECT_EQ(manager_->pump(), 1u);
  ASSERT_EQ(ch.delivered().size(), 1u);
  EXPECT_EQ(ch.delivered()[0].route_tables, std::vector<std::string>{"rtb-1"});
  EXPECT_EQ(manager_->outboxDepth(), 0u);
  ASSERT_EQ(emitted_.size(), 1u);
  EXPECT_EQ(emitted_[0].kind, EventKind::AlertSent);
  EXPECT_EQ(emitted_[0].to, "chat");
  EXPECT_EQ(emitted_[0].site, "Beijing");
  // Feeding our own alert_sent back changes nothing.
  manager_->submit(emitted_[0]);
  clock_.advance(std::chrono::minutes(1));
  EXPECT_EQ(manager_->pump(), 0u);
}

TEST_F(AlertManagerTest, OutageThenRecoveryDeliversEverythingOnceInOrder) {
  settings_.group_window = Duration::zero();
  FakeChannel& ch = open();
  ch.setDown(true);
  for (const char* path : {"dx", "vpn-a", "vpn-b"}) {
    incident(path);
    clock_.advance(std::chrono::seconds(10));
    manager_->pump();
  }
  EXPECT_EQ(manager_->outboxDepth(), 3u);
  // Only the head is tried while the channel is down: later messages never overtake it.
  std::size_t attempts_during_outage = ch.attempts();
  for (int i = 0; i < 6; ++i) {
    clock_.advance(std::chrono::seconds(61));
    manager_->pump();
  }
  EXPECT_GT(ch.attempts(), attempts_during_outage);
  auto rows = manager_->outbox().list(10);
  ASSERT_TRUE(rows);
  ch.setDown(false);
  clock_.advance(std::chrono::seconds(61));
  manager_->pump();
  auto got = ch.delivered();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].path, "dx");
  EXPECT_EQ(got[1].path, "vpn-a");
  EXPECT_EQ(got[2].path, "vpn-b");
  EXPECT_EQ(manager_->outboxDepth(), 0u);
  EXPECT_EQ(manager_->stats().channels[0].sent, 3u);
}

// alerts.repeat_interval from YAML to behaviour: a path that stays down is announced again
// every repeat_interval by the manager's own timer (pump() here, the grouping thread's wait in
// the daemon), with no new event, and the reminders stop with the RESOLVED.
TEST_F(AlertManagerTest, RepeatIntervalRemindsOfAPathThatStaysDown) {
  auto loaded = config::loadString(R"(
site: {name: Beijing}
paths:
  - {name: dx, kind: dx, probe: {targets: [10.10.3.100], source: 10.0.1.10},
     next_hop: {via: 10.0.1.1}}
route_tables:
  - {id: "101", backend: linux, table: 101, destinations: [10.10.0.0/16]}
journal: {sqlite: "", jsonl: ""}
alerts:
  group_window: 10s
  repeat_interval: 1h
  channels: [{name: chat, kind: webhook, url: "http://127.0.0.1:9/hook"}]
)",
                                   "repeat.yaml");
  ASSERT_TRUE(loaded) << loaded.error().message();
  ASSERT_TRUE(loaded->alerts);
  settings_ = *loaded->alerts;
  settings_.outbox = (dir_ / "alerts.db").string();
  FakeChannel& ch = open();
  const WallTime opened = clock_.wallNow();
  manager_->submit(event(EventKind::PathDown, clock_.wallNow(), "dx"));
  manager_->pump();
  clock_.advance(std::chrono::seconds(10));
  manager_->pump();
  ASSERT_EQ(ch.delivered().size(), 1u);
  EXPECT_EQ(ch.delivered()[0].status, AlertStatus::Firing);
  clock_.advance(std::chrono::minutes(59));
  manager_->pump();
  EXPECT_EQ(ch.delivered().size(), 1u);
  for (int hours = 1; hours <= 2; ++hours) {
    clock_.advance(opened + std::chrono::hours(hours) - clock_.wallNow());
    manager_->pump();
    ASSERT_EQ(ch.delivered().size(), 1u + static_cast<std::size_t>(hours));
    const Notification n = ch.delivered().back();  // delivered() is a copy
    EXPECT_EQ(n.status, AlertStatus::Firing);
    EXPECT_EQ(n.fingerprint, "Beijing/path/dx");
    EXPECT_EQ(n.starts_at, opened);
    EXPECT_NE(n.title.find("dx down (still open after " + std::to_string(hours) + "h)"),
              std::string::npos)
        << n.title;
  }
  manager_->submit(event(EventKind::PathUp, clock_.wallNow(), "dx"));
  manager_->pump();
  clock_.advance(std::chrono::seconds(10));
  manager_->pump();
  ASSERT_EQ(ch.delivered().size(), 4u);
  EXPECT_EQ(ch.delivered().back().status, AlertStatus::Resolved);
  clock_.advance(std::chrono::hours(5));
  manager_->pump();
  EXPECT_EQ(ch.delivered().size(), 4u);
  EXPECT_EQ(manager_->openIncidents(), 0u);
}

TEST_F(AlertManagerTest, BackoffDoublesAndHonoursRetryAfter) {
  FakeChannel& ch = open();
  ch.script(deliveryFailed(Error(ErrorCode::Unavailable, "HTTP 500")));
  ch.script(deliveryFailed(Error(ErrorCode::Unavailable, "HTTP 500")));
  ch.script(deliveryFailed(Error(ErrorCode::Throttled, "HTTP 429"), std::chrono::seconds(30)));
  incident("dx");
  clock_.advance(std::chrono::seconds(10));
  EXPECT_EQ(manager_->pump(), 1u);  // fails: retry in 2 s
  clock_.advance(std::chrono::milliseconds(1999));
  EXPECT_EQ(manager_->pump(), 0u);
  clock_.advance(std::chrono::milliseconds(1));
  EXPECT_EQ(manager_->pump(), 1u);  // fails again: retry in 4 s
  clock_.advance(std::chrono::milliseconds(3999));
  EXPECT_EQ(manager_->pump(), 0u);
  clock_.advance(std::chrono::milliseconds(1));
  EXPECT_EQ(manager_->pump(), 1u);  // 429 Retry-After 30 s (> the 8 s backoff)
  clock_.advance(std::chrono::seconds(29));
  EXPECT_EQ(manager_->pump(), 0u);
  clock_.advance(std::chrono::seconds(1));
  EXPECT_EQ(manager_->pump(), 1u);
  EXPECT_EQ(ch.delivered().size(), 1u);
  auto rows = manager_->outbox().list(1);
  ASSERT_TRUE(rows);
  EXPECT_EQ(rows->at(0).attempts, 4);
  EXPECT_EQ(rows->at(0).state, RowState::Sent);
  ASSERT_EQ(emitted_.size(), 1u);
  EXPECT_NE(emitted_[0].message.find("attempt 4"), std::string::npos);
}

// A wall clock stepped back an hour (NTP, a bad RTC) while a retry waits does not hold the
// alert back for that hour: the retry waits on the monotonic clock. Stepped forward, it does
// not come early either.
TEST_F(AlertManagerTest, RetriesWaitOnTheMonotonicClock) {
  FakeChannel& ch = open();
  ch.script(deliveryFailed(Error(ErrorCode::Unavailable, "HTTP 500")));
  ch.script(deliveryFailed(Error(ErrorCode::Unavailable, "HTTP 500")));
  incident("dx");
  clock_.advance(std::chrono::seconds(10));
  EXPECT_EQ(manager_->pump(), 1u);  // fails: retry in 2 s
  clock_.stepWall(-std::chrono::hours(1));
  clock_.advance(std::chrono::milliseconds(1999));
  EXPECT_EQ(manager_->pump(), 0u);
  clock_.advance(std::chrono::milliseconds(1));
  EXPECT_EQ(manager_->pump(), 1u) << "due 2 s later on the monotonic clock";
  // Fails again: retry in 4 s. A wall step forward does not make it due.
  clock_.stepWall(std::chrono::hours(2));
  EXPECT_EQ(manager_->pump(), 0u);
  clock_.advance(std::chrono::seconds(4));
  EXPECT_EQ(manager_->pump(), 1u);
  EXPECT_EQ(ch.delivered().size(), 1u);
}

TEST_F(AlertManagerTest, PermanentErrorGivesUpWithAlertFailedAndUnblocksChannel) {
  settings_.group_window = Duration::zero();
  FakeChannel& ch = open();
  ch.script(deliveryFailed(Error(ErrorCode::PermissionDenied, "errcode 310000 sign not match")));
  incident("dx");
  clock_.advance(std::chrono::seconds(10));
  incident("vpn-a");
  clock_.advance(std::chrono::seconds(10));
  manager_->pump();
  ASSERT_EQ(ch.delivered().size(), 1u);
  EXPECT_EQ(ch.delivered()[0].path, "vpn-a");
  ASSERT_EQ(emitted_.size(), 2u);
  EXPECT_EQ(emitted_[0].kind, EventKind::AlertFailed);
  EXPECT_NE(emitted_[0].reason.find("310000"), std::string::npos);
  EXPECT_EQ(emitted_[1].kind, EventKind::AlertSent);
}

TEST_F(AlertManagerTest, RetriesStopAfterMaxAge) {
  FakeChannel& ch = open();
  ch.setDown(true);
  incident("dx");
  clock_.advance(std::chrono::seconds(10));
  for (int i = 0; i < 80; ++i) {
    manager_->pump();
    clock_.advance(std::chrono::seconds(61));
  }
  EXPECT_EQ(manager_->outboxDepth(), 0u);
  ASSERT_FALSE(emitted_.empty());
  EXPECT_EQ(emitted_.back().kind, EventKind::AlertFailed);
  EXPECT_EQ(manager_->stats().channels[0].failed, 1u);
}

TEST_F(AlertManagerTest, RateLimitDelaysButNeverDrops) {
  settings_.channels[0].rate.per_minute = 6;  // one per 10 s
  settings_.channels[0].rate.burst = 2;
  settings_.group_window = Duration::zero();
  FakeChannel& ch = open();
  for (const char* path : {"p1", "p2", "p3", "p4"}) {
    incident(path);
  }
  manager_->pump();
  EXPECT_EQ(ch.delivered().size(), 2u);
  clock_.advance(std::chrono::seconds(10));
  manager_->pump();
  EXPECT_EQ(ch.delivered().size(), 3u);
  clock_.advance(std::chrono::seconds(10));
  manager_->pump();
  ASSERT_EQ(ch.delivered().size(), 4u);
  EXPECT_EQ(ch.delivered()[3].path, "p4");
  EXPECT_GT(manager_->stats().channels[0].rate_limited, 0u);
}

TEST_F(AlertManagerTest, RestartKeepsPendingRowsAndDeliversThemInOrder) {
  settings_.group_window = Duration::zero();
  {
    FakeChannel& ch = open();
    ch.setDown(true);
    incident("dx");
    incident("vpn-a");
    manager_->pump();
    EXPECT_EQ(manager_->outboxDepth(), 2u);
  }
  FakeChannel& again = open();  // the daemon restarts; the outbox file is reopened
  EXPECT_EQ(manager_->outboxDepth(), 2u);
  clock_.advance(std::chrono::minutes(5));
  manager_->pump();
  auto got = again.delivered();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].path, "dx");
  EXPECT_EQ(got[1].path, "vpn-a");
}

TEST_F(AlertManagerTest, ThreadedStopFlushesHeldGroupsIntoOutbox) {
  settings_.group_window = std::chrono::minutes(5);
  FakeChannel& ch = open();
  ch.setDown(true);
  manager_->start();
  incident("dx", /*pump=*/false);
  manager_->stop(Duration::zero());
  // The alert was still in its grouping window: it is in the outbox, not lost.
  EXPECT_EQ(manager_->outboxDepth(), 1u);
}

// SIGHUP: new channels and routes on the same outbox. The row pending for "chat" goes to the
// new "chat" exactly once; the open incident is remembered, so its RESOLVED follows.
TEST_F(AlertManagerTest, ReconfigureKeepsPendingRowsAndOpenIncidents) {
  settings_.group_window = Duration::zero();
  FakeChannel& old_chat = open();
  old_chat.setDown(true);
  incident("dx");
  EXPECT_EQ(manager_->outboxDepth(), 1u);
  EXPECT_EQ(manager_->stats().channels[0].retries, 1u);
  EXPECT_TRUE(old_chat.delivered().empty());  // (the manager destroys old_chat on reconfigure)

  config::AlertSettings next = settings_;
  config::AlertChannelConfig pager;
  pager.name = "pager";
  next.channels.push_back(pager);
  config::AlertRoute both;
  both.channels = {"chat", "pager"};
  next.routes.push_back(both);
  auto chat = std::make_unique<FakeChannel>("chat");
  auto page = std::make_unique<FakeChannel>("pager");
  FakeChannel& new_chat = *chat;
  FakeChannel& new_pager = *page;
  std::vector<std::unique_ptr<Channel>> channels;
  channels.push_back(std::move(chat));
  channels.push_back(std::move(page));
  manager_->reconfigure(next, std::move(channels));
  EXPECT_EQ(manager_->settings().channels.size(), 2u);
  EXPECT_EQ(manager_->outboxDepth(), 1u);  // nothing lost, nothing sent yet

  clock_.advance(std::chrono::seconds(5));
  manager_->pump();
  ASSERT_EQ(new_chat.delivered().size(), 1u);
  EXPECT_EQ(new_chat.delivered()[0].status, AlertStatus::Firing);
  EXPECT_TRUE(new_pager.delivered().empty());  // the FIRING was routed before the reload

  manager_->submit(event(EventKind::PathUp, clock_.wallNow(), "dx"));
  manager_->pump();
  ASSERT_EQ(new_chat.delivered().size(), 2u);
  EXPECT_EQ(new_chat.delivered()[1].status, AlertStatus::Resolved);
  ASSERT_EQ(new_pager.delivered().size(), 1u);  // the new route applies to new alerts
  EXPECT_EQ(new_pager.delivered()[0].status, AlertStatus::Resolved);
  EXPECT_EQ(manager_->outboxDepth(), 0u);
  // Counters of a channel kept by name carry over (the metrics stay monotonic).
  auto stats = manager_->stats();
  ASSERT_EQ(stats.channels.size(), 2u);
  EXPECT_EQ(stats.channels[0].name, "chat");
  EXPECT_EQ(stats.channels[0].retries, 1u);
  EXPECT_EQ(stats.channels[0].sent, 2u);
}

// With threads running, reconfigure() returns at once and keeps a group inside its window held
// (a shutdown would flush it): the new routes send it when its window closes.
TEST_F(AlertManagerTest, ThreadedReconfigureKeepsHeldGroups) {
  settings_.group_window = std::chrono::minutes(5);
  FakeChannel& ch = open();
  ch.setDown(true);
  manager_->start();
  incident("dx", /*pump=*/false);
  auto down = std::make_unique<FakeChannel>("chat");
  down->setDown(true);  // so that the flushed alert stays in the outbox, where we count it
  std::vector<std::unique_ptr<Channel>> channels;
  channels.push_back(std::move(down));
  manager_->reconfigure(settings_, std::move(channels));
  manager_->waitReconfigured();
  EXPECT_EQ(manager_->outboxDepth(), 0u);  // still held, not flushed by the reload
  manager_->stop(Duration::zero());
  EXPECT_EQ(manager_->outboxDepth(), 1u);  // the shutdown flushes it: not lost
}

// The reload's two steps: prepare() fails without touching anything; apply() reconfigures on
// the same outbox, replaces the manager when the outbox moves, and removes it when alerts go.
TEST_F(AlertManagerTest, AlertReloadPreparesThenAppliesEachCase) {
  settings_.group_window = Duration::zero();
  FakeChannel& ch = open();
  ch.setDown(true);
  incident("dx");
  ASSERT_EQ(manager_->outboxDepth(), 1u);
  auto no_env = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
  config::Config next;
  next.site.name = "Beijing";
  next.alerts = settings_;
  next.alerts->channels[0].url =
      config::SecretRef{config::SecretRef::Source::Inline, "http://127.0.0.1:9/hook"};

  // A secret that cannot be read: an error naming the channel and the reference; the running
  // manager is untouched.
  config::Config broken = next;
  broken.alerts->channels[0].url = config::SecretRef{config::SecretRef::Source::Env, "PP_NOPE"};
  auto bad =
      AlertReload::prepare(broken, manager_.get(), clock_, http::curlClients(), nullptr, no_env);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("alerts channel chat"), std::string::npos)
      << bad.error().message();
  EXPECT_NE(bad.error().message().find("env:PP_NOPE"), std::string::npos);
  EXPECT_EQ(manager_->outboxDepth(), 1u);

  // Same outbox: reconfigured in place, the pending row kept.
  AlertManager* before = manager_.get();
  auto same =
      AlertReload::prepare(next, manager_.get(), clock_, http::curlClients(), nullptr, no_env);
  ASSERT_TRUE(same) << same.error().message();
  EXPECT_NE(same->summary().find("outbox kept (1 pending)"), std::string::npos)
      << same->summary();
  same->apply(manager_);
  EXPECT_EQ(manager_.get(), before);
  EXPECT_EQ(manager_->outboxDepth(), 1u);

  // The outbox moves: a new manager on the new file (started), the old file keeps its row.
  config::Config moved = next;
  moved.alerts->outbox = (dir_ / "moved.db").string();
  auto replace =
      AlertReload::prepare(moved, manager_.get(), clock_, http::curlClients(), nullptr, no_env);
  ASSERT_TRUE(replace) << replace.error().message();
  replace->apply(manager_);
  EXPECT_NE(manager_.get(), before);
  EXPECT_EQ(manager_->outboxPath(), moved.alerts->outbox);
  EXPECT_EQ(manager_->outboxDepth(), 0u);
  auto old_box = Outbox::open(settings_.outbox);
  ASSERT_TRUE(old_box);
  EXPECT_EQ((*old_box)->pending(), 1u);

  // Alerts removed: the manager goes.
  config::Config off = next;
  off.alerts.reset();
  auto remove =
      AlertReload::prepare(off, manager_.get(), clock_, http::curlClients(), nullptr, no_env);
  ASSERT_TRUE(remove);
  remove->apply(manager_);
  EXPECT_EQ(manager_, nullptr);
}

// A secret file that turned into a FIFO after `pathpilot check` (or a group-readable one)
// rejects the reload at once: the channel is never built, and nothing blocks waiting for a
// writer. The call is guarded: if it hangs, the FIFO gets a writer and the test fails.
TEST_F(AlertManagerTest, ReloadWithAFifoOrGroupReadableSecretFileFailsWithoutBlocking) {
  open();
  auto no_env = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
  std::string fifo = (dir_ / "token.fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  config::Config next;
  next.site.name = "Beijing";
  next.alerts = settings_;
  config::AlertChannelConfig& c = next.alerts->channels[0];
  c.kind = config::AlertChannelKind::Webhook;
  c.url = config::SecretRef{config::SecretRef::Source::Inline, "http://127.0.0.1:9/hook"};
  c.token = config::SecretRef{config::SecretRef::Source::File, fifo};
  auto future = std::async(std::launch::async, [&] {
    return AlertReload::prepare(next, manager_.get(), clock_, http::curlClients(), nullptr, no_env);
  });
  if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    ADD_FAILURE() << "the reload blocked on the FIFO";
    int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    ::close(fd);
  }
  auto bad = future.get();
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("alerts channel chat"), std::string::npos);
  EXPECT_NE(bad.error().message().find("secret file:" + fifo + " is a FIFO, not a regular file"),
            std::string::npos)
      << bad.error().message();

  std::string readable = (dir_ / "token").string();
  std::ofstream(readable) << "hook-bearer-token-77\n";
  ::chmod(readable.c_str(), 0640);
  c.token = config::SecretRef{config::SecretRef::Source::File, readable};
  auto group =
      AlertReload::prepare(next, manager_.get(), clock_, http::curlClients(), nullptr, no_env);
  ASSERT_FALSE(group);
  EXPECT_EQ(group.error().code(), ErrorCode::PermissionDenied);
  EXPECT_NE(group.error().message().find("run chmod 600 " + readable), std::string::npos);
  EXPECT_EQ(group.error().message().find("hook-bearer-token-77"), std::string::npos);
  ::chmod(readable.c_str(), 0600);
  EXPECT_TRUE(
      AlertReload::prepare(next, manager_.get(), clock_, http::curlClients(), nullptr, no_env));
}

// A bearer token over http:// to another host, when the URL comes from env or file (the config
// check cannot see it): refused when the channel is built.
TEST(MakeChannelTest, CleartextCredentialFromAnEnvUrlIsRefused) {
  pathpilot::testing::FakeClock clock;
  config::AlertChannelConfig c;
  c.name = "am";
  c.kind = config::AlertChannelKind::Alertmanager;
  c.url = config::SecretRef{config::SecretRef::Source::Env, "PP_AM_URL"};
  c.token = config::SecretRef{config::SecretRef::Source::Inline, "am-bearer-token-99"};
  auto env = [](std::string_view name) -> std::optional<std::string> {
    if (name == "PP_AM_URL") {
      return std::string("http://am.corp.example:9093");
    }
    return std::nullopt;
  };
  auto ch = makeChannel(c, clock, http::curlClients(), env);
  ASSERT_FALSE(ch);
  EXPECT_NE(ch.error().message().find("alerts channel am: token: the bearer token would cross "
                                      "the network in clear text (http:// to am.corp.example)"),
            std::string::npos)
      << ch.error().message();
  config::AlertChannelConfig mail;
  mail.name = "mail";
  mail.kind = config::AlertChannelKind::Smtp;
  mail.url = config::SecretRef{config::SecretRef::Source::Env, "PP_SMTP_URL"};
  mail.username = "pathpilot";
  mail.password = config::SecretRef{config::SecretRef::Source::Inline, "smtp-Passw0rd"};
  mail.from = "pathpilot@example.com";
  mail.to = {"noc@example.com"};
  auto smtp_env = [](std::string_view name) -> std::optional<std::string> {
    if (name == "PP_SMTP_URL") {
      return std::string("smtp://127.0.0.1:2525");
    }
    return std::nullopt;
  };
  auto m = makeChannel(mail, clock, http::curlClients(), smtp_env);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message().find("password: the SMTP password would be sent without TLS"),
            std::string::npos);
  mail.starttls = true;
  EXPECT_TRUE(makeChannel(mail, clock, http::curlClients(), smtp_env));
}

TEST(OutboxTest, HeadIsOldestPendingPerChannel) {
  auto box = Outbox::open(":memory:");
  ASSERT_TRUE(box);
  WallTime t{std::chrono::hours(500000)};
  Notification a;
  a.channel = "x";
  a.title = "first";
  Notification b = a;
  b.title = "second";
  Notification c = a;
  c.channel = "y";
  auto ida = (*box)->enqueue(a, t);
  auto idb = (*box)->enqueue(b, t);
  ASSERT_TRUE((*box)->enqueue(c, t));
  ASSERT_TRUE(ida && idb);
  EXPECT_EQ((*box)->pending(), 3u);
  auto head = (*box)->head("x");
  ASSERT_TRUE(head && *head);
  EXPECT_EQ((*head)->id, *ida);
  ASSERT_TRUE((*box)->markSent(*ida, t));
  head = (*box)->head("x");
  EXPECT_EQ((*head)->id, *idb);
  auto parsed = parseNotification((*head)->payload);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->title, "second");
  EXPECT_EQ(parsed->created_at, t);
  ASSERT_TRUE((*box)->markFailed(*idb, 3, t, "gone"));
  EXPECT_FALSE(*(*box)->head("x"));
  EXPECT_EQ((*box)->pending(), 1u);
  auto pruned = (*box)->prune(t + std::chrono::seconds(1));
  ASSERT_TRUE(pruned);
  EXPECT_EQ(*pruned, 2);
}

// The outbox holds every alert text: it and its -wal/-shm files are 0600 whatever the umask
// (SQLite alone would create them 0644 whatever the umask).
TEST(OutboxTest, FilesAreExactly0600WhateverTheUmask) {
  for (mode_t mask : {mode_t{0}, mode_t{077}}) {
    std::string dir = ::testing::TempDir() + "pp_outbox_mode_" + std::to_string(::getpid()) + "_" +
                      std::to_string(mask);
    std::filesystem::create_directories(dir);
    std::string path = dir + "/alerts.db";
    mode_t before = ::umask(mask);
    auto box = Outbox::open(path);
    ASSERT_TRUE(box) << box.error().toString();
    Notification n;
    n.channel = "x";
    n.title = "t";
    ASSERT_TRUE((*box)->enqueue(n, WallTime{std::chrono::hours(500000)}));
    ::umask(before);
    for (const std::string& f : {path, path + "-wal", path + "-shm"}) {
      struct stat st {};
      ASSERT_EQ(::stat(f.c_str(), &st), 0) << f;
      EXPECT_EQ(st.st_mode & 07777, 0600u) << f << " umask " << std::oct << mask;
    }
    box->reset();
    std::filesystem::remove_all(dir);
  }
}

TEST(OutboxTest, UnwritableLocationIsAClearError) {
  auto box = Outbox::open("/proc/pathpilot-no-such-dir/alerts.db");
  ASSERT_FALSE(box);
  EXPECT_NE(box.error().message().find("alert outbox /proc/pathpilot-no-such-dir/alerts.db"),
            std::string::npos);
}

TEST(NotificationTest, JsonRoundTrip) {
  Notification n;
  n.channel = "c";
  n.fingerprint = "Beijing/path/dx";
  n.status = AlertStatus::Resolved;
  n.severity = journal::Severity::Critical;
  n.site = "Beijing";
  n.title = "t";
  n.body = "b\nc";
  n.route_tables = {"rtb-1"};
  n.starts_at = WallTime(std::chrono::milliseconds(1764075172123LL));
  n.ends_at = n.starts_at + std::chrono::seconds(5);
  n.created_at = n.starts_at;
  n.one_shot = true;
  auto back = parseNotification(toJsonText(n));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, n);
  EXPECT_FALSE(parseNotification("{\"status\":\"sideways\"}"));
  EXPECT_FALSE(parseNotification("not json"));
}

}  // namespace
}  // namespace pathpilot::alert

namespace pathpilot::alert {
namespace {

using journal::EventKind;
using testing::event;
using testing::FakeChannel;

// A group of monitors shares the open incidents (daemon/ha_setup.h): the leader's manager
// publishes each incident it fires and closes through its sink; a new leader's manager adopts
// them, so the incident gets exactly one FIRING (the old leader's) and one RESOLVED (the new
// one's). The map stands for etcd.
TEST_F(AlertManagerTest, ANewLeaderResolvesTheIncidentItsPredecessorFired) {
  std::map<std::string, std::string> shared;
  auto sinkInto = [&shared](AlertManager& m) {
    m.setIncidentSink([&shared](const std::string& key, const std::optional<IncidentRecord>& r,
                                const std::function<void()>& recorded) {
      recorded();
      if (r) {
        shared[key] = encodeIncidentRecord(*r);
      } else {
        shared.erase(key);
      }
    });
  };
  FakeChannel& old_leader = open();
  sinkInto(*manager_);
  incident("dx");
  clock_.advance(std::chrono::seconds(10));
  manager_->pump();
  ASSERT_EQ(old_leader.delivered().size(), 1u);
  EXPECT_EQ(old_leader.delivered()[0].status, AlertStatus::Firing);
  ASSERT_EQ(shared.size(), 1u);
  EXPECT_EQ(shared.begin()->first, "Beijing/path/dx");

  // The other monitor, on its own outbox: it had opened nothing as a follower.
  auto box = Outbox::open((dir_ / "follower.db").string());
  ASSERT_TRUE(box) << box.error().message();
  auto ch = std::make_unique<FakeChannel>("chat");
  FakeChannel& new_leader = *ch;
  std::vector<std::unique_ptr<Channel>> channels;
  channels.push_back(std::move(ch));
  AlertManager follower(
      settings_, "Beijing", std::move(channels), std::move(*box), clock_, [](journal::Event) {},
      [] { return 0.5; });
  follower.releaseIncidents();
  sinkInto(follower);
  std::vector<IncidentRecord> records;
  for (const auto& [key, text] : shared) {
    auto r = decodeIncidentRecord(text);
    ASSERT_TRUE(r) << r.error().message();
    records.push_back(*r);
  }
  follower.adoptIncidents(records);
  follower.adoptIncidents(records);  // twice: still one incident
  EXPECT_EQ(follower.openIncidents(), 1u);
  // A path_down it sees now joins the adopted incident: no second FIRING.
  follower.submit(event(EventKind::PathDown, clock_.wallNow(), "dx"));
  follower.pump();
  clock_.advance(std::chrono::seconds(10));
  follower.pump();
  EXPECT_TRUE(new_leader.delivered().empty());
  // dx heals: one RESOLVED, from the new leader, and the shared record is gone.
  follower.submit(event(EventKind::PathUp, clock_.wallNow(), "dx"));
  follower.pump();
  clock_.advance(std::chrono::seconds(10));
  follower.pump();
  ASSERT_EQ(new_leader.delivered().size(), 1u);
  EXPECT_EQ(new_leader.delivered()[0].status, AlertStatus::Resolved);
  EXPECT_EQ(new_leader.delivered()[0].fingerprint, "Beijing/path/dx");
  EXPECT_TRUE(shared.empty());
  EXPECT_EQ(old_leader.delivered().size(), 1u);
}

// Leadership lost: the open incidents are forgotten without a message (the new leader owns
// them), the outbox no longer restores them, and nothing is published.
TEST_F(AlertManagerTest, ReleasedIncidentsAreForgottenSilently) {
  settings_.group_window = Duration::zero();
  FakeChannel& ch = open();
  int published = 0;
  incident("dx");
  manager_->pump();
  ASSERT_EQ(ch.delivered().size(), 1u);
  EXPECT_EQ(manager_->openIncidents(), 1u);
  manager_->setIncidentSink([&published](const std::string&, const std::optional<IncidentRecord>&,
                                         const std::function<void()>&) { ++published; });
  manager_->releaseIncidents();
  EXPECT_EQ(manager_->openIncidents(), 0u);
  manager_->submit(event(EventKind::PathUp, clock_.wallNow(), "dx"));
  manager_->pump();
  EXPECT_EQ(ch.delivered().size(), 1u);  // no RESOLVED: not this monitor's incident any more
  EXPECT_EQ(published, 0);
  auto kept = manager_->outbox().incidents(nullptr);
  ASSERT_TRUE(kept);
  EXPECT_TRUE(kept->empty());
  open();  // a restart restores nothing
  EXPECT_EQ(manager_->openIncidents(), 0u);
}

// Write-ahead: a FIRING goes out only once its record is durable where a successor reads it,
// so a leader killed right after the FIRING leaves a record behind (docs/ha.md).
TEST_F(AlertManagerTest, AFiringWaitsUntilItsRecordIsDurable) {
  settings_.group_window = Duration::zero();
  FakeChannel& ch = open();
  std::vector<std::pair<std::string, std::function<void()>>> acks;
  manager_->setIncidentSink(
      [&acks](const std::string& key, const std::optional<IncidentRecord>& r,
              std::function<void()> recorded) {
        if (r) {
          acks.emplace_back(key, std::move(recorded));
        }
      },
      std::chrono::seconds(2));
  incident("dx");
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].first, "Beijing/path/dx");
  EXPECT_EQ(manager_->pump(), 0u);
  clock_.advance(std::chrono::milliseconds(1500));
  EXPECT_EQ(manager_->pump(), 0u);  // still inside the bound, still no record
  EXPECT_TRUE(ch.delivered().empty());
  acks[0].second();
  EXPECT_EQ(manager_->pump(), 1u);
  ASSERT_EQ(ch.delivered().size(), 1u);
  EXPECT_EQ(ch.delivered()[0].status, AlertStatus::Firing);
  EXPECT_EQ(manager_->stats().unrecorded_firings, 0u);
  acks[0].second();  // a second acknowledgement changes nothing
  // The RESOLVED does not wait: a successor that misses the deletion resolves the incident
  // itself when it sees the path up.
  manager_->submit(event(EventKind::PathUp, clock_.wallNow(), "dx"));
  EXPECT_EQ(manager_->pump(), 1u);
  ASSERT_EQ(ch.delivered().size(), 2u);
  EXPECT_EQ(ch.delivered()[1].status, AlertStatus::Resolved);
}

// The wait is bounded: a store that never acknowledges (etcd unreachable, leadership lost)
// delays the FIRING by `record_wait`, never loses it; a late acknowledgement, even after the
// manager is gone, is harmless.
TEST_F(AlertManagerTest, AFiringWhoseRecordNeverBecomesDurableGoesOutAfterTheBound) {
  settings_.group_window = Duration::zero();
  FakeChannel& ch = open();
  std::function<void()> late;
  manager_->setIncidentSink(
      [&late](const std::string&, const std::optional<IncidentRecord>& r,
              std::function<void()> recorded) {
        if (r) {
          late = std::move(recorded);
        }
      },
      std::chrono::seconds(2));
  incident("dx");
  incident("vpn-a");
  EXPECT_EQ(manager_->pump(), 0u);
  clock_.advance(std::chrono::seconds(2));
  EXPECT_EQ(manager_->pump(), 2u);
  ASSERT_EQ(ch.delivered().size(), 2u);
  EXPECT_EQ(manager_->stats().unrecorded_firings, 2u);
  manager_.reset();
  ASSERT_TRUE(late);
  late();
}

// Without a wait (one monitor, or a sink that asks for none) nothing is held back.
TEST_F(AlertManagerTest, WithoutARecordWaitTheFiringIsNotHeld) {
  settings_.group_window = Duration::zero();
  FakeChannel& ch = open();
  manager_->setIncidentSink([](const std::string&, const std::optional<IncidentRecord>&,
                               const std::function<void()>&) {});
  incident("dx");
  EXPECT_EQ(ch.delivered().size(), 1u);
}

// closeIncident resolves an adopted incident whose path healed while nobody led.
TEST_F(AlertManagerTest, CloseIncidentSendsItsResolved) {
  settings_.group_window = Duration::zero();
  FakeChannel& ch = open();
  incident("dx");
  manager_->pump();
  ASSERT_EQ(ch.delivered().size(), 1u);
  auto closing = event(EventKind::PathUp, clock_.wallNow(), "dx");
  closing.message = "path dx is up (seen by mon-b on taking over leadership)";
  manager_->closeIncident("Beijing/path/dx", closing);
  manager_->closeIncident("Beijing/path/none", closing);  // not open: nothing
  manager_->pump();
  ASSERT_EQ(ch.delivered().size(), 2u);
  EXPECT_EQ(ch.delivered()[1].status, AlertStatus::Resolved);
  EXPECT_EQ(manager_->openIncidents(), 0u);
}

}  // namespace
}  // namespace pathpilot::alert
