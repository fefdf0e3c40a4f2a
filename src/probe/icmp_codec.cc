#include "probe/icmp_codec.h"

#include <array>

#include "base/check.h"

namespace pathpilot::probe::icmp {
namespace {

constexpr std::size_t kIpv6HeaderSize = 40;
constexpr std::uint8_t kIpProtoIcmp = 1;
constexpr std::uint8_t kIpProtoIcmpv6 = 58;

std::uint16_t get16(std::span<const std::uint8_t> d, std::size_t at) {
  return static_cast<std::uint16_t>((d[at] << 8) | d[at + 1]);
}
std::uint32_t get32(std::span<const std::uint8_t> d, std::size_t at) {
  return (std::uint32_t{d[at]} << 24) | (std::uint32_t{d[at + 1]} << 16) |
         (std::uint32_t{d[at + 2]} << 8) | std::uint32_t{d[at + 3]};
}
std::uint64_t get64(std::span<const std::uint8_t> d, std::size_t at) {
  return (std::uint64_t{get32(d, at)} << 32) | get32(d, at + 4);
}
void put16(std::span<std::uint8_t> d, std::size_t at, std::uint16_t v) {
  d[at] = static_cast<std::uint8_t>(v >> 8);
  d[at + 1] = static_cast<std::uint8_t>(v);
}
void put32(std::span<std::uint8_t> d, std::size_t at, std::uint32_t v) {
  put16(d, at, static_cast<std::uint16_t>(v >> 16));
  put16(d, at + 2, static_cast<std::uint16_t>(v));
}
void put64(std::span<std::uint8_t> d, std::size_t at, std::uint64_t v) {
  put32(d, at, static_cast<std::uint32_t>(v >> 32));
  put32(d, at + 4, static_cast<std::uint32_t>(v));
}

tl::unexpected<Error> malformed(std::string what) {
  return fail(ErrorCode::InvalidArgument, "malformed ICMP message: " + what);
}

std::uint8_t echoRequestType(IpFamily f) { return f == IpFamily::V4 ? kV4EchoRequest : kV6EchoRequest; }
std::uint8_t echoReplyType(IpFamily f) { return f == IpFamily::V4 ? kV4EchoReply : kV6EchoReply; }

// Reads the cookie if the payload starting at `at` is long enough and starts with our magic.
std::optional<Cookie> readCookie(std::span<const std::uint8_t> d, std::size_t at) {
  if (d.size() < at + kCookieSize || get32(d, at) != kMagic) {
    return std::nullopt;
  }
  return Cookie{get32(d, at + 4), get64(d, at + 8), get64(d, at + 16)};
}

// Skips an IPv4 header; returns the offset of its payload or an error. Also checks that the
// protocol is ICMP when `expect_icmp`.
Result<std::size_t> skipIpv4Header(std::span<const std::uint8_t> d, bool expect_icmp) {
  if (d.size() < 20) {
    return malformed("IPv4 header truncated (" + std::to_string(d.size()) + " bytes)");
  }
  if ((d[0] >> 4) != 4) {
    return malformed("IP version " + std::to_string(d[0] >> 4) + " in an IPv4 packet");
  }
  const std::size_t ihl = std::size_t{d[0] & 0x0fu} * 4;
  if (ihl < 20 || d.size() < ihl) {
    return malformed("IPv4 header length " + std::to_string(ihl) + " invalid");
  }
  if (expect_icmp && d[9] != kIpProtoIcmp) {
    return malformed("IPv4 protocol " + std::to_string(d[9]) + " is not ICMP");
  }
  return ihl;
}

}  // namespace

// RFC 1071 §4.1: sum 16-bit words in a wide accumulator, fold the carries, complement.
std::uint16_t internetChecksum(std::span<const std::uint8_t> data) {
  std::uint64_t sum = 0;
  std::size_t i = 0;
  for (; i + 1 < data.size(); i += 2) {
    sum += static_cast<std::uint64_t>((data[i] << 8) | data[i + 1]);
  }
  if (i < data.size()) {
    sum += static_cast<std::uint64_t>(data[i]) << 8;
  }
  while (sum >> 16) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

std::size_t encodeEchoRequest(IpFamily family, std::uint16_t ident, std::uint16_t seq,
                              const Cookie& cookie, std::size_t payload_size,
                              std::span<std::uint8_t> out) {
  PP_CHECK(payload_size >= kCookieSize && payload_size <= kMaxPayload);
  const std::size_t total = kHeaderSize + payload_size;
  PP_CHECK(out.size() >= total);
  out[0] = echoRequestType(family);
  out[1] = 0;
  put16(out, 2, 0);
  put16(out, 4, ident);
  put16(out, 6, seq);
  put32(out, 8, kMagic);
  put32(out, 12, cookie.stamp);
  put64(out, 16, cookie.nonce);
  put64(out, 24, cookie.sent_ns);
  // Fill like ping(8) does (incrementing bytes) so the payload is recognisable in captures.
  for (std::size_t i = kHeaderSize + kCookieSize; i < total; ++i) {
    out[i] = static_cast<std::uint8_t>(i);
  }
  // ICMPv4 checksum over the whole message (RFC 792). Ping sockets rewrite the identifier and
  // recompute it; raw sockets send it as is.
  if (family == IpFamily::V4) {
    put16(out, 2, internetChecksum(out.first(total)));
  }
  return total;
}

bool isErrorType(IpFamily family, std::uint8_t type) {
  if (family == IpFamily::V4) {
    return type == kV4DestUnreachable || type == kV4TimeExceeded ||
           type == kV4ParameterProblem || type == kV4Redirect;
  }
  return type == kV6DestUnreachable || type == kV6PacketTooBig || type == kV6TimeExceeded ||
         type == kV6ParameterProblem;
}

// Every length is checked before it is read: this parses whatever arrives on a raw socket,
// which anyone on the network can send to us.
Result<Message> parseMessage(IpFamily family, std::span<const std::uint8_t> data,
                             bool has_ip_header) {
  std::size_t at = 0;
  if (has_ip_header && family == IpFamily::V4) {
    auto skip = skipIpv4Header(data, true);
    if (!skip) {
      return fail(skip.error());
    }
    at = *skip;
  }
  auto d = data.subspan(at);
  if (d.size() < kHeaderSize) {
    return malformed("ICMP header truncated (" + std::to_string(d.size()) + " bytes)");
  }
  Message m;
  m.type = d[0];
  m.code = d[1];
  if (m.type == echoReplyType(family) || m.type == echoRequestType(family)) {
    m.kind = m.type == echoReplyType(family) ? MessageKind::EchoReply : MessageKind::EchoRequest;
    m.ident = get16(d, 4);
    m.seq = get16(d, 6);
    m.cookie = readCookie(d, kHeaderSize);
    return m;
  }
  if (!isErrorType(family, m.type)) {
    return m;  // Other
  }
  // An error quotes the offending packet after its 8-byte header: the IP header, then at least
  // 8 bytes of the original ICMP message (RFC 792; RFC 4443 §2.4(c) quotes as much as fits).
  auto quoted = d.subspan(kHeaderSize);
  std::size_t inner = 0;
  if (family == IpFamily::V4) {
    auto skip = skipIpv4Header(quoted, false);
    if (!skip) {
      return fail(skip.error().withContext("quoted packet"));
    }
    if (quoted[9] != kIpProtoIcmp) {
      return m;  // an error about some other protocol: not ours
    }
    m.quoted_dst = IpAddress::v4(quoted.data() + 16);
    inner = *skip;
  } else {
    if (quoted.size() < kIpv6HeaderSize) {
      return malformed("quoted IPv6 header truncated");
    }
    if (quoted[6] != kIpProtoIcmpv6) {
      return m;  // extension headers or another protocol: our echo requests carry none
    }
    m.quoted_dst = IpAddress::v6(quoted.data() + 24);
    inner = kIpv6HeaderSize;
  }
  auto orig = quoted.subspan(inner);
  if (orig.size() < kHeaderSize) {
    return malformed("quoted ICMP header truncated");
  }
  if (orig[0] != echoRequestType(family)) {
    return m;  // quotes something that is not an echo request
  }
  m.kind = MessageKind::Error;
  m.ident = get16(orig, 4);
  m.seq = get16(orig, 6);
  m.cookie = readCookie(orig, kHeaderSize);
  return m;
}

// Texts follow RFC 792 / RFC 1812 §5.2.7.1 (ICMPv4 unreachable codes) and RFC 4443 §3
// (ICMPv6), worded the way `ping` prints them, because operators read them in alerts.
std::string describeError(IpFamily family, std::uint8_t type, std::uint8_t code) {
  std::string text;
  std::string detail;
  if (family == IpFamily::V4) {
    static constexpr std::array<const char*, 16> kUnreach = {
        "network unreachable",      "host unreachable",
        "protocol unreachable",     "port unreachable",
        "fragmentation needed",     "source route failed",
        "network unknown",          "host unknown",
        "source host isolated",     "network prohibited",
        "host prohibited",          "network unreachable for TOS",
        "host unreachable for TOS", "communication administratively prohibited",
        "host precedence violation", "precedence cutoff"};
    switch (type) {
      case kV4DestUnreachable:
        text = "destination unreachable";
        detail = code < kUnreach.size() ? kUnreach[code] : "code " + std::to_string(code);
        break;
      case kV4TimeExceeded:
        text = "time exceeded";
        detail = code == 0 ? "TTL exceeded in transit" : "fragment reassembly time exceeded";
        break;
      case kV4ParameterProblem:
        text = "parameter problem";
        detail = "code " + std::to_string(code);
        break;
      case kV4Redirect:
        text = "redirect";
        detail = "code " + std::to_string(code);
        break;
      default:
        text = "ICMP type " + std::to_string(type);
        detail = "code " + std::to_string(code);
    }
  } else {
    static constexpr std::array<const char*, 8> kUnreach6 = {
        "no route to destination",
        "communication administratively prohibited",
        "beyond scope of source address",
        "address unreachable",
        "port unreachable",
        "source address failed ingress/egress policy",
        "reject route to destination",
        "error in source routing header"};
    switch (type) {
      case kV6DestUnreachable:
        text = "destination unreachable";
        detail = code < kUnreach6.size() ? kUnreach6[code] : "code " + std::to_string(code);
        break;
      case kV6PacketTooBig:
        text = "packet too big";
        detail = "code " + std::to_string(code);
        break;
      case kV6TimeExceeded:
        text = "time exceeded";
        detail = code == 0 ? "hop limit exceeded in transit" : "fragment reassembly time exceeded";
        break;
      case kV6ParameterProblem:
        text = "parameter problem";
        detail = "code " + std::to_string(code);
        break;
      default:
        text = "ICMPv6 type " + std::to_string(type);
        detail = "code " + std::to_string(code);
    }
  }
  return text + " (" + detail + ")";
}

}  // namespace pathpilot::probe::icmp
