// Randomised invariant checks for policy::Policy::decide over the reference scenario and a
// bigger topology (deterministic seeds).
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "policy/policy.h"
#include "unit/policy/reference_topology.h"

namespace pathpilot::policy {
namespace {

using health::PathState;

Topology mixedTopology() {
  Topology t = testing::referenceTopology();
  t.paths.push_back({"dx-2", LinkKind::Dx, "", 50});
  t.paths.push_back({"vpn-c", LinkKind::Vpn, "ap-southeast-1c", 100});
  t.tables.push_back({"rtb-3",
                      "ap-southeast-1c",
                      {testing::prefix("10.10.0.0/16"), testing::prefix("172.16.0.0/12")},
                      {"vpn-a", "vpn-c", "dx-2"}});
  return t;
}

TEST(PolicyPropertyTest, InvariantsHoldOnRandomStatuses) {
  const Policy policy = Policy::create(mixedTopology()).value();
  const std::size_t n = policy.topology().paths.size();
  const PathState states[] = {PathState::Unknown, PathState::Up, PathState::Degraded,
                              PathState::Down};
  for (unsigned seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    MonoTime now = MonoTime(std::chrono::hours(1));
    std::vector<PathStatus> st(n);
    DecisionSet prev = policy.startingPoint({});
    for (int step = 0; step < 2000; ++step) {
      now += std::chrono::seconds(rng() % 30);
      const std::size_t i = rng() % n;
      const PathState s = states[rng() % 4];
      if (s != st[i].state) {
        st[i].since = now;
        if (!health::isUsable(s)) {
          st[i].usable_since.reset();
        } else if (!st[i].usable_since) {
          st[i].usable_since = now;
        }
      }
      st[i].state = s;
      st[i].clean_since = s == PathState::Up ? std::optional<MonoTime>(st[i].since) : std::nullopt;
      st[i].drained = rng() % 8 == 0;
      const DecisionSet out = policy.decide(st, prev, now);
      ASSERT_EQ(out.routes.size(), policy.routeCount());
      std::size_t changed = 0;
      for (std::size_t r = 0; r < out.routes.size(); ++r) {
        const RouteDecision& d = out.routes[r];
        SCOPED_TRACE(::testing::Message()
                     << "seed " << seed << " step " << step << " " << d.table << ": " << d.reason);
        ASSERT_EQ(d.previous, prev.routes[r].path);
        ASSERT_EQ(d.changed, d.path != d.previous);
        ASSERT_FALSE(d.reason.empty());
        changed += d.changed ? 1 : 0;
        ASSERT_EQ(d.hold_down_remaining > Duration(0), d.kind == DecisionKind::HoldDown);
        ASSERT_EQ(d.fail_static, d.kind == DecisionKind::FailStatic);
        if (!d.preferred.empty()) {
          const PathStatus& ps = st[*policy.pathIndex(d.preferred)];
          ASSERT_TRUE(health::isUsable(ps.state) && !ps.drained);
        }
        switch (d.kind) {
          case DecisionKind::Keep:
          case DecisionKind::HoldDown:
          case DecisionKind::AwaitingHealth:
          case DecisionKind::FailStatic:
          case DecisionKind::Settling:
            ASSERT_FALSE(d.changed);
            break;
          case DecisionKind::Initial:
          case DecisionKind::Failover:
          case DecisionKind::Failback: {
            // Moves always land on the best usable path.
            ASSERT_TRUE(d.changed);
            ASSERT_EQ(d.path, d.preferred);
            break;
          }
        }
        if (d.kind == DecisionKind::Keep) {
          ASSERT_EQ(d.path, d.preferred);
        }
        // rtb-3 may use only vpn-a, vpn-c and dx-2 (anything else only if it was there).
        if (d.table == "rtb-3" && d.changed) {
          ASSERT_TRUE(d.path == "vpn-a" || d.path == "vpn-c" || d.path == "dx-2") << d.path;
        }
      }
      ASSERT_EQ(changed, out.changed_count);
      prev = out;
    }
  }
}

}  // namespace
}  // namespace pathpilot::policy
