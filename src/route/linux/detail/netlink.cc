#include "route/linux/detail/netlink.h"

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "route/linux/netns.h"

namespace pathpilot::route::detail {
namespace {

// Attribute table filled by mnl_attr_parse; entries past `max` are ignored.
template <size_t N>
struct AttrTable {
  std::array<const nlattr*, N> attrs{};
};

template <size_t N>
int collectAttr(const nlattr* attr, void* data) {
  auto* table = static_cast<AttrTable<N>*>(data);
  uint16_t type = mnl_attr_get_type(attr);
  if (type < N) {
    table->attrs[type] = attr;
  }
  return MNL_CB_OK;
}

Result<IpAddress> addressOf(const nlattr* attr, int family, const char* what) {
  size_t want = family == AF_INET ? 4 : 16;
  if (mnl_attr_get_payload_len(attr) != want) {
    return fail(ErrorCode::InvalidArgument,
                std::string("netlink route message: ") + what + " has the wrong length");
  }
  const auto* bytes = static_cast<const uint8_t*>(mnl_attr_get_payload(attr));
  return family == AF_INET ? IpAddress::v4(bytes) : IpAddress::v6(bytes);
}

Result<uint32_t> u32Of(const nlattr* attr, const char* what) {
  if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0) {
    return fail(ErrorCode::InvalidArgument,
                std::string("netlink route message: ") + what + " is not a u32");
  }
  return mnl_attr_get_u32(attr);
}

// The extended-ACK text of an NLMSG_ERROR, if the kernel sent one (NETLINK_EXT_ACK).
std::string extAckMessage(const nlmsghdr* nlh) {
  if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) == 0) {
    return {};
  }
  const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
  // The TLVs follow the error header and the echoed request, of which only the header is
  // echoed with NLM_F_CAPPED (NETLINK_CAP_ACK).
  size_t offset = sizeof(nlmsgerr);
  if ((nlh->nlmsg_flags & NLM_F_CAPPED) == 0) {
    offset += err->msg.nlmsg_len - sizeof(nlmsghdr);
  }
  size_t payload = mnl_nlmsg_get_payload_len(nlh);
  if (offset >= payload) {
    return {};
  }
  std::string message;
  const auto* attr = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(nlh, offset));
  int remaining = static_cast<int>(payload - offset);
  while (mnl_attr_ok(attr, remaining)) {
    if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
        mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0) {
      message = mnl_attr_get_str(attr);
    }
    remaining -= static_cast<int>(MNL_ALIGN(attr->nla_len));
    attr = mnl_attr_next(attr);
  }
  return message;
}

struct TransactState {
  const std::function<void(const nlmsghdr*)>* each = nullptr;
  std::string ext_ack;
};

int dataCallback(const nlmsghdr* nlh, void* data) {
  auto* state = static_cast<TransactState*>(data);
  if (state->each != nullptr && *state->each) {
    (*state->each)(nlh);
  }
  return MNL_CB_OK;
}

int errorCallback(const nlmsghdr* nlh, void* data) {
  auto* state = static_cast<TransactState*>(data);
  if (mnl_nlmsg_get_payload_len(nlh) < sizeof(nlmsgerr)) {
    errno = EBADMSG;
    return MNL_CB_ERROR;
  }
  const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
  if (err->error == 0) {
    return MNL_CB_STOP;  // the ACK
  }
  state->ext_ack = extAckMessage(nlh);
  errno = -err->error;
  return MNL_CB_ERROR;
}

int noopCallback(const nlmsghdr*, void*) { return MNL_CB_OK; }
int doneCallback(const nlmsghdr*, void*) { return MNL_CB_STOP; }
int overrunCallback(const nlmsghdr*, void*) {
  errno = ENOSPC;
  return MNL_CB_ERROR;
}

}  // namespace

bool isComparableType(uint8_t type) {
  switch (type) {
    case RTN_UNICAST:
    case RTN_BLACKHOLE:
    case RTN_UNREACHABLE:
    case RTN_PROHIBIT:
    case RTN_THROW:
      return true;
    default:
      return false;
  }
}

