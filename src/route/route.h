// route/route.h — the value types every route backend and the reconciler speak.
//
// Purpose: one vocabulary for "which next hop does destination D use in route table T".
// A route table is identified by a string: an AWS route table id ("rtb-468f5222"), or a
// Linux policy-routing table number or name ("101", "vpc-a"). A next hop is either a
// Linux gateway ({via address, dev}, either part optional but not both empty) or an opaque
// cloud target id ("vgw-078bcc55", "eni-...", "i-..."); the two forms never mix.
//
// Threading: value types, no shared state.
// Metrics: none.
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/ip.h"

namespace pathpilot::route {

// Where a route sends its traffic.
//
// Linux form:  via = 169.254.100.1, dev = "vti0"  (printed "via 169.254.100.1 dev vti0"),
//              or dev only for a point-to-point device (printed "dev tun0").
// Cloud form:  target = "vgw-078bcc55"            (printed "vgw-078bcc55").
// Kernel routes that are not plain unicast are reported by the Linux backend in the cloud
// form with a keyword target ("blackhole", "unreachable", "prohibit", "multipath"), so that
// they never compare equal to a desired gateway and get replaced.
// A route of another owner (a routing daemon's, an administrator's) that decides a destination
// is reported as a foreign marker, target "foreign:<owner>" ("foreign:zstatic"): it never
// equals a desired next hop either, but no backend ever overwrites or deletes it; the
// reconciler does not count it as a route of ours (see Reconciler, "Foreign routes").
struct NextHop {
  std::optional<IpAddress> via;
  std::string dev;
  std::string target;

  static NextHop gateway(IpAddress address, std::string device = {});
  static NextHop device(std::string device);
  static NextHop opaque(std::string target_id);
  // The marker of a route that belongs to `owner` ("boot", "zstatic", "77").
  static NextHop foreign(std::string_view owner);

  // True when nothing is set (not a usable next hop).
  bool empty() const { return !via && dev.empty() && target.empty(); }
  // True for the cloud form.
  bool isTarget() const { return !target.empty(); }
  // True for a foreign marker (NextHop::foreign).
  bool isForeign() const;

  // "via 169.254.100.1 dev vti0", "dev tun0", "vgw-078bcc55", or "" when empty.
  std::string toString() const;

  auto operator<=>(const NextHop&) const = default;
};

// Parses what NextHop::toString prints, plus "via ADDR" alone and the shorthand of a bare
// address ("169.254.100.1" = via). Anything else that is one token without spaces is an
// opaque target ("vgw-078bcc55"). Errors are InvalidArgument and quote the input.
[[nodiscard]] Result<NextHop> parseNextHop(std::string_view text);

// Checks that `hop` is well formed: not empty, not both forms at once, a device name that
// fits IFNAMSIZ, a target without whitespace. `family` (if given) must match `via`.
[[nodiscard]] Result<void> validateNextHop(const NextHop& hop,
                                           std::optional<IpFamily> family = std::nullopt);

// Identifies one managed route: (route table, destination prefix).
struct RouteKey {
  std::string table;
  IpPrefix destination;

  // "rtb-1 10.10.0.0/16"
  std::string toString() const;

  auto operator<=>(const RouteKey&) const = default;
};

// One route as a backend lists it.
struct Route {
  std::string table;
  IpPrefix destination;
  NextHop next_hop;

  RouteKey key() const { return {table, destination}; }
  // "10.10.0.0/16 via 169.254.100.1 dev vti0 table 101"
  std::string toString() const;

  auto operator<=>(const Route&) const = default;
};

// One change to one route: what RouteTable::apply programs. `old_next_hop` is what the
// reconciler believes is installed (nullopt: nothing, or unknown); backends that replace
// atomically ignore it, hook commands receive it. `new_next_hop` nullopt means "delete".
// Path names ("dx", "vpn-a") travel with the change for hooks, logs and events.
struct RouteDelta {
  IpPrefix destination;
  std::optional<NextHop> old_next_hop;
  std::optional<NextHop> new_next_hop;
  std::string old_path;
  std::string new_path;

  bool isDelete() const { return !new_next_hop.has_value(); }
  // "10.10.0.0/16: via 10.0.0.1 dev a -> vgw-1" (or "-> (delete)").
  std::string toString() const;
};

}  // namespace pathpilot::route
