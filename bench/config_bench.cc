// Config loading cost: `pathpilot check` and every daemon start or reload parse the file once,
// so this only has to stay far below human and systemd time scales; the benchmarks guard
// against accidental quadratic behaviour (duplicate detection, merges, cross-checks) on large
// files and measure the hostile-input limits.
//
//   ./build/bench/config_bench
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>
#include <string>

#include "config/loader.h"

namespace {

std::string readExample(const char* name) {
  std::ifstream in(std::string(PP_SOURCE_DIR) + "/examples/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A config with `paths` VPN paths and `tables` route tables of 4 destinations each.
std::string largeConfig(int paths, int tables) {
  std::string text = "site: {name: Big, region: ap-southeast-1}\npaths:\n";
  text += "  - {name: dx, kind: dx, probe: {targets: [10.10.3.100], fwmark: 1}, "
          "next_hop: {gateway_id: vgw-078bcc55}}\n";
  for (int i = 0; i < paths; ++i) {
    char zone = static_cast<char>('a' + i % 3);
    text += "  - name: vpn-" + std::to_string(i) + "\n    kind: vpn\n    az: ap-southeast-1" +
            zone + "\n    probe: {targets: [169.254." + std::to_string(i) +
            ".1, 169.254." + std::to_string(i) + ".2], fwmark: " + std::to_string(i + 2) +
            ", quorum: 1}\n    next_hop: {instance_id: i-" + std::string(9, '0') +
            std::to_string(10000000 + i) + "}\n";
  }
  text += "route_tables:\n";
  for (int t = 0; t < tables; ++t) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "%08x", t);
    text += "  - id: rtb-" + std::string(hex) + "\n    az: ap-southeast-1" +
            static_cast<char>('a' + t % 3) + "\n    destinations: [";
    for (int d = 0; d < 4; ++d) {
      text += (d ? ", 10." : "10.") + std::to_string(t % 250) + "." + std::to_string(d * 64) +
              ".0/18";
    }
    text += "]\n";
  }
  return text;
}

void BM_LoadSeedExample(benchmark::State& state) {
  std::string text = readExample("seed-2az.yaml");
  for (auto _ : state) {
    auto report = pathpilot::config::checkString(text, "seed-2az.yaml");
    if (!report.ok()) {
      state.SkipWithError("seed example does not load");
      break;
    }
    benchmark::DoNotOptimize(report);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(text.size()));
}
BENCHMARK(BM_LoadSeedExample);

void BM_LoadLargeConfig(benchmark::State& state) {
  std::string text = largeConfig(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  for (auto _ : state) {
    auto report = pathpilot::config::checkString(text, "large.yaml");
    if (!report.ok()) {
      state.SkipWithError(report.format().c_str());
      break;
    }
    benchmark::DoNotOptimize(report);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(text.size()));
}
BENCHMARK(BM_LoadLargeConfig)->Args({8, 16})->Args({63, 256})->Unit(benchmark::kMillisecond);

// Hostile input must be rejected quickly, not expanded.
void BM_RejectBillionLaughs(benchmark::State& state) {
  std::string text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  std::string previous = "a";
  for (char name = 'b'; name <= 'j'; ++name) {
    text += std::string(1, name) + ": &" + name + " [";
    for (int i = 0; i < 10; ++i) {
      text += (i ? ", *" : "*") + previous;
    }
    text += "]\n";
    previous = std::string(1, name);
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(pathpilot::config::checkString(text, "laughs.yaml"));
  }
}
BENCHMARK(BM_RejectBillionLaughs);

void BM_RejectManyUnknownKeys(benchmark::State& state) {
  std::string text;
  for (int i = 0; i < 20000; ++i) {
    text += "key" + std::to_string(i) + ": " + std::to_string(i) + "\n";
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(pathpilot::config::checkString(text, "keys.yaml"));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(text.size()));
}
BENCHMARK(BM_RejectManyUnknownKeys)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
