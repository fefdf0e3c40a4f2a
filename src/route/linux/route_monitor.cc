#include "route/linux/route_monitor.h"

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <cerrno>
#include <vector>

#include "route/linux/detail/netlink.h"

namespace pathpilot::route {

struct LinuxRouteMonitor::Impl {
  Impl(asio::io_context& io, std::unique_ptr<detail::NetlinkSocket> s)
      : socket(std::move(s)), descriptor(io, socket->fd()), buffer(detail::kNetlinkBufferSize) {}
  ~Impl() {
    // The NetlinkSocket owns the fd; take it back from Asio before either closes it.
    std::error_code ignored;
    descriptor.cancel(ignored);
    descriptor.release();
  }
  std::unique_ptr<detail::NetlinkSocket> socket;
  asio::posix::stream_descriptor descriptor;
  std::vector<char> buffer;
};

LinuxRouteMonitor::LinuxRouteMonitor(asio::io_context& io, LinuxMonitorOptions options,
                                     std::function<void(const RouteNotice&)> on_notice)
    : io_(io), options_(std::move(options)), on_notice_(std::move(on_notice)) {}

LinuxRouteMonitor::~LinuxRouteMonitor() { stop(); }

Result<void> LinuxRouteMonitor::start() {
  stop();
  detail::NetlinkSocket::Options opts;
  opts.netns = options_.netns;
  opts.nonblocking = true;
  opts.groups = {RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE, RTNLGRP_LINK};
  auto socket = detail::NetlinkSocket::open(opts);
  if (!socket) {
    return fail(socket.error().withContext("route monitor"));
  }
  // A larger receive buffer makes overruns rare when many routes change at once (a BGP
  // session flapping in the same namespace). FORCE works with CAP_NET_ADMIN, the plain option
  // up to net.core.rmem_max otherwise.
  int size = 4 * 1024 * 1024;
  if (::setsockopt((*socket)->fd(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0) {
    ::setsockopt((*socket)->fd(), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  }
  // Learn the device names once; RTM_NEWLINK/DELLINK notifications keep the map current.
  std::vector<char> request(1024);
  nlmsghdr* nlh = mnl_nlmsg_put_header(request.data());
  nlh->nlmsg_type = RTM_GETLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = (*socket)->nextSeq();
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  if (auto sent = (*socket)->send(nlh); !sent) {
    return fail(sent.error().withContext("route monitor: link dump"));
  }
  impl_ = std::make_unique<Impl>(io_, std::move(*socket));
  arm();
  return ok();
}

void LinuxRouteMonitor::stop() { impl_.reset(); }

void LinuxRouteMonitor::arm() {
  std::weak_ptr<Impl> weak = impl_;
  impl_->descriptor.async_wait(asio::posix::stream_descriptor::wait_read,
                               [this, weak](const std::error_code& ec) {
                                 // Aborted or expired: stop() or destruction came first, and
                                 // `this` may be gone (Impl lives exactly as long as it is in
                                 // use by the monitor, so an unexpired Impl means a live one).
                                 if (ec || weak.expired()) {
                                   return;
                                 }
                                 onReadable();
                               });
}

void LinuxRouteMonitor::onReadable() {
  Impl* impl = impl_.get();
  // Bounded work per wake-up so that a storm of notifications cannot monopolise the loop.
  for (int i = 0; i < 64; ++i) {
    ssize_t got = ::recv(impl->socket->fd(), impl->buffer.data(), impl->buffer.size(),
                         MSG_DONTWAIT);
    if (got < 0) {
      int err = errno;
      if (err == EINTR) {
        continue;
      }
      if (err == EAGAIN || err == EWOULDBLOCK) {
        break;
      }
      ++overruns_;
      // Only the watched tables need a re-check (not, say, the AWS tables of the same daemon,
      // whose list() costs API calls).
      std::map<std::uint32_t, std::string> tables = options_.tables;
      for (const auto& [number, id] : tables) {
        RouteNotice notice;
        notice.kind = RouteNotice::Kind::Overrun;
        notice.route.table = id;
        on_notice_(notice);
        if (impl != impl_.get()) {
          return;  // on_notice_ stopped the monitor
        }
      }
      if (err == ENOBUFS) {
        continue;  // the socket is fine; we only lost messages
      }
      // Anything else is unexpected: stop watching; the periodic check remains.
      stop();
      return;
    }
    int remaining = static_cast<int>(got);
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(impl->buffer.data());
    while (mnl_nlmsg_ok(nlh, remaining)) {
      handleMessage(nlh);
      if (impl != impl_.get()) {
        return;  // on_notice_ stopped (or restarted) the monitor; `impl` is gone
      }
      nlh = mnl_nlmsg_next(nlh, &remaining);
    }
  }
  arm();
}

void LinuxRouteMonitor::handleMessage(const nlmsghdr* nlh) {
  switch (nlh->nlmsg_type) {
    case RTM_NEWLINK:
    case RTM_DELLINK: {
      auto link = detail::decodeLink(nlh);
      if (!link) {
        return;
      }
      if (nlh->nlmsg_type == RTM_DELLINK) {
        links_.erase(link->index);
      } else if (!link->name.empty()) {
        links_[link->index] = link->name;
      }
      return;
    }
    case RTM_NEWROUTE:
    case RTM_DELROUTE: {
      auto route = detail::decodeRoute(nlh);
      if (!route || (route->flags & RTM_F_CLONED) != 0 || !detail::isComparableType(route->type)) {
        return;
      }
      auto table = options_.tables.find(route->table);
      if (table == options_.tables.end()) {
        return;
      }
      RouteNotice notice;
      notice.kind = nlh->nlmsg_type == RTM_NEWROUTE ? RouteNotice::Kind::Added
                                                    : RouteNotice::Kind::Removed;
      notice.route.table = table->second;
      notice.route.destination = route->destination;
      notice.route.next_hop = detail::toNextHop(*route, [this](std::uint32_t index) {
        auto it = links_.find(index);
        return it == links_.end() ? std::string() : it->second;
      });
      ++notices_;
      on_notice_(notice);
      return;
    }
    default:
      return;  // NLMSG_DONE / NLMSG_ERROR of the link dump, and anything else
  }
}

}  // namespace pathpilot::route
