// Tests for policy::Policy::decide over the reference scenario (rtb-1 in AZ a, rtb-2 in AZ b;
// paths dx, vpn-a in AZ a, vpn-b in AZ b) and variants.
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fakes/fake_clock.h"
#include "health/link_health.h"
#include "policy/policy.h"
#include "unit/policy/reference_topology.h"

namespace pathpilot::policy {
namespace {

using health::PathState;
using ::testing::HasSubstr;
using testing::prefix;
using testing::referenceTopology;
using ::testing::StartsWith;

constexpr PathState U = PathState::Up;
constexpr PathState G = PathState::Degraded;
constexpr PathState D = PathState::Down;
constexpr PathState N = PathState::Unknown;

constexpr std::size_t kDx = 0, kVpnA = 1, kVpnB = 2;

class PolicyDecideTest : public ::testing::Test {
 protected:
  PolicyDecideTest() { reset(referenceTopology()); }

  void reset(Topology t) {
    auto p = Policy::create(std::move(t));
    ASSERT_TRUE(p.has_value()) << p.error().message();
    policy_.emplace(std::move(*p));
    statuses_.assign(policy_->topology().paths.size(), PathStatus{});
  }

  // Sets path `i` to `state`, entered `ago` before now (default: long ago, hold-down passed).
  void set(std::size_t i, PathState state, Duration ago = std::chrono::hours(1)) {
    PathStatus& s = statuses_[i];
    s.state = state;
    s.since = clock_.now() - ago;
    s.usable_since = health::isUsable(state) ? std::optional<MonoTime>(s.since) : std::nullopt;
    s.clean_since = state == U ? std::optional<MonoTime>(s.since) : std::nullopt;
    s.reason = state == D ? "3 consecutive probes lost (loss 15% over 20, last error: timeout)"
                          : std::string();
  }
  void setAll(PathState dx, PathState a, PathState b) {
    set(kDx, dx);
    set(kVpnA, a);
    set(kVpnB, b);
  }

  // Every route of the reference scenario currently on `path` ("" = nothing programmed).
  DecisionSet programmed(const std::string& rtb1, const std::string& rtb2) const {
    const std::vector<ProgrammedRoute> routes = {{"rtb-1", prefix("10.10.0.0/16"), rtb1},
                                                 {"rtb-2", prefix("10.10.0.0/16"), rtb2}};
    return policy_->startingPoint(routes);
  }

  DecisionSet decide(const DecisionSet& previous) {
    return policy_->decide(statuses_, previous, clock_.now());
  }

