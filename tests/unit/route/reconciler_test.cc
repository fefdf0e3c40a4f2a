#include "route/reconciler.h"

#include <gtest/gtest.h>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "fakes/fake_clock.h"
#include "fakes/fake_route_table.h"
#include "fakes/manual_executor.h"
#include "runtime/executor.h"

namespace pathpilot::route {
namespace {

using pathpilot::testing::FakeClock;
using pathpilot::testing::FakeRouteTable;
using pathpilot::testing::ManualExecutor;
using Op = FakeRouteTable::Op;

IpPrefix prefix(const char* text) { return *IpPrefix::parse(text); }

const IpPrefix kOnPrem = prefix("10.10.0.0/16");
const IpPrefix kOther = prefix("10.20.0.0/16");
const DesiredRoute kDx{NextHop::opaque("vgw-078bcc55"), "dx"};
const DesiredRoute kVpnA{NextHop::opaque("eni-aaaa"), "vpn-a"};
const DesiredRoute kVpnB{NextHop::opaque("eni-bbbb"), "vpn-b"};

class ReconcilerTest : public ::testing::Test {
 protected:
  static ReconcilerOptions defaultOptions() {
    ReconcilerOptions options;
    options.retry.initial = milliseconds(500);
    options.retry.max = seconds(30);
    options.retry.jitter = 0;  // exact delays; jitter has its own test
    options.seed = 1;
    options.full_check_interval = seconds(60);
    return options;
  }

  void make(ReconcilerOptions options = defaultOptions()) {
    ReconcilerCallbacks callbacks;
    callbacks.route_changed = [this](const RouteChangedEvent& e) { changed.push_back(e); };
    callbacks.route_error = [this](const RouteErrorEvent& e) { errors.push_back(e); };
    callbacks.route_drift = [this](const RouteDriftEvent& e) { drifts.push_back(e); };
    callbacks.wakeup = [this](MonoTime when) { wakeup = when; };
    reconciler = std::make_unique<Reconciler>(executor, clock, callbacks, options);
  }

  void addTables() {
    reconciler->addTable(rtb1, clock.now());
    reconciler->addTable(rtb2, clock.now());
  }

  // A reconciler managing rtb-1 and rtb-2, not started.
  void makeWithTables(ReconcilerOptions options = defaultOptions()) {
    make(options);
    addTables();
  }

  // A started reconciler whose (empty) tables have been listed: the usual starting point of a
  // test about what happens after start-up.
  void startListed(ReconcilerOptions options = defaultOptions()) {
    makeWithTables(options);
    reconciler->start(clock.now());
    executor.runAll();
  }

  // A started reconciler that has programmed rtb-1's on-prem route on DX (decided right after
  // start, so the initial list and the write are one round: one list, one apply).
  void startWithRouteOnDx() {
    makeWithTables();
    reconciler->start(clock.now());
    desire(rtb1, kOnPrem, kDx);
    executor.runAll();
  }

  void desire(FakeRouteTable& table, const IpPrefix& dst, const DesiredRoute& route) {
    ASSERT_TRUE(reconciler->setDesired({table.id(), dst}, route, clock.now()));
  }

  // Advances the fake clock to the next wake-up and polls.
  void advanceToWakeup() {
    ASSERT_NE(wakeup, MonoTime::max());
    clock.advance(wakeup - clock.now());
    reconciler->poll(clock.now());
  }

  FakeClock clock;
  ManualExecutor executor;
  FakeRouteTable rtb1{"rtb-1"};
  FakeRouteTable rtb2{"rtb-2"};
  std::unique_ptr<Reconciler> reconciler;
  std::vector<RouteChangedEvent> changed;
  std::vector<RouteErrorEvent> errors;
  std::vector<RouteDriftEvent> drifts;
  MonoTime wakeup = MonoTime::max();
};

TEST_F(ReconcilerTest, AdoptsMatchingRoutesAtStartWithoutCallingBackend) {
  rtb1.setRoute(kOnPrem, kDx.next_hop);
  makeWithTables();
  desire(rtb1, kOnPrem, kDx);
  EXPECT_EQ(executor.pending(), 0u) << "nothing may run before start()";
  reconciler->start(clock.now());
  EXPECT_EQ(reconciler->tableState("rtb-1"), SyncState::Awaiting);
  executor.runAll();
  EXPECT_EQ(rtb1.applyCount(), 0);
  EXPECT_EQ(rtb1.listCount(), 1);
  EXPECT_EQ(reconciler->stats().adopted, 1u);
  EXPECT_TRUE(changed.empty());
  EXPECT_EQ(reconciler->tableState("rtb-1"), SyncState::Synced);
  EXPECT_TRUE(reconciler->allSynced());
  auto status = reconciler->snapshot();
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].programmed_path, "dx");
}

