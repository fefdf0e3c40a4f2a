#include "probe/detail/icmp_socket.h"

#include <linux/errqueue.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "base/check.h"
#include "probe/icmp_codec.h"

namespace pathpilot::probe::detail {
namespace {

// <linux/icmp.h> pulls in <linux/if.h>, which clashes with glibc's <net/if.h> elsewhere in the
// module; the two values we need are stable kernel ABI.
constexpr int kIcmpFilter = 1;  // ICMP_FILTER at level SOL_RAW
struct IcmpFilter {
  std::uint32_t data;  // bit N set = drop ICMP type N
};

// recvmmsg batch: 64 datagrams per system call amortises the syscall cost at high rates
// while keeping the buffers (64 × 2 KiB) in cache.
constexpr std::size_t kBatch = 64;
// Largest echo reply we send (1472 payload + 8) plus an IPv4 header, rounded up. Longer
// datagrams (errors quoting large packets) are truncated; we only need their first bytes.
constexpr std::size_t kBufferSize = 2048;
// Room for ~4,000 queued replies: one second at 4k probes/s even if the loop stalls.
constexpr int kReceiveBuffer = 4 * 1024 * 1024;

int domainOf(IpFamily f) { return f == IpFamily::V4 ? AF_INET : AF_INET6; }
int protoOf(IpFamily f) { return f == IpFamily::V4 ? int{IPPROTO_ICMP} : int{IPPROTO_ICMPV6}; }
const char* familyName(IpFamily f) { return f == IpFamily::V4 ? "ICMP" : "ICMPv6"; }

Result<void> setInt(int fd, int level, int name, int value, const char* what) {
  if (::setsockopt(fd, level, name, &value, sizeof value) != 0) {
    return fail(Error::fromErrno(what, errno));
  }
  return ok();
}

// Drops every ICMP type except echo replies and the errors that can quote our requests, so
// that a raw socket is not woken for each echo request or router advertisement on the host.
Result<void> installRawFilter(int fd, IpFamily family) {
  if (family == IpFamily::V4) {
    IcmpFilter filter{~((1u << icmp::kV4EchoReply) | (1u << icmp::kV4DestUnreachable) |
                        (1u << icmp::kV4TimeExceeded) | (1u << icmp::kV4ParameterProblem))};
    if (::setsockopt(fd, SOL_RAW, kIcmpFilter, &filter, sizeof filter) != 0) {
      return fail(Error::fromErrno("ICMP_FILTER", errno));
    }
    return ok();
  }
  icmp6_filter filter;
  ICMP6_FILTER_SETBLOCKALL(&filter);
  ICMP6_FILTER_SETPASS(icmp::kV6EchoReply, &filter);
  ICMP6_FILTER_SETPASS(icmp::kV6DestUnreachable, &filter);
  ICMP6_FILTER_SETPASS(icmp::kV6PacketTooBig, &filter);
  ICMP6_FILTER_SETPASS(icmp::kV6TimeExceeded, &filter);
  ICMP6_FILTER_SETPASS(icmp::kV6ParameterProblem, &filter);
  if (::setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) != 0) {
    return fail(Error::fromErrno("ICMP6_FILTER", errno));
  }
  return ok();
}

// Closes `fd` unless released; keeps the open() error paths short.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  int get() const { return fd_; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

}  // namespace

socklen_t toSockaddr(const IpAddress& address, std::uint16_t port, sockaddr_storage* out) {
  std::memset(out, 0, sizeof *out);
  if (address.isV4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(out);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, address.bytes().data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(out);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  std::memcpy(&sin6->sin6_addr, address.bytes().data(), 16);
  return sizeof(sockaddr_in6);
}

std::optional<IpAddress> fromSockaddr(const sockaddr_storage& sa) {
  if (sa.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&sa);
    return IpAddress::v4(reinterpret_cast<const std::uint8_t*>(&sin->sin_addr));
  }
  if (sa.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&sa);
    return IpAddress::v6(reinterpret_cast<const std::uint8_t*>(&sin6->sin6_addr));
  }
  return std::nullopt;
}