  std::optional<Policy> policy_;
  std::vector<PathStatus> statuses_;
  pathpilot::testing::FakeClock clock_;
};

// ---- Every combination of DX / VPN-A / VPN-B up or down, from every starting path. ----

struct ComboCase {
  PathState dx, a, b;
  const char* rtb1;  // expected path for rtb-1 (AZ a)
  const char* rtb2;  // expected path for rtb-2 (AZ b)
};

// States stable for an hour: hold-downs have long passed.
const ComboCase kCombos[] = {
    {U, U, U, "dx", "dx"},
    {U, U, D, "dx", "dx"},
    {U, D, U, "dx", "dx"},
    {U, D, D, "dx", "dx"},
    {D, U, U, "vpn-a", "vpn-b"},
    {D, U, D, "vpn-a", "vpn-a"},
    {D, D, U, "vpn-b", "vpn-b"},
    {D, D, D, nullptr, nullptr},  // fail static: keep previous
    // Degraded and Unknown variants.
    {G, U, U, "vpn-a", "vpn-b"},  // Up beats Degraded
    {G, D, D, "dx", "dx"},        // Degraded beats nothing
    {G, G, G, "dx", "dx"},
    {U, G, U, "dx", "dx"},
    {D, G, U, "vpn-b", "vpn-b"},  // an Up gateway in another AZ beats a Degraded own-AZ one
    {D, G, G, "vpn-a", "vpn-b"},
    {N, D, D, nullptr, nullptr},  // unknown is not usable: keep previous
};

std::string label(PathState s) { return std::string(health::pathStateName(s)); }

TEST_F(PolicyDecideTest, EveryCombinationForBothTables) {
  for (const std::string prev : {"dx", "vpn-a", "vpn-b"}) {
    for (const ComboCase& c : kCombos) {
      SCOPED_TRACE("previous " + prev + ", dx " + label(c.dx) + ", vpn-a " + label(c.a) +
                   ", vpn-b " + label(c.b));
      setAll(c.dx, c.a, c.b);
      const DecisionSet out = decide(programmed(prev, prev));
      ASSERT_EQ(out.routes.size(), 2u);
      const RouteDecision& r1 = out.routes[0];
      const RouteDecision& r2 = out.routes[1];
      EXPECT_EQ(r1.table, "rtb-1");
      EXPECT_EQ(r2.table, "rtb-2");
      EXPECT_EQ(r1.path, c.rtb1 ? c.rtb1 : prev);
      EXPECT_EQ(r2.path, c.rtb2 ? c.rtb2 : prev);
      for (const RouteDecision* r : {&r1, &r2}) {
        EXPECT_EQ(r->previous, prev);
        EXPECT_EQ(r->changed, r->path != prev);
        EXPECT_EQ(r->hold_down_remaining, Duration(0));
        EXPECT_FALSE(r->reason.empty());
        const PathState prev_state = prev == "dx" ? c.dx : (prev == "vpn-a" ? c.a : c.b);
        if (c.rtb1 == nullptr) {
          // Nothing usable: fail static, unless a candidate's health is still unknown.
          if (c.dx == N || c.a == N || c.b == N) {
            EXPECT_EQ(r->kind, DecisionKind::AwaitingHealth);
          } else {
            EXPECT_EQ(r->kind, DecisionKind::FailStatic);
            EXPECT_TRUE(r->fail_static);
            EXPECT_EQ(r->preferred, "");
          }
        } else if (!r->changed) {
          EXPECT_EQ(r->kind, DecisionKind::Keep);
          EXPECT_EQ(r->preferred, r->path);
        } else if (health::isUsable(prev_state)) {
          EXPECT_EQ(r->kind, DecisionKind::Failback);
        } else {
          EXPECT_EQ(r->kind, DecisionKind::Failover);
        }
      }
      const bool any_unknown = c.dx == N || c.a == N || c.b == N;
      EXPECT_EQ(out.fail_static_count, c.rtb1 == nullptr && !any_unknown ? 2u : 0u);
    }
  }
}

TEST_F(PolicyDecideTest, ReasonsNameThePathsAndTheirState) {
  setAll(U, U, U);
  DecisionSet out = decide(programmed("dx", "dx"));
  EXPECT_EQ(out.routes[0].reason, "dx up: the best usable path (preferred link kind dx)");

  setAll(D, U, U);
  out = decide(out);
  EXPECT_EQ(out.routes[0].reason,
            "dx down (3 consecutive probes lost (loss 15% over 20, last error: timeout)); "
            "moving to vpn-a (up, vpn gateway in the table's own AZ (ap-southeast-1a), after "
            "link kind dx)");
  EXPECT_THAT(out.routes[1].reason, HasSubstr("moving to vpn-b (up, vpn gateway in the table's "
                                              "own AZ (ap-southeast-1b)"));
  EXPECT_EQ(out.changed_count, 2u);

  set(kVpnA, D);
  out = decide(out);
  EXPECT_EQ(out.routes[0].path, "vpn-b");
  EXPECT_THAT(out.routes[0].reason, HasSubstr("vpn gateway in another AZ (ap-southeast-1b), "
                                              "cross-AZ"));
  EXPECT_FALSE(out.routes[1].changed);
}

// ---- Hold-down ----

TEST_F(PolicyDecideTest, FailbackWaitsForTheHoldDown) {
  setAll(D, U, U);
  DecisionSet out = decide(programmed("dx", "dx"));
  ASSERT_EQ(out.routes[0].path, "vpn-a");
  ASSERT_EQ(out.routes[1].path, "vpn-b");

  set(kDx, U, Duration(0));  // DX comes back now
  out = decide(out);
  for (const RouteDecision& r : out.routes) {
    EXPECT_EQ(r.kind, DecisionKind::HoldDown);
    EXPECT_FALSE(r.changed);
    EXPECT_EQ(r.preferred, "dx");
    EXPECT_EQ(r.hold_down_remaining, std::chrono::seconds(60));
  }
  EXPECT_EQ(out.routes[0].reason,
            "staying on vpn-a (up): dx is preferred (preferred link kind dx) but up only for "
            "0.0s; failback in 60.0s (hold-down 1m)");
  EXPECT_EQ(out.next_decision, clock_.now() + std::chrono::seconds(60));

  clock_.advance(std::chrono::seconds(45));
  out = decide(out);
  EXPECT_EQ(out.routes[0].kind, DecisionKind::HoldDown);
  EXPECT_EQ(out.routes[0].hold_down_remaining, std::chrono::seconds(15));
  EXPECT_THAT(out.routes[0].reason, HasSubstr("failback in 15.0s"));

  clock_.advance(std::chrono::seconds(15));
  out = decide(out);
  for (const RouteDecision& r : out.routes) {
    EXPECT_EQ(r.kind, DecisionKind::Failback);
    EXPECT_TRUE(r.changed);
    EXPECT_EQ(r.path, "dx");
  }
  EXPECT_EQ(out.routes[0].previous, "vpn-a");
  EXPECT_EQ(out.routes[1].previous, "vpn-b");
  EXPECT_EQ(out.routes[0].reason,
            "dx up and measured clean for 60.0s (hold-down 1m passed), preferred over vpn-a (up): "
            "preferred link kind dx");
  EXPECT_FALSE(out.next_decision.has_value());
}

TEST_F(PolicyDecideTest, FlapDuringHoldDownRestartsIt) {
  setAll(D, U, U);
  DecisionSet out = decide(programmed("vpn-a", "vpn-b"));
  set(kDx, U, Duration(0));
  out = decide(out);
  ASSERT_EQ(out.routes[0].kind, DecisionKind::HoldDown);

  clock_.advance(std::chrono::seconds(40));
  set(kDx, D, Duration(0));  // flap
  out = decide(out);
  EXPECT_EQ(out.routes[0].kind, DecisionKind::Keep);
  EXPECT_EQ(out.routes[0].preferred, "vpn-a");
  EXPECT_FALSE(out.next_decision.has_value());

  clock_.advance(std::chrono::seconds(5));
  set(kDx, U, Duration(0));
  out = decide(out);
  EXPECT_EQ(out.routes[0].hold_down_remaining, std::chrono::seconds(60)) << "restarted";
  clock_.advance(std::chrono::seconds(59));
  EXPECT_EQ(decide(out).routes[0].path, "vpn-a");
  clock_.advance(std::chrono::seconds(1));
  EXPECT_EQ(decide(out).routes[0].path, "dx");
}

TEST_F(PolicyDecideTest, FailoverToAWorsePathIsImmediateEvenDuringHoldDown) {
  setAll(D, U, U);
  DecisionSet out = decide(programmed("vpn-a", "vpn-b"));
  set(kDx, U, Duration(0));
  out = decide(out);
  ASSERT_EQ(out.routes[0].kind, DecisionKind::HoldDown);
  clock_.advance(std::chrono::seconds(10));
  set(kVpnA, D, Duration(0));  // current path dies while DX is held down
  out = decide(out);
  // The best usable path is DX (still in its hold-down, but leaving a dead path is immediate).
  EXPECT_EQ(out.routes[0].path, "dx");
  EXPECT_EQ(out.routes[0].kind, DecisionKind::Failover);
  EXPECT_EQ(out.routes[1].kind, DecisionKind::HoldDown);
}

TEST_F(PolicyDecideTest, DegradedToUpOfTheBetterPathRestartsTheHoldDown) {
  // dx Degraded for long, vpn-a Up: traffic on vpn-a. DX recovers to Up: it must be Up for the
  // hold-down, even though it was usable (Degraded) all along.
  setAll(G, U, U);
  DecisionSet out = decide(programmed("vpn-a", "vpn-b"));
  ASSERT_EQ(out.routes[0].kind, DecisionKind::Keep);
  statuses_[kDx].state = U;
  statuses_[kDx].since = clock_.now();  // usable_since stays an hour ago
  out = decide(out);
  EXPECT_EQ(out.routes[0].kind, DecisionKind::HoldDown);
  EXPECT_EQ(out.routes[0].hold_down_remaining, std::chrono::seconds(60));
}

TEST_F(PolicyDecideTest, DegradedCandidateHoldDownUsesUsableSince) {
  // Everything Degraded; rtb-2 on vpn-a (cross-AZ) because vpn-b was down. vpn-b comes back
  // Degraded: hold-down counts from when it became usable.
  setAll(D, G, D);
  DecisionSet out = decide(programmed("vpn-a", "vpn-a"));
  set(kVpnB, G, std::chrono::seconds(20));
  out = decide(out);
  EXPECT_EQ(out.routes[1].kind, DecisionKind::HoldDown);
  EXPECT_EQ(out.routes[1].hold_down_remaining, std::chrono::seconds(40));
  EXPECT_EQ(out.routes[0].kind, DecisionKind::Keep);
}

TEST_F(PolicyDecideTest, ZeroHoldDownFailsBackAtOnce) {
  Topology t = referenceTopology();
  t.params.failback_hold_down = Duration(0);
  reset(t);
  setAll(U, U, U);
  set(kDx, U, Duration(0));
  const DecisionSet out = decide(programmed("vpn-a", "vpn-b"));
  EXPECT_EQ(out.routes[0].kind, DecisionKind::Failback);
  EXPECT_EQ(out.routes[0].path, "dx");
}

// ---- Flapping DX with damping in health, end to end through health::LinkHealth ----

TEST_F(PolicyDecideTest, FlappingDxIsDampedThenHeldDown) {
  health::HealthParams hp;
  hp.rise = 1;
  hp.fall = 1;
  hp.degraded_loss = 1.0;
  hp.down_loss = 1.0;
  auto dx = health::LinkHealth::create(hp, {"10.10.3.100"}, clock_.now()).value();
  const auto probe = [&](bool ok) {
    clock_.advance(std::chrono::seconds(2));
    dx.onProbeResult({0, ok, std::chrono::milliseconds(3), ok ? "" : "timeout"}, clock_.now());
    const health::Stats s = dx.stats(clock_.now());
    statuses_[kDx] = {s.state, false, s.since, s.usable_since, s.clean_since, s.reason};
  };
  set(kVpnA, U);
  set(kVpnB, U);
  probe(true);
  DecisionSet out = decide(programmed("dx", "dx"));
  ASSERT_EQ(out.routes[0].kind, DecisionKind::Keep);

  // Three flaps: each Down moves traffic off DX at once; each Up is held down; the third flap
  // suppresses DX in health.
  int moves = 0;
  for (int flap = 0; flap < 3; ++flap) {
    probe(false);
    out = decide(out);
    moves += static_cast<int>(out.changed_count);
    probe(true);
    out = decide(out);
    moves += static_cast<int>(out.changed_count);
    EXPECT_EQ(out.routes[0].path, "vpn-a");
  }
  EXPECT_EQ(moves, 2) << "each table moves off DX once; no move back while DX flaps";
  ASSERT_TRUE(dx.suppressed());
  EXPECT_EQ(statuses_[kDx].state, D);
  EXPECT_EQ(out.routes[0].reason,
            "vpn-a up: the best usable path (vpn gateway in the table's own AZ "
            "(ap-southeast-1a), after link kind dx); dx down");

  // DX answers steadily from now on. It stays suppressed until the penalty decays to reuse,
  // then must still hold Up for the policy hold-down before traffic moves back.
  const MonoTime reuse = dx.reuseTime().value();
  while (clock_.now() + std::chrono::seconds(2) < reuse) {
    probe(true);
    out = decide(out);
    ASSERT_EQ(out.routes[0].path, "vpn-a");
  }
  probe(true);  // past reuse: released
  ASSERT_FALSE(dx.suppressed());
  const MonoTime up_at = statuses_[kDx].since;
  out = decide(out);
  EXPECT_EQ(out.routes[0].kind, DecisionKind::HoldDown);
  EXPECT_EQ(out.next_decision, up_at + std::chrono::seconds(60));
  clock_.advance(*out.next_decision - clock_.now());
  out = decide(out);
  EXPECT_EQ(out.routes[0].path, "dx");
  EXPECT_EQ(out.routes[0].kind, DecisionKind::Failback);
}

// ---- Drain ----

TEST_F(PolicyDecideTest, DrainMovesTrafficAtOnceAndUndrainReturnsIt) {
  setAll(U, U, U);
  DecisionSet out = decide(programmed("dx", "dx"));
  statuses_[kDx].drained = true;
  out = decide(out);
  EXPECT_EQ(out.routes[0].path, "vpn-a");
  EXPECT_EQ(out.routes[1].path, "vpn-b");
  EXPECT_EQ(out.routes[0].kind, DecisionKind::Failover);
  EXPECT_THAT(out.routes[0].reason, StartsWith("dx drained by the operator; moving to vpn-a"));
  EXPECT_EQ(out.routes[0].preferred, "vpn-a");

  // DX stayed healthy through the maintenance (for more than the hold-down): undrain returns
  // traffic immediately.
  clock_.advance(std::chrono::minutes(30));
  statuses_[kDx].drained = false;
  out = decide(out);
  EXPECT_EQ(out.routes[0].path, "dx");
  EXPECT_EQ(out.routes[0].kind, DecisionKind::Failback);
}

TEST_F(PolicyDecideTest, UndrainAfterWorkOnTheLinkWaitsForTheRemainingHoldDown) {
  setAll(U, U, U);
  statuses_[kDx].drained = true;
  DecisionSet out = decide(programmed("vpn-a", "vpn-b"));
  // The work took DX down and it came back 20 s ago.
  set(kDx, U, std::chrono::seconds(20));
  statuses_[kDx].drained = false;
  out = decide(out);
  EXPECT_EQ(out.routes[0].kind, DecisionKind::HoldDown);
  EXPECT_EQ(out.routes[0].hold_down_remaining, std::chrono::seconds(40));
}

TEST_F(PolicyDecideTest, DrainingEveryHealthyPathIsFailStaticButKeepsTheRoute) {
  setAll(U, D, D);
  statuses_[kDx].drained = true;
  const DecisionSet out = decide(programmed("dx", "dx"));
  EXPECT_EQ(out.routes[0].path, "dx");
  EXPECT_TRUE(out.routes[0].fail_static);
  EXPECT_THAT(out.routes[0].reason, HasSubstr("dx drained (up)"));
}

TEST_F(PolicyDecideTest, FailStaticFalseUsesADrainedHealthyPathOverADeadOne) {
  Topology t = referenceTopology();
  t.params.fail_static = false;
  reset(t);
  setAll(U, D, D);
  statuses_[kDx].drained = true;
  const DecisionSet out = decide(programmed("vpn-a", "vpn-b"));
  EXPECT_EQ(out.routes[0].path, "dx");
  EXPECT_EQ(out.routes[0].kind, DecisionKind::Failover);
  EXPECT_FALSE(out.routes[0].fail_static);
  EXPECT_THAT(out.routes[0].reason, HasSubstr("using drained dx rather than vpn-a"));
}

// ---- Fail static ----

TEST_F(PolicyDecideTest, NothingUsableKeepsTheRouteWithACriticalReason) {
  setAll(D, D, D);
  statuses_[kVpnB].drained = true;
  const DecisionSet out = decide(programmed("vpn-a", "vpn-b"));
  EXPECT_EQ(out.fail_static_count, 2u);
  EXPECT_EQ(out.changed_count, 0u);
  const RouteDecision& r = out.routes[0];
  EXPECT_EQ(r.path, "vpn-a");
  EXPECT_EQ(r.kind, DecisionKind::FailStatic);
  EXPECT_TRUE(r.fail_static);
  EXPECT_EQ(r.reason,
            "no usable path for rtb-1: dx down (3 consecutive probes lost (loss 15% over 20, "
            "last error: timeout)); vpn-a down (3 consecutive probes lost (loss 15% over 20, "
            "last error: timeout)); vpn-b drained (down); keeping vpn-a (fail static)");
}

TEST_F(PolicyDecideTest, NothingUsableAndNothingProgrammed) {
  setAll(D, D, D);
  const DecisionSet out = decide(programmed("", ""));
  EXPECT_EQ(out.routes[0].path, "");
  EXPECT_TRUE(out.routes[0].fail_static);
  EXPECT_THAT(out.routes[0].reason, HasSubstr("no route to keep (fail static)"));
}

// ---- Start-up with Unknown states ----

TEST_F(PolicyDecideTest, StartupKeepsWhatIsProgrammedUntilItsHealthIsKnown) {
  DecisionSet out = decide(programmed("dx", "vpn-a"));  // everything Unknown
  for (const RouteDecision& r : out.routes) {
    EXPECT_EQ(r.kind, DecisionKind::AwaitingHealth);
    EXPECT_FALSE(r.changed);
    EXPECT_FALSE(r.fail_static);
  }
  EXPECT_EQ(out.routes[0].path, "dx");
  EXPECT_EQ(out.routes[1].path, "vpn-a");
  EXPECT_EQ(out.routes[0].reason, "keeping dx as programmed until its health is known");

  // The VPNs are known first: rtb-1 stays on DX (still unknown); rtb-2's vpn-a is up but
  // vpn-b, its own AZ's gateway, has been up for an hour: it moves (no reason to wait).
  set(kVpnA, U);
  set(kVpnB, U);
  out = decide(out);
  EXPECT_EQ(out.routes[0].kind, DecisionKind::AwaitingHealth);
  EXPECT_EQ(out.routes[1].path, "vpn-b");

  set(kDx, U, Duration(0));
  out = decide(out);
  EXPECT_EQ(out.routes[0].kind, DecisionKind::Keep);
  EXPECT_EQ(out.routes[1].kind, DecisionKind::HoldDown);
}

TEST_F(PolicyDecideTest, StartupWithNothingProgrammedWaitsForBetterCandidates) {
  set(kVpnA, U, Duration(0));
  DecisionSet out = decide(programmed("", ""));
  EXPECT_EQ(out.routes[0].path, "");
  EXPECT_EQ(out.routes[0].kind, DecisionKind::AwaitingHealth);
  EXPECT_EQ(out.routes[0].reason,
            "no route programmed; waiting for the health of dx before installing (best known: "
            "vpn-a)");

  set(kDx, D, Duration(0));
  out = decide(out);
  EXPECT_EQ(out.routes[0].path, "vpn-a");
  EXPECT_EQ(out.routes[0].kind, DecisionKind::Initial);
  EXPECT_TRUE(out.routes[0].changed);
  // rtb-2 still waits for vpn-b, its own AZ's gateway.
  EXPECT_EQ(out.routes[1].path, "");
  EXPECT_THAT(out.routes[1].reason, HasSubstr("waiting for the health of vpn-b"));
}

TEST_F(PolicyDecideTest, StartupWithADeadProgrammedPathWaitsBeforeFailStatic) {
  set(kDx, D);
  const DecisionSet out = decide(programmed("dx", "dx"));
  EXPECT_EQ(out.routes[0].kind, DecisionKind::AwaitingHealth);
  EXPECT_FALSE(out.routes[0].fail_static);
  EXPECT_THAT(out.routes[0].reason,
              HasSubstr("waiting for the health of vpn-a, vpn-b before declaring fail static"));
}

// ---- Topology variants ----

TEST_F(PolicyDecideTest, AllowedPathsRestrictTheCandidates) {
  Topology t = referenceTopology();
  t.tables[0].allowed_paths = {"vpn-a", "vpn-b"};
  reset(t);
  setAll(U, U, U);
  DecisionSet out = decide(programmed("dx", "dx"));
  EXPECT_EQ(out.routes[0].path, "vpn-a");
  EXPECT_EQ(out.routes[0].kind, DecisionKind::Failover);
  EXPECT_THAT(out.routes[0].reason,
              StartsWith("dx is not a candidate for rtb-1 (allowed_paths or link_preference)"));
  EXPECT_EQ(out.routes[1].path, "dx");

  setAll(U, D, D);
  out = decide(out);
  EXPECT_EQ(out.routes[0].path, "vpn-a") << "DX is never used for rtb-1";
  EXPECT_TRUE(out.routes[0].fail_static);
}

TEST_F(PolicyDecideTest, VpnFirstLinkPreference) {
  Topology t = referenceTopology();
  t.params.link_preference = {LinkKind::Vpn, LinkKind::Dx};
  reset(t);
  setAll(U, U, U);
  DecisionSet out = decide(programmed("dx", "dx"));
  EXPECT_EQ(out.routes[0].path, "vpn-a");
  EXPECT_EQ(out.routes[1].path, "vpn-b");
  setAll(U, D, U);
  out = decide(out);
  EXPECT_EQ(out.routes[0].path, "vpn-b");
  setAll(U, D, D);
  out = decide(out);
  EXPECT_EQ(out.routes[0].path, "dx");
  EXPECT_EQ(out.routes[1].path, "dx");
  EXPECT_THAT(out.routes[0].reason, HasSubstr("fallback link kind dx"));
}

TEST_F(PolicyDecideTest, UnknownProgrammedPathIsLeft) {
  setAll(U, U, U);
  const DecisionSet out = decide(programmed("vpn-old", "dx"));
  EXPECT_EQ(out.routes[0].path, "dx");
  EXPECT_THAT(out.routes[0].reason, StartsWith("vpn-old is not a configured path; moving to dx"));
}

TEST_F(PolicyDecideTest, SeveralDestinationsPerTableAndPreviousInAnotherOrder) {
  Topology t = referenceTopology();
  t.tables[0].destinations.push_back(prefix("192.168.0.0/24"));
  reset(t);
  setAll(D, U, U);
  // Programmed routes given in a different order, one missing.
  const std::vector<ProgrammedRoute> routes = {
      {"rtb-2", prefix("10.10.0.0/16"), "dx"},
      {"rtb-1", prefix("192.168.0.0/24"), "vpn-b"},
  };
  DecisionSet previous = policy_->startingPoint(routes);
  std::reverse(previous.routes.begin(), previous.routes.end());  // force the slow lookup
  const DecisionSet out = decide(previous);
  ASSERT_EQ(out.routes.size(), 3u);
  EXPECT_EQ(policy_->routeCount(), 3u);
  const RouteDecision* a = out.find("rtb-1", prefix("10.10.0.0/16"));
  const RouteDecision* b = out.find("rtb-1", prefix("192.168.0.0/24"));
  const RouteDecision* c = out.find("rtb-2", prefix("10.10.0.0/16"));
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->kind, DecisionKind::Initial);
  EXPECT_EQ(a->path, "vpn-a");
  EXPECT_EQ(b->previous, "vpn-b");
  EXPECT_EQ(b->kind, DecisionKind::Failback);
  EXPECT_EQ(b->path, "vpn-a");
  EXPECT_EQ(c->kind, DecisionKind::Failover);
  EXPECT_EQ(c->path, "vpn-b");
}

TEST_F(PolicyDecideTest, OutputStorageIsReused) {
  setAll(D, U, U);
  DecisionSet a = decide(programmed("dx", "dx"));
  DecisionSet b;
  for (int i = 0; i < 3; ++i) {
    policy_->decide(statuses_, a, clock_.now(), b);
    std::swap(a, b);
  }
  EXPECT_EQ(a.routes.size(), 2u);
  EXPECT_EQ(a.routes[0].kind, DecisionKind::Keep);
  EXPECT_EQ(a.changed_count, 0u);
}

// ---- Validation ----

TEST(PolicyCreateTest, RejectsBadTopologies) {
  const auto err = [](Topology t) {
    auto p = Policy::create(std::move(t));
    return p ? std::string() : p.error().message();
  };
  EXPECT_EQ(err(referenceTopology()), "");
  Topology t = referenceTopology();
  t.paths[2].name = "vpn-a";
  EXPECT_EQ(err(t), "policy: path \"vpn-a\" is defined twice");
  t = referenceTopology();
  t.tables[1].id = "rtb-1";
  EXPECT_EQ(err(t), "policy: route table \"rtb-1\" is defined twice");
  t = referenceTopology();
  t.tables[0].allowed_paths = {"vpn-c"};
  EXPECT_EQ(err(t), "policy: route table \"rtb-1\": allowed_paths names unknown path \"vpn-c\"");
  t = referenceTopology();
  t.tables[0].destinations.push_back(prefix("10.10.0.0/16"));
  EXPECT_EQ(err(t), "policy: route table \"rtb-1\": destination 10.10.0.0/16 is listed twice");
  t = referenceTopology();
  t.params.link_preference = {LinkKind::Vpn};
  t.tables[0].allowed_paths = {"dx"};
  EXPECT_THAT(err(t), HasSubstr("route table \"rtb-1\" has no candidate path"));
  t = referenceTopology();
  t.params.link_preference = {};
  EXPECT_THAT(err(t), HasSubstr("link_preference is empty"));
  t.params.link_preference = {LinkKind::Dx, LinkKind::Dx};
  EXPECT_THAT(err(t), HasSubstr("link_preference lists dx twice"));
  t = referenceTopology();
  t.params.failback_hold_down = -std::chrono::seconds(1);
  EXPECT_THAT(err(t), HasSubstr("failback_hold_down must not be negative"));
  t = referenceTopology();
  t.paths.clear();
  EXPECT_THAT(err(t), HasSubstr("no paths defined"));
  t = referenceTopology();
  t.paths[0].name = "";
  EXPECT_THAT(err(t), HasSubstr("path #1 has no name"));
}

TEST(PolicyCreateTest, RankingIsPrecomputedPerTable) {
  auto p = Policy::create(referenceTopology()).value();
  ASSERT_EQ(p.ranking(1).size(), 3u);
  EXPECT_EQ(p.ranking(1)[1].path, "vpn-b");
  EXPECT_EQ(p.pathIndex("vpn-b"), 2u);
  EXPECT_FALSE(p.pathIndex("nope").has_value());
  EXPECT_EQ(decisionKindName(DecisionKind::HoldDown), "hold_down");
}

}  // namespace
}  // namespace pathpilot::policy