TEST_F(ReconcilerTest, FixesOnlyRoutesThatDifferAtStart) {
  rtb1.setRoute(kOnPrem, kDx.next_hop);
  rtb1.setRoute(kOther, kVpnB.next_hop);
  makeWithTables();
  desire(rtb1, kOnPrem, kDx);
  desire(rtb1, kOther, kVpnA);
  reconciler->start(clock.now());
  executor.runAll();
  ASSERT_EQ(rtb1.applyCount(), 1);
  auto calls = rtb1.calls();
  ASSERT_EQ(calls.back().op, Op::Apply);
  EXPECT_EQ(calls.back().delta->destination, kOther);
  EXPECT_EQ(calls.back().delta->old_next_hop, kVpnB.next_hop);
  EXPECT_EQ(calls.back().delta->new_next_hop, kVpnA.next_hop);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].key, (RouteKey{"rtb-1", kOther}));
  EXPECT_EQ(changed[0].from, kVpnB.next_hop);
  EXPECT_EQ(changed[0].from_path, "") << "the path of an adopted foreign route is unknown";
  EXPECT_EQ(changed[0].to, kVpnA.next_hop);
  EXPECT_EQ(changed[0].to_path, "vpn-a");
  EXPECT_EQ(rtb1.routeFor(kOther), kVpnA.next_hop);
  EXPECT_EQ(rtb1.routeFor(kOnPrem), kDx.next_hop);
}

TEST_F(ReconcilerTest, UndecidedDestinationsAreLeftAlone) {
  rtb1.setRoute(kOnPrem, kVpnB.next_hop);
  startListed();
  EXPECT_EQ(rtb1.applyCount(), 0);
  EXPECT_EQ(rtb1.routeFor(kOnPrem), kVpnB.next_hop);
}

TEST_F(ReconcilerTest, NothingIsWrittenUntilTheInitialListSucceeds) {
  makeWithTables();
  rtb1.failNext(2, ErrorCode::Unavailable, Op::List);
  reconciler->start(clock.now());
  desire(rtb1, kOnPrem, kDx);
  executor.runAll();
  EXPECT_EQ(rtb1.applyCount(), 0);
  EXPECT_EQ(reconciler->tableState("rtb-1"), SyncState::Awaiting);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_TRUE(errors[0].table_level);
  EXPECT_EQ(errors[0].operation, "list");
  EXPECT_EQ(errors[0].retry_in, milliseconds(500));
  // The other table is not held up by rtb-1's failing list.
  EXPECT_EQ(reconciler->tableState("rtb-2"), SyncState::Synced);

  EXPECT_EQ(wakeup, clock.now() + milliseconds(500));
  advanceToWakeup();
  executor.runAll();
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[1].retry_in, seconds(1));
  advanceToWakeup();
  executor.runAll();
  EXPECT_EQ(rtb1.applyCount(), 1);
  EXPECT_EQ(rtb1.routeFor(kOnPrem), kDx.next_hop);
  EXPECT_EQ(reconciler->tableState("rtb-1"), SyncState::Synced);
}

TEST_F(ReconcilerTest, RetriesFailedApplyWithExponentialBackoff) {
  startListed();
  rtb1.failNext(3, ErrorCode::Throttled, Op::Apply);
  MonoTime decided = clock.now();
  desire(rtb1, kOnPrem, kDx);
  executor.runAll();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].attempt, 1);
  EXPECT_EQ(errors[0].retry_in, milliseconds(500));
  EXPECT_EQ(errors[0].error.code(), ErrorCode::Throttled);
  EXPECT_EQ(reconciler->tableState("rtb-1"), SyncState::Syncing);

  // Not a nanosecond early.
  clock.advance(milliseconds(499));
  reconciler->poll(clock.now());
  EXPECT_EQ(executor.pending(), 0u);
  clock.advance(milliseconds(1));
  reconciler->poll(clock.now());
  EXPECT_EQ(executor.pending(), 1u);
  executor.runAll();
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[1].retry_in, seconds(1));
  advanceToWakeup();
  executor.runAll();
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[2].retry_in, seconds(2));
  advanceToWakeup();
  executor.runAll();

  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].attempts, 4);
  EXPECT_EQ(changed[0].latency, clock.now() - decided);
  EXPECT_EQ(changed[0].latency, milliseconds(3500));
  EXPECT_EQ(rtb1.applyCount(), 4);
  EXPECT_EQ(reconciler->stats().apply_failures, 3u);
  EXPECT_EQ(reconciler->tableState("rtb-1"), SyncState::Synced);
  auto status = reconciler->snapshot();
  EXPECT_EQ(status[0].failures, 0);
  EXPECT_FALSE(status[0].last_error.has_value());
}

