// probe/icmp_codec.h — ICMP / ICMPv6 echo encoding and message parsing (pure).
//
// Purpose: build echo requests whose payload carries a cookie, and parse whatever comes back
// on an ICMP socket (echo replies, and the errors that quote one of our requests) into plain
// fields the engine can match. No sockets, no clock: everything is bytes in, values out, so it
// is unit-tested and fuzzable.
//
// Payload layout (network byte order), the first kCookieSize bytes after the 8-byte ICMP header:
//   0  u32 magic   "PPLT" (0x50504C54)
//   4  u32 stamp   caller-chosen (the engine stores its target generation here)
//   8  u64 nonce   random per probe; a reply must echo it exactly
//  16  u64 sent    send time in ns of the engine's monotonic clock
// followed by a fixed fill pattern up to the requested payload size. A reply is ours only if
// identifier, sequence, magic, nonce and send time all match the probe we recorded, so replies
// to other processes, to old probes and forged replies are rejected.
//
// Threading: stateless functions. Metrics: none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "base/error.h"
#include "base/ip.h"

namespace pathpilot::probe::icmp {

inline constexpr std::size_t kHeaderSize = 8;
inline constexpr std::size_t kCookieSize = 24;
inline constexpr std::uint32_t kMagic = 0x50504C54;  // "PPLT"
inline constexpr std::size_t kMaxPayload = 1472;     // fits a 1500-byte MTU over IPv4

// ICMPv4 (RFC 792) and ICMPv6 (RFC 4443) type numbers the engine cares about.
inline constexpr std::uint8_t kV4EchoReply = 0;
inline constexpr std::uint8_t kV4DestUnreachable = 3;
inline constexpr std::uint8_t kV4Redirect = 5;
inline constexpr std::uint8_t kV4EchoRequest = 8;
inline constexpr std::uint8_t kV4TimeExceeded = 11;
inline constexpr std::uint8_t kV4ParameterProblem = 12;
inline constexpr std::uint8_t kV6DestUnreachable = 1;
inline constexpr std::uint8_t kV6PacketTooBig = 2;
inline constexpr std::uint8_t kV6TimeExceeded = 3;
inline constexpr std::uint8_t kV6ParameterProblem = 4;
inline constexpr std::uint8_t kV6EchoRequest = 128;
inline constexpr std::uint8_t kV6EchoReply = 129;

// The cookie carried in the payload.
struct Cookie {
  std::uint32_t stamp = 0;
  std::uint64_t nonce = 0;
  std::uint64_t sent_ns = 0;
  bool operator==(const Cookie&) const = default;
};

// RFC 1071 Internet checksum of `data` (odd length padded with a zero byte). Returns the value
// to store in the header in network order as two bytes [hi, lo] = (result >> 8, result & 0xff).
std::uint16_t internetChecksum(std::span<const std::uint8_t> data);

// Writes an echo request (header + payload_size bytes) into `out` and returns its length.
// ICMPv4 gets its checksum; ICMPv6's is left 0 because the kernel computes it (it needs the
// pseudo-header, RFC 4443 §2.3). Ping sockets overwrite the identifier with their own.
// Requires: kCookieSize <= payload_size <= kMaxPayload, out.size() >= kHeaderSize + payload_size.
std::size_t encodeEchoRequest(IpFamily family, std::uint16_t ident, std::uint16_t seq,
                              const Cookie& cookie, std::size_t payload_size,
                              std::span<std::uint8_t> out);

enum class MessageKind : std::uint8_t {
  EchoReply,    // an echo reply; `cookie` set when the payload carries our magic
  EchoRequest,  // an echo request (seen on raw sockets, or quoted in an error)
  Error,        // an ICMP error quoting an echo request (`quoted_*` fields set)
  Other,        // anything else (router advertisements, errors about other protocols, ...)
};

struct Message {
  MessageKind kind = MessageKind::Other;
  std::uint8_t type = 0;
  std::uint8_t code = 0;
  std::uint16_t ident = 0;  // echo: the identifier; error: the quoted request's identifier
  std::uint16_t seq = 0;    // echo: the sequence; error: the quoted request's sequence
  std::optional<Cookie> cookie;       // echo reply/request payload, or the quoted one if whole
  std::optional<IpAddress> quoted_dst;  // error: destination of the quoted packet (if quoted
                                        // with its IP header)
};

// Parses one ICMP message of `family`. With `has_ip_header` (raw IPv4 sockets deliver the IPv4
// header too) the IPv4 header is skipped first. Truncated or malformed input is an
// InvalidArgument error, never a crash.
[[nodiscard]] Result<Message> parseMessage(IpFamily family, std::span<const std::uint8_t> data,
                                           bool has_ip_header);

// Human text for an ICMP error type/code: "destination unreachable (host unreachable)",
// "time exceeded (TTL exceeded in transit)".
std::string describeError(IpFamily family, std::uint8_t type, std::uint8_t code);

// True for ICMP types that are errors quoting an offending packet.
bool isErrorType(IpFamily family, std::uint8_t type);

}  // namespace pathpilot::probe::icmp
