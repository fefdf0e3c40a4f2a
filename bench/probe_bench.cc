// Micro-benchmarks of the probe engine's pure hot path: packet encode/parse, in-flight table,
// deadline heap. The end-to-end load test against fping is bench/probe/compare_fping.sh.
#include <benchmark/benchmark.h>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <memory>
#include <vector>

#include "probe/icmp_codec.h"
#include "probe/schedule.h"

namespace pathpilot::probe {
namespace {

void BM_EncodeEchoV4(benchmark::State& state) {
  std::vector<std::uint8_t> out(icmp::kHeaderSize + 56);
  std::uint16_t seq = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        icmp::encodeEchoRequest(IpFamily::V4, 0x1234, seq++, {1, 0xdeadbeef, 42}, 56, out));
  }
}
BENCHMARK(BM_EncodeEchoV4);

void BM_ParseEchoReplyWithIpHeader(benchmark::State& state) {
  std::vector<std::uint8_t> pkt(20 + icmp::kHeaderSize + 32, 0);
  pkt[0] = 0x45;
  pkt[9] = 1;
  icmp::encodeEchoRequest(IpFamily::V4, 1, 2, {1, 2, 3}, 32,
                          std::span<std::uint8_t>(pkt).subspan(20));
  pkt[20] = icmp::kV4EchoReply;
  for (auto _ : state) {
    auto m = icmp::parseMessage(IpFamily::V4, pkt, true);
    benchmark::DoNotOptimize(m);
  }
}
BENCHMARK(BM_ParseEchoReplyWithIpHeader);

// One probe's bookkeeping: allocate a sequence number, match its reply.
void BM_SeqTableSendReply(benchmark::State& state) {
  SeqTable table(1024);
  const MonoTime now{};
  std::uint64_t nonce = 0;
  for (auto _ : state) {
    auto seq = table.allocate(1, 1, ++nonce, now);
    benchmark::DoNotOptimize(table.onReply(*seq, nonce, now, nullptr));
  }
}
BENCHMARK(BM_SeqTableSendReply);

// Steady state of the deadline heap with N entries: pop the earliest, push it one period on.
void BM_DeadlineQueueSteadyState(benchmark::State& state) {
  DeadlineQueue<std::uint64_t> q;
  SplitMix64 rng(1);
  const auto n = static_cast<std::size_t>(state.range(0));
  for (std::size_t i = 0; i < n; ++i) {
    q.push(MonoTime(Duration(static_cast<Duration::rep>(rng.next() % 10'000'000))), i);
  }
  for (auto _ : state) {
    const MonoTime at = q.nextDeadline();
    const auto v = q.pop();
    q.push(at + jitteredInterval(std::chrono::milliseconds(10), 10, rng.next()), v);
  }
}
BENCHMARK(BM_DeadlineQueueSteadyState)->Arg(1000)->Arg(10000)->Arg(100000);

// The alternative the engine does not use: one asio timer per outstanding probe. Each
// iteration arms a timeout for a new probe among N outstanding ones and cancels the oldest
// (its reply "arrived"), running the aborted handler — the per-probe cost of that design.
void BM_AsioTimerPerProbe(benchmark::State& state) {
  asio::io_context io;
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<std::unique_ptr<asio::steady_timer>> timers;
  SplitMix64 rng(1);
  for (std::size_t i = 0; i < n; ++i) {
    auto t = std::make_unique<asio::steady_timer>(io);
    t->expires_after(std::chrono::seconds(10) + std::chrono::microseconds(rng.next() % 1000000));
    t->async_wait([](const std::error_code&) {});
    timers.push_back(std::move(t));
  }
  std::size_t oldest = 0;
  for (auto _ : state) {
    timers[oldest]->cancel();
    io.poll();  // runs the aborted handler
    timers[oldest]->expires_after(std::chrono::seconds(10) +
                                  std::chrono::microseconds(rng.next() % 1000000));
    timers[oldest]->async_wait([](const std::error_code&) {});
    oldest = (oldest + 1) % n;
  }
}
BENCHMARK(BM_AsioTimerPerProbe)->Arg(1000)->Arg(10000)->Arg(100000);

}  // namespace
}  // namespace pathpilot::probe

BENCHMARK_MAIN();
