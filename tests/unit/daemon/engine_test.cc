// Engine wiring: probe results → health → policy → reconciler → events, driven with a fake
// clock, a fake prober, fake route tables and a manual executor (no threads, no sleeps).
#include "daemon/engine.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "config/loader.h"
#include "daemon/operator_drain.h"
#include "fakes/fake_clock.h"
#include "fakes/fake_prober.h"
#include "fakes/fake_route_table.h"
#include "fakes/manual_executor.h"

namespace pathpilot::daemon {
namespace {

using journal::EventKind;
using testing::FakeClock;
using testing::FakeRouteTable;
using testing::ManualExecutor;

constexpr const char* kConfig = R"(
version: 1
site: {name: Lab}
probe: {interval: 100ms, timeout: 80ms, jitter: 0}
health:
  window: 10
  rise: 3
  fall: 3
  damping: {enabled: false}
policy: {failback_hold_down: 5s}
paths:
  - name: dx
    kind: dx
    probe: {targets: [10.10.3.100], source: 10.1.0.11}
    next_hop: {via: 10.255.1.2, dev: dx}
  - name: vpn-a
    kind: vpn
    az: a
    probe: {targets: [169.254.100.1], source: 10.1.0.12}
    next_hop: {via: 10.255.2.2, dev: gwa}
    recovery:
      action: command
      command: [lab/gw-restart, gwa]
      after: 1s
      timeout: 10s
      backoff: {initial: 5s, max: 1m}
      max_attempts_per_hour: 3
  - name: vpn-b
    kind: vpn
    az: b
    probe: {targets: [169.254.200.1], source: 10.1.0.13}
    next_hop: {via: 10.255.3.2, dev: gwb}
route_tables:
  - {id: rtb-a, table: 101, az: a, backend: linux, destinations: [10.10.0.0/16]}
  - {id: rtb-b, table: 102, az: b, backend: linux, destinations: [10.10.0.0/16]}
journal: {sqlite: "", jsonl: ""}
)";

// A recovery action that does nothing until the test finishes it.
class ScriptedAction final : public recovery::RecoveryAction {
 public:
  std::string_view kind() const override { return "scripted"; }
  void start(const recovery::RecoveryContext& context,
             std::function<void(recovery::ActionOutcome)> done) override {
    ++starts;
    last_attempt = context.attempt;
    done_ = std::move(done);
  }
  void cancel() override {
    ++cancels;
    done_ = nullptr;
  }
  bool running() const { return static_cast<bool>(done_); }
  void finish(bool success) {
    recovery::ActionOutcome outcome;
    outcome.success = success;
    outcome.reason = success ? "" : "exited with status 3";
    outcome.exit_code = success ? 0 : 3;
    finishWith(outcome);
  }
  void finishWith(const recovery::ActionOutcome& outcome) {
    auto done = std::move(done_);
    done_ = nullptr;
    done(outcome);
  }
  int starts = 0;
  int cancels = 0;
  int last_attempt = 0;

 private:
  std::function<void(recovery::ActionOutcome)> done_;
};

const IpPrefix kOnPrem = *IpPrefix::parse("10.10.0.0/16");

route::NextHop hop(const char* via, const char* dev) {
  return route::NextHop::gateway(*IpAddress::parse(via), dev);
}

const route::NextHop kDx = hop("10.255.1.2", "dx");
const route::NextHop kVpnA = hop("10.255.2.2", "gwa");
const route::NextHop kVpnB = hop("10.255.3.2", "gwb");

config::Config loadConfig(const std::string& text = kConfig) {
  auto c = config::loadString(text, "engine_test.yaml");
  if (!c) {
    ADD_FAILURE() << c.error().message();
    std::abort();
  }
  return std::move(*c);
}

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() {
    tables_["rtb-a"] = new FakeRouteTable("rtb-a");
    tables_["rtb-b"] = new FakeRouteTable("rtb-b");
    // The existing deployment sends both subnets over DX.
    tables_["rtb-a"]->setRoute(kOnPrem, kDx);
    tables_["rtb-b"]->setRoute(kOnPrem, kDx);
  }

  void makeEngine() {
    engine_ = std::make_unique<Engine>(
        io_, clock_, prober_, executor_,
        [this](const config::Config&,
               const config::RouteTableConfig& t) -> Result<std::unique_ptr<route::RouteTable>> {
          auto it = tables_.find(t.id);
          if (it == tables_.end() || it->second == nullptr) {
            return fail(ErrorCode::NotFound, "no fake table " + t.id);
          }
          // The engine owns the table; the test keeps a raw pointer to inspect it.
          owned_.push_back(it->second);
          return std::unique_ptr<route::RouteTable>(it->second);
        },
        [this](const config::Config&,
               const config::PathConfig& p) -> Result<std::unique_ptr<recovery::RecoveryAction>> {
          auto action = std::make_unique<ScriptedAction>();
          actions_[p.name] = action.get();
          return std::unique_ptr<recovery::RecoveryAction>(std::move(action));
        },
        [this](const journal::Event& e) { events_.push_back(e); });
  }

  void start() {
    makeEngine();
    ASSERT_TRUE(engine_->start(loadConfig()));
    settle();
  }

  // Runs every queued backend call (and whatever they queue) to completion.
  void settle() {
    for (int i = 0; i < 100 && executor_.runNext(); ++i) {
    }
    engine_->runDue();
    for (int i = 0; i < 100 && executor_.runNext(); ++i) {
    }
  }

  // One probe round: every path's target answers (or not), 100 ms apart.
  void round(bool dx, bool vpn_a, bool vpn_b) {
    clock_.advance(std::chrono::milliseconds(100));
    result("dx", dx);
    result("vpn-a", vpn_a);
    result("vpn-b", vpn_b);
    settle();
  }

  // One round in which every path answers, DX after `dx_rtt`.
  void rttRound(Duration dx_rtt) {
    clock_.advance(std::chrono::milliseconds(100));
    prober_.succeedForTest("dx", 0, clock_.now(), dx_rtt);
    result("vpn-a", true);
    result("vpn-b", true);
    settle();
  }

  void result(const std::string& path, bool ok) {
    if (ok) {
      prober_.succeedForTest(path, 0, clock_.now(), std::chrono::microseconds(600));
    } else {
      prober_.failForTest(path, 0, clock_.now(), probe::FailureKind::Timeout);
    }
  }

  void advance(Duration d) {
    clock_.advance(d);
    settle();
  }

  int count(EventKind kind) const {
    int n = 0;
    for (const auto& e : events_) {
      n += e.kind == kind ? 1 : 0;
    }
    return n;
  }

  const journal::Event* last(EventKind kind, const std::string& table = "") const {
    const journal::Event* found = nullptr;
    for (const auto& e : events_) {
      if (e.kind == kind && (table.empty() || e.route_table == table)) {
        found = &e;
      }
    }
    return found;
  }