TEST_F(ReconcilerTest, BackoffIsCappedAtMax) {
  ReconcilerOptions options = defaultOptions();
  options.retry.max = seconds(2);
  startListed(options);
  rtb1.failAlways(ErrorCode::PermissionDenied, Op::Apply);
  desire(rtb1, kOnPrem, kDx);
  for (int i = 0; i < 6; ++i) {
    executor.runAll();
    advanceToWakeup();
  }
  ASSERT_GE(errors.size(), 6u);
  EXPECT_EQ(errors[0].retry_in, milliseconds(500));
  EXPECT_EQ(errors[1].retry_in, seconds(1));
  EXPECT_EQ(errors[2].retry_in, seconds(2));
  EXPECT_EQ(errors[5].retry_in, seconds(2));
  auto status = reconciler->snapshot();
  ASSERT_TRUE(status[0].last_error.has_value());
  EXPECT_EQ(status[0].last_error->code(), ErrorCode::PermissionDenied);
}

TEST_F(ReconcilerTest, FailingTableDoesNotDelayOthers) {
  startListed();
  rtb1.failAlways(ErrorCode::Unavailable, Op::Apply);
  desire(rtb1, kOnPrem, kDx);
  desire(rtb2, kOnPrem, kDx);
  executor.runAll();
  EXPECT_EQ(rtb2.routeFor(kOnPrem), kDx.next_hop);
  EXPECT_EQ(reconciler->tableState("rtb-2"), SyncState::Synced);
  EXPECT_EQ(reconciler->tableState("rtb-1"), SyncState::Syncing);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].key.table, "rtb-2");
  // rtb-1 keeps retrying on its own schedule; rtb-2 gets new work done meanwhile.
  desire(rtb2, kOther, kVpnB);
  executor.runAll();
  EXPECT_EQ(rtb2.routeFor(kOther), kVpnB.next_hop);
}

TEST_F(ReconcilerTest, SlowTableDoesNotDelayOthers) {
  makeWithTables();
  desire(rtb1, kOnPrem, kDx);
  desire(rtb2, kOnPrem, kDx);
  reconciler->start(clock.now());
  // One job per table is in flight at the same time (the initial lists).
  EXPECT_EQ(executor.pending("table rtb-1"), 1u);
  EXPECT_EQ(executor.pending("table rtb-2"), 1u);
  // rtb-1's list hangs (never completes here); rtb-2 is listed and programmed.
  ASSERT_TRUE(executor.runNext("table rtb-2"));
  ASSERT_TRUE(executor.runNext("table rtb-2"));
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].key.table, "rtb-2");
  EXPECT_EQ(reconciler->tableState("rtb-2"), SyncState::Synced);
  // More work for rtb-2 (a new destination: listed, then written) goes on meanwhile.
  desire(rtb2, kOther, kVpnB);
  EXPECT_EQ(executor.pending("table rtb-2"), 1u);
  while (executor.runNext("table rtb-2")) {
  }
  EXPECT_EQ(rtb2.routeFor(kOther), kVpnB.next_hop);
  // rtb-1 still has exactly one call out, and it is not duplicated.
  EXPECT_EQ(executor.pending("table rtb-1"), 1u);
  EXPECT_EQ(reconciler->tableState("rtb-1"), SyncState::Awaiting);
  EXPECT_EQ(rtb1.listCount(), 0);
  executor.runAll();
  EXPECT_EQ(reconciler->tableState("rtb-1"), SyncState::Synced);
  EXPECT_EQ(rtb1.routeFor(kOnPrem), kDx.next_hop);
}

