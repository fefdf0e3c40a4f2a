// Linux backend tests against the real kernel, inside a private network namespace that each
// test creates for itself with unshare(CLONE_NEWNET): nothing here touches the host's routes.
// Needs root (CAP_SYS_ADMIN for unshare/setns, CAP_NET_ADMIN for routes); skipped otherwise.
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "fakes/manual_executor.h"
#include "route/linux/detail/netlink.h"
#include "route/linux/linux_route_table.h"
#include "route/linux/netns.h"
#include "route/linux/route_monitor.h"
#include "route/reconciler.h"
#include "runtime/executor.h"
#include "runtime/wakeup_timer.h"

namespace pathpilot::route {
namespace {

using pathpilot::testing::ManualExecutor;

IpPrefix prefix(const char* text) { return *IpPrefix::parse(text); }
IpAddress address(const char* text) { return *IpAddress::parse(text); }

const IpPrefix kOnPrem = prefix("10.10.0.0/16");
// "dx" leaves through pp0 (192.0.2.0/24), "vpn-b" through pp2 (198.51.100.0/24).
const NextHop kDxHop = NextHop::gateway(address("192.0.2.254"), "pp0");
const NextHop kVpnHop = NextHop::gateway(address("198.51.100.254"), "pp2");

std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    return "popen failed";
  }
  char buffer[512];
  while (std::fgets(buffer, sizeof(buffer), pipe) != nullptr) {
    out += buffer;
  }
  ::pclose(pipe);
  return out;
}

bool sh(const std::string& command) { return std::system(command.c_str()) == 0; }

RouteDelta replaceWith(const IpPrefix& dst, const NextHop& hop) {
  RouteDelta delta;
  delta.destination = dst;
  delta.new_next_hop = hop;
  return delta;
}

RouteDelta removal(const IpPrefix& dst) {
  RouteDelta delta;
  delta.destination = dst;
  return delta;
}

// Options of a table that also takes over routes of `protocols` (backends.linux.adopt_protocols).
LinuxRouteOptions adopting(std::vector<std::uint8_t> protocols) {
  LinuxRouteOptions options;
  options.adopt_protocols = std::move(protocols);
  return options;
}

constexpr std::uint8_t kBoot = 3;  // what `ip route add` writes without `proto`

// `ip route show` of our routes only: the filter is numeric, so it works whether or not this
// machine's rt_protos.d names 157.
std::string ours(const std::string& table) {
  return run("ip route show table " + table + " proto 157");
}

// Runs `io` until `done()` or 10 s pass (waiting for events, not sleeping).
bool runUntil(asio::io_context& io, const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(milliseconds(50));
  }
  return done();
}

class NetlinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      GTEST_SKIP() << "needs root: the test creates a private network namespace";
    }
    if (::unshare(CLONE_NEWNET) != 0) {
      GTEST_SKIP() << "unshare(CLONE_NEWNET) failed (" << std::strerror(errno)
                   << "): no private network namespace available here";
    }
    // From here on this thread (and every process and thread it starts) lives in a fresh
    // namespace that disappears with the test process. Two veth pairs stand in for the DX
    // and VPN links (this kernel has no dummy driver).
    ASSERT_TRUE(sh("ip link set lo up"));
    ASSERT_TRUE(sh("ip link add pp0 type veth peer name pp1"));
    ASSERT_TRUE(sh("ip link add pp2 type veth peer name pp3"));
    for (const char* dev : {"pp0", "pp1", "pp2", "pp3"}) {
      ASSERT_TRUE(sh(std::string("ip link set ") + dev + " up"));
    }
    ASSERT_TRUE(sh("ip addr add 192.0.2.1/24 dev pp0"));
    ASSERT_TRUE(sh("ip addr add 198.51.100.1/24 dev pp2"));
    ASSERT_TRUE(sh("ip -6 addr add 2001:db8:1::1/64 dev pp0 nodad"));
  }

  LinuxRouteTable table101{"101", 101, LinuxRouteOptions{}};
};

