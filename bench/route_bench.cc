// route_bench — how long from the reconciler's decision to a route change done in the kernel.
//
// Runs in a private network namespace that the program creates for itself (unshare, needs
// root); two veth pairs stand in for the DX and VPN links. Each benchmark reports p50/p99 of
// its latency samples as counters (microseconds):
//
//   BM_NetlinkReplace            one LinuxRouteTable::apply (RTM_NEWROUTE replace + ACK),
//                                called directly on the benchmark thread
//   BM_DecisionToProgrammed      Reconciler::setDesired on the engine thread -> worker ->
//                                netlink -> completion back on the engine (route_changed's
//                                latency); i.e. what a failover costs after the decision
//   BM_DecisionToNotification    the same, until the kernel's own route notification for the
//                                change reaches the engine through LinuxRouteMonitor
//   BM_FailoverManyDestinations  N destinations in one table switch at once; time until all
//                                are programmed (per route and in total)
//   BM_DecisionNextToSlowTable   as BM_DecisionToProgrammed, while another table's backend
//                                takes 20 ms per call and is kept busy: the fast table must
//                                not notice (tables are programmed in parallel)
//
// Run: build-<you>/bench/route_bench  (root). Counters: p50_us, p99_us, max_us.
#include <sched.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "route/linux/linux_route_table.h"
#include "route/linux/route_monitor.h"
#include "route/reconciler.h"
#include "runtime/executor.h"
#include "runtime/wakeup_timer.h"

namespace pathpilot::route {
namespace {

bool g_netns_ok = false;
std::string g_netns_error;

const NextHop kDx = NextHop::gateway(*IpAddress::parse("192.0.2.254"), "pp0");
const NextHop kVpn = NextHop::gateway(*IpAddress::parse("198.51.100.254"), "pp2");
const IpPrefix kOnPrem = *IpPrefix::parse("10.10.0.0/16");

void reportPercentiles(benchmark::State& state, std::vector<double>& micros) {
  if (micros.empty()) {
    return;
  }
  std::sort(micros.begin(), micros.end());
  auto at = [&](double q) {
    size_t i = static_cast<size_t>(q * static_cast<double>(micros.size() - 1));
    return micros[i];
  };
  state.counters["p50_us"] = at(0.50);
  state.counters["p99_us"] = at(0.99);
  state.counters["max_us"] = micros.back();
  state.counters["samples"] = static_cast<double>(micros.size());
}

bool setUpNamespace() {
  if (::geteuid() != 0) {
    g_netns_error = "needs root to create a private network namespace";
    return false;
  }
  if (::unshare(CLONE_NEWNET) != 0) {
    g_netns_error = std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
    return false;
  }
  const char* commands[] = {
      "ip link set lo up",
      "ip link add pp0 type veth peer name pp1",
      "ip link add pp2 type veth peer name pp3",
      "ip link set pp0 up",
      "ip link set pp1 up",
      "ip link set pp2 up",
      "ip link set pp3 up",
      "ip addr add 192.0.2.1/24 dev pp0",
      "ip addr add 198.51.100.1/24 dev pp2",
  };
  for (const char* command : commands) {
    if (std::system(command) != 0) {
      g_netns_error = std::string("failed: ") + command;
      return false;
    }
  }
  return true;
}

// Runs `io` until `done()`; false after 10 s.
bool runUntil(asio::io_context& io, const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    io.run_one_for(std::chrono::milliseconds(50));
  }
  return true;
}

void BM_NetlinkReplace(benchmark::State& state) {
  if (!g_netns_ok) {
    state.SkipWithError(g_netns_error.c_str());
    return;
  }
  LinuxRouteTable table("101", 101, LinuxRouteOptions{});
  std::vector<double> micros;
  micros.reserve(static_cast<size_t>(state.max_iterations));
  bool flip = false;
  for (auto _ : state) {
    RouteDelta delta;
    delta.destination = kOnPrem;
    delta.new_next_hop = flip ? kDx : kVpn;
    flip = !flip;
    auto start = std::chrono::steady_clock::now();
    auto done = table.apply(delta);
    auto end = std::chrono::steady_clock::now();
    if (!done) {
      state.SkipWithError(done.error().toString().c_str());
      return;
    }
    micros.push_back(std::chrono::duration<double, std::micro>(end - start).count());
  }
  reportPercentiles(state, micros);
}
BENCHMARK(BM_NetlinkReplace)->Iterations(5000)->Unit(benchmark::kMicrosecond);

// A RouteTable that takes `latency` per call (an overloaded cloud API).
class SlowTable final : public RouteTable {
 public:
  SlowTable(std::string id, Duration latency) : id_(std::move(id)), latency_(latency) {}
  const std::string& id() const override { return id_; }
  std::string_view kind() const override { return "slow"; }
  Result<std::vector<Route>> list() override {
    std::this_thread::sleep_for(latency_);
    return std::vector<Route>{};
  }
  Result<void> apply(const RouteDelta&) override {
    std::this_thread::sleep_for(latency_);
    return ok();
  }

