// Benchmarks of the observability path at 1,000 paths × 1,000 route tables.
//
//   BM_RenderMetrics        /metrics rendering (API thread, per scrape); counters: bytes, lines
//   BM_MetricsFromStatus    status document → metrics model (engine thread, per snapshot)
//   BM_SnapshotBuild        the whole SnapshotBuilder::build() the engine thread runs every
//                           250 ms (status moved in, metrics derived, history shared)
//   BM_StatusBody           status JSON serialisation (API thread, once per snapshot)
//
// Run: build-<you>/bench/metrics_bench --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <algorithm>
#include <string>

#include <nlohmann/json.hpp>

#include "api/snapshot_builder.h"
#include "metrics/daemon_metrics.h"

namespace pathpilot {
namespace {

constexpr int kPaths = 1000;
constexpr int kTables = 1000;

nlohmann::json bigStatus() {
  nlohmann::json j;
  j["site"] = "Singapore";
  j["version"] = "0.1.0";
  nlohmann::json paths = nlohmann::json::array();
  for (int i = 0; i < kPaths; ++i) {
    bool dx = i < 2;
    paths.push_back({{"name", (dx ? "dx-" : "vpn-") + std::to_string(i)},
                     {"link", dx ? "dx" : "vpn"},
                     {"az", "ap-southeast-1" + std::string(1, static_cast<char>('a' + i % 3))},
                     {"state", i % 17 == 0 ? "down" : "up"},
                     {"drained", false},
                     {"usable", i % 17 != 0},
                     {"since_seconds", 100.0 + i},
                     {"reason", "3 consecutive probes answered (loss 0% over 10, rtt p50 1.20ms)"},
                     {"loss", (i % 10) / 100.0},
                     {"samples", 10},
                     {"rtt_p50_ms", 1.0 + i % 50},
                     {"rtt_p95_ms", 2.0 + i % 50},
                     {"rtt_p99_ms", 3.0 + i % 50}});
  }
  j["paths"] = paths;
  nlohmann::json routes = nlohmann::json::array();
  for (int i = 0; i < kTables; ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "rtb-%08x", 0x468f0000 + i);
    routes.push_back({{"route_table", id},
                      {"table_name", "Private-" + std::to_string(i)},
                      {"az", "ap-southeast-1a"},
                      {"backend", "aws"},
                      {"destination", "10." + std::to_string(i % 250) + ".0.0/16"},
                      {"desired", "dx-0"},
                      {"preferred", "dx-0"},
                      {"decision", "preferred"},
                      {"reason", "dx-0 is up"},
                      {"fail_static", false},
                      {"hold_down_remaining_ms", 0.0},
                      {"current", i % 5 == 0 ? "vpn-3" : "dx-0"},
                      {"next_hop", "vgw-078bcc55"},
                      {"sync", "synced"}});
  }
  j["routes"] = routes;
  return j;
}

metrics::DaemonMetrics bigMetrics() {
  RealClock clock;
  api::SnapshotBuilder builder(clock.now(), clock.wallNow());
  for (int i = 0; i < kPaths; ++i) {
    std::string name = (i < 2 ? "dx-" : "vpn-") + std::to_string(i);
    for (int k = 0; k < 20; ++k) {
      builder.onProbe(name, k % 9 != 0, std::chrono::microseconds(300 + 97 * k * (i % 13)),
                      clock.now());
    }
  }
  api::SnapshotInputs in;
  in.status = bigStatus();
  return builder.build(std::move(in), clock.now(), clock.wallNow())->metrics;
}

void BM_RenderMetrics(benchmark::State& state) {
  auto m = bigMetrics();
  std::size_t bytes = 0;
  std::size_t lines = 0;
  for (auto _ : state) {
    std::string out = metrics::renderDaemonMetrics(m);
    bytes = out.size();
    benchmark::DoNotOptimize(out.data());
    lines = static_cast<std::size_t>(std::count(out.begin(), out.end(), '\n'));
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.counters["lines"] = static_cast<double>(lines);
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes) * state.iterations());
}
BENCHMARK(BM_RenderMetrics)->Unit(benchmark::kMillisecond);

void BM_MetricsFromStatus(benchmark::State& state) {
  RealClock clock;
  metrics::PathRecorder recorder(clock.now(), clock.wallNow());
  auto status = bigStatus();
  for (auto _ : state) {
    metrics::DaemonMetrics m;
    api::metricsFromStatus(status, recorder, clock.wallNow(), m);
    benchmark::DoNotOptimize(m.paths.data());
  }
}
BENCHMARK(BM_MetricsFromStatus)->Unit(benchmark::kMillisecond);

void BM_SnapshotBuild(benchmark::State& state) {
  RealClock clock;
  api::SnapshotBuilder builder(clock.now(), clock.wallNow());
  auto status = bigStatus();
  for (auto _ : state) {
    state.PauseTiming();
    api::SnapshotInputs in;
    in.status = status;  // the engine builds this itself (Engine::statusJson, not measured here)
    state.ResumeTiming();
    auto snap = builder.build(std::move(in), clock.now(), clock.wallNow());
    benchmark::DoNotOptimize(snap.get());
  }
}
BENCHMARK(BM_SnapshotBuild)->Unit(benchmark::kMillisecond);

void BM_StatusBody(benchmark::State& state) {
  auto status = bigStatus();
  std::size_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto snap = std::make_shared<api::Snapshot>();
    snap->status = status;
    state.ResumeTiming();
    const std::string& body = snap->statusBody();
    bytes = body.size();
    benchmark::DoNotOptimize(body.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_StatusBody)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace pathpilot

BENCHMARK_MAIN();
