// base/base64.cc — see base64.h.
#include "base/base64.h"

#include <algorithm>

#include <openssl/evp.h>

namespace pathpilot {

std::string base64Encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(std::max(n, 0)));
  return out;
}

std::optional<std::string> base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return std::nullopt;
  }
  // EVP_DecodeBlock skips leading and trailing whitespace, which base64 here never has.
  if (!text.empty() && (text.front() == ' ' || text.back() == ' ')) {
    return std::nullopt;
  }
  std::size_t pad = 0;
  for (std::size_t i = text.size(); i > 0 && text[i - 1] == '=' && pad < 2; --i) {
    ++pad;
  }
  if (text.substr(0, text.size() - pad).find('=') != std::string_view::npos) {
    return std::nullopt;
  }
  std::string out(3 * text.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) {
    return std::nullopt;
  }
  out.resize(static_cast<std::size_t>(n));
  // EVP_DecodeBlock keeps the zero bytes that padding stands for; drop them.
  out.resize(out.size() - pad);
  return out;
}

}  // namespace pathpilot
