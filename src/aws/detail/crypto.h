// aws/detail/crypto.h — SHA-256 and HMAC-SHA256 through OpenSSL, for SigV4 (module-private).
#pragma once

#include <string>
#include <string_view>

namespace pathpilot::aws::detail {

// Raw 32-byte SHA-256 digest of `data`.
std::string sha256(std::string_view data);
// Lowercase hex SHA-256 of `data` (64 characters).
std::string sha256Hex(std::string_view data);
// Raw 32-byte HMAC-SHA256 of `data` under `key`.
std::string hmacSha256(std::string_view key, std::string_view data);
// Lowercase hex of arbitrary bytes.
std::string toHex(std::string_view bytes);
// Constant-time comparison of two equal-length strings (signature checks).
bool constantTimeEquals(std::string_view a, std::string_view b);

}  // namespace pathpilot::aws::detail