TEST_F(NetlinkTest, ProgramsReplacesListsAndDeletesInTable101) {
  ASSERT_TRUE(table101.list()) << "an empty (never used) table lists as empty";
  EXPECT_TRUE(table101.list()->empty());

  auto done = table101.apply(replaceWith(kOnPrem, kDxHop));
  ASSERT_TRUE(done) << done.error().toString();
  std::string shown = ours("101");
  EXPECT_NE(shown.find("10.10.0.0/16 via 192.0.2.254 dev pp0"), std::string::npos) << shown;

  auto routes = table101.list();
  ASSERT_TRUE(routes) << routes.error().toString();
  ASSERT_EQ(routes->size(), 1u);
  EXPECT_EQ((*routes)[0].table, "101");
  EXPECT_EQ((*routes)[0].destination, kOnPrem);
  EXPECT_EQ((*routes)[0].next_hop, kDxHop);

  // Replace, not append: still one route, now via the VPN link.
  ASSERT_TRUE(table101.apply(replaceWith(kOnPrem, kVpnHop)));
  routes = table101.list();
  ASSERT_TRUE(routes);
  ASSERT_EQ(routes->size(), 1u);
  EXPECT_EQ((*routes)[0].next_hop, kVpnHop);
  EXPECT_EQ(run("ip route show table 101 | wc -l"), "1\n");

  ASSERT_TRUE(table101.apply(removal(kOnPrem)));
  EXPECT_TRUE(table101.list()->empty());
  EXPECT_TRUE(table101.apply(removal(kOnPrem))) << "deleting a missing route succeeds";
  // Routes of other tables are never listed.
  ASSERT_TRUE(sh("ip route add 10.99.0.0/16 via 192.0.2.254 table 102"));
  EXPECT_TRUE(table101.list()->empty());
}

TEST_F(NetlinkTest, HandlesIpv6AndDeviceOnlyRoutes) {
  NextHop v6 = NextHop::gateway(address("2001:db8:1::fe"), "pp0");
  auto done = table101.apply(replaceWith(prefix("2001:db8:100::/48"), v6));
  ASSERT_TRUE(done) << done.error().toString();
  ASSERT_TRUE(table101.apply(replaceWith(prefix("10.30.0.0/16"), NextHop::device("pp2"))));
  auto routes = table101.list();
  ASSERT_TRUE(routes);
  ASSERT_EQ(routes->size(), 2u);
  EXPECT_EQ((*routes)[0].destination, prefix("10.30.0.0/16"));
  EXPECT_EQ((*routes)[0].next_hop, NextHop::device("pp2"));
  EXPECT_EQ((*routes)[1].next_hop, v6);
}

TEST_F(NetlinkTest, TablesAbove255TravelInRtaTable) {
  LinuxRouteTable big("1000", 1000, LinuxRouteOptions{});
  ASSERT_TRUE(big.apply(replaceWith(kOnPrem, kDxHop)));
  EXPECT_NE(run("ip route show table 1000").find("10.10.0.0/16 via 192.0.2.254"),
            std::string::npos);
  EXPECT_EQ(run("ip -N route show table 101").find("10.10.0.0/16"), std::string::npos);
  EXPECT_EQ(big.list()->size(), 1u);
  EXPECT_TRUE(table101.list()->empty());
}

TEST_F(NetlinkTest, RejectRoutesAreListedAsKeywordTargets) {
  ASSERT_TRUE(sh("ip route add blackhole 10.10.0.0/16 table 101 proto 157"));
  auto routes = table101.list();
  ASSERT_TRUE(routes);
  ASSERT_EQ(routes->size(), 1u);
  EXPECT_EQ((*routes)[0].next_hop, NextHop::opaque("blackhole"));
  // ...and a replace turns them into a normal route.
  ASSERT_TRUE(table101.apply(replaceWith(kOnPrem, kDxHop)));
  EXPECT_EQ((*table101.list())[0].next_hop, kDxHop);
}

TEST_F(NetlinkTest, ErrorsAreClassifiedAndNameTheRoute) {
  auto no_dev = table101.apply(replaceWith(kOnPrem, NextHop::gateway(address("192.0.2.254"),
                                                                      "nope0")));
  ASSERT_FALSE(no_dev);
  EXPECT_EQ(no_dev.error().code(), ErrorCode::NotFound);
  EXPECT_NE(no_dev.error().message().find("nope0"), std::string::npos);
  EXPECT_NE(no_dev.error().message().find("table 101"), std::string::npos);

  auto unreachable = table101.apply(replaceWith(kOnPrem, NextHop::gateway(address("203.0.113.9"))));
  ASSERT_FALSE(unreachable);
  EXPECT_EQ(unreachable.error().code(), ErrorCode::Unavailable) << unreachable.error().toString();
  EXPECT_NE(unreachable.error().message().find("gateway"), std::string::npos);
  EXPECT_NE(unreachable.error().message().find("10.10.0.0/16"), std::string::npos);

  auto target = table101.apply(replaceWith(kOnPrem, NextHop::opaque("vgw-078bcc55")));
  ASSERT_FALSE(target);
  EXPECT_EQ(target.error().code(), ErrorCode::InvalidArgument);

  // The table still works after errors (the socket is reopened).
  EXPECT_TRUE(table101.apply(replaceWith(kOnPrem, kDxHop)));
}

