#include "route/linux/linux_route_table.h"

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <unordered_map>

#include "base/check.h"
#include "route/linux/detail/netlink.h"
#include "route/linux/netns.h"

namespace pathpilot::route {
namespace {

using detail::NetlinkSocket;
using detail::RtnlRoute;

std::optional<std::uint32_t> parseNumber(std::string_view text) {
  std::uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return std::nullopt;
  }
  return value;
}

// Looks `name` up in one rt_tables file ("<number> <name>" per line, '#' comments).
std::optional<std::uint32_t> lookupTableName(const std::filesystem::path& file,
                                             std::string_view name) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (auto hash = line.find('#'); hash != std::string::npos) {
      line.resize(hash);
    }
    size_t i = 0;
    auto word = [&]() {
      while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i])) != 0) {
        ++i;
      }
      size_t start = i;
      while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i])) == 0) {
        ++i;
      }
      return std::string_view(line).substr(start, i - start);
    };
    std::string_view number = word();
    std::string_view table = word();
    if (table == name) {
      if (auto value = parseNumber(number)) {
        return value;
      }
    }
  }
  return std::nullopt;
}

// /etc first: newer iproute2 ships its defaults under /usr/share/iproute2 or /usr/lib/iproute2
// (depending on the distribution) and lets /etc/iproute2 override them.
std::optional<std::uint32_t> lookupTableNameEverywhere(std::string_view name) {
  for (const char* dir : {"/etc/iproute2", "/usr/share/iproute2", "/usr/lib/iproute2"}) {
    std::filesystem::path base(dir);
    if (auto value = lookupTableName(base / "rt_tables", name)) {
      return value;
    }
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(base / "rt_tables.d", ec)) {
      if (entry.path().extension() == ".conf") {
        if (auto value = lookupTableName(entry.path(), name)) {
          return value;
        }
      }
    }
  }
  return std::nullopt;
}

std::string netlinkText(const Error& error) {
  // transact() puts the kernel's extended-ACK text (or "netlink") in the message.
  if (error.message() == "netlink" || error.message().empty()) {
    return {};
  }
  return error.message();
}

}  // namespace

Result<std::uint32_t> parseLinuxTableId(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return fail(ErrorCode::InvalidArgument,
                "invalid Linux routing table \"" + std::string(text) + "\": " + why);
  };
  if (text.empty()) {
    return bad("empty");
  }
  std::optional<std::uint32_t> number;
  if (std::isdigit(static_cast<unsigned char>(text.front())) != 0) {
    number = parseNumber(text);
    if (!number) {
      return bad("not a number between 1 and 4294967295");
    }
  } else if (text == "main") {
    number = RT_TABLE_MAIN;
  } else if (text == "default") {
    number = RT_TABLE_DEFAULT;
    // "local" is recognised only to be refused below with the reason, rather than reported as
    // an unknown name.
  } else if (text == "local") {
    number = RT_TABLE_LOCAL;
  } else {
    number = lookupTableNameEverywhere(text);
    if (!number) {
      return bad("not a number and not a name in /etc/iproute2/rt_tables");
    }
  }
  if (*number == RT_TABLE_UNSPEC) {
    return bad("table 0 is not a table");
  }
  if (*number == RT_TABLE_LOCAL) {
    return bad("the local table (255) belongs to the kernel");
  }
  return *number;
}

LinuxRouteTable::LinuxRouteTable(std::string id, std::uint32_t number, LinuxRouteOptions options)
    : id_(std::move(id)), number_(number), options_(std::move(options)) {
  // Protocol 0 in a delete matches every owner's route (see detail::RouteRequest).
  PP_CHECK_MSG(options_.protocol != 0, "linux route table: protocol 0 would match any route");
}

LinuxRouteTable::~LinuxRouteTable() = default;

Result<NetlinkSocket*> LinuxRouteTable::socket() {
  if (!socket_) {
    NetlinkSocket::Options opts;
    opts.netns = options_.netns;
    opts.timeout = options_.timeout;
    auto opened = NetlinkSocket::open(opts);
    if (!opened) {
      return fail(opened.error().withContext("linux route table " + id_));
    }
    socket_ = std::move(*opened);
  }
  return socket_.get();
}

