// bfd/packet.h — BFD control packets (RFC 5880 §4): types, decoder and encoder (pure).
//
// Purpose: turn the UDP payload of a BFD control packet into plain fields and back. The
// decoder applies every reception check of RFC 5880 §6.8.6 that the packet can be judged on by
// itself, in the RFC's order, and then the consistency of the authentication section
// (§4.2–§4.4):
//   version 1; Length at least 24 (26 with the A bit); Length not beyond the payload; Detect
//   Mult nonzero; Multipoint bit clear; My Discriminator nonzero; Your Discriminator nonzero
//   unless the State is Down or AdminDown; with the A bit, a known Auth Type whose Auth Len
//   fits it (Simple Password 4..19, Keyed MD5 types 24, Keyed SHA1 types 28) and fills the
//   packet exactly (Length = 24 + Auth Len); without it, Length exactly 24 (there is nothing
//   else a longer packet could carry).
// Bytes after Length (padding in the UDP payload) are ignored, as §6.8.6 allows. The checks
// that need a session (which session, authentication in use or not, the key, the sequence
// number) are the session's (bfd/session.h) and bfd/auth.h's.
//
// A rejected packet yields a DecodeError: a DropReason (a closed set, for counters) and the
// offending value, and message() names the field ("BFD control packet: Detect Mult is 0, must
// be nonzero"). Truncated or hostile input is an error, never a crash and never a read past
// the span.
//
// The encoder writes the fields as given, including the authentication section verbatim: a
// digest is filled in afterwards by bfd::sign() (bfd/auth.h), since it covers the whole packet.
//
// Single hop (RFC 5881) and multihop (RFC 5883) use the same packet; their UDP ports and TTL
// rules are the constants below, applied by the session (TTL) and the socket driver (ports).
//
// Cost: decode and encode are O(packet) (at most 52 bytes used), no allocation.
// Threading: stateless functions and value types.
// Metrics: none (the session counts drops by DropReason).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "base/error.h"

namespace pathpilot::bfd {

// UDP destination ports: RFC 5881 §4 (single hop control, echo), RFC 5883 §5 (multihop).
inline constexpr std::uint16_t kSingleHopPort = 3784;
inline constexpr std::uint16_t kEchoPort = 3785;
inline constexpr std::uint16_t kMultihopPort = 4784;
// RFC 5881 §4: the source port of a session is in 49152..65535.
inline constexpr std::uint16_t kSourcePortMin = 49152;
// RFC 5881 §5: single-hop packets are sent with TTL / Hop Limit 255 and, without
// authentication, must arrive with 255 (nobody more than one hop away can forge them).
inline constexpr std::uint8_t kSingleHopTtl = 255;

inline constexpr std::uint8_t kVersion = 1;
inline constexpr std::size_t kHeaderSize = 24;
inline constexpr std::size_t kMinAuthPacketSize = 26;
inline constexpr std::size_t kMaxPasswordSize = 16;
inline constexpr std::size_t kMd5DigestSize = 16;
inline constexpr std::size_t kSha1DigestSize = 20;
// Header plus the longest authentication section (Keyed SHA1: 28 bytes).
inline constexpr std::size_t kMaxPacketSize = kHeaderSize + 28;

// Session state (RFC 5880 §4.1, "Sta").
enum class State : std::uint8_t { AdminDown = 0, Down = 1, Init = 2, Up = 3 };

// Diagnostic codes (RFC 5880 §4.1). 9..31 are reserved: decoded as they come, never sent.
enum class Diag : std::uint8_t {
  None = 0,
  ControlDetectionTimeExpired = 1,
  EchoFunctionFailed = 2,
  NeighborSignaledDown = 3,
  ForwardingPlaneReset = 4,
  PathDown = 5,
  ConcatenatedPathDown = 6,
  AdministrativelyDown = 7,
  ReverseConcatenatedPathDown = 8,
};

// Authentication types (RFC 5880 §4.1, "Auth Type"); 0 and 6..255 are reserved.
enum class AuthType : std::uint8_t {
  SimplePassword = 1,
  KeyedMd5 = 2,
  MeticulousKeyedMd5 = 3,
  KeyedSha1 = 4,
  MeticulousKeyedSha1 = 5,
};

// The authentication section (RFC 5880 §4.2–§4.4).
struct AuthSection {
  AuthType type = AuthType::SimplePassword;
  std::uint8_t key_id = 0;
  // Keyed MD5/SHA1 types only (the Reserved byte is 0 on send and ignored on receipt).
  std::uint32_t sequence = 0;
  // Simple Password: the password (1..16 bytes). Keyed types: the digest (16 or 20 bytes).
  std::array<std::uint8_t, kSha1DigestSize> value{};
  std::uint8_t value_size = 0;