TEST_F(NetlinkTest, ProgramsAnotherNamespace) {
  // Keep a handle on this namespace (A), then move the test thread to a new one (B).
  int ns_a = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(ns_a, 0);
  ASSERT_EQ(::unshare(CLONE_NEWNET), 0);
  LinuxRouteOptions in_a;
  in_a.netns = "/proc/self/fd/" + std::to_string(ns_a);
  LinuxRouteTable remote("101", 101, in_a);
  auto done = remote.apply(replaceWith(kOnPrem, kDxHop));
  ASSERT_TRUE(done) << done.error().toString();
  EXPECT_EQ(remote.list()->size(), 1u);
  LinuxRouteTable local("101", 101, LinuxRouteOptions{});
  EXPECT_TRUE(local.list()->empty()) << "the route must land in A, not in B";
  EXPECT_EQ(run("ip -N route show table 101").find("10.10.0.0/16"), std::string::npos);
  ::close(ns_a);

  LinuxRouteOptions missing;
  missing.netns = "pathpilot-no-such-netns";
  LinuxRouteTable nowhere("101", 101, missing);
  auto r = nowhere.list();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::NotFound);
  EXPECT_NE(r.error().message().find("pathpilot-no-such-netns"), std::string::npos);
}

TEST_F(NetlinkTest, MonitorReportsChangesInWatchedTables) {
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::vector<RouteNotice> notices;
  LinuxMonitorOptions options;
  options.tables = {{101, "vpc-a"}};
  LinuxRouteMonitor monitor(io, options, [&](const RouteNotice& n) { notices.push_back(n); });
  ASSERT_TRUE(monitor.start());
  io.poll();  // the link dump

  ASSERT_TRUE(sh("ip route add 10.99.0.0/16 via 192.0.2.254 table 102"));  // not watched
  ASSERT_TRUE(sh("ip route add 10.10.0.0/16 via 192.0.2.254 dev pp0 table 101"));
  ASSERT_TRUE(runUntil(io, [&] { return !notices.empty(); }));
  EXPECT_EQ(notices[0].kind, RouteNotice::Kind::Added);
  EXPECT_EQ(notices[0].route.table, "vpc-a");
  EXPECT_EQ(notices[0].route.destination, kOnPrem);
  EXPECT_EQ(notices[0].route.next_hop, kDxHop) << notices[0].route.next_hop.toString();

  ASSERT_TRUE(sh("ip route replace 10.10.0.0/16 via 198.51.100.254 dev pp2 table 101"));
  ASSERT_TRUE(runUntil(io, [&] { return notices.size() >= 2; }));
  EXPECT_EQ(notices[1].route.next_hop, kVpnHop);

  ASSERT_TRUE(sh("ip route del 10.10.0.0/16 table 101"));
  ASSERT_TRUE(runUntil(io, [&] { return notices.size() >= 3; }));
  EXPECT_EQ(notices[2].kind, RouteNotice::Kind::Removed);
  EXPECT_EQ(monitor.notices(), 3u);
}

// The whole chain as the daemon wires it: reconciler on an io_context, backend calls on worker
// threads, the monitor feeding notifications back. With hand edits (proto boot) adopted, an
// operator's hand change is reported as drift and put back; a deleted route is re-created.
TEST_F(NetlinkTest, HandChangeIsReportedAsDriftAndRepaired) {
  LinuxRouteTable table{"101", 101, adopting({kBoot})};
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  RealClock clock;
  std::vector<RouteChangedEvent> changed;
  std::vector<RouteDriftEvent> drifts;
  std::vector<RouteErrorEvent> errors;
  runtime::ThreadPoolExecutor executor(io, 2);
  std::unique_ptr<Reconciler> reconciler;
  runtime::WakeupTimer timer(io, clock, [&](MonoTime now) { reconciler->poll(now); });
  ReconcilerCallbacks callbacks;
  callbacks.route_changed = [&](const RouteChangedEvent& e) { changed.push_back(e); };
  callbacks.route_drift = [&](const RouteDriftEvent& e) { drifts.push_back(e); };
  callbacks.route_error = [&](const RouteErrorEvent& e) { errors.push_back(e); };
  callbacks.wakeup = [&](MonoTime when) { timer.arm(when); };
  reconciler = std::make_unique<Reconciler>(executor, clock, callbacks);
  LinuxMonitorOptions options;
  options.tables = {{101, "101"}};
  LinuxRouteMonitor monitor(io, options, [&](const RouteNotice& n) {
    reconciler->noteExternalChange(n, clock.now());
  });
  ASSERT_TRUE(monitor.start());

  reconciler->addTable(table, clock.now());
  ASSERT_TRUE(reconciler->setDesired({"101", kOnPrem}, {kDxHop, "dx"}, clock.now()));
  reconciler->start(clock.now());
  ASSERT_TRUE(runUntil(io, [&] { return changed.size() == 1; }));
  EXPECT_TRUE(drifts.empty()) << "our own change is not drift";

  ASSERT_TRUE(sh("ip route replace 10.10.0.0/16 via 198.51.100.254 dev pp2 table 101"));
  ASSERT_TRUE(runUntil(io, [&] { return changed.size() == 2; }));
  ASSERT_EQ(drifts.size(), 1u);
  EXPECT_EQ(drifts[0].expected, kDxHop);
  EXPECT_EQ(drifts[0].actual, kVpnHop);
  EXPECT_EQ(drifts[0].detected_by, "notification");
  EXPECT_EQ(changed[1].to, kDxHop);
  EXPECT_NE(ours("101").find("10.10.0.0/16 via 192.0.2.254 dev pp0"), std::string::npos);

  ASSERT_TRUE(sh("ip route del 10.10.0.0/16 table 101"));
  ASSERT_TRUE(runUntil(io, [&] { return changed.size() == 3; }));
  ASSERT_EQ(drifts.size(), 2u);
  EXPECT_FALSE(drifts[1].actual.has_value());
  EXPECT_NE(run("ip -N route show table 101").find("10.10.0.0/16 via 192.0.2.254"),
            std::string::npos);
  EXPECT_TRUE(errors.empty());
  monitor.stop();
}