Result<RtnlRoute> decodeRoute(const nlmsghdr* nlh) {
  if (nlh->nlmsg_len < NLMSG_HDRLEN || mnl_nlmsg_get_payload_len(nlh) < sizeof(rtmsg)) {
    return fail(ErrorCode::InvalidArgument, "netlink route message: truncated header");
  }
  const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
  RtnlRoute route;
  route.family = rtm->rtm_family;
  if (route.family != AF_INET && route.family != AF_INET6) {
    return fail(ErrorCode::InvalidArgument,
                "netlink route message: unsupported family " + std::to_string(route.family));
  }
  int bits = route.family == AF_INET ? 32 : 128;
  // Checked before IpPrefix is built below: it requires a length within the address width.
  if (rtm->rtm_dst_len > bits) {
    return fail(ErrorCode::InvalidArgument, "netlink route message: prefix length " +
                                                std::to_string(rtm->rtm_dst_len) +
                                                " too long");
  }
  route.table = rtm->rtm_table;
  route.type = rtm->rtm_type;
  route.protocol = rtm->rtm_protocol;
  route.scope = rtm->rtm_scope;
  route.flags = rtm->rtm_flags;

  AttrTable<RTA_MAX + 1> table;
  if (mnl_attr_parse(nlh, sizeof(rtmsg), collectAttr<RTA_MAX + 1>, &table) < 0) {
    return fail(ErrorCode::InvalidArgument, "netlink route message: malformed attributes");
  }
  const auto& a = table.attrs;
  // A default route (rtm_dst_len 0) comes without RTA_DST: its destination is the all-zero
  // address of its family.
  IpAddress dst = route.family == AF_INET ? IpAddress() : *IpAddress::parse("::");
  if (a[RTA_DST] != nullptr) {
    auto address = addressOf(a[RTA_DST], route.family, "RTA_DST");
    if (!address) {
      return fail(address.error());
    }
    dst = *address;
  }
  route.destination = IpPrefix(dst, rtm->rtm_dst_len);
  // rtm_table has 8 bits (the kernel puts RT_TABLE_COMPAT there for larger ids); RTA_TABLE,
  // when present, is the real table id.
  if (a[RTA_TABLE] != nullptr) {
    auto id = u32Of(a[RTA_TABLE], "RTA_TABLE");
    if (!id) {
      return fail(id.error());
    }
    route.table = *id;
  }
  if (a[RTA_PRIORITY] != nullptr) {
    auto prio = u32Of(a[RTA_PRIORITY], "RTA_PRIORITY");
    if (!prio) {
      return fail(prio.error());
    }
    route.priority = *prio;
  }
  if (a[RTA_OIF] != nullptr) {
    auto oif = u32Of(a[RTA_OIF], "RTA_OIF");
    if (!oif) {
      return fail(oif.error());
    }
    route.oif = *oif;
  }
  if (a[RTA_GATEWAY] != nullptr) {
    auto gw = addressOf(a[RTA_GATEWAY], route.family, "RTA_GATEWAY");
    if (!gw) {
      return fail(gw.error());
    }
    route.gateway = *gw;
  } else if (a[RTA_VIA] != nullptr) {
    // A gateway of the other family (an IPv4 route via an IPv6 next hop, RFC 5549 style).
    size_t len = mnl_attr_get_payload_len(a[RTA_VIA]);
    const auto* via = static_cast<const uint8_t*>(mnl_attr_get_payload(a[RTA_VIA]));
    if (len < sizeof(rtvia)) {
      return fail(ErrorCode::InvalidArgument, "netlink route message: RTA_VIA too short");
    }
    uint16_t via_family = 0;
    std::memcpy(&via_family, via, sizeof(via_family));
    size_t addr_len = len - sizeof(rtvia);
    if (via_family == AF_INET && addr_len == 4) {
      route.gateway = IpAddress::v4(via + sizeof(rtvia));
    } else if (via_family == AF_INET6 && addr_len == 16) {
      route.gateway = IpAddress::v6(via + sizeof(rtvia));
    } else {
      return fail(ErrorCode::InvalidArgument, "netlink route message: malformed RTA_VIA");
    }
  }
  // Only its presence is recorded: the nested next hops are not decoded, and toNextHop() reports
  // the route as "multipath".
  route.multipath = a[RTA_MULTIPATH] != nullptr;
  return route;
}