Error LinuxRouteTable::describe(const Error& error, const std::string& what) const {
  std::string where = what + " in table " + std::to_string(number_) + netnsSuffix(options_.netns);
  std::string kernel = netlinkText(error);
  std::string detail = kernel.empty() ? std::string() : " (kernel: " + kernel + ")";
  int err = error.sysErrno();
  switch (err) {
    case EPERM:
    case EACCES:
      return Error(ErrorCode::PermissionDenied,
                   where + ": permission denied (needs CAP_NET_ADMIN)" + detail, err);
    case ENODEV:
      return Error(ErrorCode::NotFound, where + ": device is gone" + detail, err);
    case ENETUNREACH:
      return Error(ErrorCode::Unavailable,
                   where + ": gateway is not on a directly connected network" + detail, err);
    case EEXIST:
      return Error(ErrorCode::AlreadyExists, where + ": route exists" + detail, err);
    case EINVAL:
      return Error(ErrorCode::InvalidArgument, where + ": rejected as invalid" + detail, err);
    default:
      break;
  }
  // Without an errno (a timeout, a failure not reported by the kernel) the message is the only
  // description there is, so it is kept.
  if (error.code() == ErrorCode::Timeout || err == 0) {
    return Error(error.code(), where + ": " + error.message(), err);
  }
  return Error(error.code(), where + detail, err);
}

Result<std::uint32_t> LinuxRouteTable::linkIndex(NetlinkSocket& socket, const std::string& name) {
  std::vector<char> buffer(4096);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buffer.data());
  nlh->nlmsg_type = RTM_GETLINK;
  // A get by name, not a dump: the kernel looks the name up (ENODEV if absent). NLM_F_ACK
  // because the answer is one RTM_NEWLINK without NLMSG_DONE, and transact() stops only at an
  // ACK or NLMSG_DONE.
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  nlh->nlmsg_seq = socket.nextSeq();
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  std::uint32_t index = 0;
  auto done = socket.transact(nlh, [&](const nlmsghdr* reply) {
    if (reply->nlmsg_type == RTM_NEWLINK) {
      if (auto link = detail::decodeLink(reply)) {
        index = link->index;
      }
    }
  });
  if (!done) {
    if (done.error().sysErrno() == ENODEV) {
      return fail(ErrorCode::NotFound,
                  "device \"" + name + "\" not found" + netnsSuffix(options_.netns), ENODEV);
    }
    return fail(done.error());
  }
  if (index == 0) {
    return fail(ErrorCode::NotFound,
                "device \"" + name + "\" not found" + netnsSuffix(options_.netns), ENODEV);
  }
  return index;
}

// Every exchange that fails drops the socket: after a timeout the kernel's late reply would be
// read as the answer to the next request (libmnl then reports a sequence mismatch), and after
// a namespace is recreated the old socket points into a dead one. Reopening is cheap.
Result<std::vector<Route>> LinuxRouteTable::list() {
  std::lock_guard<std::mutex> lock(mutex_);
  auto routes = listLocked();
  if (!routes) {
    socket_.reset();  // late replies of a failed exchange must not reach the next request
  }
  return routes;
}

Result<std::vector<RtnlRoute>> LinuxRouteTable::dumpLocked(NetlinkSocket& socket, int family,
                                                           const IpPrefix* destination) {
  std::vector<char> buffer(4096);
  std::vector<RtnlRoute> found;
  Result<void> done = ok();
  // A dump interrupted by a concurrent change (NLM_F_DUMP_INTR) is simply redone.
  for (int attempt = 0; attempt < 3; ++attempt) {
    // Cleared on every attempt: an interrupted dump may already have delivered part of it.
    found.clear();
    nlmsghdr* nlh = mnl_nlmsg_put_header(buffer.data());
    nlh->nlmsg_type = RTM_GETROUTE;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = socket.nextSeq();
    auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
    rtm->rtm_family = static_cast<unsigned char>(family);
    rtm->rtm_table = static_cast<unsigned char>(number_ < 256 ? number_ : RT_TABLE_UNSPEC);
    // With NETLINK_GET_STRICT_CHK the kernel dumps only this table; older kernels ignore
    // the attribute and we filter below. (A strict dump cannot filter on the prefix.)
    mnl_attr_put_u32(nlh, RTA_TABLE, number_);
    done = socket.transact(nlh, [&](const nlmsghdr* reply) {
      if (reply->nlmsg_type != RTM_NEWROUTE) {
        return;
      }
      auto route = detail::decodeRoute(reply);
      // Cloned entries (route cache, PMTU exceptions) were never written by anyone, and
      // local, broadcast, anycast and multicast entries cannot be compared with ours.
      if (!route || route->table != number_ || (route->flags & RTM_F_CLONED) != 0 ||
          !detail::isComparableType(route->type)) {
        return;
      }
      if (destination != nullptr && route->destination != *destination) {
        return;
      }
      found.push_back(*route);
    });
    if (done || done.error().sysErrno() != EINTR) {
      break;
    }
  }
  if (!done) {
    // A table that has never held a route does not exist yet: strict dumps say ENOENT.
    if (done.error().sysErrno() != ENOENT) {
      return fail(
          describe(done.error(), family == AF_INET ? "dump IPv4 routes" : "dump IPv6 routes"));
    }
    found.clear();
  }
  return found;
}

