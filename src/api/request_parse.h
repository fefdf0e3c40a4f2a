// api/request_parse.h — the parts of an HTTP API request that are read from untrusted input.
//
// Purpose: every function here reads what a client sent (URL path, Host header, query
// parameters, the drain/undrain body) and returns a value or a message for the client. They
// are pure (no I/O, no clock: `now` is passed in), bounded (no regex; lengths capped before
// any work), never throw, and are fuzzed together (fuzz/api_request_fuzz.cc). ApiServer
// (server.h) calls them; auth is checked between controlTarget()/hostAllowed() and the rest.
//
// Threading: none (plain functions). Metrics: none.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/time.h"
#include "journal/query.h"

namespace pathpilot::api {

// Query parameters as cpp-httplib decodes them (httplib::Params is this type).
using QueryParams = std::multimap<std::string, std::string>;

// "/api/v1/paths/<name>/drain" or ".../undrain": the path name and the action ("drain",
// "undrain"), views into `path`; nullopt for any other path (or one over 256 bytes).
std::optional<std::pair<std::string_view, std::string_view>> controlTarget(std::string_view path);

// The host part of a Host header ("example.com:9180", "[::1]:9180", "10.0.0.1"), lowercased,
// at most 255 bytes.
std::string hostOf(std::string_view header);

// Whether a request with this Host header may be served (DNS rebinding): no header (HTTP/1.0),
// an IP literal or "localhost", or a name in `allowed` (case-insensitive).
bool hostAllowed(std::string_view header, const std::vector<std::string>& allowed);

// A path name as the API accepts it: 1-64 of A-Z a-z 0-9 _ . - and not "." or "..".
bool validPathName(std::string_view name);

// The query of /api/v1/events into `q`: known parameters only, each at most once and at most
// 1 KiB; `limit` 1..max_events (default 100). Returns the message for a 400 naming the
// parameter, or nullopt when the query is good.
std::optional<std::string> parseEventQuery(const QueryParams& params, WallTime now,
                                           std::size_t max_events, journal::Query& q);

// The optional JSON body of a drain/undrain request: {} or {"comment": "..."} (at most 256
// bytes). Returns the comment ("" without one) or InvalidArgument with the client's message.
[[nodiscard]] Result<std::string> parseDrainBody(std::string_view body);

}  // namespace pathpilot::api
