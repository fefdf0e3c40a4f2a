#include "http/http_client.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace pathpilot::http {

namespace {

char lowerAscii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lowerAscii(a[i]) != lowerAscii(b[i])) {
      return false;
    }
  }
  return true;
}

std::optional<std::string_view> findHeader(const Headers& headers, std::string_view name) {
  for (const Header& h : headers) {
    if (equalsIgnoreCase(h.name, name)) {
      return std::string_view(h.value);
    }
  }
  return std::nullopt;
}

std::size_t removeHeader(Headers& headers, std::string_view name) {
  auto it = std::remove_if(headers.begin(), headers.end(),
                           [&](const Header& h) { return equalsIgnoreCase(h.name, name); });
  auto removed = static_cast<std::size_t>(std::distance(it, headers.end()));
  headers.erase(it, headers.end());
  return removed;
}

bool isSensitiveHeader(std::string_view name) {
  static constexpr std::array<std::string_view, 5> kSensitive = {
      "authorization", "x-amz-security-token", "cookie", "x-aws-ec2-metadata-token",
      "proxy-authorization"};
  return std::any_of(kSensitive.begin(), kSensitive.end(),
                     [&](std::string_view s) { return equalsIgnoreCase(s, name); });
}

std::string redactUrl(std::string_view url) {
  std::string_view rest = url;
  std::string scheme;
  if (auto pos = rest.find("://"); pos != std::string_view::npos) {
    scheme = std::string(rest.substr(0, pos + 3));
    rest.remove_prefix(pos + 3);
  }
  // Drop the query and fragment: a presigned URL carries its credential there.
  rest = rest.substr(0, rest.find_first_of("?#"));
  // Drop user-info ("user:password@host").
  auto slash = rest.find('/');
  auto at = rest.substr(0, slash).rfind('@');
  if (at != std::string_view::npos) {
    rest.remove_prefix(at + 1);
  }
  return scheme + std::string(rest);
}

std::string describeRequest(const Request& request) {
  std::string out = request.method + " " + redactUrl(request.url) + " (" +
                    std::to_string(request.body.size()) + " bytes";
  if (!request.headers.empty()) {
    out += "; headers: ";
    bool first = true;
    for (const Header& h : request.headers) {
      if (!first) {
        out += ", ";
      }
      first = false;
      out += h.name;
      if (isSensitiveHeader(h.name)) {
        out += "=<redacted>";
      }
    }
  }
  out += ")";
  return out;
}

}  // namespace pathpilot::http
