// base/base64.h — standard base64 (RFC 4648 §4, with padding), on libcrypto's EVP coder.
//
// Purpose: the one encoder for every text protocol pathpilot speaks that carries bytes as
// base64: MIME parts and chat-robot signatures (alert/), and etcd's JSON gateway, where every
// key and value is base64 (ha/).
// Threading: pure functions. Metrics: none.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pathpilot {

// `data` as base64 with '=' padding, no line breaks.
std::string base64Encode(std::string_view data);

// The bytes `text` encodes, or nullopt when it is not padded base64 (length not a multiple of
// four, a character outside the alphabet, padding in the middle).
std::optional<std::string> base64Decode(std::string_view text);

}  // namespace pathpilot
