// Time from the probe result that crosses the Down threshold to the netlink route change being
// done, through the real engine: health → policy → reconciler → LinuxRouteTable (netlink, on a
// worker) → completion back on the engine thread. Runs in a private network namespace of its
// own (needs root), with a veth pair (this kernel has no dummy driver) and N policy-routing tables.
//
//   route_latency [TABLES=10] [ROUNDS=200]
// Prints p50/p99/max for the first table and for all tables done.
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <asio.hpp>
#include <spdlog/spdlog.h>

#include "config/loader.h"
#include "daemon/engine.h"
#include "fakes/fake_prober.h"
#include "route/linux/linux_route_table.h"
#include "runtime/executor.h"

namespace {

using namespace pathpilot;
using Steady = std::chrono::steady_clock;

class BenchClock final : public Clock {
 public:
  MonoTime now() const override { return now_; }
  WallTime wallNow() const override { return std::chrono::system_clock::now(); }
  void advance(Duration d) { now_ += d; }

 private:
  MonoTime now_ = Steady::now();
};

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  int tables = argc > 1 ? std::atoi(argv[1]) : 10;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 200;
  if (unshare(CLONE_NEWNET) != 0) {
    std::perror("route_latency: unshare(CLONE_NEWNET) (needs root)");
    return 77;
  }
  if (std::system("ip link set lo up && ip link add d0 type veth peer name d1 && ip link set d1 up && "
                  "ip addr add 10.0.0.1/24 dev d0 && ip link set d0 up") != 0) {
    std::fputs("route_latency: cannot set up the veth pair\n", stderr);
    return 1;
  }
  std::string yaml =
      "version: 1\nsite: {name: Bench}\n"
      "probe: {interval: 100ms, timeout: 80ms, jitter: 0}\n"
      "health: {window: 10, rise: 3, fall: 3, damping: {enabled: false}}\n"
      "policy: {az_affinity: false, failback_hold_down: 1s}\n"
      "paths:\n"
      "  - {name: dx, kind: dx, probe: {targets: [10.0.0.2], source: 10.0.0.1},"
      " next_hop: {via: 10.0.0.2, dev: d0}}\n"
      "  - {name: vpn, kind: vpn, probe: {targets: [10.0.0.3], source: 10.0.0.1, fwmark: 7},"
      " next_hop: {via: 10.0.0.3, dev: d0}}\n"
      "route_tables:\n";
  for (int t = 0; t < tables; ++t) {
    yaml += "  - {id: t" + std::to_string(t) + ", table: " + std::to_string(1000 + t) +
            ", backend: linux, destinations: [10.10.0.0/16]}\n";
  }
  yaml += "journal: {sqlite: \"\", jsonl: \"\"}\n";
  auto cfg = config::loadString(yaml, "route_latency.yaml");
  if (!cfg) {
    std::fprintf(stderr, "%s\n", cfg.error().message().c_str());
    return 1;
  }

  spdlog::set_level(spdlog::level::off);  // one log line per event would be measured too
  asio::io_context io;
  BenchClock clock;
  probe::FakeProber prober;
  // 4 workers, as the daemon has at least (ROUTE_LATENCY_WORKERS overrides, for comparisons).
  const char* workers_env = std::getenv("ROUTE_LATENCY_WORKERS");
  runtime::ThreadPoolExecutor executor(
      io,
      workers_env != nullptr ? static_cast<std::size_t>(std::max(1, std::atoi(workers_env))) : 4);
  int changed = 0;
  Steady::time_point first_done, last_done;
  daemon::Engine engine(
      io, clock, prober, executor,
      [](const config::Config&, const config::RouteTableConfig& t)
          -> Result<std::unique_ptr<route::RouteTable>> {
        return std::unique_ptr<route::RouteTable>(
            std::make_unique<route::LinuxRouteTable>(t.id, t.linux_table,
                                                     route::LinuxRouteOptions{}));
      },
      nullptr,
      [&](const journal::Event& e) {
        if (std::getenv("ROUTE_LATENCY_DEBUG") != nullptr) {
          std::fprintf(stderr, "event %s: %s %s\n",
                       std::string(journal::eventKindName(e.kind)).c_str(), e.message.c_str(),
                       e.reason.c_str());
        }
        if (e.kind == journal::EventKind::RouteChanged) {
          auto now = Steady::now();
          if (changed == 0) {
            first_done = now;
          }
          last_done = now;
          ++changed;
        }
      });
  if (auto s = engine.start(*cfg); !s) {
    std::fprintf(stderr, "start: %s\n", s.error().toString().c_str());
    return 1;
  }
  auto pump_until = [&](int want) {
    auto deadline = Steady::now() + std::chrono::seconds(10);
    while (changed < want && Steady::now() < deadline) {
      io.run_one_for(std::chrono::milliseconds(10));
    }
    return changed >= want;
  };
  auto result = [&](const char* path, bool ok) {
    clock.advance(std::chrono::milliseconds(100));
    if (ok) {
      prober.succeedForTest(path, 0, clock.now(), std::chrono::microseconds(300));
    } else {
      prober.failForTest(path, 0, clock.now());
    }
  };
  // Initial install on dx.
  for (int i = 0; i < 3; ++i) {
    result("dx", true);
    result("vpn", true);
  }
  if (!pump_until(tables)) {
    std::fprintf(stderr, "route_latency: initial routes not installed (%d of %d)\n", changed,
                 tables);
    std::fprintf(stderr, "%s\n", engine.statusJson()["routes"][0].dump().c_str());
    std::fprintf(stderr, "%s\n", engine.statusJson()["paths"].dump().c_str());
    return 1;
  }
  std::vector<double> first_ms, all_ms;
  for (int r = 0; r < rounds; ++r) {
    result("vpn", true);
    result("dx", false);
    result("dx", false);
    changed = 0;
    auto t0 = Steady::now();
    result("dx", false);  // crosses fall = 3: dx Down, every table fails over to vpn
    if (!pump_until(tables)) {
      std::fputs("route_latency: failover did not complete\n", stderr);
      return 1;
    }
    first_ms.push_back(std::chrono::duration<double, std::milli>(first_done - t0).count());
    all_ms.push_back(std::chrono::duration<double, std::milli>(last_done - t0).count());
    // Fail back (not measured): dx answers again and the hold-down passes.
    for (int i = 0; i < 3; ++i) {
      result("dx", true);
      result("vpn", true);
    }
    changed = 0;
    clock.advance(std::chrono::seconds(2));
    engine.runDue();
    if (!pump_until(tables)) {
      std::fputs("route_latency: failback did not complete\n", stderr);
      return 1;
    }
  }
  std::printf("probe result -> netlink route change done, %d table(s), %d rounds\n", tables,
              rounds);
  std::printf("  first table: p50 %.3f ms  p99 %.3f ms  max %.3f ms\n", percentile(first_ms, 0.5),
              percentile(first_ms, 0.99), percentile(first_ms, 1.0));
  std::printf("  all tables:  p50 %.3f ms  p99 %.3f ms  max %.3f ms\n", percentile(all_ms, 0.5),
              percentile(all_ms, 0.99), percentile(all_ms, 1.0));
  return 0;
}