// ---- Rule 7: leaving fail static. ----

namespace pathpilot::policy {
namespace {

// The monitor cut off from every path for ten seconds: fail static, then the paths return one
// by one in an order unrelated to the links (here VPN-A first, DX 300 ms later). Nothing moves.
TEST_F(PolicyDecideTest, LeavingFailStaticWaitsForTheCurrentPathAndMovesNothing) {
  setAll(U, U, U);
  DecisionSet d = decide(programmed("dx", "dx"));
  setAll(D, D, D);
  d = decide(d);
  ASSERT_EQ(d.find("rtb-1", prefix("10.10.0.0/16"))->kind, DecisionKind::FailStatic);
  clock_.advance(std::chrono::seconds(10));
  set(kVpnA, U, Duration(0));
  d = decide(d);
  const RouteDecision* r1 = d.find("rtb-1", prefix("10.10.0.0/16"));
  EXPECT_EQ(r1->kind, DecisionKind::Settling);
  EXPECT_EQ(r1->path, "dx");
  EXPECT_FALSE(r1->changed);
  EXPECT_FALSE(r1->fail_static) << "a path is usable again: fail static is over";
  ASSERT_TRUE(d.next_decision);
  EXPECT_EQ(*d.next_decision, clock_.now() + std::chrono::seconds(3));
  EXPECT_THAT(r1->reason, HasSubstr("leaving fail static"));
  clock_.advance(std::chrono::milliseconds(300));
  set(kDx, U, Duration(0));
  d = decide(d);
  EXPECT_EQ(d.changed_count, 0u);
  EXPECT_EQ(d.find("rtb-1", prefix("10.10.0.0/16"))->kind, DecisionKind::Keep);
  EXPECT_EQ(d.find("rtb-2", prefix("10.10.0.0/16"))->kind, DecisionKind::Keep);
  EXPECT_FALSE(d.find("rtb-1", prefix("10.10.0.0/16"))->settle_until) << "episode over";
}

// When the current path really died during the outage, the route moves once the settle time is
// over, and not before.
TEST_F(PolicyDecideTest, LeavingFailStaticMovesAfterTheSettleTimeWhenTheCurrentPathStaysDown) {
  setAll(U, U, U);
  DecisionSet d = decide(programmed("dx", "dx"));
  setAll(D, D, D);
  d = decide(d);
  set(kVpnA, U, Duration(0));
  set(kVpnB, U, Duration(0));
  d = decide(d);
  EXPECT_EQ(d.changed_count, 0u);
  clock_.advance(std::chrono::milliseconds(2999));
  d = decide(d);
  EXPECT_EQ(d.changed_count, 0u);
  EXPECT_EQ(d.find("rtb-1", prefix("10.10.0.0/16"))->kind, DecisionKind::Settling);
  clock_.advance(std::chrono::milliseconds(1));
  d = decide(d);
  const RouteDecision* r1 = d.find("rtb-1", prefix("10.10.0.0/16"));
  const RouteDecision* r2 = d.find("rtb-2", prefix("10.10.0.0/16"));
  EXPECT_EQ(r1->kind, DecisionKind::Failover);
  EXPECT_EQ(r1->path, "vpn-a");
  EXPECT_EQ(r2->path, "vpn-b");
  EXPECT_THAT(r1->reason, HasSubstr("not back within the fail-static settle time"));
}

// An ordinary failure of one path (no fail static before) fails over at once: the settle time
// applies only when every path was down.
TEST_F(PolicyDecideTest, OneFailedPathStillFailsOverAtOnce) {
  setAll(U, U, U);
  DecisionSet d = decide(programmed("dx", "dx"));
  set(kDx, D, Duration(0));
  d = decide(d);
  EXPECT_EQ(d.find("rtb-1", prefix("10.10.0.0/16"))->kind, DecisionKind::Failover);
  EXPECT_EQ(d.changed_count, 2u);
}

// The engine counts a path whose latest probe failed as Unknown: the current path coming back
// through Unknown keeps the settle clock running instead of ending the episode.
TEST_F(PolicyDecideTest, SettleClockSurvivesTheCurrentPathBeingUnknown) {
  setAll(U, U, U);
  DecisionSet d = decide(programmed("dx", "dx"));
  setAll(D, D, D);
  d = decide(d);
  set(kVpnA, U, Duration(0));
  set(kDx, N, Duration(0));
  d = decide(d);
  EXPECT_EQ(d.find("rtb-1", prefix("10.10.0.0/16"))->kind, DecisionKind::AwaitingHealth);
  ASSERT_TRUE(d.find("rtb-1", prefix("10.10.0.0/16"))->settle_until);
  clock_.advance(std::chrono::seconds(1));
  set(kDx, D, Duration(0));
  d = decide(d);
  EXPECT_EQ(d.find("rtb-1", prefix("10.10.0.0/16"))->kind, DecisionKind::Settling)
      << "the settle time counts from the first usable path, 2 s are left";
  clock_.advance(std::chrono::seconds(2));
  d = decide(d);
  EXPECT_EQ(d.find("rtb-1", prefix("10.10.0.0/16"))->path, "vpn-a");
}

// Failback needs the better path proven clean: Up but not measured over a full window (just
// back from Down) is no reason to move, however long ago it came up.
TEST_F(PolicyDecideTest, FailbackWaitsUntilTheBetterPathIsMeasuredClean) {
  setAll(U, U, U);
  set(kDx, D);
  DecisionSet d = decide(programmed("vpn-a", "vpn-b"));
  set(kDx, U, std::chrono::minutes(5));
  statuses_[kDx].clean_since.reset();
  d = decide(d);
  const RouteDecision* r = d.find("rtb-1", prefix("10.10.0.0/16"));
  EXPECT_EQ(r->kind, DecisionKind::HoldDown);
  EXPECT_EQ(r->path, "vpn-a");
  EXPECT_THAT(r->reason, HasSubstr("not yet measured clean over a full window"));
  statuses_[kDx].clean_since = clock_.now() - std::chrono::seconds(10);
  d = decide(d);
  EXPECT_EQ(d.find("rtb-1", prefix("10.10.0.0/16"))->kind, DecisionKind::HoldDown)
      << "clean for 10 s of a 60 s hold-down";
  statuses_[kDx].clean_since = clock_.now() - std::chrono::minutes(2);
  d = decide(d);
  EXPECT_EQ(d.find("rtb-1", prefix("10.10.0.0/16"))->kind, DecisionKind::Failback);
}

TEST_F(PolicyDecideTest, ZeroSettleTimeMovesAtOnce) {
  Topology t = referenceTopology();
  t.params.fail_static_settle = Duration(0);
  reset(std::move(t));
  setAll(U, U, U);
  DecisionSet d = decide(programmed("dx", "dx"));
  setAll(D, D, D);
  d = decide(d);
  set(kVpnA, U, Duration(0));
  d = decide(d);
  EXPECT_EQ(d.find("rtb-1", prefix("10.10.0.0/16"))->path, "vpn-a");
}

}  // namespace
}  // namespace pathpilot::policy