// kill -9 and restart: the new process adopts the routes the old one programmed (and, with
// adopt_protocols: [boot], those an old script installed with `ip route add`) without a
// single write.
TEST_F(NetlinkTest, RestartAdoptsProgrammedRoutesWithoutWrites) {
  ASSERT_TRUE(sh("ip route add 10.20.0.0/16 via 198.51.100.254 dev pp2 table 101"));  // legacy
  ManualExecutor executor;
  RealClock clock;
  {
    Reconciler first(executor, clock, {});
    first.addTable(table101, clock.now());
    ASSERT_TRUE(first.setDesired({"101", kOnPrem}, {kDxHop, "dx"}, clock.now()));
    first.start(clock.now());
    executor.runAll();
    EXPECT_EQ(first.stats().applies, 1u);
  }
  LinuxRouteTable reopened("101", 101, adopting({kBoot}));
  Reconciler second(executor, clock, {});
  second.addTable(reopened, clock.now());
  ASSERT_TRUE(second.setDesired({"101", kOnPrem}, {kDxHop, "dx"}, clock.now()));
  ASSERT_TRUE(second.setDesired({"101", prefix("10.20.0.0/16")}, {kVpnHop, "vpn-b"},
                                clock.now()));
  second.start(clock.now());
  executor.runAll();
  EXPECT_EQ(second.stats().applies, 0u);
  EXPECT_EQ(second.stats().adopted, 2u);
  EXPECT_TRUE(second.allSynced());
}

// --- routes of other owners (routing daemons, administrators) ----------------------------------

// Before: a delete went out with protocol 0, which the kernel reads as "any owner", and took
// the FRR route for the same prefix with it.
TEST_F(NetlinkTest, DeleteNeverRemovesAnotherOwnersRoute) {
  ASSERT_TRUE(
      sh("ip route add 10.10.0.0/16 via 198.51.100.254 dev pp2 table 101 proto 196 "
         "metric 20"));
  ASSERT_TRUE(table101.apply(replaceWith(kOnPrem, kDxHop)));
  EXPECT_EQ(run("ip route show table 101 | wc -l"), "2\n") << "theirs at 20, ours at 0";

  ASSERT_TRUE(table101.apply(removal(kOnPrem)));
  EXPECT_EQ(ours("101"), "");
  std::string left = run("ip route show table 101 proto 196");
  EXPECT_NE(left.find("10.10.0.0/16 via 198.51.100.254 dev pp2"), std::string::npos) << left;
  // Deleting again (no route of ours left) leaves theirs alone too.
  ASSERT_TRUE(table101.apply(removal(kOnPrem)));
  EXPECT_NE(run("ip route show table 101 proto 196").find("10.10.0.0/16"), std::string::npos);
  // And the table now reports the destination as theirs.
  auto routes = table101.list();
  ASSERT_TRUE(routes);
  ASSERT_EQ(routes->size(), 1u);
  EXPECT_EQ((*routes)[0].next_hop, NextHop::foreign("zstatic"));
}