TEST_F(ReconcilerTest, DriftReportedByNotificationIsRepaired) {
  startWithRouteOnDx();
  ASSERT_EQ(rtb1.routeFor(kOnPrem), kDx.next_hop);
  changed.clear();

  // An operator points the route elsewhere by hand.
  rtb1.setRoute(kOnPrem, kVpnB.next_hop);
  clock.advance(seconds(5));
  RouteNotice notice{RouteNotice::Kind::Added, Route{"rtb-1", kOnPrem, kVpnB.next_hop}};
  EXPECT_TRUE(reconciler->noteExternalChange(notice, clock.now()));
  executor.runAll();
  ASSERT_EQ(drifts.size(), 1u);
  EXPECT_EQ(drifts[0].key, (RouteKey{"rtb-1", kOnPrem}));
  EXPECT_EQ(drifts[0].expected, kDx.next_hop);
  EXPECT_EQ(drifts[0].actual, kVpnB.next_hop);
  EXPECT_EQ(drifts[0].detected_by, "notification");
  EXPECT_EQ(rtb1.routeFor(kOnPrem), kDx.next_hop);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].from, kVpnB.next_hop);
  EXPECT_EQ(changed[0].to, kDx.next_hop);
  EXPECT_EQ(changed[0].latency, Duration::zero()) << "measured from the drift's detection";
  EXPECT_EQ(reconciler->stats().drifts, 1u);
}

TEST_F(ReconcilerTest, DeletedRouteIsPutBack) {
  startWithRouteOnDx();
  rtb1.removeRoute(kOnPrem);
  RouteNotice notice{RouteNotice::Kind::Removed, Route{"rtb-1", kOnPrem, kDx.next_hop}};
  EXPECT_TRUE(reconciler->noteExternalChange(notice, clock.now()));
  executor.runAll();
  ASSERT_EQ(drifts.size(), 1u);
  EXPECT_FALSE(drifts[0].actual.has_value());
  EXPECT_EQ(rtb1.routeFor(kOnPrem), kDx.next_hop);
  EXPECT_FALSE(changed.back().from.has_value());
}

TEST_F(ReconcilerTest, EchoOfOwnChangeIsIgnored) {
  makeWithTables();
  desire(rtb1, kOnPrem, kDx);
  reconciler->start(clock.now());
  ASSERT_TRUE(executor.runNext("table rtb-1"));  // the initial list
  // The kernel's notification may arrive before our completion...
  ASSERT_TRUE(executor.runBodyOnly("table rtb-1"));
  RouteNotice echo{RouteNotice::Kind::Added, Route{"rtb-1", kOnPrem, kDx.next_hop}};
  EXPECT_FALSE(reconciler->noteExternalChange(echo, clock.now()));
  ASSERT_TRUE(executor.deliverNext());
  // ...or after it.
  EXPECT_FALSE(reconciler->noteExternalChange(echo, clock.now()));
  // Changes to destinations and tables we do not manage are none of our business.
  RouteNotice foreign{RouteNotice::Kind::Added, Route{"rtb-1", kOther, kVpnB.next_hop}};
  EXPECT_FALSE(reconciler->noteExternalChange(foreign, clock.now()));
  RouteNotice other_table{RouteNotice::Kind::Added, Route{"rtb-9", kOnPrem, kVpnB.next_hop}};
  EXPECT_FALSE(reconciler->noteExternalChange(other_table, clock.now()));
  EXPECT_EQ(executor.pending("table rtb-1"), 0u);
  EXPECT_EQ(rtb1.listCount(), 1);
  EXPECT_TRUE(drifts.empty());
}

TEST_F(ReconcilerTest, PeriodicFullCheckFindsSilentDrift) {
  startWithRouteOnDx();
  rtb1.setRoute(kOnPrem, kVpnA.next_hop);  // no notification (e.g. an AWS console edit)
  EXPECT_EQ(wakeup, clock.now() + seconds(60));
  advanceToWakeup();
  executor.runAll();
  ASSERT_EQ(drifts.size(), 1u);
  EXPECT_EQ(drifts[0].detected_by, "periodic check");
  EXPECT_EQ(rtb1.routeFor(kOnPrem), kDx.next_hop);
}

