// bfd/packet.cc — the control packet codec (RFC 5880 §4.1–§4.4, §6.8.6).
#include "bfd/packet.h"

#include <algorithm>
#include <string>

#include "base/check.h"

namespace pathpilot::bfd {
namespace {

// Flag bits of byte 1 (after the two State bits): P F C A D M.
constexpr std::uint8_t kPoll = 0x20;
constexpr std::uint8_t kFinal = 0x10;
constexpr std::uint8_t kCpi = 0x08;
constexpr std::uint8_t kAuth = 0x04;
constexpr std::uint8_t kDemand = 0x02;
constexpr std::uint8_t kMultipoint = 0x01;

// Auth Len per type (RFC 5880 §4.2–§4.4): type, len, key id [, reserved, sequence] + value.
constexpr std::size_t kPasswordAuthOverhead = 3;
constexpr std::size_t kKeyedAuthOverhead = 8;
constexpr std::size_t kMd5AuthLen = kKeyedAuthOverhead + kMd5DigestSize;    // 24
constexpr std::size_t kSha1AuthLen = kKeyedAuthOverhead + kSha1DigestSize;  // 28

std::uint32_t get32(std::span<const std::uint8_t> d, std::size_t at) {
  return (std::uint32_t{d[at]} << 24) | (std::uint32_t{d[at + 1]} << 16) |
         (std::uint32_t{d[at + 2]} << 8) | std::uint32_t{d[at + 3]};
}
void put32(std::span<std::uint8_t> d, std::size_t at, std::uint32_t v) {
  d[at] = static_cast<std::uint8_t>(v >> 24);
  d[at + 1] = static_cast<std::uint8_t>(v >> 16);
  d[at + 2] = static_cast<std::uint8_t>(v >> 8);
  d[at + 3] = static_cast<std::uint8_t>(v);
}

bool isKnownAuthType(std::uint8_t t) { return t >= 1 && t <= 5; }
bool isMd5(AuthType t) { return t == AuthType::KeyedMd5 || t == AuthType::MeticulousKeyedMd5; }

tl::unexpected<DecodeError> reject(DropReason reason, std::uint32_t value,
                                   std::uint32_t limit = 0) {
  return tl::unexpected<DecodeError>(DecodeError{reason, value, limit});
}

}  // namespace

std::string_view dropReasonName(DropReason reason) {
  switch (reason) {
    case DropReason::Truncated:
      return "truncated";
    case DropReason::Version:
      return "version";
    case DropReason::Length:
      return "length";
    case DropReason::DetectMult:
      return "detect_mult";
    case DropReason::Multipoint:
      return "multipoint";
    case DropReason::MyDiscriminator:
      return "my_discriminator";
    case DropReason::YourDiscriminator:
      return "your_discriminator";
    case DropReason::AuthType:
      return "auth_type";
    case DropReason::AuthLength:
      return "auth_length";
    case DropReason::Ttl:
      return "ttl";
    case DropReason::WrongSession:
      return "wrong_session";
    case DropReason::AuthUnexpected:
      return "auth_unexpected";
    case DropReason::AuthMissing:
      return "auth_missing";
    case DropReason::AuthKeyId:
      return "auth_key_id";
    case DropReason::AuthPassword:
      return "auth_password";
    case DropReason::AuthDigest:
      return "auth_digest";
    case DropReason::AuthSequence:
      return "auth_sequence";
    case DropReason::AdminDown:
      return "admin_down";
  }
  return "unknown";
}

std::string_view stateName(State state) {
  switch (state) {
    case State::AdminDown:
      return "AdminDown";
    case State::Down:
      return "Down";
    case State::Init:
      return "Init";
    case State::Up:
      return "Up";
  }
  return "unknown";
}

std::string_view diagName(Diag diag) {
  switch (diag) {
    case Diag::None:
      return "No Diagnostic";
    case Diag::ControlDetectionTimeExpired:
      return "Control Detection Time Expired";
    case Diag::EchoFunctionFailed:
      return "Echo Function Failed";
    case Diag::NeighborSignaledDown:
      return "Neighbor Signaled Session Down";
    case Diag::ForwardingPlaneReset:
      return "Forwarding Plane Reset";
    case Diag::PathDown:
      return "Path Down";
    case Diag::ConcatenatedPathDown:
      return "Concatenated Path Down";
    case Diag::AdministrativelyDown:
      return "Administratively Down";
    case Diag::ReverseConcatenatedPathDown:
      return "Reverse Concatenated Path Down";
  }
  return "Reserved";
}

std::string_view authTypeName(AuthType type) {
  switch (type) {
    case AuthType::SimplePassword:
      return "Simple Password";
    case AuthType::KeyedMd5:
      return "Keyed MD5";
    case AuthType::MeticulousKeyedMd5:
      return "Meticulous Keyed MD5";
    case AuthType::KeyedSha1:
      return "Keyed SHA1";
    case AuthType::MeticulousKeyedSha1:
      return "Meticulous Keyed SHA1";
  }
  return "Reserved";
}

bool AuthSection::operator==(const AuthSection& o) const {
  if (type != o.type || key_id != o.key_id || sequence != o.sequence ||
      value_size != o.value_size) {
    return false;
  }
  const auto a = valueBytes();
  const auto b = o.valueBytes();
  return std::equal(a.begin(), a.end(), b.begin());
}

std::string DecodeError::message() const {
  const std::string v = std::to_string(value);
  const std::string l = std::to_string(limit);
  std::string what;
  switch (reason) {
    case DropReason::Truncated:
      // limit 0: the payload ended before the Length field; otherwise `limit` is the Length read.
      what = limit == 0 ? "payload is " + v + " bytes, too short for the Length field"
                        : "Length is " + l + ", beyond the " + v + "-byte payload";
      break;
    case DropReason::Version:
      what = "Version is " + v + ", expected 1";
      break;
    case DropReason::Length:
      // One reason for two rules, the minimum and the exact size (24, or 24 + Auth Len); a value
      // below `limit` is worded as the minimum.
      what = "Length is " + v + (value < limit ? ", below the minimum of " : ", expected ") + l;
      break;
    case DropReason::DetectMult:
      what = "Detect Mult is 0, must be nonzero";
      break;
    case DropReason::Multipoint:
      what = "Multipoint (M) bit is set, must be clear";
      break;
    case DropReason::MyDiscriminator:
      what = "My Discriminator is 0, must be nonzero";
      break;
    case DropReason::YourDiscriminator:
      // `value` holds the State here (decode() puts it there), the discriminator being 0.
      what = "Your Discriminator is 0 while State is " +
             std::string(stateName(static_cast<State>(value & 3))) +
             ", allowed only in Down or AdminDown";
      break;
    case DropReason::AuthType:
      what = "Auth Type is " + v + ", not a known type (1..5)";
      break;
    case DropReason::AuthLength:
      what = "Auth Len is " + v + ", not valid for Auth Type " + l;
      break;
    default:
      what = std::string(dropReasonName(reason)) + " check failed (" + v + ")";
      break;
  }
  return "BFD control packet: " + what;
}

Error DecodeError::toError() const { return Error(ErrorCode::InvalidArgument, message()); }

// Every read below is preceded by a size check; the span is never read past `length`, and
// `length` is never past the span.
tl::expected<ControlPacket, DecodeError> decode(std::span<const std::uint8_t> payload) {
  if (payload.empty()) {
    return reject(DropReason::Truncated, 0);
  }
  // RFC 5880 §6.8.6, in the order given there.
  const std::uint8_t version = static_cast<std::uint8_t>(payload[0] >> 5);
  if (version != kVersion) {
    return reject(DropReason::Version, version);
  }
  // Length is byte 3. Checked after the version, which needs only byte 0, so a short packet of
  // another version is a Version drop, as in the RFC's order.
  if (payload.size() < 4) {
    return reject(DropReason::Truncated, static_cast<std::uint32_t>(payload.size()));
  }
  const std::uint8_t flags = payload[1];
  const bool a_bit = (flags & kAuth) != 0;
  const std::size_t length = payload[3];
  if (length < (a_bit ? kMinAuthPacketSize : kHeaderSize)) {
    return reject(DropReason::Length, static_cast<std::uint32_t>(length),
                  static_cast<std::uint32_t>(a_bit ? kMinAuthPacketSize : kHeaderSize));
  }
  if (length > payload.size()) {
    return reject(DropReason::Truncated, static_cast<std::uint32_t>(payload.size()),
                  static_cast<std::uint32_t>(length));
  }
  // Only `d` is read from here on: bytes past Length are UDP padding (§6.8.6), and Length >= 24
  // keeps every header field below inside it.
  const auto d = payload.first(length);

  ControlPacket p;
  p.diag = static_cast<Diag>(d[0] & 0x1f);
  p.state = static_cast<State>(flags >> 6);
  p.poll = (flags & kPoll) != 0;
  p.final = (flags & kFinal) != 0;
  p.control_plane_independent = (flags & kCpi) != 0;
  p.demand = (flags & kDemand) != 0;
  p.multipoint = (flags & kMultipoint) != 0;
  p.detect_mult = d[2];
  p.my_discriminator = get32(d, 4);
  p.your_discriminator = get32(d, 8);
  p.desired_min_tx_us = get32(d, 12);
  p.required_min_rx_us = get32(d, 16);
  p.required_min_echo_rx_us = get32(d, 20);

  if (p.detect_mult == 0) {
    return reject(DropReason::DetectMult, 0);
  }
  if (p.multipoint) {
    return reject(DropReason::Multipoint, 1);
  }
  if (p.my_discriminator == 0) {
    return reject(DropReason::MyDiscriminator, 0);
  }
  if (p.your_discriminator == 0 && p.state != State::Down && p.state != State::AdminDown) {
    return reject(DropReason::YourDiscriminator, static_cast<std::uint32_t>(p.state));
  }

  if (!a_bit) {
    // The packet is the header alone (§4.1, "Length": header plus any authentication
    // section); a longer Length names bytes no field covers.
    if (length != kHeaderSize) {
      return reject(DropReason::Length, static_cast<std::uint32_t>(length), kHeaderSize);
    }
    return p;
  }

  // Authentication section (§4.2–§4.4): type and length consistent with each other and with
  // the packet's Length.
  // With the A bit, Length >= 26 was required above, so Auth Type and Auth Len lie inside `d`.
  const std::uint8_t type = d[24];
  const std::size_t auth_len = d[25];
  if (!isKnownAuthType(type)) {
    return reject(DropReason::AuthType, type);
  }
  AuthSection auth;
  auth.type = static_cast<AuthType>(type);
  std::size_t value_at = 0;
  std::size_t value_size = 0;
  if (auth.type == AuthType::SimplePassword) {
    if (auth_len < kPasswordAuthOverhead + 1 ||
        auth_len > kPasswordAuthOverhead + kMaxPasswordSize) {
      return reject(DropReason::AuthLength, static_cast<std::uint32_t>(auth_len), type);
    }
    value_at = kHeaderSize + kPasswordAuthOverhead;
    value_size = auth_len - kPasswordAuthOverhead;
  } else {
    const std::size_t want = isMd5(auth.type) ? kMd5AuthLen : kSha1AuthLen;
    if (auth_len != want) {
      return reject(DropReason::AuthLength, static_cast<std::uint32_t>(auth_len), type);
    }
    value_at = kHeaderSize + kKeyedAuthOverhead;
    value_size = auth_len - kKeyedAuthOverhead;
  }
  // Auth Len was bounded first (4..19, 24 or 28), so the value copied below fits `auth.value`;
  // this check then keeps Key ID, Sequence Number and the value inside `d`.
  if (length != kHeaderSize + auth_len) {
    return reject(DropReason::Length, static_cast<std::uint32_t>(length),
                  static_cast<std::uint32_t>(kHeaderSize + auth_len));
  }
  auth.key_id = d[26];
  if (auth.type != AuthType::SimplePassword) {
    auth.sequence = get32(d, 28);
  }
  for (std::size_t i = 0; i < value_size; ++i) {
    auth.value[i] = d[value_at + i];
  }
  auth.value_size = static_cast<std::uint8_t>(value_size);
  p.auth = auth;
  return p;
}

std::size_t encodedSize(const ControlPacket& packet) {
  if (!packet.auth) {
    return kHeaderSize;
  }
  switch (packet.auth->type) {
    case AuthType::SimplePassword:
      return kHeaderSize + kPasswordAuthOverhead + packet.auth->value_size;
    case AuthType::KeyedMd5:
    case AuthType::MeticulousKeyedMd5:
      return kHeaderSize + kMd5AuthLen;
    case AuthType::KeyedSha1:
    case AuthType::MeticulousKeyedSha1:
      return kHeaderSize + kSha1AuthLen;
  }
  // Reached only with an AuthType cast from a reserved value (0 or 6..255).
  PP_CHECK_MSG(false, "unknown auth type");
  return kHeaderSize;
}

std::size_t encode(const ControlPacket& p, std::span<std::uint8_t> out) {
  const std::size_t size = encodedSize(p);
  PP_CHECK(out.size() >= size);
  auto d = out.first(size);
  d[0] = static_cast<std::uint8_t>((kVersion << 5) | (static_cast<std::uint8_t>(p.diag) & 0x1f));
  std::uint8_t flags = static_cast<std::uint8_t>((static_cast<std::uint8_t>(p.state) & 3) << 6);
  if (p.poll) flags |= kPoll;
  if (p.final) flags |= kFinal;
  if (p.control_plane_independent) flags |= kCpi;
  if (p.auth) flags |= kAuth;
  if (p.demand) flags |= kDemand;
  if (p.multipoint) flags |= kMultipoint;
  d[1] = flags;
  d[2] = p.detect_mult;
  d[3] = static_cast<std::uint8_t>(size);
  put32(d, 4, p.my_discriminator);
  put32(d, 8, p.your_discriminator);
  put32(d, 12, p.desired_min_tx_us);
  put32(d, 16, p.required_min_rx_us);
  put32(d, 20, p.required_min_echo_rx_us);
  if (!p.auth) {
    return size;
  }
  const AuthSection& a = *p.auth;
  d[24] = static_cast<std::uint8_t>(a.type);
  // Auth Len comes from the same size as Length, so Length = 24 + Auth Len holds as decode()
  // requires.
  d[25] = static_cast<std::uint8_t>(size - kHeaderSize);
  d[26] = a.key_id;
  std::size_t value_at = 0;
  std::size_t value_size = 0;
  if (a.type == AuthType::SimplePassword) {
    PP_CHECK(a.value_size >= 1 && a.value_size <= kMaxPasswordSize);
    value_at = kHeaderSize + kPasswordAuthOverhead;
    value_size = a.value_size;
  } else {
    value_size = isMd5(a.type) ? kMd5DigestSize : kSha1DigestSize;
    PP_CHECK(a.value_size == 0 || a.value_size == value_size);
    d[27] = 0;  // Reserved
    put32(d, 28, a.sequence);
    value_at = kHeaderSize + kKeyedAuthOverhead;
  }
  for (std::size_t i = 0; i < value_size; ++i) {
    d[value_at + i] = i < a.value_size ? a.value[i] : 0;
  }
  return size;
}

}  // namespace pathpilot::bfd
