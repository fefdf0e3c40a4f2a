// route/linux/linux_route_table.h — Linux policy-routing tables over rtnetlink (libmnl).
//
// Purpose: programs one numbered routing table (the kind `ip rule from 10.0.1.0/24 table 101`
// points at) in this or another network namespace. Routes are written with replace semantics
// (RTM_NEWROUTE with NLM_F_CREATE|NLM_F_REPLACE: one route per prefix, created or swapped
// atomically, never a window without a route) and table ids above 255 travel in RTA_TABLE.
// list() dumps the table so that the reconciler can adopt what is already there at start-up.
//
// Ownership. Every Linux route carries a routing protocol number saying who installed it
// (base/route_protocol.h). Ours carry options.protocol, by default kRtprotPathpilot = 157,
// which no known routing suite uses (base/route_protocol.h argues the choice; earlier versions
// used 196, which is FRR's staticd: a restarted zebra took such routes for its own static
// routes and installed a copy of each at metric 20, pointing where the route pointed then).
// dist/iproute2/rt_protos.d/pathpilot.conf names it, so `ip route show table 101 proto
// pathpilot` lists exactly our routes. A table may hold routes of other owners beside ours
// (FRR's zebra, BIRD, an administrator's `proto static`, a hand edit or a script's `ip route
// add`, which writes `proto boot`), and pathpilot never writes over or deletes them:
//   * list() reports, per destination, the route the kernel uses (lowest metric). When that is
//     another owner's, it is reported as NextHop::foreign(<its protocol name>): never equal to
//     a desired next hop, so the reconciler tries to program the destination and ...
//   * apply() refuses (AlreadyExists, naming the other route, its protocol and metric) to
//     write a destination where another owner's route has the same metric as ours (the
//     kernel's replace matches on metric, not on protocol, so it would overwrite it) or a
//     lower one (the kernel would keep using it). The reconciler reports the refusal as a
//     route_error and retries with backoff until that route is gone. Another owner's route
//     with a HIGHER metric does not block: ours wins and theirs stays as a fallback (FRR's
//     zebra, which installs at metric 20, then sees a kernel route for the destination and
//     withdraws its own until ours goes: its choice, by administrative distance).
//   * a delete removes only our routes (RTM_DELROUTE carries our protocol, which the kernel
//     matches), never another owner's route for the same prefix.
// options.adopt_protocols names protocols whose routes pathpilot may take over as its own
// (replace, delete): e.g. `boot` when an earlier script installed the routes with
// `ip route add`. A replace turns such a route into one of ours. Empty by default: out of the
// box pathpilot touches nothing it did not write. (The check before each write and the write
// are two netlink calls; a route another owner installs in the microseconds between them can
// still be overwritten.)
//
// The metric (RTA_PRIORITY) is left unset by default, as `ip route replace` does (0 for IPv4,
// 1024 for IPv6). A replace also deletes our own routes for the destination with a lower
// metric (an adopted route can have one), which would otherwise keep deciding the traffic.
//
// Errors name the operation, prefix, next hop, table and namespace, and keep the errno:
//   EPERM/EACCES -> PermissionDenied (needs CAP_NET_ADMIN), ENODEV -> NotFound (device gone),
//   ENETUNREACH -> Unavailable (gateway not on a connected network), EEXIST -> AlreadyExists,
//   EINVAL -> InvalidArgument, reply timeout -> Timeout; another owner's route in the way ->
//   AlreadyExists. The kernel's extended-ACK text is
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
#include "base/route_protocol.h"
#include "base/time.h"
#include "route/route_table.h"

namespace pathpilot::route {

namespace detail {
class NetlinkSocket;
struct RouteRequest;
struct RtnlRoute;
}  // namespace detail

struct LinuxRouteOptions {
  // "" (our own), a name under /run/netns, or an absolute path to a namespace file.
  std::string netns;
  // The rtm_protocol of the routes we write; routes of this protocol are ours. Requires: not 0
  // (a delete with protocol 0 would match any owner's route).
  std::uint8_t protocol = kRtprotPathpilot;
  // Protocols whose routes we may take over as ours (see above). Empty: only our own.
  std::vector<std::uint8_t> adopt_protocols;
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
  // lowest metric per prefix; device names resolved in the table's namespace. A destination
  // decided by another owner's route is reported as NextHop::foreign (see above).
  [[nodiscard]] Result<std::vector<Route>> list() override;
  // Replace (or delete) one route. Requires the Linux next-hop form (via and/or dev).
  // AlreadyExists when another owner's route is in the way (see above); a delete removes only
  // our routes and succeeds when none is left.
  [[nodiscard]] Result<void> apply(const RouteDelta& delta) override;

 private:
  Result<detail::NetlinkSocket*> socket();
  Result<std::uint32_t> linkIndex(detail::NetlinkSocket& socket, const std::string& name);
  Result<std::vector<Route>> listLocked();
  // Every comparable route of this table in one family (a dump), `destination` only if set.
  Result<std::vector<detail::RtnlRoute>> dumpLocked(detail::NetlinkSocket& socket, int family,
                                                    const IpPrefix* destination);
  Result<void> send(detail::NetlinkSocket& socket, const detail::RouteRequest& request,
                    const std::string& what);
  std::string foreignRouteMessage(const std::string& what, const detail::RtnlRoute& route,
                                  std::uint32_t metric) const;
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