  std::span<const std::uint8_t> valueBytes() const { return {value.data(), value_size}; }
  // Equal fields; of `value`, only the first value_size bytes count.
  bool operator==(const AuthSection& o) const;
};

struct ControlPacket {
  Diag diag = Diag::None;
  State state = State::Down;
  bool poll = false;                       // P
  bool final = false;                      // F
  bool control_plane_independent = false;  // C
  bool demand = false;                     // D
  bool multipoint = false;                 // M (always rejected by the decoder)
  std::uint8_t detect_mult = 0;
  std::uint32_t my_discriminator = 0;
  std::uint32_t your_discriminator = 0;
  // Intervals as carried: microseconds.
  std::uint32_t desired_min_tx_us = 0;
  std::uint32_t required_min_rx_us = 0;
  std::uint32_t required_min_echo_rx_us = 0;
  // Present exactly when the A bit is set.
  std::optional<AuthSection> auth;

  bool operator==(const ControlPacket&) const = default;
};

// Why a packet was discarded. The first group is the decoder's (the packet alone), the second
// the session's (the packet against the session), in the order RFC 5880 §6.8.6 checks them.
enum class DropReason : std::uint8_t {
  Truncated,          // shorter than 4 bytes, or than its Length field (§6.8.6)
  Version,            // version is not 1
  Length,             // Length below 24 (26 with A), or not 24 + Auth Len
  DetectMult,         // Detect Mult is 0
  Multipoint,         // M bit set
  MyDiscriminator,    // My Discriminator is 0
  YourDiscriminator,  // Your Discriminator 0 while State is Init or Up
  AuthType,           // unknown Auth Type (decoder), or not the session's type (session)
  AuthLength,         // Auth Len does not fit the Auth Type, or not the configured password's
  // Session checks.
  Ttl,             // TTL / Hop Limit below what single hop (255) or multihop (min TTL) allow
  WrongSession,    // Your Discriminator is not this session's discriminator
  AuthUnexpected,  // A bit set, no authentication in use
  AuthMissing,     // A bit clear, authentication in use
  AuthKeyId,       // Auth Key ID is not the configured key's
  AuthPassword,    // Simple Password differs
  AuthDigest,      // MD5 / SHA1 digest does not match
  AuthSequence,    // sequence number outside the accepted window (replay)
  AdminDown,       // the local session is AdminDown: packets are discarded (§6.8.6)
};
inline constexpr std::size_t kDropReasonCount = static_cast<std::size_t>(DropReason::AdminDown) + 1;

// Stable lowercase names for counters and logs: "truncated", "your_discriminator", ...
std::string_view dropReasonName(DropReason reason);
// "AdminDown", "Down", "Init", "Up".
std::string_view stateName(State state);
// RFC 5880 §4.1 text: "No Diagnostic", "Control Detection Time Expired", ...; reserved codes
// read "Reserved".
std::string_view diagName(Diag diag);
// "Simple Password", "Keyed MD5", ..., "Meticulous Keyed SHA1"; unknown types "Reserved".
std::string_view authTypeName(AuthType type);

// A rejected packet: the reason and the value of the field that failed it.
struct DecodeError {
  DropReason reason = DropReason::Truncated;
  std::uint32_t value = 0;  // the offending field (the payload size for Truncated)
  std::uint32_t limit = 0;  // what it was compared with, where there is one

  // "BFD control packet: <field> is <value>, <rule>".
  std::string message() const;
  // The same as an InvalidArgument Error.
  Error toError() const;
};

// Decodes one control packet from a UDP payload. Errors as described above.
[[nodiscard]] tl::expected<ControlPacket, DecodeError> decode(
    std::span<const std::uint8_t> payload);

// Bytes the encoded packet takes: 24, plus 3 + password for Simple Password, 24 (MD5) or 28
// (SHA1) for the keyed types.
std::size_t encodedSize(const ControlPacket& packet);

// Writes `packet` (version 1, Length = encodedSize) into `out` and returns its size. The A bit
// is set exactly when packet.auth is present; its section is written as given (a keyed
// digest is sign()ed afterwards). Requires: out.size() >= encodedSize(packet); for Simple
// Password 1 <= value_size <= 16, for keyed types value_size is 16 (MD5) or 20 (SHA1) or 0
// (digest to be signed, written as zeros).
std::size_t encode(const ControlPacket& packet, std::span<std::uint8_t> out);

}  // namespace pathpilot::bfd
