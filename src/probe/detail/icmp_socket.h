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

  // Receives up to the batch size of queued datagrams without blocking; fills `out` (cleared
  // first). Returns 0 when the queue is drained, otherwise the errno of recvmmsg other than
  // EAGAIN (an asynchronous error on a ping socket; read the error queue next).
  int receive(std::vector<Datagram>* out);

  // Reads up to the batch size of error-queue entries (MSG_ERRQUEUE) into `out`.
  void receiveErrors(std::vector<Datagram>* out);

  // Calls `handler` once the socket is readable or has an error queued.
  void asyncWaitReadable(std::function<void(std::error_code)> handler);

  // Cancels a pending asyncWaitReadable (its handler runs with operation_aborted).
  void cancel();

 private:
  IcmpSocket(asio::io_context& io, int fd, IpFamily family, IcmpMode mode, std::uint16_t ident,
             unsigned ifindex);
  void fill(std::size_t index);

  asio::posix::stream_descriptor descriptor_;
  IpFamily family_;
  IcmpMode mode_;
  std::uint16_t ident_;
  unsigned ifindex_;
  // recvmmsg batch buffers.
  struct Slot;
  std::vector<Slot> slots_;
};

}  // namespace pathpilot::probe::detail