TEST_F(ReconcilerTest, RestartResyncMakesZeroRedundantCalls) {
  makeWithTables();
  reconciler->start(clock.now());
  for (FakeRouteTable* table : {&rtb1, &rtb2}) {
    desire(*table, kOnPrem, kDx);
    desire(*table, kOther, kVpnA);
  }
  executor.runAll();
  ASSERT_EQ(rtb1.applyCount() + rtb2.applyCount(), 4);

  // kill -9: the process is gone, the tables keep their routes.
  reconciler.reset();
  rtb1.clearCalls();
  rtb2.clearCalls();
  changed.clear();

  makeWithTables();
  for (FakeRouteTable* table : {&rtb1, &rtb2}) {
    desire(*table, kOnPrem, kDx);
    desire(*table, kOther, kVpnA);
  }
  reconciler->start(clock.now());
  executor.runAll();
  EXPECT_EQ(rtb1.applyCount(), 0);
  EXPECT_EQ(rtb2.applyCount(), 0);
  EXPECT_EQ(reconciler->stats().adopted, 4u);
  EXPECT_TRUE(changed.empty());
  EXPECT_TRUE(reconciler->allSynced());
}

TEST_F(ReconcilerTest, RestartAfterKillMidCallAdoptsWhatLanded) {
  makeWithTables();
  desire(rtb1, kOnPrem, kDx);
  reconciler->start(clock.now());
  ASSERT_TRUE(executor.runNext("table rtb-1"));  // the initial list
  // The backend call lands, but the process dies before its completion runs.
  ASSERT_TRUE(executor.runBodyOnly("table rtb-1"));
  reconciler.reset();
  ASSERT_TRUE(executor.deliverNext());  // a late completion finds no reconciler: no effect
  EXPECT_TRUE(changed.empty());
  rtb1.clearCalls();

  makeWithTables();
  desire(rtb1, kOnPrem, kDx);
  reconciler->start(clock.now());
  executor.runAll();
  EXPECT_EQ(rtb1.applyCount(), 0);
  EXPECT_EQ(reconciler->stats().adopted, 1u);
}

TEST_F(ReconcilerTest, DecisionChangedDuringCallIsProgrammedNext) {
  makeWithTables();
  desire(rtb1, kOnPrem, kVpnA);
  reconciler->start(clock.now());
  ASSERT_TRUE(executor.runNext("table rtb-1"));  // the initial list
  ASSERT_TRUE(executor.runBodyOnly("table rtb-1"));
  desire(rtb1, kOnPrem, kDx);  // while the first call is out
  EXPECT_EQ(executor.pending("table rtb-1"), 0u) << "one call per table at a time";
  ASSERT_TRUE(executor.deliverNext());
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].to, kVpnA.next_hop);
  EXPECT_EQ(executor.pending("table rtb-1"), 1u);
  executor.runAll();
  ASSERT_EQ(changed.size(), 2u);
  EXPECT_EQ(changed[1].from, kVpnA.next_hop);
  EXPECT_EQ(changed[1].to, kDx.next_hop);
  EXPECT_EQ(rtb1.routeFor(kOnPrem), kDx.next_hop);
}

TEST_F(ReconcilerTest, RouteChangedCarriesLatencies) {
  makeWithTables();
  desire(rtb1, kOnPrem, kDx);
  reconciler->start(clock.now());
  ASSERT_TRUE(executor.runNext("table rtb-1"));  // the initial list
  clock.advance(milliseconds(40));
  ASSERT_TRUE(executor.runBodyOnly("table rtb-1"));
  clock.advance(milliseconds(210));
  ASSERT_TRUE(executor.deliverNext());
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].latency, milliseconds(250));
  EXPECT_EQ(changed[0].call_latency, milliseconds(250));
  EXPECT_EQ(changed[0].attempts, 1);
}

TEST_F(ReconcilerTest, WriteGateHoldsChangesAndDriftReports) {
  makeWithTables();
  reconciler->setWriteAllowed(false, clock.now());
  reconciler->start(clock.now());
  desire(rtb1, kOnPrem, kDx);
  executor.runAll();
  EXPECT_EQ(rtb1.applyCount(), 0);
  EXPECT_EQ(reconciler->tableState("rtb-1"), SyncState::Syncing);
  reconciler->setWriteAllowed(true, clock.now());
  executor.runAll();
  EXPECT_EQ(rtb1.routeFor(kOnPrem), kDx.next_hop);
  EXPECT_EQ(rtb1.listCount(), 2) << "a new leader verifies before it writes";
  EXPECT_TRUE(drifts.empty());
}

TEST_F(ReconcilerTest, WithdrawDeletesTheRoute) {
  rtb1.setRoute(kOnPrem, kDx.next_hop);
  startListed();
  ASSERT_TRUE(reconciler->withdraw({"rtb-1", kOnPrem}, clock.now()));
  executor.runAll();
  EXPECT_FALSE(rtb1.routeFor(kOnPrem).has_value());
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_FALSE(changed[0].to.has_value());
  // Withdrawing again, or a destination with no route, calls nothing.
  ASSERT_TRUE(reconciler->withdraw({"rtb-1", kOnPrem}, clock.now()));
  ASSERT_TRUE(reconciler->withdraw({"rtb-1", kOther}, clock.now()));
  executor.runAll();
  EXPECT_EQ(rtb1.applyCount(), 1);
}

