// daemon/topology_builder.h — from the validated config to what the policy decides over.
//
// Purpose: policy::Topology is the subset of the configuration that path selection needs, kept
// free of the config module (policy and config sit side by side above base, docs/development.md). This
// is the one conversion between them, used by the engine at start-up and on reload, and by
// `pathpilot check` to print the plan.
// Threading: pure function over value types.
// Metrics: none.
#pragma once

#include "config/config.h"
#include "policy/topology.h"

namespace pathpilot::daemon {

// Converts `config` into a policy::Topology:
//   - one PathSpec per path, in file order (name, link kind, az, priority);
//   - one TableSpec per route table, in file order (id, az, destinations, and the `paths`
//     restriction as allowed_paths);
//   - PolicyParams from `policy:` (preference, az_affinity, failback_hold_down, fail_static).
// Requires: `config` came from a successful config::loadFile/loadString (names unique, every
// restriction names a path); the result then satisfies policy::Policy::create's checks.
policy::Topology buildTopology(const config::Config& config);

}  // namespace pathpilot::daemon