  std::optional<route::NextHop> routeOf(const char* table) {
    return tables_[table]->routeFor(kOnPrem);
  }

  asio::io_context io_;
  FakeClock clock_;
  probe::FakeProber prober_;
  ManualExecutor executor_;
  std::map<std::string, FakeRouteTable*> tables_;  // owned by the engine once opened
  std::vector<FakeRouteTable*> owned_;
  std::unique_ptr<Engine> engine_;
  std::vector<journal::Event> events_;
  std::map<std::string, ScriptedAction*> actions_;  // owned by the engine
};

TEST_F(EngineTest, StartAdoptsProgrammedRoutesWithoutCalls) {
  start();
  for (int i = 0; i < 3; ++i) {
    round(true, true, true);
  }
  EXPECT_EQ(tables_["rtb-a"]->applyCount(), 0);
  EXPECT_EQ(tables_["rtb-b"]->applyCount(), 0);
  EXPECT_EQ(count(EventKind::PathUp), 3);
  EXPECT_EQ(count(EventKind::RouteChanged), 0);
  auto status = engine_->statusJson();
  ASSERT_EQ(status["routes"].size(), 2u);
  EXPECT_EQ(status["routes"][0]["current"], "dx");
  EXPECT_EQ(status["routes"][0]["desired"], "dx");
  EXPECT_EQ(status["routes"][0]["sync"], "synced");
  EXPECT_EQ(prober_.targets().size(), 3u);
  EXPECT_TRUE(prober_.running());
}

TEST_F(EngineTest, DxDownMovesEachTableToItsOwnAzGateway) {
  start();
  for (int i = 0; i < 3; ++i) {
    round(true, true, true);
  }
  round(false, true, true);
  round(false, true, true);
  // Two misses of ten make DX Degraded (20% > 10%): the Up gateways take over at once.
  round(false, true, true);
  EXPECT_EQ(routeOf("rtb-a"), kVpnA);
  EXPECT_EQ(routeOf("rtb-b"), kVpnB);
  const auto* changed = last(EventKind::RouteChanged, "rtb-a");
  ASSERT_NE(changed, nullptr);
  EXPECT_EQ(changed->from, "dx");
  EXPECT_EQ(changed->to, "vpn-a");
  EXPECT_EQ(changed->site, "Lab");
  EXPECT_EQ(changed->link, journal::Link::Vpn);
  EXPECT_FALSE(changed->reason.empty());
  const auto* down = last(EventKind::PathDown);
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->path, "dx");
  EXPECT_EQ(down->link, journal::Link::Dx);
  EXPECT_NE(down->reason.find("consecutive"), std::string::npos) << down->reason;
}

TEST_F(EngineTest, FailbackWaitsForHoldDown) {
  start();
  for (int i = 0; i < 3; ++i) {
    round(true, true, true);
  }
  for (int i = 0; i < 3; ++i) {
    round(false, true, true);
  }
  ASSERT_EQ(routeOf("rtb-a"), kVpnA);
  for (int i = 0; i < 3; ++i) {
    round(true, true, true);
  }
  // DX is Up again but the 5 s hold-down has not passed.
  EXPECT_EQ(routeOf("rtb-a"), kVpnA);
  auto status = engine_->statusJson();
  EXPECT_GT(status["routes"][0]["hold_down_remaining_ms"].get<double>(), 4000.0);
  // The hold-down counts from when DX is measured clean: its window (10 results, restarted
  // with the 3 answers that brought it back) is full 7 rounds later.
  for (int i = 0; i < 52; ++i) {
    round(true, true, true);
  }
  EXPECT_EQ(routeOf("rtb-a"), kVpnA);
  for (int i = 0; i < 10; ++i) {
    round(true, true, true);
  }
  EXPECT_EQ(routeOf("rtb-a"), kDx);
  EXPECT_EQ(routeOf("rtb-b"), kDx);
  EXPECT_EQ(last(EventKind::RouteChanged, "rtb-b")->to, "dx");
}

TEST_F(EngineTest, HoldDownExpiryAloneTriggersFailback) {
  start();
  for (int i = 0; i < 3; ++i) {
    round(true, true, true);
  }
  for (int i = 0; i < 3; ++i) {
    round(false, true, true);
  }
  for (int i = 0; i < 10; ++i) {  // back, and measured clean over a full window
    round(true, true, true);
  }
  ASSERT_EQ(routeOf("rtb-a"), kVpnA);
  // No probe result arrives; the engine's own timer (runDue) makes the decision.
  advance(std::chrono::seconds(6));
  EXPECT_EQ(routeOf("rtb-a"), kDx);
}

TEST_F(EngineTest, CrossAzWhenOwnGatewayIsDown) {
  start();
  for (int i = 0; i < 3; ++i) {
    round(true, true, true);
  }
  for (int i = 0; i < 3; ++i) {
    round(false, false, true);
  }
  EXPECT_EQ(routeOf("rtb-a"), kVpnB);
  EXPECT_EQ(routeOf("rtb-b"), kVpnB);
}

TEST_F(EngineTest, NothingHealthyKeepsRoutesAndRaisesFailStatic) {
  start();
  for (int i = 0; i < 3; ++i) {
    round(true, true, true);
  }
  for (int i = 0; i < 4; ++i) {
    round(false, false, false);
  }
  EXPECT_EQ(routeOf("rtb-a"), kDx);
  EXPECT_EQ(routeOf("rtb-b"), kDx);
  EXPECT_EQ(count(EventKind::FailStatic), 2);
  const auto* fs = last(EventKind::FailStatic, "rtb-a");
  ASSERT_NE(fs, nullptr);
  EXPECT_EQ(fs->severity, journal::Severity::Critical);
  EXPECT_TRUE(engine_->statusJson()["routes"][0]["fail_static"].get<bool>());
  for (int i = 0; i < 3; ++i) {
    round(false, true, false);
  }
  EXPECT_EQ(count(EventKind::FailStaticCleared), 2);
  // Leaving fail static, the routes wait up to policy.fail_static_settle (3 s) for DX to come
  // back before moving to the path that answered first.
  EXPECT_EQ(routeOf("rtb-a"), kDx);
  EXPECT_EQ(engine_->statusJson()["routes"][0]["decision"], "settling");
  for (int i = 0; i < 30; ++i) {
    round(false, true, false);
  }
  EXPECT_EQ(routeOf("rtb-a"), kVpnA);
  EXPECT_EQ(routeOf("rtb-b"), kVpnA);
}

