// route/linux/linux_route_table.h — Linux policy-routing tables over rtnetlink (libmnl).
//
// Purpose: programs one numbered routing table (the kind `ip rule from 10.0.1.0/24 table 101`
// points at) in this or another network namespace. Routes are written with replace semantics
// (RTM_NEWROUTE with NLM_F_CREATE|NLM_F_REPLACE: one route per prefix, created or swapped
// atomically, never a window without a route) and table ids above 255 travel in RTA_TABLE.
// list() dumps the table so that the reconciler can adopt what is already there at start-up.
//
// Our routes carry the routing protocol number kRtprotPathpilot = 196, so operators can tell
// them apart: `ip route show table 101 proto 196`, or with
//   echo "196 pathpilot" > /etc/iproute2/rt_protos.d/pathpilot.conf
// simply `proto pathpilot`. 196 is unassigned in linux/rtnetlink.h (186-192 are BGP, IS-IS,
// OSPF, RIP, EIGRP) and in iproute2's rt_protos.
//
// The metric (RTA_PRIORITY) is left unset by default, as `ip route replace` does (0 for IPv4,
// 1024 for IPv6), so that we replace the route an operator or a legacy script installed for
// the same prefix instead of adding a second one next to it.
//
// Errors name the operation, prefix, next hop, table and namespace, and keep the errno:
//   EPERM/EACCES -> PermissionDenied (needs CAP_NET_ADMIN), ENODEV -> NotFound (device gone),
//   ENETUNREACH -> Unavailable (gateway not on a connected network), EEXIST -> AlreadyExists,
//   EINVAL -> InvalidArgument, reply timeout -> Timeout. The kernel's extended-ACK text is
//   included when it gives one. Retrying is the reconciler's job (with backoff).
//
// Threading: blocking; one call at a time per table (the reconciler serialises them, a mutex
// makes overlapping calls safe anyway). The netlink socket is opened on first use, inside the
// configured namespace (see route/linux/netns.h), and reopened after any error.
// Metrics: none (the reconciler measures calls).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/time.h"
#include "route/route_table.h"

namespace pathpilot::route {

namespace detail {
class NetlinkSocket;
}  // namespace detail

// The rtm_protocol of every route pathpilot writes ("proto 196").
inline constexpr std::uint8_t kRtprotPathpilot = 196;

struct LinuxRouteOptions {
  // "" (our own), a name under /run/netns, or an absolute path to a namespace file.
  std::string netns;
  std::uint8_t protocol = kRtprotPathpilot;
  // RTA_PRIORITY of our routes; unset = the kernel default (see above).
  std::optional<std::uint32_t> metric;
  // How long to wait for the kernel's reply.
  Duration timeout = std::chrono::seconds(5);
};

// Parses a Linux table id: a number 1..4294967295 except 255 (local), or "main" (254),
// "default" (253), or a name from /etc/iproute2/rt_tables (and rt_tables.d/*.conf).
// InvalidArgument names the input.
[[nodiscard]] Result<std::uint32_t> parseLinuxTableId(std::string_view text);

class LinuxRouteTable final : public RouteTable {
 public:
  // `id` is what the configuration calls the table; `number` the kernel's table id.
  LinuxRouteTable(std::string id, std::uint32_t number, LinuxRouteOptions options);
  ~LinuxRouteTable() override;

  std::uint32_t number() const { return number_; }
  const LinuxRouteOptions& options() const { return options_; }

  // route::RouteTable
  const std::string& id() const override { return id_; }
  std::string_view kind() const override { return "linux"; }
  // Unicast routes (and reject routes, as keyword targets) of this table, IPv4 and IPv6, the
  // lowest metric per prefix; device names resolved in the table's namespace.
  [[nodiscard]] Result<std::vector<Route>> list() override;
  // Replace (or delete) one route. Requires the Linux next-hop form (via and/or dev).
  [[nodiscard]] Result<void> apply(const RouteDelta& delta) override;

 private:
  Result<detail::NetlinkSocket*> socket();
  Result<std::uint32_t> linkIndex(detail::NetlinkSocket& socket, const std::string& name);
  Result<std::vector<Route>> listLocked();
  Result<void> applyLocked(const RouteDelta& delta);
  Error describe(const Error& error, const std::string& what) const;

  std::string id_;
  std::uint32_t number_;
  LinuxRouteOptions options_;
  std::mutex mutex_;
  std::unique_ptr<detail::NetlinkSocket> socket_;  // guarded by mutex_
};

// Opens LinuxRouteTables in one namespace.
class LinuxRouteBackend final : public RouteBackend {
 public:
  explicit LinuxRouteBackend(LinuxRouteOptions options);

  // route::RouteBackend
  std::string_view kind() const override { return "linux"; }
  // `id` per parseLinuxTableId; InvalidArgument for a bad id or namespace name.
  [[nodiscard]] Result<std::unique_ptr<RouteTable>> openTable(std::string_view id) override;

 private:
  LinuxRouteOptions options_;
};

}  // namespace pathpilot::route