 private:
  std::string id_;
  Duration latency_;
};

// The daemon's wiring in miniature: engine io_context, worker pool, reconciler, wake-up timer.
struct Harness {
  explicit Harness(bool with_monitor) {
    ReconcilerCallbacks callbacks;
    callbacks.route_changed = [this](const RouteChangedEvent& e) {
      if (e.key.table == "101") {
        ++changed;
        last_latency = e.latency;
      }
    };
    callbacks.route_error = [this](const RouteErrorEvent& e) { error = e.error.toString(); };
    callbacks.wakeup = [this](MonoTime when) { timer->arm(when); };
    reconciler = std::make_unique<Reconciler>(executor, clock, callbacks);
    timer = std::make_unique<runtime::WakeupTimer>(io, clock,
                                                   [this](MonoTime now) { reconciler->poll(now); });
    reconciler->addTable(table, clock.now());
    if (with_monitor) {
      LinuxMonitorOptions options;
      options.tables = {{101, "101"}};
      monitor = std::make_unique<LinuxRouteMonitor>(io, options, [this](const RouteNotice& n) {
        ++notices;
        last_notice = n;
        reconciler->noteExternalChange(n, clock.now());
      });
      if (auto started = monitor->start(); !started) {
        error = started.error().toString();
      }
    }
  }
  ~Harness() {
    monitor.reset();
    timer.reset();
    reconciler.reset();
  }

  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  RealClock clock;
  runtime::ThreadPoolExecutor executor{io, 4};
  LinuxRouteTable table{"101", 101, LinuxRouteOptions{}};
  std::unique_ptr<Reconciler> reconciler;
  std::unique_ptr<runtime::WakeupTimer> timer;
  std::unique_ptr<LinuxRouteMonitor> monitor;
  int changed = 0;
  int notices = 0;
  RouteNotice last_notice;
  Duration last_latency{};
  std::string error;
};

void decisionLoop(benchmark::State& state, Harness& h, bool wait_for_notice) {
  if (!h.error.empty()) {
    state.SkipWithError(h.error.c_str());
    return;
  }
  if (!h.reconciler->setDesired({"101", kOnPrem}, {kVpn, "vpn-b"}, h.clock.now())) {
    state.SkipWithError("setDesired failed");
    return;
  }
  h.reconciler->start(h.clock.now());
  if (!runUntil(h.io, [&] { return h.changed == 1 && h.reconciler->allSynced(); })) {
    state.SkipWithError(("initial sync failed: " + h.error).c_str());
    return;
  }
  std::vector<double> micros;
  bool flip = false;
  for (auto _ : state) {
    const NextHop& hop = flip ? kVpn : kDx;
    flip = !flip;
    int changed_before = h.changed;
    auto start = std::chrono::steady_clock::now();
    (void)h.reconciler->setDesired({"101", kOnPrem}, {hop, flip ? "dx" : "vpn-b"},
                                   h.clock.now());
    bool ok = wait_for_notice
                  ? runUntil(h.io,
                             [&] {
                               return h.last_notice.route.next_hop == hop &&
                                      h.last_notice.route.destination == kOnPrem;
                             })
                  : runUntil(h.io, [&] { return h.changed > changed_before; });
    auto end = std::chrono::steady_clock::now();
    if (!ok) {
      state.SkipWithError(("timed out: " + h.error).c_str());
      return;
    }
    micros.push_back(wait_for_notice
                         ? std::chrono::duration<double, std::micro>(end - start).count()
                         : std::chrono::duration<double, std::micro>(h.last_latency).count());
    if (wait_for_notice) {
      // Let the completion arrive too, so that iterations do not overlap.
      runUntil(h.io, [&] { return h.changed > changed_before; });
    }
  }
  reportPercentiles(state, micros);
}

void BM_DecisionToProgrammed(benchmark::State& state) {
  if (!g_netns_ok) {
    state.SkipWithError(g_netns_error.c_str());
    return;
  }
  std::system("ip route flush table 101 2>/dev/null");
  Harness h(false);
  decisionLoop(state, h, false);
}
BENCHMARK(BM_DecisionToProgrammed)->Iterations(3000)->Unit(benchmark::kMicrosecond);

void BM_DecisionToNotification(benchmark::State& state) {
  if (!g_netns_ok) {
    state.SkipWithError(g_netns_error.c_str());
    return;
  }
  std::system("ip route flush table 101 2>/dev/null");
  Harness h(true);
  decisionLoop(state, h, true);
}
BENCHMARK(BM_DecisionToNotification)->Iterations(3000)->Unit(benchmark::kMicrosecond);

void BM_DecisionNextToSlowTable(benchmark::State& state) {
  if (!g_netns_ok) {
    state.SkipWithError(g_netns_error.c_str());
    return;
  }
  std::system("ip route flush table 101 2>/dev/null");
  Harness h(false);
  SlowTable slow("rtb-slow", std::chrono::milliseconds(20));
  h.reconciler->addTable(slow, h.clock.now());
  // Keep the slow table busy the whole time: one new decision per iteration.
  int n = 0;
  std::vector<double> micros;
  if (!h.reconciler->setDesired({"101", kOnPrem}, {kVpn, "vpn-b"}, h.clock.now())) {
    state.SkipWithError("setDesired failed");
    return;
  }
  h.reconciler->start(h.clock.now());
  if (!runUntil(h.io, [&] { return h.changed == 1; })) {
    state.SkipWithError("initial sync failed");
    return;
  }
  bool flip = false;
  for (auto _ : state) {
    IpPrefix slow_dst(IpAddress::v4FromHostOrder(0x0A000000u + (static_cast<unsigned>(n++) << 8)),
                      24);
    (void)h.reconciler->setDesired({"rtb-slow", slow_dst},
                                   {NextHop::opaque("eni-slow"), "vpn-a"}, h.clock.now());
    const NextHop& hop = flip ? kVpn : kDx;
    flip = !flip;
    int before = h.changed;
    (void)h.reconciler->setDesired({"101", kOnPrem}, {hop, "x"}, h.clock.now());
    if (!runUntil(h.io, [&] { return h.changed > before; })) {
      state.SkipWithError("timed out");
      return;
    }
    micros.push_back(std::chrono::duration<double, std::micro>(h.last_latency).count());
  }
  reportPercentiles(state, micros);
  auto snapshot = h.reconciler->snapshot();
  state.counters["slow_table_backlog"] = static_cast<double>(
      std::count_if(snapshot.begin(), snapshot.end(),
                    [](const RouteStatus& s) { return s.key.table == "rtb-slow" && s.dirty; }));
}
BENCHMARK(BM_DecisionNextToSlowTable)->Iterations(500)->Unit(benchmark::kMicrosecond);

void BM_FailoverManyDestinations(benchmark::State& state) {
  if (!g_netns_ok) {
    state.SkipWithError(g_netns_error.c_str());
    return;
  }
  std::system("ip route flush table 101 2>/dev/null");
  const int count = static_cast<int>(state.range(0));
  Harness h(false);
  std::vector<IpPrefix> prefixes;
  for (int i = 0; i < count; ++i) {
    prefixes.emplace_back(IpAddress::v4FromHostOrder(0x0A640000u + (static_cast<unsigned>(i) << 8)),
                          24);
    (void)h.reconciler->setDesired({"101", prefixes.back()}, {kVpn, "vpn-b"}, h.clock.now());
  }
  h.reconciler->start(h.clock.now());
  if (!runUntil(h.io, [&] { return h.reconciler->allSynced(); })) {
    state.SkipWithError("initial sync failed");
    return;
  }
  std::vector<double> total_us;
  bool flip = false;
  for (auto _ : state) {
    const NextHop& hop = flip ? kVpn : kDx;
    flip = !flip;
    int before = h.changed;
    auto start = std::chrono::steady_clock::now();
    for (const IpPrefix& p : prefixes) {
      (void)h.reconciler->setDesired({"101", p}, {hop, "x"}, h.clock.now());
    }
    if (!runUntil(h.io, [&] { return h.changed == before + count; })) {
      state.SkipWithError("timed out");
      return;
    }
    total_us.push_back(std::chrono::duration<double, std::micro>(
                           std::chrono::steady_clock::now() - start)
                           .count());
  }
  // p50_us/p99_us: the whole failover of all N routes (decision to last route programmed).
  reportPercentiles(state, total_us);
  state.counters["routes"] = count;
  state.counters["per_route_us"] = state.counters["p50_us"] / count;
}
BENCHMARK(BM_FailoverManyDestinations)->Arg(100)->Iterations(50)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace pathpilot::route

int main(int argc, char** argv) {
  // Before any thread exists, so that every worker inherits the private namespace.
  pathpilot::route::g_netns_ok = pathpilot::route::setUpNamespace();
  if (!pathpilot::route::g_netns_ok) {
    std::fprintf(stderr, "route_bench: %s; netlink benchmarks are skipped\n",
                 pathpilot::route::g_netns_error.c_str());
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