Result<void> applyDevicePinning(int fd, const Pinning& pinning) {
  if (!pinning.interface.empty()) {
    if (::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, pinning.interface.c_str(),
                     static_cast<socklen_t>(pinning.interface.size() + 1)) != 0) {
      const int e = errno;
      std::string what = "SO_BINDTODEVICE \"" + pinning.interface + "\"";
      if (e == ENODEV) {
        what += " (interface does not exist)";
      }
      return fail(Error::fromErrno(what, e));
    }
  }
  if (pinning.fwmark) {
    const int mark = static_cast<int>(*pinning.fwmark);
    if (::setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0) {
      return fail(Error::fromErrno("SO_MARK " + std::to_string(*pinning.fwmark) +
                                       " (needs CAP_NET_ADMIN)",
                                   errno));
    }
  }
  return ok();
}

struct ReceiveBuffers::Slot {
  std::array<std::uint8_t, kBufferSize> buffer;
  sockaddr_storage name;
  alignas(cmsghdr) std::array<char, 512> control;
  iovec iov;
  mmsghdr msg;
};

// Default-initialised, not zeroed: fill() sets every header field before each use and the
// kernel writes the data, so untouched slots of a quiet engine cost no resident memory.
ReceiveBuffers::ReceiveBuffers() : slots_(new Slot[kBatch]) {}

ReceiveBuffers::~ReceiveBuffers() = default;

ReceiveBuffers::Slot& ReceiveBuffers::fill(std::size_t index) {
  Slot& s = slots_[index];
  s.iov = iovec{s.buffer.data(), s.buffer.size()};
  s.msg.msg_hdr = msghdr{};
  s.msg.msg_hdr.msg_name = &s.name;
  s.msg.msg_hdr.msg_namelen = sizeof s.name;
  s.msg.msg_hdr.msg_iov = &s.iov;
  s.msg.msg_hdr.msg_iovlen = 1;
  s.msg.msg_hdr.msg_control = s.control.data();
  s.msg.msg_hdr.msg_controllen = s.control.size();
  s.msg.msg_len = 0;
  return s;
}

IcmpSocket::IcmpSocket(asio::io_context& io, int fd, IpFamily family, IcmpMode mode,
                       std::uint16_t ident, unsigned ifindex)
    : descriptor_(io, fd),
      family_(family),
      mode_(mode),
      ident_(ident),
      ifindex_(ifindex) {}

IcmpSocket::~IcmpSocket() {
  std::error_code ignored;
  descriptor_.close(ignored);
}