Result<RtnlRoute> decodeRouteBytes(const void* data, std::size_t size) {
  if (size < sizeof(nlmsghdr)) {
    return fail(ErrorCode::InvalidArgument, "netlink route message: shorter than a header");
  }
  if (size > 65536) {
    return fail(ErrorCode::InvalidArgument, "netlink route message: longer than 64 KiB");
  }
  // Copy to aligned storage; the header's length must not claim more than we have.
  std::vector<uint32_t> aligned((size + 3) / 4);
  std::memcpy(aligned.data(), data, size);
  auto* nlh = reinterpret_cast<nlmsghdr*>(aligned.data());
  if (nlh->nlmsg_len > size) {
    return fail(ErrorCode::InvalidArgument, "netlink route message: length beyond the data");
  }
  return decodeRoute(nlh);
}

Result<RtnlLink> decodeLink(const nlmsghdr* nlh) {
  if (mnl_nlmsg_get_payload_len(nlh) < sizeof(ifinfomsg)) {
    return fail(ErrorCode::InvalidArgument, "netlink link message: truncated header");
  }
  const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  RtnlLink link;
  link.index = static_cast<uint32_t>(ifi->ifi_index);
  AttrTable<IFLA_MAX + 1> table;
  if (mnl_attr_parse(nlh, sizeof(ifinfomsg), collectAttr<IFLA_MAX + 1>, &table) < 0) {
    return fail(ErrorCode::InvalidArgument, "netlink link message: malformed attributes");
  }
  // A name without its NUL terminator is left empty rather than read past the attribute.
  if (table.attrs[IFLA_IFNAME] != nullptr &&
      mnl_attr_validate(table.attrs[IFLA_IFNAME], MNL_TYPE_NUL_STRING) >= 0) {
    link.name = mnl_attr_get_str(table.attrs[IFLA_IFNAME]);
  }
  return link;
}

NextHop toNextHop(const RtnlRoute& route, const std::function<std::string(uint32_t)>& name_of) {
  switch (route.type) {
    case RTN_BLACKHOLE:
      return NextHop::opaque("blackhole");
    case RTN_UNREACHABLE:
      return NextHop::opaque("unreachable");
    case RTN_PROHIBIT:
      return NextHop::opaque("prohibit");
    case RTN_THROW:
      return NextHop::opaque("throw");
    default:
      break;
  }
  if (route.multipath) {
    return NextHop::opaque("multipath");
  }
  NextHop hop;
  hop.via = route.gateway;
  if (route.oif != 0) {
    hop.dev = name_of ? name_of(route.oif) : std::string();
    if (hop.dev.empty()) {
      hop.dev = "if" + std::to_string(route.oif);
    }
  }
  return hop;
}

