// policy/policy.h — which path each route table should use, and why.
//
// Purpose: the pure decision core of pathpilot's path selection. Given the static Topology
// (paths, route tables, preferences), the health of every path and the previous decision, it
// computes the desired next hop for every (route table, destination) with a human reason.
// This header starts with the static part, rankCandidates(), which `pathpilot check` uses to
// print the plan ("rtb-1 10.10.0.0/16: dx → vpn-a → vpn-b").
// Threading: pure functions over value types; no shared state.
// Metrics: none (the engine exports decision counters from the results).
#pragma once

#include <string>
#include <vector>

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

}  // namespace pathpilot::policy
