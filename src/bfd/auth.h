// bfd/auth.h — BFD authentication (RFC 5880 §6.7): keys, signing, verification (pure).
//
// Purpose: the per-packet half of BFD authentication. Simple Password (§6.7.2), Keyed MD5 and
// Meticulous Keyed MD5 (§6.7.3), Keyed SHA1 and Meticulous Keyed SHA1 (§6.7.4). A keyed digest
// is computed over the whole packet with the Auth Key/Digest field holding the key padded
// with zero bytes to 16 (MD5) or 20 (SHA1) bytes; the digest then replaces the key. MD5 and
// SHA1 come from OpenSSL's libcrypto; digests are compared in constant time.
//
// The sequence-number half (bfd.RcvAuthSeq, bfd.AuthSeqKnown, bfd.XmitAuthSeq) is session
// state and lives in bfd::Session; sequenceInWindow() is its rule: Keyed types accept
// RcvAuthSeq .. RcvAuthSeq + 3 * Detect Mult, Meticulous types RcvAuthSeq + 1 .. RcvAuthSeq +
// 3 * Detect Mult (strictly increasing), both in 32-bit circular arithmetic; Detect Mult is
// the one in the received packet.
//
// One key per session (RFC 5880 allows several key IDs; rollover is not supported yet).
// Secrets never appear in error messages.
//
// Cost: one MD5/SHA1 over at most 52 bytes per sign() or verify(); no allocation.
// Threading: stateless functions. Metrics: none.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "base/error.h"
#include "bfd/packet.h"

namespace pathpilot::bfd {

struct AuthKey {
  AuthType type = AuthType::MeticulousKeyedSha1;
  std::uint8_t key_id = 0;
  // The password or key as bytes: Simple Password 1..16 bytes, MD5 types 1..16, SHA1 types
  // 1..20 (RFC 5880 §6.7.2–§6.7.4).
  std::string secret;
};

// InvalidArgument naming the rule (never the secret) when the key does not fit its type.
[[nodiscard]] Result<void> validateAuthKey(const AuthKey& key);

// True for the four keyed types (they carry a sequence number and a digest).
bool isKeyed(AuthType type);
// True for Meticulous Keyed MD5 and Meticulous Keyed SHA1 (sequence incremented every packet).
bool isMeticulous(AuthType type);

// The authentication section a packet sent under `key` carries: type and key ID, the
// password for Simple Password, the sequence number for keyed types (digest left for sign()).
AuthSection authSectionFor(const AuthKey& key, std::uint32_t sequence);

// Signs an encoded packet in place: for keyed types computes the digest over `packet_bytes`
// and stores it in the Auth Key/Digest field; Simple Password needs nothing. Requires:
// packet_bytes is exactly one packet as encode() wrote it, with an authentication section of
// key.type, and validateAuthKey(key) succeeded.
void sign(std::span<std::uint8_t> packet_bytes, const AuthKey& key);

// Checks a decoded packet's authentication against `key` (§6.7.2–§6.7.4, everything but the
// sequence number). `packet_bytes` are the bytes `packet` was decoded from (at least its
// Length). Returns the reason to discard it, or nullopt when it is authentic. Packets without
// an authentication section give AuthMissing.
std::optional<DropReason> verify(std::span<const std::uint8_t> packet_bytes,
                                 const ControlPacket& packet, const AuthKey& key);

// The sequence-number window of §6.7.3/§6.7.4 (see above).
bool sequenceInWindow(AuthType type, std::uint32_t last_received, std::uint32_t sequence,
                      std::uint8_t detect_mult);

}  // namespace pathpilot::bfd
