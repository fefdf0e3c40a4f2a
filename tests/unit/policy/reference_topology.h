// tests/unit/policy/reference_topology.h — the reference scenario of docs/architecture.md as a
// policy::Topology: DX (via the VGW), VPN-A (strongSwan-1, AZ a), VPN-B (strongSwan-2, AZ b);
// rtb-1 serves Private-1 in AZ a, rtb-2 serves Private-2 in AZ b; on-prem 10.10.0.0/16.
#pragma once

#include "base/ip.h"
#include "policy/topology.h"

namespace pathpilot::policy::testing {

inline constexpr const char* kAzA = "ap-southeast-1a";
inline constexpr const char* kAzB = "ap-southeast-1b";

inline IpPrefix prefix(const char* text) { return IpPrefix::parse(text).value(); }

inline Topology referenceTopology() {
  Topology t;
  t.paths = {
      {"dx", LinkKind::Dx, "", 100},
      {"vpn-a", LinkKind::Vpn, kAzA, 100},
      {"vpn-b", LinkKind::Vpn, kAzB, 100},
  };
  t.tables = {
      {"rtb-1", kAzA, {prefix("10.10.0.0/16")}, {}},
      {"rtb-2", kAzB, {prefix("10.10.0.0/16")}, {}},
  };
  return t;
}

}  // namespace pathpilot::policy::testing
