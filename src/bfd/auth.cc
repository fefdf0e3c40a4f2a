// bfd/auth.cc — RFC 5880 §6.7 with OpenSSL's libcrypto for MD5 and SHA1.
#include "bfd/auth.h"

#include <array>
#include <string>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base/check.h"

namespace pathpilot::bfd {
namespace {

constexpr std::size_t kDigestAt = kHeaderSize + 8;  // type, len, key id, reserved, sequence

bool isMd5(AuthType t) { return t == AuthType::KeyedMd5 || t == AuthType::MeticulousKeyedMd5; }

std::size_t digestSize(AuthType t) { return isMd5(t) ? kMd5DigestSize : kSha1DigestSize; }

std::size_t maxSecret(AuthType t) {
  return t == AuthType::SimplePassword ? kMaxPasswordSize : digestSize(t);
}

// The digest of `bytes` with the key (zero-padded) in the digest field. `bytes` is a copy the
// caller owns; its digest field is overwritten. Returns false if libcrypto fails (it does not
// for MD5/SHA1 on a working installation; a failure then rejects the packet rather than
// accept it).
bool digestWithKey(std::span<std::uint8_t> bytes, const AuthKey& key,
                   std::array<std::uint8_t, EVP_MAX_MD_SIZE>& md) {
  const std::size_t n = digestSize(key.type);
  for (std::size_t i = 0; i < n; ++i) {
    bytes[kDigestAt + i] = i < key.secret.size() ? static_cast<std::uint8_t>(key.secret[i]) : 0;
  }
  unsigned int md_len = 0;
  const EVP_MD* algo = isMd5(key.type) ? EVP_md5() : EVP_sha1();
  if (algo == nullptr ||
      EVP_Digest(bytes.data(), bytes.size(), md.data(), &md_len, algo, nullptr) != 1) {
    return false;
  }
  return md_len == n;
}

}  // namespace

bool isKeyed(AuthType type) { return type != AuthType::SimplePassword; }

bool isMeticulous(AuthType type) {
  return type == AuthType::MeticulousKeyedMd5 || type == AuthType::MeticulousKeyedSha1;
}

Result<void> validateAuthKey(const AuthKey& key) {
  const auto t = static_cast<std::uint8_t>(key.type);
  if (t < 1 || t > 5) {
    return fail(ErrorCode::InvalidArgument,
                "BFD authentication: unknown type " + std::to_string(t));
  }
  const std::size_t max = maxSecret(key.type);
  if (key.secret.empty() || key.secret.size() > max) {
    return fail(ErrorCode::InvalidArgument,
                "BFD authentication: the " + std::string(authTypeName(key.type)) +
                    (key.type == AuthType::SimplePassword ? " password" : " key") +
                    " must be 1 to " + std::to_string(max) + " bytes, got " +
                    std::to_string(key.secret.size()));
  }
  return ok();
}

AuthSection authSectionFor(const AuthKey& key, std::uint32_t sequence) {
  AuthSection a;
  a.type = key.type;
  a.key_id = key.key_id;
  if (key.type == AuthType::SimplePassword) {
    PP_CHECK(!key.secret.empty() && key.secret.size() <= kMaxPasswordSize);
    for (std::size_t i = 0; i < key.secret.size(); ++i) {
      a.value[i] = static_cast<std::uint8_t>(key.secret[i]);
    }
    a.value_size = static_cast<std::uint8_t>(key.secret.size());
  } else {
    a.sequence = sequence;
    a.value_size = 0;  // written as zeros, filled by sign()
  }
  return a;
}

void sign(std::span<std::uint8_t> packet_bytes, const AuthKey& key) {
  if (!isKeyed(key.type)) {
    return;
  }
  const std::size_t n = digestSize(key.type);
  PP_CHECK(packet_bytes.size() == kDigestAt + n);
  PP_CHECK(packet_bytes[kHeaderSize] == static_cast<std::uint8_t>(key.type));
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> md{};
  PP_CHECK_MSG(digestWithKey(packet_bytes, key, md), "libcrypto MD5/SHA1 failed");
  for (std::size_t i = 0; i < n; ++i) {
    packet_bytes[kDigestAt + i] = md[i];
  }
}

std::optional<DropReason> verify(std::span<const std::uint8_t> packet_bytes,
                                 const ControlPacket& packet, const AuthKey& key) {
  if (!packet.auth) {
    return DropReason::AuthMissing;
  }
  const AuthSection& a = *packet.auth;
  if (a.type != key.type) {
    return DropReason::AuthType;
  }
  if (a.key_id != key.key_id) {
    return DropReason::AuthKeyId;
  }
  if (key.type == AuthType::SimplePassword) {
    // §6.7.2: Auth Len must be the selected password's length plus three.
    if (a.value_size != key.secret.size()) {
      return DropReason::AuthLength;
    }
    if (CRYPTO_memcmp(a.value.data(), key.secret.data(), key.secret.size()) != 0) {
      return DropReason::AuthPassword;
    }
    return std::nullopt;
  }
  // Keyed types: the decoder has checked Auth Len (24 / 28) and that the packet ends with the
  // section, so the packet is exactly kDigestAt + digest bytes.
  const std::size_t n = digestSize(key.type);
  const std::size_t size = kDigestAt + n;
  if (packet_bytes.size() < size || a.value_size != n) {
    return DropReason::AuthLength;
  }
  std::array<std::uint8_t, kMaxPacketSize> copy{};
  for (std::size_t i = 0; i < size; ++i) {
    copy[i] = packet_bytes[i];
  }
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> md{};
  if (!digestWithKey(std::span<std::uint8_t>(copy.data(), size), key, md)) {
    return DropReason::AuthDigest;
  }
  if (CRYPTO_memcmp(md.data(), a.value.data(), n) != 0) {
    return DropReason::AuthDigest;
  }
  return std::nullopt;
}

bool sequenceInWindow(AuthType type, std::uint32_t last_received, std::uint32_t sequence,
                      std::uint8_t detect_mult) {
  // Circular: the distance from the last accepted number, modulo 2^32.
  const std::uint32_t ahead = sequence - last_received;
  const std::uint32_t window = 3u * detect_mult;
  if (isMeticulous(type)) {
    return ahead >= 1 && ahead <= window;
  }
  return ahead <= window;
}

}  // namespace pathpilot::bfd