// The monitor cut off from every path: routes stay, the paths come back in some order, and
// nothing moves at all (one of two lab runs used to make 4 route changes here).
TEST_F(EngineTest, MonitorCutOffFromEveryPathMovesNothingBeforeDuringOrAfter) {
  start();
  for (int i = 0; i < 3; ++i) {
    round(true, true, true);
  }
  for (int i = 0; i < 100; ++i) {  // 10 s cut off
    round(false, false, false);
  }
  // VPN-A answers first, DX two rounds later, VPN-B last.
  round(false, true, false);
  round(false, true, false);
  round(true, true, false);
  for (int i = 0; i < 10; ++i) {
    round(true, true, true);
  }
  for (int i = 0; i < 100; ++i) {  // long after the hold-down
    round(true, true, true);
  }
  EXPECT_EQ(count(EventKind::RouteChanged), 0);
  EXPECT_EQ(tables_["rtb-a"]->applyCount(), 0);
  EXPECT_EQ(tables_["rtb-b"]->applyCount(), 0);
  EXPECT_EQ(routeOf("rtb-a"), kDx);
}

// Every path down at once is the monitor's problem more likely than three dead links: no
// gateway is "recovered" for it, however long it lasts; one critical event says why.
TEST_F(EngineTest, EveryPathDownAtOnceHoldsRecoveryBack) {
  start();
  for (int i = 0; i < 3; ++i) {
    round(true, true, true);
  }
  for (int i = 0; i < 100; ++i) {  // 10 s: far beyond vpn-a's recovery `after` (1 s)
    round(false, false, false);
  }
  EXPECT_EQ(actions_["vpn-a"]->starts, 0);
  EXPECT_EQ(count(EventKind::RecoveryStarted), 0);
  ASSERT_EQ(count(EventKind::MonitorSuspect), 1);
  const auto* suspect = last(EventKind::MonitorSuspect);
  EXPECT_EQ(suspect->severity, journal::Severity::Critical);
  EXPECT_NE(suspect->message.find("every path (dx, vpn-a, vpn-b) went down within"),
            std::string::npos)
      << suspect->message;
  EXPECT_NE(suspect->message.find("gateway recovery is held back"), std::string::npos);
  auto status = engine_->statusJson();
  EXPECT_EQ(status["monitor"]["view"], "suspect");
  EXPECT_EQ(routeOf("rtb-a"), kDx);
  // DX answers again, VPN-A stays dead: the view is trusted. VPN-A's 10 s down while in
  // doubt do not count: it is recovered once down for its `after` (1 s) from then on.
  for (int i = 0; i < 3; ++i) {
    round(true, false, true);
  }
  EXPECT_EQ(count(EventKind::MonitorTrusted), 1);
  EXPECT_EQ(engine_->statusJson()["monitor"]["view"], "trusted");
  EXPECT_EQ(actions_["vpn-a"]->starts, 0);
  for (int i = 0; i < 11; ++i) {
    round(true, false, true);
  }
  EXPECT_EQ(actions_["vpn-a"]->starts, 1);
}

// Paths failing one after the other over a longer time are believed: recovery runs.
TEST_F(EngineTest, PathsFailingOneByOneStillGetRecovered) {
  start();
  for (int i = 0; i < 3; ++i) {
    round(true, true, true);
  }
  for (int i = 0; i < 70; ++i) {  // vpn-a dies; recovered after 1 s
    round(true, false, true);
  }
  ASSERT_EQ(actions_["vpn-a"]->starts, 1);
  for (int i = 0; i < 100; ++i) {  // 7 s later (beyond the 5 s window) DX and vpn-b go too
    round(false, false, false);
  }
  EXPECT_EQ(count(EventKind::MonitorSuspect), 0);
}

constexpr const char* kMonitorSection = R"(
monitor:
  correlation_window: 2s
  probe: {targets: [10.1.0.1]}
)";

// The monitor's own reference target stops answering: whatever the paths say, no recovery.
TEST_F(EngineTest, LostReferenceTargetsHoldRecoveryBack) {
  makeEngine();
  ASSERT_TRUE(engine_->start(loadConfig(std::string(kConfig) + kMonitorSection)));
  settle();
  EXPECT_EQ(prober_.targets().size(), 4u) << "three paths and the reference target";
  auto both = [&](bool reference, bool vpn_a) {
    clock_.advance(std::chrono::milliseconds(100));
    result("@monitor", reference);
    result("dx", true);
    result("vpn-a", vpn_a);
    result("vpn-b", true);
    settle();
  };
  for (int i = 0; i < 3; ++i) {
    both(true, true);
  }
  for (int i = 0; i < 30; ++i) {
    both(false, false);
  }
  EXPECT_EQ(actions_["vpn-a"]->starts, 0);
  ASSERT_EQ(count(EventKind::MonitorSuspect), 1);
  EXPECT_NE(last(EventKind::MonitorSuspect)->message.find("reference targets do not answer"),
            std::string::npos);
  EXPECT_EQ(engine_->stats().unknown_results, 0u) << "reference results are not unknown";
  for (int i = 0; i < 3; ++i) {
    both(true, false);
  }
  EXPECT_EQ(count(EventKind::MonitorTrusted), 1);
  EXPECT_EQ(actions_["vpn-a"]->starts, 0) << "the wait starts again when the view is trusted";
  for (int i = 0; i < 11; ++i) {
    both(true, false);
  }
  EXPECT_EQ(actions_["vpn-a"]->starts, 1);
}

// Drains and recovery limits are handed to the state sink and come back in a new engine.
TEST_F(EngineTest, DrainsAndRecoveryLimitsSurviveARestart) {
  std::vector<PersistentState> saved;
  makeEngine();
  engine_->setStateSink([&](const PersistentState& s) { saved.push_back(s); });
  ASSERT_TRUE(engine_->start(loadConfig()));
  settle();
  for (int i = 0; i < 3; ++i) {
    round(true, true, true);
  }
  ASSERT_TRUE(engine_->drain("vpn-b"));
  ASSERT_FALSE(saved.empty());
  EXPECT_EQ(saved.back().drains, std::set<std::string>{"vpn-b"});
  for (int i = 0; i < 15; ++i) {
    round(true, false, true);
  }
  ASSERT_EQ(actions_["vpn-a"]->starts, 1);
  actions_["vpn-a"]->finish(false);
  ASSERT_EQ(saved.back().recovery.count("vpn-a"), 1u);
  const StoredRecovery memory = saved.back().recovery.at("vpn-a");
  EXPECT_EQ(memory.starts.size(), 1u);
  EXPECT_EQ(memory.failures, 1);
  ASSERT_TRUE(memory.not_before);

  // kill -9 and a new process: same state in, drain kept, back-off kept.
  engine_.reset();
  events_.clear();
  tables_["rtb-a"] = new FakeRouteTable("rtb-a");
  tables_["rtb-b"] = new FakeRouteTable("rtb-b");
  tables_["rtb-a"]->setRoute(kOnPrem, kDx);
  tables_["rtb-b"]->setRoute(kOnPrem, kDx);
  clock_.advance(std::chrono::seconds(1));
  makeEngine();
  engine_->restoreState(saved.back());
  ASSERT_TRUE(engine_->start(loadConfig()));
  settle();
  auto status = engine_->statusJson();
  EXPECT_TRUE(status["paths"][2]["drained"].get<bool>());
  ASSERT_EQ(count(EventKind::Drain), 1);
  EXPECT_NE(last(EventKind::Drain)->message.find("still drained"), std::string::npos);
  for (int i = 0; i < 3; ++i) {
    round(true, false, true);
  }
  // vpn-a is down again: `after` (1 s) would start an attempt now, but the back-off (5 s from
  // the failure, 1 s of which passed) holds it.
  for (int i = 0; i < 20; ++i) {
    round(true, false, true);
  }
  EXPECT_EQ(actions_["vpn-a"]->starts, 0);
  for (int i = 0; i < 25; ++i) {
    round(true, false, true);
  }
  EXPECT_EQ(actions_["vpn-a"]->starts, 1);
  EXPECT_EQ(actions_["vpn-a"]->last_attempt, 2) << "attempt numbers continue";
}

