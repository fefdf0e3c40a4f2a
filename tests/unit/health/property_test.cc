// Randomised invariant checks for health::LinkHealth (deterministic seeds, no sleeps).
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "health/link_health.h"

namespace pathpilot::health {
namespace {

TEST(LinkHealthPropertyTest, InvariantsHoldOnRandomStreams) {
  for (unsigned seed = 1; seed <= 40; ++seed) {
    std::mt19937 rng(seed);
    HealthParams p;
    p.window = 1 + rng() % 40;
    p.rise = 1 + static_cast<int>(rng() % p.window);
    p.fall = 1 + static_cast<int>(rng() % 5);
    p.min_samples = 1 + rng() % 20;
    p.degraded_rtt_p95 = std::chrono::milliseconds(20 + rng() % 100);
    const std::size_t targets = 1 + rng() % 4;
    p.quorum = 1 + rng() % targets;
    std::vector<std::string> names(targets);
    MonoTime now{};
    auto h = LinkHealth::create(p, names, now);
    ASSERT_TRUE(h.has_value()) << seed << ": " << h.error().message();
    const double loss_rate = static_cast<double>(rng() % 100) / 100.0;
    std::bernoulli_distribution lose(loss_rate);
    PathState last = PathState::Unknown;
    for (int i = 0; i < 3000; ++i) {
      now += std::chrono::milliseconds(rng() % 2000);
      Transition t;
      if (rng() % 10 == 0) {
        t = h->tick(now);
      } else {
        const bool ok = !lose(rng);
        t = h->onProbeResult({rng() % targets, ok, std::chrono::microseconds(rng() % 200000),
                              ok ? "" : "timeout"},
                             now);
      }
      SCOPED_TRACE(::testing::Message() << "seed " << seed << " step " << i);
      ASSERT_EQ(t.from, last);
      ASSERT_EQ(t.changed, t.from != t.to);
      if (t.changed || t.suppression_changed) {
        ASSERT_FALSE(t.reason.empty());
      }
      last = t.to;
      ASSERT_EQ(h->state(), t.to);
      if (h->suppressed()) {
        ASSERT_EQ(h->state(), PathState::Down);
        ASSERT_TRUE(h->reuseTime().has_value());
      }
      if (i % 97 == 0) {
        const Stats s = h->stats(now);
        ASSERT_LE(s.measured.samples, p.window * targets);
        ASSERT_GE(s.measured.loss, 0.0);
        ASSERT_LE(s.measured.loss, 1.0);
        ASSERT_LE(s.measured.rtt_p50, s.measured.rtt_p95);
        ASSERT_LE(s.measured.rtt_p95, s.measured.rtt_p99);
        ASSERT_EQ(s.usable_since.has_value(), isUsable(s.state));
        ASSERT_LE(s.penalty, p.reuse * std::exp2(10.0) + 1e-6);  // the ceiling
      }
    }
  }
}

}  // namespace
}  // namespace pathpilot::health
