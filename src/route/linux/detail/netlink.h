// route/linux/detail/netlink.h — rtnetlink plumbing shared by LinuxRouteTable and
// LinuxRouteMonitor: a libmnl socket with request/ACK handling, and the route/link message
// codec. Private to route/linux (docs/development.md, Layout).
//
// Threading: a NetlinkSocket is used by one thread at a time. The codec is pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/ip.h"
#include "base/time.h"
#include "route/route.h"

struct nlmsghdr;
struct mnl_socket;

namespace pathpilot::route::detail {

// Receive buffer: large enough for any single rtnetlink dump message batch.
inline constexpr std::size_t kNetlinkBufferSize = 32768;

// A decoded RTM_NEWROUTE / RTM_DELROUTE.
struct RtnlRoute {
  int family = 0;               // AF_INET or AF_INET6
  std::uint32_t table = 0;      // RTA_TABLE, else rtm_table
  std::uint8_t type = 0;        // RTN_*
  std::uint8_t protocol = 0;    // RTPROT_*
  std::uint8_t scope = 0;
  std::uint32_t flags = 0;      // rtm_flags (RTM_F_CLONED ...)
  std::uint32_t priority = 0;   // RTA_PRIORITY (metric)
  IpPrefix destination;
  std::optional<IpAddress> gateway;  // RTA_GATEWAY or RTA_VIA
  std::uint32_t oif = 0;             // RTA_OIF, 0 if absent
  bool multipath = false;            // RTA_MULTIPATH present
};

// Decodes a route message. InvalidArgument for a truncated header, an unknown family, a prefix
// length beyond the family's width or an attribute of the wrong size.
[[nodiscard]] Result<RtnlRoute> decodeRoute(const nlmsghdr* nlh);

// The same, from raw bytes (one message); used by the codec fuzz target and tests.
[[nodiscard]] Result<RtnlRoute> decodeRouteBytes(const void* data, std::size_t size);

struct RtnlLink {
  std::uint32_t index = 0;
  std::string name;
};

// Decodes an RTM_NEWLINK / RTM_DELLINK (index and IFLA_IFNAME).
[[nodiscard]] Result<RtnlLink> decodeLink(const nlmsghdr* nlh);

// The NextHop pathpilot sees in a kernel route. Non-unicast types become keyword targets
// ("blackhole", ...), multipath routes "multipath"; `name_of` maps an ifindex to a device name
// (returning "" if unknown, in which case "if<N>" is used).
NextHop toNextHop(const RtnlRoute& route, const std::function<std::string(std::uint32_t)>& name_of);

// True for the route types a routing table entry of ours can be compared with (unicast and the
// reject types); local/broadcast/anycast/multicast entries are skipped.
bool isComparableType(std::uint8_t type);

// Which routes of a table are pathpilot's: those of its own protocol, and those of the
// protocols it was told to take over (backends.linux.adopt_protocols). Every other route
// belongs to someone else and is never written over or deleted.
struct Ownership {
  std::uint8_t protocol = 0;
  std::vector<std::uint8_t> adopt;

  bool owns(std::uint8_t route_protocol) const;
};

// The metric a route of `family` (AF_INET/AF_INET6) gets when written with `metric`; unset
// means the kernel's default: 0 for IPv4, 1024 (IP6_RT_PRIO_USER) for IPv6.
std::uint32_t effectiveMetric(std::optional<std::uint32_t> metric, int family);

// The routes of one table for one destination, as a dump returns them (any order).
using PrefixRoutes = std::vector<RtnlRoute>;

// The route that speaks for the destination in list(): the one the kernel uses (lowest
// metric). On a tie between ours and another owner's, the other owner's: we cannot tell which
// one the kernel picked, and reporting ours would hide the conflict. Requires: !routes.empty().
const RtnlRoute& reportedRoute(const PrefixRoutes& routes, const Ownership& ownership);

// Other owners' routes that a write at `metric` would overwrite (same metric: the kernel's
// replace matches on metric, not on protocol) or lose to (lower metric), lowest metric first.
// A write is refused while this is not empty.
std::vector<RtnlRoute> blockingRoutes(const PrefixRoutes& routes, const Ownership& ownership,
                                      std::uint32_t metric);

// Our routes (own or adopted protocol), lowest metric first: what a delete removes.
std::vector<RtnlRoute> ownedRoutes(const PrefixRoutes& routes, const Ownership& ownership);

struct RouteRequest {
  bool remove = false;                // RTM_DELROUTE instead of RTM_NEWROUTE (replace)
  std::uint32_t table = 0;
  // The route's owner. A replace writes it; a remove deletes only a route of this protocol
  // (the kernel matches rtm_protocol when it is not 0, for IPv4 and IPv6 alike), so that a
  // delete can never take another owner's route for the same prefix.
  std::uint8_t protocol = 0;
  IpPrefix destination;
  std::optional<IpAddress> gateway;
  std::uint32_t oif = 0;              // 0: none
  // RTA_PRIORITY: the metric written, or (remove) the metric of the route to delete.
  std::optional<std::uint32_t> priority;
};

// Writes the request into `buffer` (at least 1024 bytes) and returns its header.
nlmsghdr* encodeRoute(void* buffer, const RouteRequest& request, std::uint32_t seq);

// A netlink (NETLINK_ROUTE) socket through libmnl.
class NetlinkSocket {
 public:
  struct Options {
    std::string netns;                  // see route/linux/netns.h
    std::vector<unsigned> groups;       // RTNLGRP_* to join
    bool nonblocking = false;
    Duration timeout = std::chrono::seconds(5);  // reply timeout of blocking sockets
  };

  // Opens and binds the socket (inside options.netns), enables extended ACKs and strict dump
  // filtering where the kernel has them.
  [[nodiscard]] static Result<std::unique_ptr<NetlinkSocket>> open(const Options& options);
  ~NetlinkSocket();
  NetlinkSocket(const NetlinkSocket&) = delete;
  NetlinkSocket& operator=(const NetlinkSocket&) = delete;

  int fd() const;
  std::uint32_t portid() const;
  std::uint32_t nextSeq() { return ++seq_; }

  // Sends `nlh` (its seq set from nextSeq(), NLM_F_ACK or NLM_F_DUMP in its flags) and reads
  // until the ACK or NLMSG_DONE, calling `each` for every other message. A kernel error comes
  // back as Error::fromErrno with the kernel's extended-ACK text (if any) as message; a
  // receive timeout as Timeout. After any error the socket should be discarded: late replies
  // would confuse the next request.
  [[nodiscard]] Result<void> transact(nlmsghdr* nlh,
                                      const std::function<void(const nlmsghdr*)>& each);

  // Sends without waiting (used by the monitor for its link dump).
  [[nodiscard]] Result<void> send(const nlmsghdr* nlh);

 private:
  explicit NetlinkSocket(mnl_socket* nl) : nl_(nl) {}
  mnl_socket* nl_;
  std::uint32_t seq_ = 0;
};

}  // namespace pathpilot::route::detail