TEST_F(EngineTest, DrainMovesTrafficAtOnceAndUndrainReturnsIt) {
  start();
  for (int i = 0; i < 60; ++i) {
    round(true, true, true);
  }
  auto drained = engine_->drain("dx");
  ASSERT_TRUE(drained) << drained.error().message();
  settle();
  EXPECT_EQ(routeOf("rtb-a"), kVpnA);
  EXPECT_EQ(routeOf("rtb-b"), kVpnB);
  EXPECT_EQ(count(EventKind::Drain), 1);
  EXPECT_TRUE(engine_->statusJson()["paths"][0]["drained"].get<bool>());
  EXPECT_FALSE(engine_->drain("nope"));
  ASSERT_TRUE(engine_->undrain("dx"));
  settle();
  EXPECT_EQ(routeOf("rtb-a"), kDx);
  EXPECT_EQ(count(EventKind::Undrain), 1);
}

// Who drained is in the event (the control socket passes the peer's uid and pid).
TEST_F(EngineTest, DrainEventsNameWhoAsked) {
  start();
  ASSERT_TRUE(engine_->drain("dx", "control socket, uid 1000 (alice), pid 4242"));
  const journal::Event* d = last(EventKind::Drain);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->reason, "requested by control socket, uid 1000 (alice), pid 4242");
  EXPECT_EQ(d->message,
            "path dx drained by an operator (control socket, uid 1000 (alice), pid 4242): "
            "traffic moves off it");
  ASSERT_TRUE(engine_->undrain("dx", "control socket, uid 0 (root), pid 7"));
  const journal::Event* u = last(EventKind::Undrain);
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->reason, "requested by control socket, uid 0 (root), pid 7");
  EXPECT_NE(u->message.find("(control socket, uid 0 (root), pid 7)"), std::string::npos);
}

// The control socket and the HTTP API drain through applyDrain (daemon/operator_drain.h): the
// event names "<channel>, <peer>" (or the channel alone), the peer is logged, errors pass through.
TEST_F(EngineTest, ApplyDrainNamesTheRequesterAndLogsThePeer) {
  start();
  // The log goes to a string for this test; the previous default logger comes back after it.
  struct LogCapture {
    std::ostringstream text;
    std::shared_ptr<spdlog::logger> previous = spdlog::default_logger();
    LogCapture() {
      spdlog::set_default_logger(std::make_shared<spdlog::logger>(
          "engine_test", std::make_shared<spdlog::sinks::ostream_sink_st>(text)));
    }
    ~LogCapture() { spdlog::set_default_logger(previous); }
  } log;

  auto drained = applyDrain(*engine_, "dx", true, {"control socket", "uid 1000 (alice), pid 4242"});
  ASSERT_TRUE(drained) << drained.error().message();
  EXPECT_EQ(*drained, "path dx drained");
  const journal::Event* d = last(EventKind::Drain);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->reason, "requested by control socket, uid 1000 (alice), pid 4242");
  EXPECT_NE(log.text.str().find("control socket: drain dx requested by uid 1000 (alice), pid 4242"),
            std::string::npos)
      << log.text.str();

  // Without a peer (the HTTP API, which logs the client itself) only the engine's event is.
  auto undrained = applyDrain(*engine_, "dx", false, {"HTTP API", ""});
  ASSERT_TRUE(undrained) << undrained.error().message();
  EXPECT_EQ(*undrained, "path dx undrained");
  const journal::Event* u = last(EventKind::Undrain);
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->reason, "requested by HTTP API");
  EXPECT_EQ(u->message, "path dx undrained by an operator (HTTP API)");
  EXPECT_EQ(log.text.str().find("HTTP API: undrain"), std::string::npos) << log.text.str();

  auto again = applyDrain(*engine_, "dx", false, {"HTTP API", ""});
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, "path dx is not drained");
  auto unknown = applyDrain(*engine_, "nope", true, {"control socket", "uid 0 (root), pid 7"});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), ErrorCode::NotFound);
  EXPECT_EQ(unknown.error().message(), "unknown path \"nope\"");
  EXPECT_EQ(count(EventKind::Drain), 1);
  EXPECT_EQ(count(EventKind::Undrain), 1);
}

// Every event is scrubbed of the known secrets before the sink (journal, API, alerts) sees it:
// here a recovery command's failure whose stderr quotes a token.
TEST_F(EngineTest, EmittedEventsAreRedactedOfKnownSecrets) {
  makeEngine();
  auto secrets = std::make_shared<Redactor>();
  secrets->add("tok-0123456789abcdef");
  engine_->setRedactor(secrets);
  ASSERT_TRUE(engine_->start(loadConfig()));
  settle();
  for (int i = 0; i < 3; ++i) {
    round(true, true, true);
  }
  for (int i = 0; i < 15; ++i) {
    round(true, false, true);
  }
  ScriptedAction* action = actions_["vpn-a"];
  ASSERT_NE(action, nullptr);
  ASSERT_TRUE(action->running());
  recovery::ActionOutcome outcome;
  outcome.reason = "command \"gw-restart\" exited with status 3: token tok-0123456789abcdef";
  outcome.stderr_tail = "token tok-0123456789abcdef refused";
  outcome.exit_code = 3;
  action->finishWith(outcome);
  settle();
  const journal::Event* failed = last(EventKind::RecoveryFailed);
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ(failed->reason.find("tok-0123456789abcdef"), std::string::npos) << failed->reason;
  EXPECT_NE(failed->reason.find("token <redacted> refused"), std::string::npos) << failed->reason;
}

TEST_F(EngineTest, RestartMidFailoverAdoptsTheVpnRoute) {
  tables_["rtb-a"]->setRoute(kOnPrem, kVpnA);
  tables_["rtb-b"]->setRoute(kOnPrem, kVpnB);
  start();
  for (int i = 0; i < 5; ++i) {
    round(true, true, true);
  }
  // DX answers, but a restarted daemon does not fail back before the hold-down.
  EXPECT_EQ(tables_["rtb-a"]->applyCount(), 0);
  EXPECT_EQ(routeOf("rtb-a"), kVpnA);
  EXPECT_EQ(engine_->statusJson()["routes"][0]["current"], "vpn-a");
  for (int i = 0; i < 60; ++i) {
    round(true, true, true);
  }
  EXPECT_EQ(routeOf("rtb-a"), kDx);
  EXPECT_EQ(tables_["rtb-a"]->applyCount(), 1);
}

