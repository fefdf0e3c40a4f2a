// Benchmarks for health::LinkHealth::onProbeResult: the cost of one probe result (ns/op).
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "health/link_health.h"

namespace pathpilot::health {
namespace {

// Steady state: an Up path, answers with varying RTT and a lost probe now and then (never a
// state change). Arg 0: window size; arg 1: number of targets (quorum = targets / 2 + 1).
void BM_HealthSteady(benchmark::State& state) {
  HealthParams p;
  p.window = static_cast<std::size_t>(state.range(0));
  const auto targets = static_cast<std::size_t>(state.range(1));
  p.quorum = targets / 2 + 1;
  p.degraded_rtt_p95 = std::chrono::milliseconds(500);
  std::vector<std::string> names;
  for (std::size_t i = 0; i < targets; ++i) {
    names.push_back("10.10.3." + std::to_string(100 + i));
  }
  MonoTime now{};
  auto h = LinkHealth::create(p, names, now).value();
  for (std::size_t k = 0; k < 3 * targets; ++k) {  // warm up: bring every target Up
    now += std::chrono::milliseconds(100);
    h.onProbeResult({k % targets, true, std::chrono::milliseconds(1), {}}, now);
  }
  std::uint64_t i = 0;
  std::uint32_t rng = 12345;
  for (auto _ : state) {
    now += std::chrono::milliseconds(100);
    rng = rng * 1664525u + 1013904223u;  // LCG: deterministic jitter
    const bool lose = (i % 200) == 199;  // 0.5% loss
    const ProbeSample s{i % targets, !lose, std::chrono::microseconds(800 + rng % 4000),
                        lose ? "timeout" : ""};
    benchmark::DoNotOptimize(h.onProbeResult(s, now));
    ++i;
  }
  if (h.state() != PathState::Up) {
    state.SkipWithError("steady benchmark left Up");
  }
  state.SetItemsProcessed(state.iterations());
}

// Worst case: every 3rd result changes the state (fall 1 / rise 1 flapping with damping),
// so reasons are rendered often.
void BM_HealthFlapping(benchmark::State& state) {
  HealthParams p;
  p.rise = 1;
  p.fall = 1;
  MonoTime now{};
  auto h = LinkHealth::create(p, {"10.10.3.100"}, now).value();
  std::uint64_t i = 0;
  for (auto _ : state) {
    now += std::chrono::seconds(1);
    const bool ok = i % 3 != 0;
    benchmark::DoNotOptimize(h.onProbeResult(
        {0, ok, std::chrono::milliseconds(2), ok ? "" : "timeout"}, now));
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_HealthTickNotSuppressed(benchmark::State& state) {
  MonoTime now{};
  auto h = LinkHealth::create({}, {"10.10.3.100"}, now).value();
  for (auto _ : state) {
    now += std::chrono::seconds(1);
    benchmark::DoNotOptimize(h.tick(now));
  }
}

BENCHMARK(BM_HealthSteady)->Args({20, 1})->Args({20, 3})->Args({100, 1})->Args({1000, 1});
BENCHMARK(BM_HealthFlapping);
BENCHMARK(BM_HealthTickNotSuppressed);

}  // namespace
}  // namespace pathpilot::health

BENCHMARK_MAIN();