// Another owner's route (a backend that tells owners apart lists it as a foreign marker) is
// never deleted by a withdrawal, and its coming and going is not drift.
const NextHop kForeign = NextHop::foreign("zstatic");

TEST_F(ReconcilerTest, WithdrawNeverDeletesAForeignRoute) {
  rtb1.setRoute(kOnPrem, kForeign);
  startListed();
  ASSERT_TRUE(reconciler->withdraw({"rtb-1", kOnPrem}, clock.now()));
  executor.runAll();
  EXPECT_EQ(rtb1.applyCount(), 0) << "nothing of ours to delete";
  EXPECT_EQ(rtb1.routeFor(kOnPrem), kForeign);
  EXPECT_TRUE(reconciler->allSynced());
  // Nor is it drift on the periodic check.
  clock.advance(seconds(61));
  reconciler->poll(clock.now());
  executor.runAll();
  EXPECT_TRUE(drifts.empty());
  EXPECT_EQ(rtb1.applyCount(), 0);
}

TEST_F(ReconcilerTest, ForeignRouteTakingOurDestinationIsDriftAndRefusalsBackOff) {
  startWithRouteOnDx();
  changed.clear();
  // Another owner replaces our route; the backend refuses to overwrite it.
  rtb1.setRoute(kOnPrem, kForeign);
  rtb1.failAlways(ErrorCode::AlreadyExists, Op::Apply);
  RouteNotice notice{RouteNotice::Kind::Added, Route{"rtb-1", kOnPrem, kForeign}};
  EXPECT_TRUE(reconciler->noteExternalChange(notice, clock.now()));
  executor.runAll();
  ASSERT_EQ(drifts.size(), 1u);
  EXPECT_EQ(drifts[0].expected, kDx.next_hop);
  EXPECT_EQ(drifts[0].actual, kForeign);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].error.code(), ErrorCode::AlreadyExists);
  EXPECT_EQ(errors[0].retry_in, milliseconds(500));
  advanceToWakeup();
  executor.runAll();
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[1].retry_in, seconds(1)) << "refusals back off like any failure";
  EXPECT_EQ(drifts.size(), 1u) << "one drift, not one per refusal";
  EXPECT_TRUE(changed.empty());
}

TEST_F(ReconcilerTest, ForeignRouteGoingAwayIsNotDriftAndIsRetriedAtOnce) {
  rtb1.setRoute(kOnPrem, kForeign);
  rtb1.failAlways(ErrorCode::AlreadyExists, Op::Apply);
  startListed();
  desire(rtb1, kOnPrem, kDx);
  executor.runAll();
  // Refused a few times: the next retry is seconds away.
  advanceToWakeup();
  executor.runAll();
  advanceToWakeup();
  executor.runAll();
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors.back().retry_in, seconds(2));
  EXPECT_TRUE(drifts.empty()) << "a foreign route found at start is not drift";

  // Its owner removes it: the notification leads to a verify, and the write goes out now.
  rtb1.clearFailures();
  rtb1.removeRoute(kOnPrem);
  RouteNotice notice{RouteNotice::Kind::Removed, Route{"rtb-1", kOnPrem, kForeign}};
  EXPECT_TRUE(reconciler->noteExternalChange(notice, clock.now()));
  executor.runAll();
  EXPECT_TRUE(drifts.empty()) << "someone else's route going away is not drift";
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(rtb1.routeFor(kOnPrem), kDx.next_hop);
  EXPECT_TRUE(reconciler->allSynced());
}

TEST_F(ReconcilerTest, NewDestinationAfterStartIsListedBeforeWritten) {
  startListed();
  rtb1.setRoute(kOther, kVpnA.next_hop);
  desire(rtb1, kOther, kVpnA);
  executor.runAll();
  EXPECT_EQ(rtb1.applyCount(), 0);
  EXPECT_EQ(reconciler->stats().adopted, 1u);
}