TEST_F(EngineTest, HandChangedRouteIsPutBackAsDrift) {
  start();
  for (int i = 0; i < 3; ++i) {
    round(true, true, true);
  }
  tables_["rtb-a"]->setRoute(kOnPrem, kVpnB);
  engine_->onRouteNotice({route::RouteNotice::Kind::Added, {"rtb-a", kOnPrem, kVpnB}});
  settle();
  EXPECT_EQ(routeOf("rtb-a"), kDx);
  const auto* drift = last(EventKind::RouteDrift, "rtb-a");
  ASSERT_NE(drift, nullptr);
  EXPECT_EQ(drift->severity, journal::Severity::Warning);
  const auto* changed = last(EventKind::RouteChanged, "rtb-a");
  ASSERT_NE(changed, nullptr);
  EXPECT_EQ(changed->from, "vpn-b");
  EXPECT_NE(changed->reason.find("drift"), std::string::npos) << changed->reason;
}

// Another owner's route (a hand edit with `ip route replace`, proto boot) takes a destination:
// drift, but the message does not promise a repair the backend will refuse; the refusal is a
// route_error.
TEST_F(EngineTest, ForeignRouteTakingADestinationIsReportedNotPromisedBack) {
  start();
  for (int i = 0; i < 3; ++i) {
    round(true, true, true);
  }
  const route::NextHop foreign = route::NextHop::foreign("boot");
  tables_["rtb-a"]->setRoute(kOnPrem, foreign);
  tables_["rtb-a"]->failAlways(ErrorCode::AlreadyExists, FakeRouteTable::Op::Apply);
  engine_->onRouteNotice({route::RouteNotice::Kind::Added, {"rtb-a", kOnPrem, kVpnB}});
  settle();
  const auto* drift = last(EventKind::RouteDrift, "rtb-a");
  ASSERT_NE(drift, nullptr);
  EXPECT_EQ(drift->message,
            "rtb-a 10.10.0.0/16 is now held by a route pathpilot does not own (foreign:boot): "
            "pathpilot leaves it and retries until it is gone");
  EXPECT_EQ(drift->from, "foreign:boot");
  EXPECT_GE(count(EventKind::RouteError), 1);
  EXPECT_EQ(routeOf("rtb-a"), foreign);
}

TEST_F(EngineTest, FailingTableDoesNotBlockTheOther) {
  start();
  for (int i = 0; i < 3; ++i) {
    round(true, true, true);
  }
  tables_["rtb-a"]->failAlways(ErrorCode::Unavailable, FakeRouteTable::Op::Apply);
  for (int i = 0; i < 3; ++i) {
    round(false, true, true);
  }
  EXPECT_EQ(routeOf("rtb-b"), kVpnB);
  EXPECT_EQ(routeOf("rtb-a"), kDx);
  EXPECT_GE(count(EventKind::RouteError), 1);
  tables_["rtb-a"]->clearFailures();
  advance(std::chrono::seconds(30));
  EXPECT_EQ(routeOf("rtb-a"), kVpnA);
}

// backends.linux.drift_check_interval, from YAML to behaviour: a route changed behind
// pathpilot's back without a netlink notification is found by the periodic re-read of the
// table and put back, every drift_check_interval (7 s here, then 2 s after a reload) rather
// than the reconciler's own default.
TEST_F(EngineTest, DriftCheckIntervalRereadsLinuxTablesAndRepairsDrift) {
  std::string text = std::string(kConfig) + "backends: {linux: {drift_check_interval: 7s}}\n";
  makeEngine();
  ASSERT_TRUE(engine_->start(loadConfig(text)));
  settle();
  for (int i = 0; i < 3; ++i) {
    round(true, true, true);  // 300 ms
  }
  const int lists = tables_["rtb-a"]->listCount();
  tables_["rtb-a"]->setRoute(kOnPrem, kVpnB);  // by hand; no notification reaches the engine
  advance(std::chrono::milliseconds(6500));
  EXPECT_EQ(tables_["rtb-a"]->listCount(), lists);
  EXPECT_EQ(routeOf("rtb-a"), kVpnB);
  advance(std::chrono::milliseconds(300));  // 7.1 s after the first list
  EXPECT_EQ(tables_["rtb-a"]->listCount(), lists + 1);
  EXPECT_EQ(routeOf("rtb-a"), kDx);
  const auto* drift = last(EventKind::RouteDrift, "rtb-a");
  ASSERT_NE(drift, nullptr);
  EXPECT_NE(drift->reason.find("periodic check"), std::string::npos) << drift->reason;

  // A reload with a shorter interval takes effect from the reload on.
  std::string shorter = text;
  shorter.replace(shorter.find("drift_check_interval: 7s"), 24, "drift_check_interval: 2s");
  ASSERT_TRUE(engine_->reload(loadConfig(shorter)));
  settle();
  const int before = tables_["rtb-b"]->listCount();
  tables_["rtb-b"]->setRoute(kOnPrem, kVpnA);
  advance(std::chrono::milliseconds(1900));
  EXPECT_EQ(routeOf("rtb-b"), kVpnA);
  advance(std::chrono::milliseconds(200));
  EXPECT_EQ(tables_["rtb-b"]->listCount(), before + 1);
  EXPECT_EQ(routeOf("rtb-b"), kDx);
}

// kConfig with `health: {HEALTH}` on the dx path.
std::string withDxHealth(const std::string& health) {
  std::string text = kConfig;
  const std::string hop = "    next_hop: {via: 10.255.1.2, dev: dx}\n";
  text.insert(text.find(hop) + hop.size(), "    health: {" + health + "}\n");
  return text;
}

// health.degraded_rtt is the mean RTT over the window (docs/config.md), from YAML to behaviour:
// one slow reply among fast ones leaves DX up under a 50ms threshold (mean 49ms, although its
// p95 is 400ms); a slow link degrades it and the gateways take over.
TEST_F(EngineTest, DegradedRttComparesTheMeanRtt) {
  makeEngine();
  ASSERT_TRUE(engine_->start(loadConfig(withDxHealth("degraded_rtt: 50ms"))));
  settle();
  for (int i = 0; i < 10; ++i) {
    rttRound(std::chrono::milliseconds(i == 9 ? 400 : 10));
  }
  auto dx = [&] { return engine_->statusJson()["paths"][0]; };
  EXPECT_EQ(dx()["rtt_mean_ms"], 49.0);
  EXPECT_EQ(dx()["rtt_p95_ms"], 400.0);
  EXPECT_EQ(dx()["state"], "up");
  EXPECT_EQ(count(EventKind::PathDegraded), 0);
  for (int i = 0; i < 3; ++i) {
    rttRound(std::chrono::milliseconds(80));  // mean 49 → 56 → 63 → 70
  }
  EXPECT_EQ(dx()["state"], "degraded");
  const auto* degraded = last(EventKind::PathDegraded);
  ASSERT_NE(degraded, nullptr);
  EXPECT_NE(degraded->reason.find("rtt mean 56.0ms above the degraded threshold 50.0ms"),
            std::string::npos)
      << degraded->reason;
  // An Up gateway beats a Degraded DX once it has been up for the hold-down (5 s).
  EXPECT_EQ(routeOf("rtb-a"), kDx);
  advance(std::chrono::seconds(5));
  EXPECT_EQ(routeOf("rtb-a"), kVpnA);
  EXPECT_EQ(routeOf("rtb-b"), kVpnB);
}