Result<std::vector<Route>> LinuxRouteTable::listLocked() {
  auto sock = socket();
  if (!sock) {
    return fail(sock.error());
  }
  NetlinkSocket& socket = **sock;
  std::map<IpPrefix, detail::PrefixRoutes> by_prefix;
  for (int family : {AF_INET, AF_INET6}) {
    auto found = dumpLocked(socket, family, nullptr);
    if (!found) {
      return fail(found.error());
    }
    for (RtnlRoute& route : *found) {
      by_prefix[route.destination].push_back(std::move(route));
    }
  }
  // Per destination, the route the kernel uses; another owner's is reported as foreign.
  detail::Ownership ownership{options_.protocol, options_.adopt_protocols};
  std::map<IpPrefix, RtnlRoute> reported;
  bool need_links = false;
  for (const auto& [prefix, routes] : by_prefix) {
    const RtnlRoute& route = detail::reportedRoute(routes, ownership);
    // Only our routes need device names: another owner's is reported without its next hop.
    need_links = need_links || (route.oif != 0 && ownership.owns(route.protocol));
    reported.emplace(prefix, route);
  }

  // Device names come from one link dump per list() (only if some route has a device), so
  // that names are resolved in the table's namespace, not in the caller's (if_indextoname
  // would ask the wrong namespace).
  std::unordered_map<std::uint32_t, std::string> names;
  if (need_links) {
    std::vector<char> buffer(4096);
    nlmsghdr* nlh = mnl_nlmsg_put_header(buffer.data());
    nlh->nlmsg_type = RTM_GETLINK;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = socket.nextSeq();
    auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
    ifi->ifi_family = AF_UNSPEC;
    auto done = socket.transact(nlh, [&](const nlmsghdr* reply) {
      if (reply->nlmsg_type == RTM_NEWLINK) {
        if (auto link = detail::decodeLink(reply)) {
          names[link->index] = link->name;
        }
      }
    });
    if (!done) {
      return fail(describe(done.error(), "dump links"));
    }
  }
  auto name_of = [&](std::uint32_t index) {
    auto it = names.find(index);
    return it == names.end() ? std::string() : it->second;
  };
  std::vector<Route> routes;
  routes.reserve(reported.size());
  for (const auto& [prefix, route] : reported) {
    NextHop hop = ownership.owns(route.protocol)
                      ? detail::toNextHop(route, name_of)
                      : NextHop::foreign(routeProtocolName(route.protocol));
    routes.push_back(Route{id_, prefix, std::move(hop)});
  }
  return routes;
}

Result<void> LinuxRouteTable::apply(const RouteDelta& delta) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto done = applyLocked(delta);
  if (!done) {
    socket_.reset();
  }
  return done;
}

// One RTM_NEWROUTE/RTM_DELROUTE and its ACK; a delete of a route that is already gone succeeds.
Result<void> LinuxRouteTable::send(NetlinkSocket& socket, const detail::RouteRequest& request,
                                   const std::string& what) {
  std::vector<char> buffer(1024);
  nlmsghdr* nlh = detail::encodeRoute(buffer.data(), request, socket.nextSeq());
  auto done = socket.transact(nlh, {});
  if (!done) {
    int err = done.error().sysErrno();
    // IPv4 and IPv6 answer ESRCH when no route (or no table) matches a delete.
    if (request.remove && (err == ENOENT || err == ESRCH)) {
      return ok();  // already gone
    }
    return fail(describe(done.error(), what));
  }
  return ok();
}

// The refusal names the other route completely (owner, metric, next hop) and says what the
// operator can do, since it is what they read in the route_error event and alert.
std::string LinuxRouteTable::foreignRouteMessage(const std::string& what, const RtnlRoute& route,
                                                 std::uint32_t metric) const {
  std::string where = what + " in table " + std::to_string(number_) + netnsSuffix(options_.netns);
  std::string hop = detail::toNextHop(route, {}).toString();
  std::string text = where + ": the destination is held by a route pathpilot does not own (" +
                     describeRouteProtocol(route.protocol) + ", metric " +
                     std::to_string(route.priority) + (hop.empty() ? "" : ", " + hop) + ") ";
  text += route.priority == metric
              ? "with the same metric as ours, so writing ours would overwrite it"
              : "with a lower metric than ours (" + std::to_string(metric) +
                    "), so the kernel would keep using it";
  text += "; pathpilot never overwrites or deletes another owner's route. ";
  std::string proto = routeProtocolName(route.protocol);
  auto known = knownRouteProtocol(route.protocol);
  if (known && known->owner == RouteProtocolOwner::Daemon) {
    text += "Remove it from " + std::string(known->user) +
            "'s configuration, or leave this destination in this table to it";
  } else if (known && known->owner == RouteProtocolOwner::Kernel) {
    text += "The kernel installed it; leave this destination in this table to it";
  } else {
    text += "Remove it (ip route del " + route.destination.toString() + " table " +
            std::to_string(number_) + " proto " + proto + " metric " +
            std::to_string(route.priority) +
            "), or let pathpilot take such routes over: backends.linux.adopt_protocols: [" + proto +
            "]";
  }
  return text;
}