TEST_F(ReconcilerTest, ForgetStopsManagingWithoutTouchingTheTable) {
  startWithRouteOnDx();
  reconciler->forget({"rtb-1", kOnPrem}, clock.now());
  rtb1.setRoute(kOnPrem, kVpnB.next_hop);
  RouteNotice notice{RouteNotice::Kind::Added, Route{"rtb-1", kOnPrem, kVpnB.next_hop}};
  EXPECT_FALSE(reconciler->noteExternalChange(notice, clock.now()));
  EXPECT_TRUE(reconciler->snapshot().empty());
  EXPECT_EQ(rtb1.routeFor(kOnPrem), kVpnB.next_hop);
}

TEST_F(ReconcilerTest, OverrunVerifiesEveryTable) {
  makeWithTables();
  reconciler->start(clock.now());
  desire(rtb1, kOnPrem, kDx);
  desire(rtb2, kOnPrem, kDx);
  executor.runAll();
  rtb2.setRoute(kOnPrem, kVpnB.next_hop);
  RouteNotice overrun;
  overrun.kind = RouteNotice::Kind::Overrun;
  EXPECT_TRUE(reconciler->noteExternalChange(overrun, clock.now()));
  executor.runAll();
  EXPECT_EQ(rtb1.listCount(), 2);
  EXPECT_EQ(rtb2.listCount(), 2);
  ASSERT_EQ(drifts.size(), 1u);
  EXPECT_EQ(drifts[0].key.table, "rtb-2");
  EXPECT_EQ(rtb2.routeFor(kOnPrem), kDx.next_hop);
}

TEST_F(ReconcilerTest, FailedVerifyIsRetriedWithBackoff) {
  startWithRouteOnDx();
  rtb1.failNext(1, ErrorCode::Timeout, Op::List);
  rtb1.setRoute(kOnPrem, kVpnA.next_hop);
  reconciler->requestVerify("rtb-1", clock.now());
  executor.runAll();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].operation, "list");
  EXPECT_EQ(wakeup, clock.now() + milliseconds(500));
  advanceToWakeup();
  executor.runAll();
  ASSERT_EQ(drifts.size(), 1u);
  EXPECT_EQ(drifts[0].detected_by, "request");
  EXPECT_EQ(rtb1.routeFor(kOnPrem), kDx.next_hop);
}

TEST_F(ReconcilerTest, RejectsUnknownTableAndMalformedNextHop) {
  makeWithTables();
  auto unknown = reconciler->setDesired({"rtb-9", kOnPrem}, kDx, clock.now());
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), ErrorCode::NotFound);
  EXPECT_NE(unknown.error().message().find("rtb-9"), std::string::npos);
  auto empty = reconciler->setDesired({"rtb-1", kOnPrem}, DesiredRoute{}, clock.now());
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code(), ErrorCode::InvalidArgument);
  DesiredRoute v6_gateway{NextHop::gateway(*IpAddress::parse("2001:db8::1")), "vpn-a"};
  auto family = reconciler->setDesired({"rtb-1", kOnPrem}, v6_gateway, clock.now());
  ASSERT_FALSE(family);
  EXPECT_EQ(family.error().code(), ErrorCode::InvalidArgument);
}

TEST_F(ReconcilerTest, PathRenameDoesNotCallTheBackend) {
  startWithRouteOnDx();
  desire(rtb1, kOnPrem, DesiredRoute{kDx.next_hop, "dx-primary"});
  executor.runAll();
  EXPECT_EQ(rtb1.applyCount(), 1);
  EXPECT_EQ(reconciler->snapshot()[0].programmed_path, "dx-primary");
}

TEST_F(ReconcilerTest, TrackedDestinationIsLearntButNotChanged) {
  rtb1.setRoute(kOnPrem, kVpnB.next_hop);
  makeWithTables();
  ASSERT_TRUE(reconciler->track({"rtb-1", kOnPrem}, clock.now()));
  EXPECT_FALSE(reconciler->track({"rtb-9", kOnPrem}, clock.now()));
  reconciler->start(clock.now());
  executor.runAll();
  auto status = reconciler->snapshot();
  ASSERT_EQ(status.size(), 1u);
  EXPECT_TRUE(status[0].known);
  EXPECT_FALSE(status[0].desired.has_value());
  EXPECT_EQ(status[0].programmed, kVpnB.next_hop);
  EXPECT_EQ(rtb1.applyCount(), 0);
  // Deciding what is already there writes nothing; deciding otherwise writes once.
  desire(rtb1, kOnPrem, kVpnB);
  executor.runAll();
  EXPECT_EQ(rtb1.applyCount(), 0);
  desire(rtb1, kOnPrem, kDx);
  executor.runAll();
  EXPECT_EQ(rtb1.applyCount(), 1);
  // Tracking a destination after start lists the table first.
  rtb1.setRoute(kOther, kVpnA.next_hop);
  ASSERT_TRUE(reconciler->track({"rtb-1", kOther}, clock.now()));
  executor.runAll();
  EXPECT_EQ(reconciler->snapshot()[1].programmed, kVpnA.next_hop);
}