// health.degraded_rtt_p95 judges the tail: the same single slow reply degrades DX.
TEST_F(EngineTest, DegradedRttP95ComparesThePercentile) {
  makeEngine();
  ASSERT_TRUE(engine_->start(loadConfig(withDxHealth("degraded_rtt_p95: 100ms"))));
  settle();
  for (int i = 0; i < 10; ++i) {
    rttRound(std::chrono::milliseconds(i == 9 ? 400 : 10));
  }
  EXPECT_EQ(engine_->statusJson()["paths"][0]["state"], "degraded");
  const auto* degraded = last(EventKind::PathDegraded);
  ASSERT_NE(degraded, nullptr);
  EXPECT_NE(degraded->reason.find("rtt p95 400.0ms above the degraded threshold 100.0ms"),
            std::string::npos)
      << degraded->reason;
}

TEST_F(EngineTest, ReloadKeepsHealthAndRejectsBadConfig) {
  start();
  for (int i = 0; i < 3; ++i) {
    round(true, true, true);
  }
  // A config whose table cannot be opened is rejected as a whole.
  std::string text = kConfig;
  const std::string b = "{id: rtb-b, table: 102";
  text.replace(text.find(b), b.size(), "{id: rtb-x, table: 103");
  auto rejected = engine_->reload(loadConfig(text));
  EXPECT_FALSE(rejected);
  EXPECT_EQ(engine_->config().tables[1].id, "rtb-b");
  // A valid one keeps the paths' health (no new path_up events) and the routes.
  std::string longer = kConfig;
  longer.replace(longer.find("failback_hold_down: 5s"), 22, "failback_hold_down: 9s");
  ASSERT_TRUE(engine_->reload(loadConfig(longer)));
  settle();
  EXPECT_EQ(count(EventKind::PathUp), 3);
  EXPECT_EQ(engine_->statusJson()["paths"][0]["state"], "up");
  EXPECT_EQ(engine_->config().policy.failback_hold_down, std::chrono::seconds(9));
  EXPECT_EQ(engine_->stats().reloads, 1u);
}

// A reload that adds recovery to a path already down starts it for this outage (health
// carried over reports no new transition), and one that changes a gateway's recovery keeps
// its attempt count and back-off.
TEST_F(EngineTest, AReloadedRecoveryActsOnTheOutageInProgressAndKeepsItsLimits) {
  start();
  for (int i = 0; i < 3; ++i) {
    round(true, true, true);
  }
  for (int i = 0; i < 15; ++i) {  // vpn-a and vpn-b die; vpn-a's recovery starts after 1 s
    round(true, false, false);
  }
  ScriptedAction* first = actions_["vpn-a"];
  ASSERT_NE(first, nullptr);
  ASSERT_EQ(first->starts, 1);
  first->finish(false);  // back-off 5 s
  settle();
  ASSERT_EQ(actions_.count("vpn-b"), 0u);

  std::string text = kConfig;
  const std::string vpn_b_hop = "next_hop: {via: 10.255.3.2, dev: gwb}";
  text.replace(
      text.find(vpn_b_hop), vpn_b_hop.size(),
      vpn_b_hop + "\n    recovery: {action: command, command: [lab/gw-restart, gwb], after: 1s}");
  text.replace(text.find("after: 1s\n      timeout: 10s"), 9, "after: 2s");  // vpn-a's changed
  ASSERT_TRUE(engine_->reload(loadConfig(text)));
  settle();
  for (int i = 0; i < 15; ++i) {  // 1.5 s
    round(true, false, false);
  }
  ASSERT_NE(actions_["vpn-b"], nullptr);
  EXPECT_EQ(actions_["vpn-b"]->starts, 1) << "vpn-b was down when its recovery was added";
  ScriptedAction* second = actions_["vpn-a"];
  ASSERT_NE(second, first) << "vpn-a's recovery was rebuilt";
  EXPECT_EQ(second->starts, 0) << "vpn-a waits out the back-off of its failed attempt";
  auto status = engine_->statusJson();
  EXPECT_EQ(status["paths"][1]["recovery"]["attempts_last_hour"], 1) << status["paths"][1];
  for (int i = 0; i < 40; ++i) {  // past the 5 s back-off
    round(true, false, false);
  }
  EXPECT_EQ(second->starts, 1);
  EXPECT_EQ(second->last_attempt, 2) << "attempt numbers go on across the reload";
}

// The engine describes its own Prometheus families (metrics/family.h).
TEST(EngineMetricFamiliesTest, CountersAndDecisionTimes) {
  EngineStats s;
  s.decisions = 7;
  s.reloads = 2;
  s.max_decision_time = std::chrono::microseconds(1500);
  auto all = metricFamilies(s);
  auto find = [&all](std::string_view name) { return metrics::findFamily(all, name); };
  ASSERT_EQ(all.size(), 8u);
  ASSERT_NE(find("pathpilot_engine_decisions_total"), nullptr);
  EXPECT_DOUBLE_EQ(find("pathpilot_engine_decisions_total")->samples.at(0).value, 7);
  ASSERT_NE(find("pathpilot_config_reloads_total"), nullptr);
  EXPECT_EQ(find("pathpilot_config_reloads_total")->type, metrics::MetricType::Counter);
  ASSERT_NE(find("pathpilot_engine_decision_max_seconds"), nullptr);
  EXPECT_DOUBLE_EQ(find("pathpilot_engine_decision_max_seconds")->samples.at(0).value, 0.0015);
}

// The Linux tables keep the protocol they were opened with; a reload cannot change whose
// routes are pathpilot's.
TEST_F(EngineTest, ReloadThatChangesLinuxRouteOwnershipIsRejected) {
  start();
  for (const char* backends :
       {"backends: {linux: {protocol: 201}}\n", "backends: {linux: {adopt_protocols: [boot]}}\n"}) {
    auto rejected = engine_->reload(loadConfig(std::string(kConfig) + backends));
    ASSERT_FALSE(rejected) << backends;
    EXPECT_NE(rejected.error().message().find("needs a restart"), std::string::npos)
        << rejected.error().message();
  }
  EXPECT_EQ(engine_->config().backends.linux_backend.protocol, kRtprotPathpilot);
  EXPECT_EQ(engine_->stats().reloads, 0u);
  // Other keys of the section still reload.
  ASSERT_TRUE(engine_->reload(
      loadConfig(std::string(kConfig) + "backends: {linux: {drift_check_interval: 10s}}\n")));
}