Result<void> LinuxRouteTable::applyLocked(const RouteDelta& delta) {
  std::string what = delta.new_next_hop ? "replace " + delta.destination.toString() + " " +
                                              delta.new_next_hop->toString()
                                        : "delete " + delta.destination.toString();
  detail::RouteRequest request;
  request.remove = delta.isDelete();
  request.table = number_;
  request.protocol = options_.protocol;
  request.destination = delta.destination;
  request.priority = options_.metric;
  if (delta.new_next_hop) {
    const NextHop& hop = *delta.new_next_hop;
    if (hop.isTarget()) {
      return fail(ErrorCode::InvalidArgument,
                  what + " in table " + std::to_string(number_) +
                      ": the linux backend needs \"via ADDR\" and/or \"dev IFACE\", not a "
                      "target id");
    }
    if (auto valid = validateNextHop(hop, delta.destination.family()); !valid) {
      return fail(valid.error().withContext(what + " in table " + std::to_string(number_)));
    }
    request.gateway = hop.via;
  }
  auto sock = socket();
  if (!sock) {
    return fail(sock.error());
  }
  NetlinkSocket& socket = **sock;
  int family = delta.destination.family() == IpFamily::V4 ? AF_INET : AF_INET6;
  // Who holds the destination now: the kernel's replace and delete match on metric, not on
  // owner, so we look before we write.
  auto present = dumpLocked(socket, family, &delta.destination);
  if (!present) {
    return fail(present.error());
  }
  detail::Ownership ownership{options_.protocol, options_.adopt_protocols};
  std::vector<RtnlRoute> owned = detail::ownedRoutes(*present, ownership);

  if (request.remove) {
    // Each of our routes with its own protocol and metric; other owners' routes stay.
    for (const RtnlRoute& route : owned) {
      detail::RouteRequest remove = request;
      remove.protocol = route.protocol;
      remove.priority = route.priority;
      if (auto done = send(socket, remove, what); !done) {
        return done;
      }
    }
    return ok();
  }

  // With no metric configured, the route gets the kernel's default for the family (0 or 1024),
  // so that is what other owners' routes are compared with.
  std::uint32_t metric = detail::effectiveMetric(options_.metric, family);
  std::vector<RtnlRoute> blocking = detail::blockingRoutes(*present, ownership, metric);
  if (!blocking.empty()) {
    return fail(ErrorCode::AlreadyExists, foreignRouteMessage(what, blocking.front(), metric));
  }
  // Resolve the device in the table's namespace on every write (one short round trip) rather
  // than caching indexes: a tunnel device that is deleted and recreated gets a new index.
  if (!delta.new_next_hop->dev.empty()) {
    auto index = linkIndex(socket, delta.new_next_hop->dev);
    if (!index) {
      if (index.error().code() == ErrorCode::NotFound) {
        return fail(ErrorCode::NotFound,
                    what + " in table " + std::to_string(number_) + netnsSuffix(options_.netns) +
                        ": device \"" + delta.new_next_hop->dev + "\" not found",
                    ENODEV);
      }
      return fail(describe(index.error(), what));
    }
    request.oif = *index;
  }
  if (auto done = send(socket, request, what); !done) {
    return done;
  }
  // Our routes with a lower metric (an adopted one can have any) would keep deciding the
  // traffic: they go, so that the route just written is the one the kernel uses.
  // They go only after the new route is in place, so the destination is never without one.
  for (const RtnlRoute& route : owned) {
    if (route.priority < metric) {
      detail::RouteRequest remove;
      remove.remove = true;
      remove.table = number_;
      remove.protocol = route.protocol;
      remove.destination = delta.destination;
      remove.priority = route.priority;
      if (auto done = send(socket, remove, what); !done) {
        return done;
      }
    }
  }
  return ok();
}

LinuxRouteBackend::LinuxRouteBackend(LinuxRouteOptions options) : options_(std::move(options)) {}

Result<std::unique_ptr<RouteTable>> LinuxRouteBackend::openTable(std::string_view id) {
  // The socket is opened on first use, so the namespace name is checked here: a bad one then
  // fails when the table is opened, not at its first list() or apply().
  if (auto path = netnsPath(options_.netns); !path) {
    return fail(path.error());
  }
  auto number = parseLinuxTableId(id);
  if (!number) {
    return fail(number.error());
  }
  return std::unique_ptr<RouteTable>(
      std::make_unique<LinuxRouteTable>(std::string(id), *number, options_));
}

}  // namespace pathpilot::route