// Before: NLM_F_REPLACE matched the administrator's route by metric and overwrote it.
TEST_F(NetlinkTest, ReplaceRefusesToOverwriteAnotherOwnersRoute) {
  ASSERT_TRUE(sh("ip route add 10.10.0.0/16 via 198.51.100.254 dev pp2 table 101 proto static"));
  auto listed = table101.list();
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].next_hop, NextHop::foreign("static"));

  auto done = table101.apply(replaceWith(kOnPrem, kDxHop));
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().code(), ErrorCode::AlreadyExists);
  const std::string& m = done.error().message();
  for (const char* part :
       {"replace 10.10.0.0/16 via 192.0.2.254 dev pp0 in table 101", "proto static", "metric 0",
        "via 198.51.100.254", "same metric as ours", "adopt_protocols: [static]"}) {
    EXPECT_NE(m.find(part), std::string::npos) << part << " missing in: " << m;
  }
  std::string shown = run("ip route show table 101");
  EXPECT_NE(shown.find("10.10.0.0/16 via 198.51.100.254 dev pp2 proto static"), std::string::npos)
      << shown;
  EXPECT_EQ(run("ip route show table 101 | wc -l"), "1\n");
  EXPECT_EQ(ours("101"), "");
}

// A route of someone else with a higher metric does not block: ours is the one the kernel
// uses, theirs stays behind it as a fallback.
TEST_F(NetlinkTest, AnotherOwnersHigherMetricRouteStaysAsFallback) {
  ASSERT_TRUE(
      sh("ip route add 10.10.0.0/16 via 198.51.100.254 dev pp2 table 101 proto bird "
         "metric 100"));
  ASSERT_TRUE(table101.apply(replaceWith(kOnPrem, kDxHop)));
  auto routes = table101.list();
  ASSERT_TRUE(routes);
  ASSERT_EQ(routes->size(), 1u);
  EXPECT_EQ((*routes)[0].next_hop, kDxHop);
  EXPECT_NE(run("ip route show table 101 proto bird").find("metric 100"), std::string::npos);
  ASSERT_TRUE(table101.apply(replaceWith(kOnPrem, kVpnHop)));
  EXPECT_NE(run("ip route show table 101 proto bird").find("via 198.51.100.254 dev pp2"),
            std::string::npos);
  EXPECT_EQ(run("ip route show table 101 | wc -l"), "2\n");
}

// IPv6 routes we write get the kernel's default metric 1024; FRR installs at 20. Its route
// would keep deciding the traffic, so the write is refused and says so.
TEST_F(NetlinkTest, Ipv6RouteOfAnotherOwnerWithLowerMetricBlocks) {
  ASSERT_TRUE(
      sh("ip -6 route add 2001:db8:100::/48 via 2001:db8:1::fe dev pp0 table 101 "
         "proto 196 metric 20"));
  auto done = table101.apply(
      replaceWith(prefix("2001:db8:100::/48"), NextHop::gateway(address("2001:db8:1::fe"), "pp0")));
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().code(), ErrorCode::AlreadyExists);
  EXPECT_NE(done.error().message().find("lower metric than ours (1024)"), std::string::npos)
      << done.error().message();
  EXPECT_NE(done.error().message().find("proto 196 (FRR staticd"), std::string::npos)
      << done.error().message();
  EXPECT_EQ(run("ip -6 route show table 101 proto 157"), "");
}

// adopt_protocols: routes of those owners are ours to replace and delete; a lower-metric one
// of them goes when we write ours, so that ours decides.
TEST_F(NetlinkTest, AdoptedProtocolsAreTakenOver) {
  LinuxRouteTable table("101", 101, adopting({kBoot}));
  ASSERT_TRUE(sh("ip route add 10.10.0.0/16 via 198.51.100.254 dev pp2 table 101"));  // boot
  ASSERT_TRUE(
      sh("ip -6 route add 2001:db8:100::/48 via 2001:db8:1::fe dev pp0 table 101 "
         "metric 100"));
  ASSERT_TRUE(sh("ip route add 10.40.0.0/16 via 198.51.100.254 table 101 proto static"));
  auto routes = table.list();
  ASSERT_TRUE(routes);
  ASSERT_EQ(routes->size(), 3u);
  EXPECT_EQ((*routes)[0].next_hop, kVpnHop) << "boot routes are ours to adopt";
  EXPECT_EQ((*routes)[1].next_hop, NextHop::foreign("static")) << "static routes are not";

  ASSERT_TRUE(table.apply(replaceWith(kOnPrem, kDxHop)));
  EXPECT_NE(ours("101").find("10.10.0.0/16 via 192.0.2.254 dev pp0"), std::string::npos);
  EXPECT_EQ(run("ip route show table 101 proto boot"), "");

  NextHop v6 = NextHop::gateway(address("2001:db8:1::fe"), "pp0");
  ASSERT_TRUE(table.apply(replaceWith(prefix("2001:db8:100::/48"), v6)));
  std::string shown6 = run("ip -6 route show table 101");
  EXPECT_EQ(shown6.find("metric 100"), std::string::npos)
      << "the lower-metric one went: " << shown6;
  EXPECT_NE(run("ip -6 route show table 101 proto 157").find("metric 1024"), std::string::npos);

  ASSERT_TRUE(sh("ip route add 10.50.0.0/16 via 198.51.100.254 table 101"));  // boot
  ASSERT_TRUE(table.apply(removal(prefix("10.50.0.0/16"))));
  EXPECT_EQ(run("ip route show table 101").find("10.50.0.0/16"), std::string::npos);
  ASSERT_TRUE(table.apply(removal(prefix("10.40.0.0/16"))));
  EXPECT_NE(run("ip route show table 101 proto static").find("10.40.0.0/16"), std::string::npos)
      << "adopting boot does not make static ours";
}