TEST_F(EngineTest, DeadGatewayIsRecoveredWhileProbingGoesOn) {
  start();
  for (int i = 0; i < 3; ++i) {
    round(true, true, true);
  }
  ScriptedAction* action = actions_["vpn-a"];
  ASSERT_NE(action, nullptr);
  for (int i = 0; i < 3; ++i) {
    round(true, false, true);
  }
  EXPECT_EQ(action->starts, 0);  // down, but not for `after` (1 s) yet
  for (int i = 0; i < 12; ++i) {
    round(true, false, true);
  }
  ASSERT_EQ(action->starts, 1);
  EXPECT_TRUE(action->running());
  EXPECT_EQ(count(EventKind::RecoveryStarted), 1);
  // The engine keeps probing and deciding while the action runs.
  auto before = engine_->stats().probe_results;
  for (int i = 0; i < 3; ++i) {
    round(false, false, true);
  }
  EXPECT_EQ(engine_->stats().probe_results, before + 9);
  EXPECT_EQ(routeOf("rtb-a"), kVpnB);
  action->finish(false);
  EXPECT_EQ(count(EventKind::RecoveryFailed), 1);
  EXPECT_NE(last(EventKind::RecoveryFailed)->reason.find("exit 3"), std::string::npos);
  // Backoff: the next attempt comes 5 s later, not at once.
  advance(std::chrono::seconds(2));
  EXPECT_EQ(action->starts, 1);
  advance(std::chrono::seconds(4));
  EXPECT_EQ(action->starts, 2);
  EXPECT_EQ(action->last_attempt, 2);
  action->finish(true);
  // The action's success alone is not a recovery: no event yet (a log line), and the status
  // shows the attempt waiting for the probes.
  EXPECT_EQ(count(EventKind::RecoverySucceeded), 0);
  EXPECT_EQ(count(EventKind::RecoveryFailed), 1);
  {
    auto settling = engine_->statusJson()["paths"][1]["recovery"];
    EXPECT_EQ(settling["phase"], "settling");
    EXPECT_NE(settling.value("detail", "").find("waiting for the probes"), std::string::npos)
        << settling.dump();
  }
  for (int i = 0; i < 3; ++i) {
    round(false, true, true);
  }
  // The probes see vpn-a again: the one terminal event of the attempt, with its facts.
  ASSERT_EQ(count(EventKind::RecoverySucceeded), 1);
  const auto* succeeded = last(EventKind::RecoverySucceeded);
  EXPECT_EQ(succeeded->path, "vpn-a");
  EXPECT_NE(succeeded->message.find("the gateway came back"), std::string::npos)
      << succeeded->message;
  EXPECT_NE(succeeded->message.find("scripted, attempt 2"), std::string::npos)
      << succeeded->message;
  EXPECT_NE(succeeded->message.find("the probes confirmed"), std::string::npos)
      << succeeded->message;
  EXPECT_NE(succeeded->reason.find("probes see the gateway"), std::string::npos)
      << succeeded->reason;
  // Back from cross-AZ to its own gateway: a failback, so after vpn-a is measured clean (its
  // window full, 7 rounds) and the hold-down.
  EXPECT_EQ(routeOf("rtb-a"), kVpnB);
  for (int i = 0; i < 62; ++i) {
    round(false, true, true);
  }
  EXPECT_EQ(routeOf("rtb-a"), kVpnA);
  auto status = engine_->statusJson();
  EXPECT_EQ(status["paths"][1]["recovery"]["action"], "scripted");
  EXPECT_EQ(status["paths"][1]["recovery"]["phase"], "idle");
  EXPECT_FALSE(status["paths"][1]["recovery"].contains("detail"));
  EXPECT_EQ(count(EventKind::RecoverySucceeded), 1);  // still exactly one for the attempt
  EXPECT_EQ(count(EventKind::RecoveryFailed), 1);
}

TEST_F(EngineTest, ResultsForUnknownPathsAreCounted) {
  start();
  probe::ProbeResult r;
  r.path = "gone";
  r.success = true;
  engine_->onProbeResult(r);
  EXPECT_EQ(engine_->stats().unknown_results, 1u);
}

// The probe settings reach the prober: the adaptive timeout as configured, and phase slots from
// the quorum (targets that must fail together share a slot; quorum = all staggers them).
TEST_F(EngineTest, ProbeTargetsCarryAdaptiveTimeoutAndQuorumPhases) {
  std::string text = kConfig;
  auto swap = [&text](const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
  };
  swap("probe: {interval: 100ms, timeout: 80ms, jitter: 0}",
       "probe: {interval: 100ms, timeout: 80ms, jitter: 0,\n"
       "        adaptive_timeout: {min: 5ms, rttvar_factor: 3, margin: 1ms}}");
  swap("probe: {targets: [10.10.3.100], source: 10.1.0.11}",
       "probe: {targets: [10.10.3.100, 10.10.0.1], source: 10.1.0.11}");
  swap("probe: {targets: [169.254.100.1], source: 10.1.0.12}",
       "probe: {targets: [169.254.100.1, 10.10.3.100], source: 10.1.0.12, quorum: 2,\n"
       "             adaptive_timeout: {enabled: false}}");
  makeEngine();
  ASSERT_TRUE(engine_->start(loadConfig(text)));
  std::map<std::string, std::vector<const probe::TargetSpec*>> by_path;
  for (const probe::TargetSpec& t : prober_.targets()) {
    by_path[t.path].push_back(&t);
  }
  ASSERT_EQ(by_path["dx"].size(), 2u);
  for (const probe::TargetSpec* t : by_path["dx"]) {
    ASSERT_TRUE(t->adaptive_timeout.has_value());
    EXPECT_EQ(t->adaptive_timeout->min, std::chrono::milliseconds(5));
    EXPECT_EQ(t->adaptive_timeout->rttvar_factor, 3.0);
    EXPECT_EQ(t->adaptive_timeout->margin, std::chrono::milliseconds(1));
    EXPECT_EQ(t->timeout, std::chrono::milliseconds(80));  // the ceiling
    EXPECT_EQ(t->phase, (probe::PhaseSlot{0, 1}));         // quorum 1: both in one slot
  }
  ASSERT_EQ(by_path["vpn-a"].size(), 2u);
  for (const probe::TargetSpec* t : by_path["vpn-a"]) {
    EXPECT_FALSE(t->adaptive_timeout.has_value());         // turned off for this path
    EXPECT_EQ(t->phase, (probe::PhaseSlot{t->index, 2}));  // quorum 2 of 2: half an interval apart
  }
}

}  // namespace
}  // namespace pathpilot::daemon

