// policy/policy.h — which path each route table should use, and why.
//
// Purpose: the pure decision core of pathpilot's path selection. Given the static Topology
// (paths, route tables, preferences), the status of every path (health state, operator drain)
// and the previous decision, it computes the desired next hop for every (route table,
// destination), each with a human reason, so the engine can program routes and emit events.
//
// Two parts:
//   * rankCandidates(): the static preference order of one table, used by `pathpilot check` to
//     print the plan ("rtb-1 10.10.0.0/16: dx → vpn-a → vpn-b").
//   * Policy: built once per Topology (validates it and precomputes every table's ranking), then
//     decide() is called whenever a path status changes or a hold-down expires.
//
// Decision rules, for one (table, destination) whose route currently points at path C:
//   1. Usable = Up or Degraded, and not drained. Among the usable candidates the best is the
//      first Up one in rank order, else the first Degraded one ("Up beats Degraded").
//   2. C usable and C is the best: keep (Keep).
//   3. C usable and a better candidate B exists: move to B only once B has been continuously in
//      its current state class for params.failback_hold_down (Up: since it was last proven
//      clean, PathStatus::clean_since — a full window within the thresholds, so neither a
//      Degraded→Up change nor a return from Down with a fresh window counts until measured;
//      Degraded: since it last became usable). Until
//      then stay on C (HoldDown) and report the remaining time. A flap of B (Down and back)
//      restarts the hold-down because B's `since` moves.
//   4. C not usable (Down, drained, or not a candidate of the table): move at once to the best
//      usable candidate (Failover); no hold-down applies to leaving a broken path.
//   5. Start-up (Unknown): while C's own state is Unknown, keep C, whatever else is known
//      (AwaitingHealth): routes are not moved away from what is programmed until its health is
//      known. With nothing programmed, wait until every candidate ranked above the best
//      usable one is known, then install the best (Initial). If C is Down and nothing is usable
//      but some candidate is still Unknown, wait too rather than raising fail-static.
//   6. Nothing usable (every candidate known, none usable): keep C (FailStatic, critical) with
//      a reason listing each candidate's state. With params.fail_static == false, a drained but
//      healthy candidate is used instead of keeping a dead C (see topology.h).
//   7. Leaving fail static (the previous decision of this route was FailStatic, or it is within
//      its settle time): while the current path C is not usable yet, keep C for up to
//      params.fail_static_settle after the first candidate became usable again (Settling),
//      then move as in rule 4. When C comes back within that time nothing moves at all. An
//      outage of every path ends with the paths returning one by one, a few probe intervals
//      apart, in an order that says nothing about the links; without this rule whichever
//      answered first would take the traffic and the failback hold-down would bring it back.
// Drain is an operator statement, not a health signal: draining C moves its traffic at once
// (rule 4); undraining does not itself start a hold-down: if the path has been healthy for
// failback_hold_down, traffic returns immediately, otherwise after the remaining time. The
// hold-down protects against flapping links, which is a health property.
//
// Threading: pure functions and an immutable Policy; decide() is const and may run on any thread.
// Metrics: none (the engine exports decision counters from DecisionSet).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/error.h"
#include "base/ip.h"
#include "base/time.h"
#include "health/path_state.h"
#include "policy/topology.h"