// Order matters: SO_BINDTODEVICE and SO_MARK must be set before bind() so that the kernel's
// route lookup for the bound source already sees the device and the mark.
Result<std::unique_ptr<IcmpSocket>> IcmpSocket::open(asio::io_context& io, IpFamily family,
                                                     const Pinning& pinning, IcmpMode mode) {
  const int domain = domainOf(family);
  const int proto = protoOf(family);
  int fd = -1;
  IcmpMode opened = IcmpMode::Ping;
  int ping_errno = 0;
  if (mode == IcmpMode::Auto || mode == IcmpMode::Ping) {
    fd = ::socket(domain, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    ping_errno = fd < 0 ? errno : 0;
  }
  if (fd < 0 && (mode == IcmpMode::Auto || mode == IcmpMode::Raw)) {
    fd = ::socket(domain, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    opened = IcmpMode::Raw;
    if (fd < 0) {
      const int raw_errno = errno;
      std::string message = std::string("cannot open an ") + familyName(family) + " socket: ";
      if (mode == IcmpMode::Auto) {
        message += "ping socket refused (" + std::string(std::strerror(ping_errno)) +
                   "; is the group in net.ipv4.ping_group_range?) and ";
      }
      message += "raw socket refused (needs root or CAP_NET_RAW)";
      return fail(ErrorCode::PermissionDenied, message, raw_errno);
    }
  }
  if (fd < 0) {
    return fail(ErrorCode::PermissionDenied,
                std::string("cannot open an ") + familyName(family) +
                    " ping socket (is the group in net.ipv4.ping_group_range?)",
                ping_errno);
  }
  FdGuard guard(fd);

  if (auto pinned = applyDevicePinning(fd, pinning); !pinned) {
    return fail(pinned.error());
  }
  // A ping socket always binds (port 0 makes the kernel choose the identifier); a raw socket
  // binds only to restrict its source address.
  std::uint16_t ident = 0;
  if (opened == IcmpMode::Ping || pinning.source) {
    sockaddr_storage sa;
    IpAddress any;
    if (family == IpFamily::V6) {
      std::uint8_t zero[16] = {};
      any = IpAddress::v6(zero);
    }
    const socklen_t len = toSockaddr(pinning.source.value_or(any), 0, &sa);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&sa), len) != 0) {
      const int e = errno;
      std::string what = "bind to source " + pinning.source.value_or(any).toString();
      if (e == EADDRNOTAVAIL) {
        what += " (address not configured on this host)";
      }
      return fail(Error::fromErrno(what, e));
    }
    if (opened == IcmpMode::Ping) {
      socklen_t got = sizeof sa;
      if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &got) != 0) {
        return fail(Error::fromErrno("getsockname on ping socket", errno));
      }
      ident = family == IpFamily::V4 ? ntohs(reinterpret_cast<sockaddr_in*>(&sa)->sin_port)
                                     : ntohs(reinterpret_cast<sockaddr_in6*>(&sa)->sin6_port);
    }
  }
  if (opened == IcmpMode::Ping) {
    // ICMP errors about our requests (unreachable, time exceeded) and local send errors arrive
    // on the error queue of a ping socket, not as datagrams.
    auto r = family == IpFamily::V4 ? setInt(fd, SOL_IP, IP_RECVERR, 1, "IP_RECVERR")
                                    : setInt(fd, SOL_IPV6, IPV6_RECVERR, 1, "IPV6_RECVERR");
    if (!r) {
      return fail(r.error());
    }
  } else if (auto r = installRawFilter(fd, family); !r) {
    return fail(r.error());
  }
  if (auto r = setInt(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1, "SO_TIMESTAMPNS"); !r) {
    return fail(r.error());
  }
  // A deep receive queue absorbs bursts of replies from thousands of targets. FORCE needs
  // CAP_NET_ADMIN; otherwise the kernel caps SO_RCVBUF at net.core.rmem_max.
  if (!setInt(fd, SOL_SOCKET, SO_RCVBUFFORCE, kReceiveBuffer, "SO_RCVBUFFORCE")) {
    (void)setInt(fd, SOL_SOCKET, SO_RCVBUF, kReceiveBuffer, "SO_RCVBUF");
  }
  // Read back the device the socket is bound to (SO_BINDTODEVICE stores its index).
  unsigned ifindex = 0;
  if (!pinning.interface.empty()) {
    int bound = 0;
    socklen_t len = sizeof bound;
    if (::getsockopt(fd, SOL_SOCKET, SO_BINDTOIFINDEX, &bound, &len) == 0 && bound > 0) {
      ifindex = static_cast<unsigned>(bound);
    }
  }
  return std::unique_ptr<IcmpSocket>(
      new IcmpSocket(io, guard.release(), family, opened, ident, ifindex));
}

// MSG_DONTWAIT: a full send buffer must fail this probe (reported as a send error), never
// block the engine thread.
int IcmpSocket::sendTo(std::span<const std::uint8_t> packet, const sockaddr_storage& dst,
                       socklen_t len) {
  const ssize_t n = ::sendto(descriptor_.native_handle(), packet.data(), packet.size(),
                             MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&dst), len);
  return n < 0 ? errno : 0;
}

