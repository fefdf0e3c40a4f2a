#include "base/route_protocol.h"

#include <array>

namespace pathpilot {
namespace {

using O = RouteProtocolOwner;

// linux/rtnetlink.h (RTPROT_*) and FRR's zebra/rt_netlink.h, in number order.
constexpr std::array kKnown = {
    RouteProtocolInfo{0, "unspec", O::Kernel, "the kernel (unspecified)"},
    RouteProtocolInfo{1, "redirect", O::Kernel, "the kernel (ICMP redirects)"},
    RouteProtocolInfo{2, "kernel", O::Kernel, "the kernel (connected and local routes)"},
    RouteProtocolInfo{3, "boot", O::Administrator,
                      "ip route without proto: hand edits and scripts"},
    RouteProtocolInfo{4, "static", O::Administrator,
                      "administrators and network managers (networkd, NetworkManager)"},
    RouteProtocolInfo{8, "gated", O::Daemon, "GateD"},
    RouteProtocolInfo{9, "ra", O::Daemon, "router advertisements (RDISC/ND)"},
    RouteProtocolInfo{10, "mrt", O::Daemon, "Merit MRT"},
    RouteProtocolInfo{11, "zebra", O::Daemon, "FRR/Quagga zebra"},
    RouteProtocolInfo{12, "bird", O::Daemon, "BIRD"},
    RouteProtocolInfo{13, "dnrouted", O::Daemon, "the DECnet routing daemon"},
    RouteProtocolInfo{14, "xorp", O::Daemon, "XORP"},
    RouteProtocolInfo{15, "ntk", O::Daemon, "Netsukuku"},
    RouteProtocolInfo{16, "dhcp", O::Daemon, "DHCP clients"},
    RouteProtocolInfo{17, "mrouted", O::Daemon, "multicast routing daemons"},
    RouteProtocolInfo{18, "keepalived", O::Daemon, "keepalived"},
    RouteProtocolInfo{42, "babel", O::Daemon, "babeld and FRR babeld"},
    RouteProtocolInfo{99, "openr", O::Daemon, "Open/R"},
    RouteProtocolInfo{186, "bgp", O::Daemon, "FRR bgpd"},
    RouteProtocolInfo{187, "isis", O::Daemon, "FRR isisd"},
    RouteProtocolInfo{188, "ospf", O::Daemon, "FRR ospfd/ospf6d"},
    RouteProtocolInfo{189, "rip", O::Daemon, "FRR ripd"},
    RouteProtocolInfo{190, "ripng", O::Daemon, "FRR ripngd"},
    RouteProtocolInfo{191, "nhrp", O::Daemon, "FRR nhrpd"},
    RouteProtocolInfo{192, "eigrp", O::Daemon, "FRR eigrpd"},
    RouteProtocolInfo{193, "ldp", O::Daemon, "FRR ldpd"},
    RouteProtocolInfo{194, "sharp", O::Daemon, "FRR sharpd"},
    RouteProtocolInfo{195, "pbr", O::Daemon, "FRR pbrd"},
    RouteProtocolInfo{196, "zstatic", O::Daemon, "FRR staticd, through zebra"},
    RouteProtocolInfo{197, "openfabric", O::Daemon, "FRR fabricd"},
    RouteProtocolInfo{198, "srte", O::Daemon, "FRR pathd (SR-TE)"},
};

}  // namespace

std::optional<RouteProtocolInfo> knownRouteProtocol(std::uint8_t number) {
  for (const RouteProtocolInfo& info : kKnown) {
    if (info.number == number) {
      return info;
    }
  }
  return std::nullopt;
}

std::optional<std::uint8_t> routeProtocolByName(std::string_view name) {
  if (name == "pathpilot") {
    return kRtprotPathpilot;
  }
  for (const RouteProtocolInfo& info : kKnown) {
    if (info.name == name) {
      return info.number;
    }
  }
  return std::nullopt;
}

std::string routeProtocolName(std::uint8_t number) {
  if (auto info = knownRouteProtocol(number)) {
    return std::string(info->name);
  }
  if (number == kRtprotPathpilot) {
    return "pathpilot";
  }
  return std::to_string(number);
}

std::string describeRouteProtocol(std::uint8_t number) {
  if (auto info = knownRouteProtocol(number)) {
    // FRR's numbers are shown as numbers: `ip route` prints them with whatever name the
    // machine's rt_protos.d gives (FRR calls 196 "static", the same word as the kernel's 4).
    std::string shown =
        info->number >= 186 ? std::to_string(info->number) : std::string(info->name);
    return "proto " + shown + " (" + std::string(info->user) + ")";
  }
  if (number == kRtprotPathpilot) {
    return "proto pathpilot (" + std::to_string(number) + ")";
  }
  return "proto " + std::to_string(number);
}

}  // namespace pathpilot