// The chain as the daemon wires it, out of the box (nothing adopted): a hand edit that takes
// our destination is reported as drift and left alone, with a route_error that names it;
// when the operator removes it, our route is back at once (not after the backoff).
TEST_F(NetlinkTest, HandEditOfAnotherOwnerIsReportedNotOverwritten) {
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  RealClock clock;
  std::vector<RouteChangedEvent> changed;
  std::vector<RouteDriftEvent> drifts;
  std::vector<RouteErrorEvent> errors;
  runtime::ThreadPoolExecutor executor(io, 2);
  std::unique_ptr<Reconciler> reconciler;
  runtime::WakeupTimer timer(io, clock, [&](MonoTime now) { reconciler->poll(now); });
  ReconcilerCallbacks callbacks;
  callbacks.route_changed = [&](const RouteChangedEvent& e) { changed.push_back(e); };
  callbacks.route_drift = [&](const RouteDriftEvent& e) { drifts.push_back(e); };
  callbacks.route_error = [&](const RouteErrorEvent& e) { errors.push_back(e); };
  callbacks.wakeup = [&](MonoTime when) { timer.arm(when); };
  ReconcilerOptions options;
  options.retry.initial = seconds(30);  // a retry would come far too late for this test
  options.retry.max = seconds(60);
  reconciler = std::make_unique<Reconciler>(executor, clock, callbacks, options);
  LinuxMonitorOptions monitor_options;
  monitor_options.tables = {{101, "101"}};
  LinuxRouteMonitor monitor(io, monitor_options, [&](const RouteNotice& n) {
    reconciler->noteExternalChange(n, clock.now());
  });
  ASSERT_TRUE(monitor.start());
  reconciler->addTable(table101, clock.now());
  ASSERT_TRUE(reconciler->setDesired({"101", kOnPrem}, {kDxHop, "dx"}, clock.now()));
  reconciler->start(clock.now());
  ASSERT_TRUE(runUntil(io, [&] { return changed.size() == 1; }));

  ASSERT_TRUE(sh("ip route replace 10.10.0.0/16 via 198.51.100.254 dev pp2 table 101"));
  ASSERT_TRUE(runUntil(io, [&] { return !errors.empty(); }));
  ASSERT_EQ(drifts.size(), 1u);
  EXPECT_EQ(drifts[0].expected, kDxHop);
  EXPECT_EQ(drifts[0].actual, NextHop::foreign("boot"));
  EXPECT_EQ(errors[0].error.code(), ErrorCode::AlreadyExists);
  EXPECT_NE(errors[0].error.message().find("proto boot"), std::string::npos);
  EXPECT_NE(run("ip route show table 101 proto boot").find("10.10.0.0/16 via 198.51.100.254"),
            std::string::npos)
      << "the hand edit stays";
  EXPECT_EQ(changed.size(), 1u);

  ASSERT_TRUE(sh("ip route del 10.10.0.0/16 table 101 proto boot"));
  ASSERT_TRUE(runUntil(io, [&] { return changed.size() == 2; }));
  EXPECT_EQ(changed[1].to, kDxHop);
  EXPECT_EQ(drifts.size(), 1u) << "their route going away is not drift";
  EXPECT_NE(ours("101").find("10.10.0.0/16 via 192.0.2.254 dev pp0"), std::string::npos);
  monitor.stop();
}

TEST(LinuxTableIdTest, ParsesNumbersAndNames) {
  EXPECT_EQ(*parseLinuxTableId("101"), 101u);
  EXPECT_EQ(*parseLinuxTableId("4000000000"), 4000000000u);
  EXPECT_EQ(*parseLinuxTableId("main"), 254u);
  for (const char* bad : {"", "0", "255", "local", "-1", "10x", "99999999999", "no-such-table"}) {
    auto r = parseLinuxTableId(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::InvalidArgument);
    EXPECT_NE(r.error().message().find(std::string("\"") + bad + "\""), std::string::npos);
  }
}

