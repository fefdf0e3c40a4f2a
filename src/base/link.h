// base/link.h — what a path is and how its probes are kept on it: one type each for config,
// policy, probe and the daemon.
//
// Pure value types. LinkKind is what a path physically is (the policy prefers kinds in
// `policy.preference` order); Pinning is how a path's probes are forced onto that path and no
// other (a probe of VPN-A must never leave over DX, or it would report VPN-A healthy while it
// is down). Threading: values. Metrics: none.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/ip.h"

namespace pathpilot {

enum class LinkKind : std::uint8_t {
  Dx,   // AWS Direct Connect (private line), usually through a virtual private gateway
  Vpn,  // an IPsec tunnel through a strongSwan gateway instance
};

// "dx" or "vpn", exactly as written in the YAML file and shown everywhere.
constexpr std::string_view linkKindName(LinkKind k) { return k == LinkKind::Dx ? "dx" : "vpn"; }

// Any combination may be set; an empty Pinning follows the main routing table (a config's
// paths always have one: config checks it). Probe targets with an equal Pinning (and address
// family) share sockets.
struct Pinning {
  // Source address to bind. Its family must match the target's.
  std::optional<IpAddress> source;
  // Interface to bind with SO_BINDTODEVICE ("" = none; at most 15 bytes). If it disappears,
  // probes fail with a clear error and the sockets are re-created once it is back.
  std::string interface;
  // Firewall mark set with SO_MARK (needs CAP_NET_ADMIN; non-zero), matched by
  // `ip rule fwmark`.
  std::optional<std::uint32_t> fwmark;

  bool empty() const { return !source && interface.empty() && !fwmark; }
  // "source 169.254.100.2, interface vti1, fwmark 0x65"; "unpinned" when empty.
  std::string toString() const;
  friend bool operator==(const Pinning&, const Pinning&) = default;
};

}  // namespace pathpilot
