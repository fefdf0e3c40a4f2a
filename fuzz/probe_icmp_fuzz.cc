// Fuzz target for the ICMP message parser (probe/icmp_codec.h): it reads whatever arrives on a
// raw ICMP socket, i.e. bytes anyone can send us. First input byte selects the variant:
// bit 0 = IPv6, bit 1 = input starts with an IPv4 header (raw IPv4 sockets).
#include <cstddef>
#include <cstdint>
#include <span>

#include "base/check.h"
#include "probe/icmp_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pathpilot;
  if (size < 1) {
    return 0;
  }
  const IpFamily family = (data[0] & 1) ? IpFamily::V6 : IpFamily::V4;
  const bool has_ip_header = (data[0] & 2) != 0;
  std::span<const std::uint8_t> bytes(data + 1, size - 1);
  auto m = probe::icmp::parseMessage(family, bytes, has_ip_header);
  if (m) {
    // Whatever parses must describe itself without trouble, and a parsed echo must re-encode
    // into a request that parses back to the same identifier, sequence and cookie.
    (void)probe::icmp::describeError(family, m->type, m->code);
    if (m->kind == probe::icmp::MessageKind::EchoReply && m->cookie) {
      std::uint8_t out[probe::icmp::kHeaderSize + probe::icmp::kCookieSize];
      const std::size_t n = probe::icmp::encodeEchoRequest(family, m->ident, m->seq, *m->cookie,
                                                           probe::icmp::kCookieSize, out);
      auto back = probe::icmp::parseMessage(family, std::span<const std::uint8_t>(out, n), false);
      PP_CHECK(back && back->ident == m->ident && back->seq == m->seq && back->cookie == m->cookie);
    }
  }
  return 0;
}