TEST(NetnsTest, NamesMapToRunNetns) {
  EXPECT_EQ(*netnsPath(""), "");
  EXPECT_EQ(*netnsPath("lab-vpc"), "/run/netns/lab-vpc");
  EXPECT_EQ(*netnsPath("/proc/1/ns/net"), "/proc/1/ns/net");
  EXPECT_FALSE(netnsPath("../etc"));
  EXPECT_FALSE(netnsPath(".."));
}

// Messages laid out byte by byte outside our encoder (fuzz/corpus/route_netlink, written the
// way the kernel does): they decode to what the bytes say.
TEST(RouteCodecTest, DecodesIndependentlyBuiltMessages) {
  auto load = [](const char* name) {
    std::ifstream in(std::string(PP_SOURCE_DIR) + "/fuzz/corpus/route_netlink/" + name,
                     std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return bytes.substr(1);  // the fuzz target's mode byte
  };
  std::string v4 = load("v4");
  auto r = detail::decodeRouteBytes(v4.data(), v4.size());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->table, 101u);
  EXPECT_EQ(r->protocol, 196) << "written when pathpilot still used FRR's 196";
  EXPECT_EQ(r->destination, kOnPrem);
  EXPECT_EQ(r->gateway, address("192.0.2.254"));
  EXPECT_EQ(r->oif, 3u);

  std::string v6 = load("v6");
  r = detail::decodeRouteBytes(v6.data(), v6.size());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->table, 1000u) << "RTA_TABLE wins over rtm_table";
  EXPECT_EQ(r->destination, prefix("2001:db8:100::/48"));
  EXPECT_EQ(r->priority, 1024u);

  std::string via = load("via");
  r = detail::decodeRouteBytes(via.data(), via.size());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->gateway, address("fe80::1"));

  std::string bh = load("blackhole");
  r = detail::decodeRouteBytes(bh.data(), bh.size());
  ASSERT_TRUE(r);
  EXPECT_EQ(detail::toNextHop(*r, {}), NextHop::opaque("blackhole"));

  std::string mp = load("multipath");
  r = detail::decodeRouteBytes(mp.data(), mp.size());
  ASSERT_TRUE(r);
  EXPECT_EQ(detail::toNextHop(*r, {}), NextHop::opaque("multipath"));

  std::string bad = load("bad_len");
  EXPECT_FALSE(detail::decodeRouteBytes(bad.data(), bad.size()));
}

TEST(RouteCodecTest, RejectsTruncatedAndMalformedMessages) {
  std::vector<std::uint8_t> tiny(8, 0);
  EXPECT_FALSE(detail::decodeRouteBytes(tiny.data(), tiny.size()));
  // A header claiming more bytes than there are.
  std::vector<std::uint8_t> liar(32, 0);
  liar[0] = 200;
  EXPECT_FALSE(detail::decodeRouteBytes(liar.data(), liar.size()));
  // A well-formed encode decodes back to the same route.
  std::vector<char> buffer(1024);
  detail::RouteRequest request;
  request.table = 1000;
  request.protocol = kRtprotPathpilot;
  request.destination = kOnPrem;
  request.gateway = address("192.0.2.254");
  request.oif = 7;
  nlmsghdr* nlh = detail::encodeRoute(buffer.data(), request, 1);
  auto decoded = detail::decodeRouteBytes(nlh, nlh->nlmsg_len);
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_EQ(decoded->table, 1000u);
  EXPECT_EQ(decoded->protocol, kRtprotPathpilot);
  EXPECT_EQ(decoded->destination, kOnPrem);
  EXPECT_EQ(decoded->gateway, address("192.0.2.254"));
  EXPECT_EQ(decoded->oif, 7u);
}

