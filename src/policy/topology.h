// policy/topology.h — the static description the policy decides over.
//
// Purpose: the subset of the configuration that path selection needs, as plain values, so that
// policy does not depend on the config module (docs/development.md: config and policy sit side by
// side above base). daemon/ converts config::Config into a Topology. Threading: value types.
// Metrics: none.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip.h"
#include "base/link.h"
#include "base/time.h"

namespace pathpilot::policy {

// base/link.h: one LinkKind for config, policy and the daemon.
using pathpilot::LinkKind;
using pathpilot::linkKindName;

struct PathSpec {
  std::string name;  // "dx", "vpn-a"
  LinkKind link = LinkKind::Vpn;
  std::string az;      // availability zone of the gateway, e.g. "ap-southeast-1a"; may be
                       // empty for a DX (it serves every AZ)
  int priority = 100;  // lower is preferred among paths of the same link class
};

struct TableSpec {
  std::string id;                          // "rtb-468f5222" or a Linux table name/number
  std::string az;                          // the AZ of the subnets using this table
  std::vector<IpPrefix> destinations;      // on-prem prefixes this table routes
  std::vector<std::string> allowed_paths;  // empty = every path may carry this table
};

struct PolicyParams {
  // Order of link kinds, most preferred first. Default: DX, then VPN.
  std::vector<LinkKind> link_preference = {LinkKind::Dx, LinkKind::Vpn};
  // Prefer a VPN gateway in the table's own AZ over one in another AZ.
  bool az_affinity = true;
  // A better path must be continuously usable this long before traffic moves back to it.
  Duration failback_hold_down = std::chrono::seconds(60);
  // When no candidate is usable, keep the current route (true) or withdraw nothing and still
  // keep it (the only safe choice for VPC route tables); false means "move to the least bad
  // Degraded candidate if any". Either way a critical event is raised.
  // As implemented by policy::Policy (policy.h): Degraded candidates are always usable (Up beats
  // Degraded, Degraded beats nothing), so "nothing usable" means every candidate is Down,
  // Unknown or drained. Then true keeps the current route (DecisionKind::FailStatic, critical);
  // false moves to a drained but healthy candidate, if there is one, rather than keeping a
  // route to a dead path, and is fail static otherwise.
  bool fail_static = true;
  // Leaving fail static: when every candidate was unusable and some come back, a route whose
  // current path is not back yet waits this long for it before moving (see policy.h, rule 7).
  // An outage of every path at once is the monitor's or the site's, not one link's: the paths
  // return within a few probe intervals of each other, and whichever answered first must not
  // win. Zero: move at once to the first usable path.
  Duration fail_static_settle = std::chrono::seconds(3);
};

struct Topology {
  std::vector<PathSpec> paths;
  std::vector<TableSpec> tables;
  PolicyParams params;
};

}  // namespace pathpilot::policy