TEST_F(ReconcilerTest, JobsQueuedWhenDestroyedNeverTouchTheTable) {
  makeWithTables();
  desire(rtb1, kOnPrem, kDx);
  reconciler->start(clock.now());
  ASSERT_EQ(executor.pending(), 2u);
  reconciler.reset();
  executor.runAll();
  EXPECT_TRUE(rtb1.calls().empty());
  EXPECT_TRUE(rtb2.calls().empty());
}

// Shutdown in any order: the destructor waits for a backend call that is running on a worker,
// so the table may be destroyed right after the reconciler.
TEST(ReconcilerThreadsTest, DestructorWaitsForRunningBackendCalls) {
  asio::io_context io;
  RealClock clock;
  auto rtb1 = std::make_unique<FakeRouteTable>("rtb-1");
  runtime::ThreadPoolExecutor executor(io, 1);
  auto reconciler = std::make_unique<Reconciler>(executor, clock, ReconcilerCallbacks{});
  reconciler->addTable(*rtb1, clock.now());
  rtb1->closeGate();
  reconciler->start(clock.now());
  rtb1->waitForBlocked(1);  // the list is running on the worker now
  std::atomic<bool> destroying{false};
  std::thread opener([&] {
    while (!destroying.load()) {
      std::this_thread::yield();
    }
    rtb1->openGate();
  });
  destroying = true;
  reconciler.reset();  // returns only once the list has left the table
  EXPECT_EQ(rtb1->listCount(), 1);
  opener.join();
  rtb1.reset();  // safe: no worker holds it
}

// The same isolation with real worker threads: rtb-1's calls block in the backend (a closed
// gate, not a sleep) while rtb-2 is listed and programmed.
TEST(ReconcilerThreadsTest, SlowTableDoesNotDelayOthersOnWorkerThreads) {
  asio::io_context io;
  RealClock clock;
  FakeRouteTable rtb1("rtb-1");
  FakeRouteTable rtb2("rtb-2");
  std::vector<RouteChangedEvent> changed;
  auto work = asio::make_work_guard(io);  // keep run_one_for waiting while workers run
  {
    runtime::ThreadPoolExecutor executor(io, 2);
    // Whatever happens below, never leave a worker stuck at the gate: the executor's
    // destructor joins its workers.
    struct OpenGate {
      FakeRouteTable& table;
      ~OpenGate() { table.openGate(); }
    } open_gate{rtb1};
    ReconcilerCallbacks callbacks;
    callbacks.route_changed = [&](const RouteChangedEvent& e) { changed.push_back(e); };
    Reconciler reconciler(executor, clock, callbacks);
    reconciler.addTable(rtb1, clock.now());
    reconciler.addTable(rtb2, clock.now());
    rtb1.closeGate();
    ASSERT_TRUE(reconciler.setDesired({"rtb-1", kOnPrem}, kDx, clock.now()));
    ASSERT_TRUE(reconciler.setDesired({"rtb-2", kOnPrem}, kDx, clock.now()));
    reconciler.start(clock.now());

    auto run_until = [&](auto done) {
      auto deadline = std::chrono::steady_clock::now() + seconds(10);
      while (!done() && std::chrono::steady_clock::now() < deadline) {
        io.run_one_for(milliseconds(100));
      }
      return done();
    };
    ASSERT_TRUE(run_until([&] { return !changed.empty(); }));
    EXPECT_EQ(changed[0].key.table, "rtb-2");
    EXPECT_EQ(rtb2.routeFor(kOnPrem), kDx.next_hop);
    EXPECT_EQ(rtb1.blockedCalls(), 1u);
    EXPECT_EQ(reconciler.tableState("rtb-1"), SyncState::Awaiting);

    rtb1.openGate();
    ASSERT_TRUE(run_until([&] { return changed.size() == 2; }));
    EXPECT_EQ(changed[1].key.table, "rtb-1");
    EXPECT_TRUE(reconciler.allSynced());
  }  // the executor joins its workers before the tables go away
}

}  // namespace
}  // namespace pathpilot::route