// The delete a withdrawal sends names its owner: the kernel deletes a route only if its
// rtm_protocol matches (0 would match any owner's route) and, with RTA_PRIORITY, its metric.
TEST(RouteCodecTest, DeleteCarriesTheOwnersProtocolAndMetric) {
  std::vector<char> buffer(1024);
  detail::RouteRequest request;
  request.remove = true;
  request.table = 101;
  request.protocol = kRtprotPathpilot;
  request.destination = kOnPrem;
  request.priority = 20;
  nlmsghdr* nlh = detail::encodeRoute(buffer.data(), request, 9);
  EXPECT_EQ(nlh->nlmsg_type, RTM_DELROUTE);
  EXPECT_EQ(nlh->nlmsg_flags & (NLM_F_CREATE | NLM_F_REPLACE), 0);
  auto decoded = detail::decodeRouteBytes(nlh, nlh->nlmsg_len);
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_EQ(decoded->protocol, kRtprotPathpilot) << "rtm_protocol: only our route matches";
  EXPECT_EQ(decoded->scope, RT_SCOPE_NOWHERE) << "any scope";
  EXPECT_EQ(decoded->priority, 20u);
  EXPECT_EQ(decoded->destination, kOnPrem);
  EXPECT_FALSE(decoded->gateway.has_value());

  request.remove = false;
  request.protocol = 200;
  request.gateway = address("192.0.2.254");
  nlh = detail::encodeRoute(buffer.data(), request, 10);
  EXPECT_EQ(nlh->nlmsg_type, RTM_NEWROUTE);
  EXPECT_EQ(nlh->nlmsg_flags & (NLM_F_CREATE | NLM_F_REPLACE), NLM_F_CREATE | NLM_F_REPLACE);
  decoded = detail::decodeRouteBytes(nlh, nlh->nlmsg_len);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->protocol, 200) << "the configured protocol is written";
  EXPECT_EQ(decoded->priority, 20u);
}

detail::RtnlRoute rtnl(std::uint8_t protocol, std::uint32_t metric, const char* via) {
  detail::RtnlRoute r;
  r.family = AF_INET;
  r.table = 101;
  r.type = RTN_UNICAST;
  r.protocol = protocol;
  r.priority = metric;
  r.destination = kOnPrem;
  r.gateway = address(via);
  return r;
}

TEST(RouteOwnershipTest, OursAdoptedAndForeign) {
  detail::Ownership own{kRtprotPathpilot, {3}};
  EXPECT_TRUE(own.owns(kRtprotPathpilot));
  EXPECT_TRUE(own.owns(3));
  EXPECT_FALSE(own.owns(4));
  EXPECT_FALSE(own.owns(196));
  EXPECT_FALSE(own.owns(0));
  EXPECT_EQ(detail::effectiveMetric(std::nullopt, AF_INET), 0u);
  EXPECT_EQ(detail::effectiveMetric(std::nullopt, AF_INET6), 1024u);
  EXPECT_EQ(detail::effectiveMetric(7, AF_INET6), 7u);
}

TEST(RouteOwnershipTest, ReportedRouteIsTheKernelsChoiceAndForeignWinsTies) {
  detail::Ownership own{kRtprotPathpilot, {}};
  detail::PrefixRoutes routes = {rtnl(kRtprotPathpilot, 0, "192.0.2.1"),
                                 rtnl(196, 20, "192.0.2.2")};
  EXPECT_EQ(detail::reportedRoute(routes, own).protocol, kRtprotPathpilot);
  routes = {rtnl(196, 20, "192.0.2.2"), rtnl(kRtprotPathpilot, 1024, "192.0.2.1")};
  EXPECT_EQ(detail::reportedRoute(routes, own).protocol, 196);
  routes = {rtnl(kRtprotPathpilot, 0, "192.0.2.1"), rtnl(4, 0, "192.0.2.2")};
  EXPECT_EQ(detail::reportedRoute(routes, own).protocol, 4) << "a tie is reported as theirs";
  routes = {rtnl(4, 0, "192.0.2.2"), rtnl(kRtprotPathpilot, 0, "192.0.2.1")};
  EXPECT_EQ(detail::reportedRoute(routes, own).protocol, 4);
}

TEST(RouteOwnershipTest, BlockingRoutesAreForeignAtOurMetricOrBelow) {
  detail::Ownership own{kRtprotPathpilot, {3}};
  detail::PrefixRoutes routes = {rtnl(196, 20, "192.0.2.2"), rtnl(4, 5, "192.0.2.3"),
                                 rtnl(3, 0, "192.0.2.4"), rtnl(kRtprotPathpilot, 7, "192.0.2.1"),
                                 rtnl(12, 30, "192.0.2.5")};
  auto at0 = detail::blockingRoutes(routes, own, 0);
  EXPECT_TRUE(at0.empty()) << "the boot route at 0 is adopted, the others have higher metrics";
  auto at20 = detail::blockingRoutes(routes, own, 20);
  ASSERT_EQ(at20.size(), 2u);
  EXPECT_EQ(at20[0].protocol, 4) << "lowest metric first";
  EXPECT_EQ(at20[1].protocol, 196) << "same metric blocks: the replace would overwrite it";
  auto owned = detail::ownedRoutes(routes, own);
  ASSERT_EQ(owned.size(), 2u);
  EXPECT_EQ(owned[0].protocol, 3);
  EXPECT_EQ(owned[1].protocol, kRtprotPathpilot);
}

}  // namespace
}  // namespace pathpilot::route
