// http/url.h — absolute http(s) URLs split into the parts that signing and routing need.
//
// Purpose: AWS endpoints are configured as URLs (`endpoint_url: https://vpce-...`,
// `http://127.0.0.1:4566` for the fake endpoint); SigV4 signs the host, path and query
// separately. Parsing is done by libcurl's URL API (RFC 3986 rules, IPv6 literals, IDN
// rejected), not by hand.
// Threading: pure functions on values.
// Metrics: none.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.h"

namespace pathpilot::http {

struct Url {
  std::string scheme;  // "http" or "https", lowercase
  std::string host;    // lowercase host name, IPv4 literal, or IPv6 literal in brackets
  std::uint16_t port = 0;  // explicit or the scheme default (80/443)
  bool explicit_port = false;  // true when the URL text named a port
  std::string path = "/";  // as written (percent-escapes kept), never empty
  std::string query;       // without '?', as written; may be empty

  // The value for the Host header: host, plus ":port" when the port was explicit and is
  // not the scheme default (what curl and AWS SDKs send).
  std::string hostHeader() const;
  // scheme://host[:port]path[?query]
  std::string toString() const;
};

// Parses an absolute http or https URL. Errors are InvalidArgument and quote the input
// (without its query string): missing scheme, other schemes, empty host, bad port.
[[nodiscard]] Result<Url> parseUrl(std::string_view text);

}  // namespace pathpilot::http
