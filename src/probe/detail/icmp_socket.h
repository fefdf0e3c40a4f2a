// probe/detail/icmp_socket.h — one pinned ICMP socket (ping or raw) on the engine's io_context.
//
// Purpose: the only place that makes ICMP system calls. Opens a ping socket
// (SOCK_DGRAM/IPPROTO_ICMP) or a raw socket, applies the Pinning (SO_BINDTODEVICE, SO_MARK, bind
// to the source address), sends datagrams, and drains received datagrams in batches with
// recvmmsg together with their kernel receive timestamps (SO_TIMESTAMPNS) and, for ping
// sockets, the IP_RECVERR error queue (ICMP errors and local errors about our own probes).
// Matching and deciding stay in the engine; this class only moves bytes.
//
// Threading: engine thread only. Metrics: none (the engine counts).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <system_error>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>

#include "base/error.h"
#include "base/ip.h"
#include "probe/probe.h"

namespace pathpilot::probe::detail {

// Converts between IpAddress (+ port) and sockaddr_storage.
socklen_t toSockaddr(const IpAddress& address, std::uint16_t port, sockaddr_storage* out);
std::optional<IpAddress> fromSockaddr(const sockaddr_storage& sa);

// Applies SO_BINDTODEVICE and SO_MARK from `pinning` to `fd`. Errors name the option, the
// value and the cause ("SO_BINDTODEVICE \"vpn0\": No such device").
[[nodiscard]] Result<void> applyDevicePinning(int fd, const Pinning& pinning);

// One received datagram or error-queue entry. `data` points into the socket's buffers and is
// valid until the next receive call.
struct Datagram {
  std::span<const std::uint8_t> data;
  std::optional<IpAddress> from;   // sender (reply) or original destination (error queue)
  std::optional<timespec> rx_wall; // kernel receive time (CLOCK_REALTIME), if available
  // Error-queue entries only (ping sockets, IP_RECVERR):
  bool is_error = false;
  int err_errno = 0;                 // ee_errno, e.g. EHOSTUNREACH
  bool err_from_icmp = false;        // an ICMP error came back (else a local error)
  std::uint8_t err_type = 0;         // ICMP type of the error (ICMP origins)
  std::uint8_t err_code = 0;         // ICMP code
  std::optional<IpAddress> offender; // router that sent the ICMP error
};

// The recvmmsg buffers: room for one batch of datagrams (2 KiB each) with their source
// addresses and control messages, ~180 KiB in all. One set serves every socket of an engine:
// sockets are read one at a time on the engine thread and each batch is handled before the next
// read, so a thousand pinned paths (a thousand sockets) cost one set instead of a thousand.
// Datagrams returned by IcmpSocket::receive*() point into these buffers and stay valid until
// the next receive call with the same buffers.
class ReceiveBuffers {
 public:
  ReceiveBuffers();
  ~ReceiveBuffers();
  ReceiveBuffers(const ReceiveBuffers&) = delete;
  ReceiveBuffers& operator=(const ReceiveBuffers&) = delete;

 private:
  friend class IcmpSocket;
  struct Slot;
  // Prepares slot `index` for the next recvmmsg/recvmsg and returns it.
  Slot& fill(std::size_t index);
  std::unique_ptr<Slot[]> slots_;
};

class IcmpSocket {
 public:
  // Opens a socket of `family` in `mode` (Auto tries ping first, then raw) and pins it.
  // Errors are PermissionDenied (neither socket kind allowed; the message names
  // net.ipv4.ping_group_range and CAP_NET_RAW), NotFound (interface missing) or others from
  // the failed call.
  [[nodiscard]] static Result<std::unique_ptr<IcmpSocket>> open(asio::io_context& io,
                                                                IpFamily family,
                                                                const Pinning& pinning,
                                                                IcmpMode mode);
  ~IcmpSocket();
  IcmpSocket(const IcmpSocket&) = delete;
  IcmpSocket& operator=(const IcmpSocket&) = delete;

  IpFamily family() const { return family_; }
  // Ping or Raw (never Auto).
  IcmpMode mode() const { return mode_; }
  // Ping sockets: the identifier the kernel gives every request (the bound local port).
  std::uint16_t kernelIdent() const { return ident_; }
  // The ifindex SO_BINDTODEVICE bound to (0 when not bound). A device deleted and created
  // again under the same name gets a new index, which this socket will never use.
  unsigned boundIfindex() const { return ifindex_; }
  // Raw IPv4 sockets deliver the IP header in front of each datagram.
  bool receivesIpHeader() const { return mode_ == IcmpMode::Raw && family_ == IpFamily::V4; }

  // Sends one datagram without blocking. Returns 0 or the errno of sendto.
  int sendTo(std::span<const std::uint8_t> packet, const sockaddr_storage& dst, socklen_t len);

  // Receives up to the batch size of queued datagrams without blocking into `buffers`; fills
  // `out` (cleared first) with views into them. Returns 0 when the queue is drained, otherwise
  // the errno of recvmmsg other than EAGAIN (an asynchronous error on a ping socket; read the
  // error queue next).
  int receive(ReceiveBuffers& buffers, std::vector<Datagram>* out);

  // Reads up to the batch size of error-queue entries (MSG_ERRQUEUE) into `buffers` / `out`.
  void receiveErrors(ReceiveBuffers& buffers, std::vector<Datagram>* out);

  // Raw sockets: blocks every ICMP type, so that the kernel skips this socket before it clones
  // a packet for it. Used for the pinned sockets that only send, when one unpinned raw socket
  // receives the replies for all of them. Requires: mode() == Raw.
  [[nodiscard]] Result<void> stopReceiving();

  // Calls `handler` once the socket is readable or has an error queued.
  void asyncWaitReadable(std::function<void(std::error_code)> handler);

  // Cancels a pending asyncWaitReadable (its handler runs with operation_aborted).
  void cancel();

 private:
  IcmpSocket(asio::io_context& io, int fd, IpFamily family, IcmpMode mode, std::uint16_t ident,
             unsigned ifindex);

  asio::posix::stream_descriptor descriptor_;
  IpFamily family_;
  IcmpMode mode_;
  std::uint16_t ident_;
  unsigned ifindex_;
};

}  // namespace pathpilot::probe::detail