nlmsghdr* encodeRoute(void* buffer, const RouteRequest& request, uint32_t seq) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buffer);
  nlh->nlmsg_type = request.remove ? RTM_DELROUTE : RTM_NEWROUTE;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  if (!request.remove) {
    // Replace semantics: one route per (table, prefix, tos, metric), created if absent.
    nlh->nlmsg_flags |= NLM_F_CREATE | NLM_F_REPLACE;
  }
  nlh->nlmsg_seq = seq;
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  bool v4 = request.destination.family() == IpFamily::V4;
  rtm->rtm_family = static_cast<unsigned char>(v4 ? AF_INET : AF_INET6);
  rtm->rtm_dst_len = static_cast<unsigned char>(request.destination.length());
  // rtm_table is 8 bits; tables above 255 travel in RTA_TABLE (always sent) with
  // RT_TABLE_UNSPEC here.
  rtm->rtm_table = static_cast<unsigned char>(request.table < 256 ? request.table
                                                                   : RT_TABLE_UNSPEC);
  if (request.remove) {
    // Any scope and type, but only the given owner's route: RTPROT_UNSPEC here would let the
    // kernel delete whichever route holds the prefix, another daemon's included.
    rtm->rtm_protocol = request.protocol;
    rtm->rtm_scope = RT_SCOPE_NOWHERE;
    rtm->rtm_type = RTN_UNSPEC;
  } else {
    rtm->rtm_protocol = request.protocol;
    // As `ip route` does: a route without a gateway is a device route, of link scope.
    rtm->rtm_scope = request.gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
    rtm->rtm_type = RTN_UNICAST;
  }
  mnl_attr_put_u32(nlh, RTA_TABLE, request.table);
  size_t addr_len = v4 ? 4 : 16;
  mnl_attr_put(nlh, RTA_DST, addr_len, request.destination.address().bytes().data());
  // A remove names no gateway or device, so the kernel matches the route whatever its next hop,
  // by table, prefix, protocol and (when given) metric.
  if (!request.remove) {
    if (request.gateway) {
      if (request.gateway->family() == request.destination.family()) {
        mnl_attr_put(nlh, RTA_GATEWAY, addr_len, request.gateway->bytes().data());
      } else {
        // Other-family gateway: RTA_VIA carries its family.
        std::array<uint8_t, sizeof(rtvia) + 16> via{};
        uint16_t family = request.gateway->isV4() ? AF_INET : AF_INET6;
        std::memcpy(via.data(), &family, sizeof(family));
        size_t len = request.gateway->isV4() ? 4 : 16;
        std::memcpy(via.data() + sizeof(rtvia), request.gateway->bytes().data(), len);
        mnl_attr_put(nlh, RTA_VIA, sizeof(rtvia) + len, via.data());
      }
    }
    if (request.oif != 0) {
      mnl_attr_put_u32(nlh, RTA_OIF, request.oif);
    }
  }
  if (request.priority) {
    mnl_attr_put_u32(nlh, RTA_PRIORITY, *request.priority);
  }
  return nlh;
}

bool Ownership::owns(uint8_t route_protocol) const {
  return route_protocol == protocol ||
         std::find(adopt.begin(), adopt.end(), route_protocol) != adopt.end();
}

uint32_t effectiveMetric(std::optional<uint32_t> metric, int family) {
  if (metric) {
    return *metric;
  }
  return family == AF_INET6 ? 1024u : 0u;  // IP6_RT_PRIO_USER; IPv4 routes default to 0
}

const RtnlRoute& reportedRoute(const PrefixRoutes& routes, const Ownership& ownership) {
  const RtnlRoute* best = &routes.front();
  for (const RtnlRoute& route : routes) {
    bool lower = route.priority < best->priority;
    bool tie_to_foreign = route.priority == best->priority && ownership.owns(best->protocol) &&
                          !ownership.owns(route.protocol);
    if (lower || tie_to_foreign) {
      best = &route;
    }
  }
  return *best;
}

namespace {
void sortByMetric(std::vector<RtnlRoute>& routes) {
  std::stable_sort(routes.begin(), routes.end(),
                   [](const RtnlRoute& a, const RtnlRoute& b) { return a.priority < b.priority; });
}
}  // namespace

std::vector<RtnlRoute> blockingRoutes(const PrefixRoutes& routes, const Ownership& ownership,
                                      uint32_t metric) {
  std::vector<RtnlRoute> out;
  for (const RtnlRoute& route : routes) {
    if (!ownership.owns(route.protocol) && route.priority <= metric) {
      out.push_back(route);
    }
  }
  sortByMetric(out);
  return out;
}

std::vector<RtnlRoute> ownedRoutes(const PrefixRoutes& routes, const Ownership& ownership) {
  std::vector<RtnlRoute> out;
  for (const RtnlRoute& route : routes) {
    if (ownership.owns(route.protocol)) {
      out.push_back(route);
    }
  }
  sortByMetric(out);
  return out;
}

