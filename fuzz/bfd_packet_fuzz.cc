// Fuzz target for the BFD control packet decoder (bfd/packet.h) and what sits right behind it:
// the bytes anyone can send to UDP 3784/4784. Any input is a packet or a DecodeError naming
// the field, never a crash; a decoded packet encodes and decodes to itself; authentication
// (SHA1 and password) and a session's reception procedure take it without trouble.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "bfd/auth.h"
#include "bfd/packet.h"
#include "bfd/session.h"

namespace {

pathpilot::bfd::Session makeSession(std::optional<pathpilot::bfd::AuthKey> key) {
  pathpilot::bfd::SessionConfig c;
  c.local_discriminator = 0x01020304;
  c.auth = std::move(key);
  auto s = pathpilot::bfd::Session::create(
      c, [] { return 0x9e3779b9u; }, pathpilot::MonoTime());
  if (!s) {
    std::abort();
  }
  return std::move(*s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pathpilot::bfd;
  std::span<const std::uint8_t> bytes(data, size);
  auto p = decode(bytes);
  if (!p) {
    if (p.error().message().rfind("BFD control packet: ", 0) != 0 ||
        static_cast<std::size_t>(p.error().reason) >= kDropReasonCount) {
      std::abort();
    }
  } else {
    std::uint8_t out[kMaxPacketSize];
    const std::size_t n = encode(*p, out);
    if (n > size) {
      std::abort();
    }
    auto again = decode(std::span<const std::uint8_t>(out, n));
    if (!again || !(*again == *p)) {
      std::abort();
    }
    (void)verify(bytes, *p, AuthKey{AuthType::MeticulousKeyedSha1, 1, "fuzz-key"});
    (void)verify(bytes, *p, AuthKey{AuthType::SimplePassword, 1, "fuzz"});
  }
  // The same bytes through whole sessions (no auth, and Meticulous Keyed SHA1).
  static Session plain = makeSession(std::nullopt);
  static Session sha1 = makeSession(AuthKey{AuthType::MeticulousKeyedSha1, 1, "fuzz-key"});
  static pathpilot::MonoTime now;
  now += std::chrono::milliseconds(size);
  for (Session* s : {&plain, &sha1}) {
    Step st = s->onPacket(bytes, now);
    if (st.next_deadline && *st.next_deadline <= now) {
      (void)s->tick(now);
    }
    if (st.transmit && !decode(st.transmit->data())) {
      std::abort();  // what we send must be a valid packet
    }
  }
  return 0;
}
