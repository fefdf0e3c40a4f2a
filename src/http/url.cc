#include "http/url.h"

#include <curl/curl.h>

#include <charconv>
#include <memory>

#include "http/http_client.h"

namespace pathpilot::http {

namespace {

struct UrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
struct CurlStringDeleter {
  void operator()(char* s) const { curl_free(s); }
};
using CurlString = std::unique_ptr<char, CurlStringDeleter>;

// Reads one part; missing parts (CURLUE_NO_*) give an empty string.
std::string getPart(CURLU* u, CURLUPart part, unsigned int flags = 0) {
  char* raw = nullptr;
  if (curl_url_get(u, part, &raw, flags) != CURLUE_OK || raw == nullptr) {
    return {};
  }
  CurlString owned(raw);
  return std::string(owned.get());
}

std::string lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return s;
}

}  // namespace

std::string Url::hostHeader() const {
  bool default_port = (scheme == "https" && port == 443) || (scheme == "http" && port == 80);
  if (explicit_port && !default_port) {
    return host + ":" + std::to_string(port);
  }
  return host;
}

std::string Url::toString() const {
  std::string out = scheme + "://" + hostHeader() + path;
  if (!query.empty()) {
    out += "?" + query;
  }
  return out;
}

// libcurl's URL API does the RFC 3986 parsing (IPv6 literals, ports, percent-escapes); the
// checks here are the ones pathpilot adds: an explicit scheme, http or https only, a host.
Result<Url> parseUrl(std::string_view text) {
  std::string shown = redactUrl(text);
  if (text.find("://") == std::string_view::npos) {
    return fail(ErrorCode::InvalidArgument,
                "URL '" + shown + "' has no scheme; write it as https://host[:port]/");
  }
  std::unique_ptr<CURLU, UrlDeleter> u(curl_url());
  if (!u) {
    return fail(ErrorCode::Internal, "out of memory parsing URL");
  }
  std::string copy(text);
  CURLUcode rc = curl_url_set(u.get(), CURLUPART_URL, copy.c_str(), 0);
  if (rc != CURLUE_OK) {
    return fail(ErrorCode::InvalidArgument,
                "URL '" + shown + "' is not valid: " + curl_url_strerror(rc));
  }
  Url url;
  url.scheme = lower(getPart(u.get(), CURLUPART_SCHEME));
  if (url.scheme != "http" && url.scheme != "https") {
    return fail(ErrorCode::InvalidArgument,
                "URL '" + shown + "' uses scheme '" + url.scheme + "'; only http and https work");
  }
  url.host = lower(getPart(u.get(), CURLUPART_HOST));
  if (url.host.empty()) {
    return fail(ErrorCode::InvalidArgument, "URL '" + shown + "' has no host");
  }
  std::string explicit_port = getPart(u.get(), CURLUPART_PORT);
  url.explicit_port = !explicit_port.empty();
  std::string port_text =
      url.explicit_port ? explicit_port : getPart(u.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  unsigned int port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
      port > 65535) {
    return fail(ErrorCode::InvalidArgument,
                "URL '" + shown + "' has an invalid port '" + port_text + "'");
  }
  url.port = static_cast<std::uint16_t>(port);
  url.path = getPart(u.get(), CURLUPART_PATH);
  if (url.path.empty()) {
    url.path = "/";
  }
  url.query = getPart(u.get(), CURLUPART_QUERY);
  return url;
}

}  // namespace pathpilot::http