namespace pathpilot::policy {

// One entry of a table's static preference order.
struct RankedCandidate {
  std::string path;  // PathSpec::name
  std::string why;   // short human reason for its place, e.g. "preferred link kind dx"
};

// Returns the static preference order of the paths that may carry `table`, best first:
//   1. link kinds in params.link_preference order (DX first by default); a link kind that is
//      not listed in link_preference is never a candidate;
//   2. for VPN paths with params.az_affinity and a non-empty table AZ: gateways in the table's
//      own AZ first, then those in other AZs (cross-AZ);
//   3. ties broken by PathSpec::priority (lower first), then by name.
// Paths that table.allowed_paths excludes are omitted (an empty allowed_paths allows every
// path); names in allowed_paths that match no path are ignored here (config validation reports
// them). Health plays no part: this is the order used when every path is healthy.
std::vector<RankedCandidate> rankCandidates(const Topology& topology, const TableSpec& table);

// What policy needs to know about one path at decision time.
struct PathStatus {
  health::PathState state = health::PathState::Unknown;
  // Operator drain (`pathpilot drain dx`): the path carries no traffic while drained.
  bool drained = false;
  // When `state` was entered (health::Stats::since).
  MonoTime since{};
  // Start of the current uninterrupted usable period (health::Stats::usable_since). Used for
  // the hold-down of a Degraded candidate; when unset, `since` is used.
  std::optional<MonoTime> usable_since;
  // For an Up path: since when it has been proven clean (health::Stats::clean_since: a full
  // window within the thresholds). The failback hold-down of an Up candidate counts from here;
  // unset = not proven yet, so no failback to it yet. Callers that do not measure it set it
  // to `since`.
  std::optional<MonoTime> clean_since;
  // Health's reason for `state`; quoted when the path is left or nothing is usable.
  std::string reason;
};

// Why a route got its path; see the decision rules at the top of this file.
enum class DecisionKind : std::uint8_t {
  Keep,            // the current path is the best usable one
  Initial,         // nothing was programmed: install the best usable path
  Failover,        // the current path is not usable: moved at once
  Failback,        // moved to a better path whose hold-down has passed
  HoldDown,        // a better path is usable but its hold-down is running: stay
  AwaitingHealth,  // start-up: health not known yet, keep what is programmed
  FailStatic,      // no usable candidate: keep the current route (critical)
  Settling,        // fail static just ended: keep the current path a short while for it to return
};

// "keep", "initial", "failover", "failback", "hold_down", "awaiting_health", "fail_static",
// "settling".
std::string_view decisionKindName(DecisionKind kind);

// The desired next hop of one (route table, destination).
struct RouteDecision {
  std::string table;  // TableSpec::id
  IpPrefix destination;
  std::string path;       // chosen path; "" = no route (nothing programmed, nothing usable yet)
  std::string previous;   // the path before this decision ("" = none)
  std::string preferred;  // the best usable candidate, hold-down aside ("" = none usable)
  DecisionKind kind = DecisionKind::AwaitingHealth;
  bool changed = false;             // path != previous: the route must be reprogrammed
  bool fail_static = false;         // nothing usable; critical alert
  Duration hold_down_remaining{0};  // > 0 only for HoldDown
  // Set while leaving fail static (rule 7): until then the current path may come back before
  // the route moves. Carried from one decision to the next; reset when the route is settled.
  std::optional<MonoTime> settle_until;
  // This route is in a fail-static episode: FailStatic now, or not settled since (waiting for
  // health or for the settle time). What rule 7 looks at in the previous decision.
  bool fail_static_episode = false;
  std::string reason;  // human reason with the states and times behind it
};

// One decision over every (table, destination) of a Topology, in topology order (tables in
// order, each table's destinations in order).
struct DecisionSet {
  std::vector<RouteDecision> routes;
  // The earliest instant at which a running hold-down expires: call decide() again then.
  std::optional<MonoTime> next_decision;
  std::size_t changed_count = 0;
  std::size_t fail_static_count = 0;

  // The decision for (table, destination), or nullptr. Linear; for tests and tools.
  const RouteDecision* find(std::string_view table, const IpPrefix& destination) const;
};

// A route as found programmed at start-up, mapped to a path name by the caller ("" when the
// route is missing or points at something that is not one of our paths).
struct ProgrammedRoute {
  std::string table;
  IpPrefix destination;
  std::string path;
};

// The compiled policy of one Topology.
class Policy {
 public:
  // Validates `topology` (unique non-empty path names and table ids, allowed_paths naming
  // existing paths, unique destinations per table, every table with at least one candidate,
  // non-empty link_preference without repeats, non-negative hold-down) and precomputes every
  // table's ranking. InvalidArgument names the table or path at fault.
  [[nodiscard]] static Result<Policy> create(Topology topology);

  const Topology& topology() const { return topology_; }
  // Index of the path called `name` in topology().paths.
  std::optional<std::size_t> pathIndex(std::string_view name) const;
  // The ranking of topology().tables[table_index]. Requires: table_index < tables.size().
  const std::vector<RankedCandidate>& ranking(std::size_t table_index) const;
  // Number of (table, destination) pairs, i.e. the size of every DecisionSet.
  std::size_t routeCount() const { return route_count_; }

  // A DecisionSet to pass as `previous` to the first decide(): the programmed routes, every
  // (table, destination) without one having path "". Routes for unknown tables or
  // destinations are ignored.
  DecisionSet startingPoint(std::span<const ProgrammedRoute> programmed) const;

  // Decides every (table, destination). `statuses` has one entry per topology().paths, in
  // the same order. `previous` is the last DecisionSet (or startingPoint()); when it came from
  // this Policy, matching is by position, otherwise by (table, destination). Writes into `out`,
  // reusing its storage (no allocation in steady state); `out` must not alias `previous`.
  // Requires: statuses.size() == topology().paths.size().
  void decide(std::span<const PathStatus> statuses, const DecisionSet& previous, MonoTime now,
              DecisionSet& out) const;
  DecisionSet decide(std::span<const PathStatus> statuses, const DecisionSet& previous,
                     MonoTime now) const;

 private:
  struct TableRank {
    std::vector<std::size_t> paths;  // indices into topology_.paths, best first
    std::vector<RankedCandidate> ranked;
  };

  // Lookup of a `previous` DecisionSet whose order differs from ours, built on first need.
  struct PreviousIndex {
    bool built = false;
    std::unordered_map<std::string, const RouteDecision*> by_key;  // "table|prefix"
  };

  explicit Policy(Topology topology);
  const RouteDecision* findPrevious(const DecisionSet& previous, std::size_t route_index,
                                    const TableSpec& table, const IpPrefix& dest,
                                    PreviousIndex& index) const;
  void decideRoute(const TableRank& rank, const TableSpec& table,
                   std::span<const PathStatus> statuses, const RouteDecision* previous,
                   MonoTime now, RouteDecision& r, std::optional<MonoTime>& next) const;

  Topology topology_;
  std::vector<TableRank> ranks_;
  std::size_t route_count_ = 0;
  std::string hold_text_;  // failback_hold_down as text ("1m"), rendered once
};

}  // namespace pathpilot::policy