namespace pathpilot::daemon {
namespace {

// --- HA: the write gate (ha/ha_node.h drives it in the daemon) --------------------------------

TEST_F(EngineTest, AFollowerDecidesButWritesNothingAndStartsNoRecovery) {
  makeEngine();
  engine_->setWriteAllowed(false);
  ASSERT_TRUE(engine_->start(loadConfig()));
  settle();
  for (int i = 0; i < 3; ++i) {
    round(true, true, true);
  }
  for (int i = 0; i < 30; ++i) {  // DX down; vpn-a down for 3 s (its recovery's after: 1 s)
    round(false, false, true);
  }
  auto status = engine_->statusJson();
  EXPECT_EQ(status["routes"][0]["desired"], "vpn-b");
  EXPECT_EQ(routeOf("rtb-a"), kDx);
  EXPECT_EQ(tables_["rtb-a"]->applyCount(), 0);
  EXPECT_EQ(actions_["vpn-a"]->starts, 0);
  EXPECT_EQ(count(EventKind::RouteChanged), 0);
}

// A new leader holds gateway recovery until it has its predecessor's limits: the old leader
// restarted vpn-a's gateway a moment ago (attempt 1, back-off 60 s); without them this monitor
// would try again at once.
TEST_F(EngineTest, APromotedFollowerHoldsRecoveryUntilItHasThePredecessorsLimits) {
  makeEngine();
  engine_->setWriteAllowed(false);
  ASSERT_TRUE(engine_->start(loadConfig()));
  settle();
  for (int i = 0; i < 3; ++i) {
    round(true, true, true);
  }
  for (int i = 0; i < 30; ++i) {  // vpn-a down for 3 s as a follower (its after: 1 s)
    round(true, false, true);
  }
  engine_->holdRecovery(true);
  engine_->setWriteAllowed(true);
  settle();
  round(true, false, true);
  EXPECT_EQ(actions_["vpn-a"]->starts, 0) << "held";
  StoredRecovery old;
  old.starts = {clock_.wallNow() - std::chrono::seconds(2)};
  old.attempts = 1;
  old.failures = 1;
  old.not_before = clock_.wallNow() + std::chrono::seconds(58);
  engine_->adoptRecovery({{"vpn-a", old}});
  engine_->holdRecovery(false);
  for (int i = 0; i < 50; ++i) {  // 5 s: still inside the old leader's back-off
    round(true, false, true);
  }
  EXPECT_EQ(actions_["vpn-a"]->starts, 0) << "the old leader's back-off applies";
  auto status = engine_->statusJson();
  EXPECT_EQ(status["paths"][1]["recovery"]["attempts_last_hour"], 1) << status["paths"][1];
}

TEST_F(EngineTest, APromotedFollowerAdoptsWhatTheLeaderProgrammedBeforeWriting) {
  makeEngine();
  engine_->setWriteAllowed(false);
  ASSERT_TRUE(engine_->start(loadConfig()));
  settle();
  for (int i = 0; i < 3; ++i) {
    round(true, true, true);
  }
  // While this monitor follows, the leader moves both tables to vpn-b (its own view: DX and
  // vpn-a down). This monitor still sees everything up and would want DX.
  tables_["rtb-a"]->setRoute(kOnPrem, kVpnB);
  tables_["rtb-b"]->setRoute(kOnPrem, kVpnB);
  round(true, true, true);
  engine_->setWriteAllowed(true);
  settle();
  // Listed again and adopted: the takeover itself writes nothing, and the hold-down of the
  // adopted path applies as after a restart (5 s before failing back to DX).
  EXPECT_EQ(tables_["rtb-a"]->applyCount(), 0);
  EXPECT_EQ(routeOf("rtb-a"), kVpnB);
  EXPECT_EQ(count(EventKind::RouteDrift), 0) << "the previous leader's change is not drift";
  auto status = engine_->statusJson();
  EXPECT_EQ(status["routes"][0]["current"], "vpn-b");
  for (int i = 0; i < 80; ++i) {
    round(true, true, true);
  }
  EXPECT_EQ(routeOf("rtb-a"), kDx) << "then its own decisions apply";
  EXPECT_EQ(last(EventKind::RouteChanged, "rtb-a")->from, "vpn-b");
}

TEST_F(EngineTest, ADisputedPathIsNoEvidence) {
  // The other monitors see DX up: this monitor's DX failure (its own network) moves nothing and
  // starts no recovery; once the dispute ends, its view counts again.
  start();
  for (int i = 0; i < 3; ++i) {
    round(true, true, true);
  }
  engine_->setDisputed({{"dx", "mon-b"}, {"vpn-a", "mon-b"}});
  EXPECT_EQ(count(EventKind::MonitorSuspect), 1);
  EXPECT_NE(last(EventKind::MonitorSuspect)->reason.find("dx up for mon-b"), std::string::npos);
  for (int i = 0; i < 30; ++i) {  // 3 s: vpn-a's recovery (after: 1 s) would have started
    round(false, false, true);
  }
  EXPECT_EQ(routeOf("rtb-a"), kDx);
  EXPECT_EQ(tables_["rtb-a"]->applyCount(), 0);
  EXPECT_EQ(actions_["vpn-a"]->starts, 0);
  EXPECT_EQ(engine_->statusJson()["disputed"]["dx"], "mon-b");
  engine_->setDisputed({});
  EXPECT_EQ(count(EventKind::MonitorTrusted), 1);
  round(false, false, true);
  EXPECT_EQ(routeOf("rtb-a"), kVpnB) << "undisputed, its own view decides again";
}

TEST_F(EngineTest, AnUnconfirmedFailureWaitsForTheGroupWithoutAnEvent) {
  start();
  for (int i = 0; i < 3; ++i) {
    round(true, true, true);
  }
  engine_->requireConfirmation(true);
  for (int i = 0; i < 3; ++i) {
    round(false, true, true);
  }
  EXPECT_EQ(routeOf("rtb-a"), kDx) << "not before the group confirms";
  EXPECT_EQ(count(EventKind::MonitorSuspect), 0);
  EXPECT_TRUE(engine_->statusJson().contains("confirmed"));
  engine_->setConfirmed({"dx"});  // the others' views now show dx down too
  settle();
  EXPECT_EQ(routeOf("rtb-a"), kVpnA) << "the confirmation alone triggers the failover";
}

TEST_F(EngineTest, ADemotedLeaderStopsWritingAtOnce) {
  start();
  for (int i = 0; i < 3; ++i) {
    round(true, true, true);
  }
  engine_->setWriteAllowed(false);
  for (int i = 0; i < 3; ++i) {
    round(false, true, true);
  }
  EXPECT_EQ(routeOf("rtb-a"), kDx);
  EXPECT_EQ(tables_["rtb-a"]->applyCount(), 0);
}

}  // namespace
}  // namespace pathpilot::daemon