namespace {

// Reads the kernel receive timestamp and, for error-queue entries, the extended error.
void parseControl(msghdr& hdr, Datagram* d) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&hdr); c != nullptr; c = CMSG_NXTHDR(&hdr, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
      timespec ts;
      std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
      d->rx_wall = ts;
    } else if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
               (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
      sock_extended_err ee;
      std::memcpy(&ee, CMSG_DATA(c), sizeof ee);
      d->is_error = true;
      d->err_errno = static_cast<int>(ee.ee_errno);
      d->err_from_icmp = ee.ee_origin == SO_EE_ORIGIN_ICMP || ee.ee_origin == SO_EE_ORIGIN_ICMP6;
      d->err_type = ee.ee_type;
      d->err_code = ee.ee_code;
      // The offender's sockaddr follows the struct (SO_EE_OFFENDER).
      const auto* off = reinterpret_cast<const sockaddr*>(CMSG_DATA(c) + sizeof ee);
      const std::size_t room = c->cmsg_len - CMSG_LEN(sizeof ee);
      if (room >= sizeof(sockaddr_in) && off->sa_family == AF_INET) {
        sockaddr_storage ss{};
        std::memcpy(&ss, off, sizeof(sockaddr_in));
        d->offender = fromSockaddr(ss);
      } else if (room >= sizeof(sockaddr_in6) && off->sa_family == AF_INET6) {
        sockaddr_storage ss{};
        std::memcpy(&ss, off, sizeof(sockaddr_in6));
        d->offender = fromSockaddr(ss);
      }
    }
  }
}

}  // namespace

// One recvmmsg call; the engine calls it until it returns no datagrams (edge-triggered wait).
int IcmpSocket::receive(ReceiveBuffers& buffers, std::vector<Datagram>* out) {
  out->clear();
  std::array<mmsghdr, kBatch> msgs;
  for (std::size_t i = 0; i < kBatch; ++i) {
    msgs[i] = buffers.fill(i).msg;
  }
  const int n = ::recvmmsg(descriptor_.native_handle(), msgs.data(), kBatch, MSG_DONTWAIT,
                           nullptr);
  if (n < 0) {
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : errno;
  }
  for (int i = 0; i < n; ++i) {
    auto& m = msgs[static_cast<std::size_t>(i)];
    ReceiveBuffers::Slot& s = buffers.slots_[static_cast<std::size_t>(i)];
    Datagram d;
    d.data = std::span<const std::uint8_t>(s.buffer.data(),
                                           std::min<std::size_t>(m.msg_len, s.buffer.size()));
    d.from = fromSockaddr(s.name);
    parseControl(m.msg_hdr, &d);
    out->push_back(d);
  }
  return 0;
}

// Errors are rare (one per failed probe at most), so one plain recvmsg per entry is enough.
void IcmpSocket::receiveErrors(ReceiveBuffers& buffers, std::vector<Datagram>* out) {
  out->clear();
  for (std::size_t i = 0; i < kBatch; ++i) {
    ReceiveBuffers::Slot& s = buffers.fill(i);
    const ssize_t n = ::recvmsg(descriptor_.native_handle(), &s.msg.msg_hdr,
                                MSG_ERRQUEUE | MSG_DONTWAIT);
    if (n < 0) {
      return;  // EAGAIN: queue drained
    }
    Datagram d;
    d.data = std::span<const std::uint8_t>(
        s.buffer.data(), std::min<std::size_t>(static_cast<std::size_t>(n), s.buffer.size()));
    d.from = fromSockaddr(s.name);
    parseControl(s.msg.msg_hdr, &d);
    out->push_back(d);
  }
}

// raw_v4_input()/ipv6_raw_deliver() test the ICMP filter before cloning the packet, so a
// socket that blocks everything costs one bit test per packet instead of a copy, a queue and
// a wake-up.
Result<void> IcmpSocket::stopReceiving() {
  PP_CHECK(mode_ == IcmpMode::Raw);
  const int fd = descriptor_.native_handle();
  if (family_ == IpFamily::V4) {
    IcmpFilter filter{~0u};
    if (::setsockopt(fd, SOL_RAW, kIcmpFilter, &filter, sizeof filter) != 0) {
      return fail(Error::fromErrno("ICMP_FILTER (block all)", errno));
    }
    return ok();
  }
  icmp6_filter filter;
  ICMP6_FILTER_SETBLOCKALL(&filter);
  if (::setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) != 0) {
    return fail(Error::fromErrno("ICMP6_FILTER (block all)", errno));
  }
  return ok();
}

void IcmpSocket::asyncWaitReadable(std::function<void(std::error_code)> handler) {
  descriptor_.async_wait(asio::posix::descriptor_base::wait_read, std::move(handler));
}

void IcmpSocket::cancel() {
  std::error_code ignored;
  descriptor_.cancel(ignored);
}

}  // namespace pathpilot::probe::detail
