// Checks the "no allocation per result" promise of health::LinkHealth by counting calls to the
// global operator new while steady-state results are fed.
#include <atomic>
#include <cstdlib>
#include <new>

#include <gtest/gtest.h>

#include "health/link_health.h"

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) {
    return p;
  }
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace pathpilot::health {
namespace {

TEST(LinkHealthAllocTest, SteadyStateResultsDoNotAllocate) {
  HealthParams p;
  p.degraded_rtt_p95 = std::chrono::milliseconds(100);
  auto h = LinkHealth::create(p, {"10.10.3.100", "10.10.3.101"}, MonoTime{});
  ASSERT_TRUE(h.has_value());
  MonoTime now{};
  // Warm up: Up, with a lost probe now and then (no state change: 1 loss in 20 = 5%).
  for (int i = 0; i < 40; ++i) {
    now += std::chrono::seconds(1);
    h->onProbeResult({static_cast<std::size_t>(i % 2), true, std::chrono::milliseconds(5 + i % 7),
                      {}},
                     now);
  }
  ASSERT_EQ(h->state(), PathState::Up);
  const long before = g_allocations.load();
  for (int i = 0; i < 10000; ++i) {
    now += std::chrono::seconds(1);
    const bool lose = i % 40 == 0;
    const auto t = h->onProbeResult(
        {static_cast<std::size_t>(i % 2), !lose, std::chrono::milliseconds(5 + i % 7),
         lose ? "timeout" : ""},
        now);
    ASSERT_FALSE(t.changed);
  }
  EXPECT_EQ(g_allocations.load() - before, 0);
}

}  // namespace
}  // namespace pathpilot::health
