#include "base/redact.h"

#include <algorithm>

namespace pathpilot {
namespace {

bool isUnreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

}  // namespace

std::string percentEncoded(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (isUnreserved(c)) {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0x0F];
    }
  }
  return out;
}

void Redactor::add(std::string_view secret) {
  if (secret.size() < kMinSecretBytes) {
    return;
  }
  for (std::string s : {std::string(secret), percentEncoded(secret)}) {
    if (std::find(secrets_.begin(), secrets_.end(), s) == secrets_.end()) {
      secrets_.push_back(std::move(s));
    }
  }
  // Longest first, so that a URL is replaced before its query string.
  std::stable_sort(secrets_.begin(), secrets_.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

void Redactor::addUrl(std::string_view url) {
  add(url);
  std::size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) {
    return;
  }
  std::size_t path = url.find_first_of("/?#", scheme + 3);
  if (path != std::string_view::npos && url.size() - path > 1) {
    add(url.substr(path));
  }
  std::size_t query = url.find('?');
  if (query == std::string_view::npos || query + 1 >= url.size()) {
    return;
  }
  std::string_view q = url.substr(query + 1);
  add(q);
  // Transport errors print the URL without its query: a token in the path must go too.
  if (path != std::string_view::npos && query > path + 1) {
    add(url.substr(path, query - path));
  }
  // Each parameter's value on its own ("access_token=<v>" printed by a hook).
  while (!q.empty()) {
    std::size_t amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    if (std::size_t eq = pair.find('='); eq != std::string_view::npos) {
      add(pair.substr(eq + 1));
    }
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
  }
}

void Redactor::merge(const Redactor& other) {
  for (const std::string& s : other.secrets_) {
    add(s);
  }
}

std::string Redactor::apply(std::string text) const {
  static constexpr std::string_view kMark = "<redacted>";
  for (const auto& s : secrets_) {
    std::size_t pos = 0;
    while ((pos = text.find(s, pos)) != std::string::npos) {
      text.replace(pos, s.size(), kMark);
      pos += kMark.size();
    }
  }
  return text;
}

std::string capText(std::string_view text, std::size_t max_bytes) {
  bool cut = false;
  if (text.size() > max_bytes) {
    text = text.substr(text.size() - max_bytes);
    cut = true;
    // Never start inside a UTF-8 sequence: skip continuation bytes (10xxxxxx).
    while (!text.empty() && (static_cast<unsigned char>(text.front()) & 0xC0) == 0x80) {
      text.remove_prefix(1);
    }
  }
  std::string out;
  out.reserve(text.size() + 4);
  if (cut) {
    out += "…";
  }
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    out += (c == '\n' || c == '\t' || (u >= 0x20 && u != 0x7F)) ? c : ' ';
  }
  return out;
}

const std::vector<std::string_view>& credentialVariables() {
  static const std::vector<std::string_view> kNames = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                                       "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                                                       "AWS_CONTAINER_AUTHORIZATION_TOKEN"};
  return kNames;
}

bool isCredentialVariable(std::string_view name) {
  const auto& names = credentialVariables();
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace pathpilot
