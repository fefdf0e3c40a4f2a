// base/route_protocol.h — Linux routing protocol numbers (rtm_protocol): who owns a route.
//
// Purpose: every Linux route carries an 8-bit "protocol" saying who installed it; `ip route`
// prints it as `proto NAME` (names from /etc/iproute2/rt_protos and rt_protos.d/*.conf).
// Routing suites rely on it to find their own routes: FRR's zebra treats every route of its
// numbers as its own (when it starts, it files them as its own routes and installs copies of
// them, which then outlive whatever the real owner does), BIRD uses 12, and so on. A
// daemon that writes routes therefore needs a number that nobody else uses, and must leave
// routes of other numbers alone. This header holds pathpilot's number and the numbers known
// to belong to someone else, so that the configuration can refuse them and the Linux route
// backend can name the owner of a route it will not touch.
//
// pathpilot's number is 157 (kRtprotPathpilot). Why 157:
//   * 0-4 are the kernel's: unspec, redirect, kernel, boot (what `ip route add` writes when no
//     `proto` is given: hand edits and scripts) and static (administrators, systemd-networkd,
//     NetworkManager);
//   * linux/rtnetlink.h names 8-18 (gated ... keepalived), 42 (babel), 99 (openr) and
//     186-189, 192 (bgp, isis, ospf, rip, eigrp), and iproute2's rt_protos ships exactly those;
//   * FRR's zebra/rt_netlink.h adds 190 (ripng), 191 (nhrp), 193 (ldp), 194 (sharp),
//     195 (pbr), 196 (its staticd: "ZSTATIC", named "static" by FRR's rt_protos.d/frr.conf),
//     197 (openfabric) and 198 (srte), and zebra's is_selfroute() claims all of them plus 11
//     (zebra) and 42 (babel). FRR allocates upwards from 186, so we stay clear of 186-199;
//   * below 100 the space is crowded by numbers other software picked for itself (Calico's
//     felix programs its routes with 80, for instance).
// 157 is named by none of these lists. It is configurable (backends.linux.protocol) for a site
// where 157 is taken; dist/iproute2/rt_protos.d/pathpilot.conf names it `pathpilot`.
//
// Threading: constants and pure functions. Metrics: none.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pathpilot {

// The rtm_protocol of every route pathpilot writes (`ip route show proto pathpilot`).
inline constexpr std::uint8_t kRtprotPathpilot = 157;

// Who uses a protocol number.
enum class RouteProtocolOwner : std::uint8_t {
  Kernel,         // 0-2: the kernel's own (unspec, ICMP redirects, connected/local routes)
  Administrator,  // 3 boot, 4 static: `ip route` by hand, scripts, network managers
  Daemon,         // a routing suite or daemon (FRR, BIRD, keepalived, dhcp clients, ...)
};

struct RouteProtocolInfo {
  std::uint8_t number = 0;
  std::string_view name;  // as iproute2 prints it ("boot", "bgp"); FRR's 196 is "zstatic"
  RouteProtocolOwner owner = RouteProtocolOwner::Daemon;
  std::string_view user;  // who uses it, for messages: "FRR staticd, through zebra"
};

// The entry for `number` when it is a number the kernel reserves or a known routing suite
// uses (the lists above), else nullopt.
std::optional<RouteProtocolInfo> knownRouteProtocol(std::uint8_t number);

// The number of a known protocol name ("boot" -> 3, "bgp" -> 186, "zstatic" -> 196,
// "pathpilot" -> kRtprotPathpilot), or nullopt.
std::optional<std::uint8_t> routeProtocolByName(std::string_view name);

// How messages name a number: "boot", "zstatic", "pathpilot" for 157, or the decimal number.
std::string routeProtocolName(std::uint8_t number);

// "proto 196 (FRR staticd, through zebra)", "proto boot (ip route without proto: hand edits and
// scripts)", "proto 77": the number (or name) and who uses it, for error messages.
std::string describeRouteProtocol(std::uint8_t number);

}  // namespace pathpilot