Result<std::unique_ptr<NetlinkSocket>> NetlinkSocket::open(const Options& options) {
  mnl_socket* nl = nullptr;
  int open_errno = 0;
  int bind_errno = 0;
  auto entered = runInNetns(options.netns, [&]() {
    nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | (options.nonblocking ? SOCK_NONBLOCK : 0));
    if (nl == nullptr) {
      open_errno = errno;
      return;
    }
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
      bind_errno = errno;
      mnl_socket_close(nl);
      nl = nullptr;
    }
  });
  if (!entered) {
    return fail(entered.error());
  }
  if (nl == nullptr) {
    int err = open_errno != 0 ? open_errno : bind_errno;
    return fail(Error::fromErrno(
        std::string("cannot open a netlink socket") + netnsSuffix(options.netns), err));
  }
  std::unique_ptr<NetlinkSocket> socket(new NetlinkSocket(nl));
  int on = 1;
  // Best effort: kernels without them still work, with terser errors / unfiltered dumps.
  mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &on, sizeof(on));
  // With NETLINK_CAP_ACK an error echoes only the request's header, not the whole request
  // (extAckMessage() reads both forms).
  mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &on, sizeof(on));
  mnl_socket_setsockopt(nl, NETLINK_GET_STRICT_CHK, &on, sizeof(on));
  for (unsigned group : options.groups) {
    if (mnl_socket_setsockopt(nl, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0) {
      return fail(Error::fromErrno("cannot join rtnetlink group " + std::to_string(group) +
                                       netnsSuffix(options.netns),
                                   errno));
    }
  }
  if (!options.nonblocking) {
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(options.timeout);
    auto usecs = std::chrono::duration_cast<std::chrono::microseconds>(options.timeout - secs);
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(secs.count());
    tv.tv_usec = static_cast<suseconds_t>(usecs.count());
    ::setsockopt(socket->fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  return socket;
}

NetlinkSocket::~NetlinkSocket() { mnl_socket_close(nl_); }

int NetlinkSocket::fd() const { return mnl_socket_get_fd(nl_); }

uint32_t NetlinkSocket::portid() const { return mnl_socket_get_portid(nl_); }

Result<void> NetlinkSocket::send(const nlmsghdr* nlh) {
  if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0) {
    return fail(Error::fromErrno("netlink send", errno));
  }
  return ok();
}

Result<void> NetlinkSocket::transact(nlmsghdr* nlh,
                                     const std::function<void(const nlmsghdr*)>& each) {
  uint32_t seq = nlh->nlmsg_seq;
  if (auto sent = send(nlh); !sent) {
    return sent;
  }
  std::vector<char> buffer(kNetlinkBufferSize);
  TransactState state;
  state.each = &each;
  mnl_cb_t controls[NLMSG_MIN_TYPE] = {};
  controls[NLMSG_NOOP] = noopCallback;
  controls[NLMSG_ERROR] = errorCallback;
  controls[NLMSG_DONE] = doneCallback;
  controls[NLMSG_OVERRUN] = overrunCallback;
  // A dump spans several datagrams: read until a callback stops (NLMSG_DONE, the ACK) or fails.
  for (;;) {
    ssize_t got = mnl_socket_recvfrom(nl_, buffer.data(), buffer.size());
    if (got < 0) {
      int err = errno;
      // A blocking socket reports the expiry of its SO_RCVTIMEO (set in open()) as EAGAIN too.
      if (err == EAGAIN || err == EWOULDBLOCK) {
        return fail(ErrorCode::Timeout, "no netlink reply in time", err);
      }
      if (err == EINTR) {
        continue;
      }
      return fail(Error::fromErrno("netlink receive", err));
    }
    // A message with another sequence number or port id fails the run (EPROTO, ESRCH) instead of
    // being skipped: a late reply to an earlier request ends this one in an error.
    int rc = mnl_cb_run2(buffer.data(), static_cast<size_t>(got), seq, portid(), dataCallback,
                         &state, controls, NLMSG_MIN_TYPE);
    if (rc == MNL_CB_STOP) {
      return ok();
    }
    if (rc == MNL_CB_ERROR) {
      int err = errno;
      // EINTR here is libmnl's report of NLM_F_DUMP_INTR: the dump was interrupted by a
      // concurrent change and must be redone; callers treat it as retryable.
      std::string what = state.ext_ack.empty() ? std::string("netlink") : state.ext_ack;
      Error error = Error::fromErrno(what, err);
      if (err == EINTR) {
        return fail(ErrorCode::Unavailable, "netlink dump interrupted by a concurrent change",
                    err);
      }
      return fail(error);
    }
  }
}

}  // namespace pathpilot::route::detail
