#include "api/request_parse.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <set>

#include <nlohmann/json.hpp>

#include "base/ip.h"
#include "journal/event.h"
#include "journal/text_format.h"

namespace pathpilot::api {

namespace {

constexpr std::size_t kMaxParamBytes = 1024;
constexpr std::size_t kMaxPathName = 64;

}  // namespace

// "/api/v1/paths/<name>/drain" or ".../undrain": the path name and the action, or nullopt.
// Plain string work on a bounded path, never a regex on untrusted input.
std::optional<std::pair<std::string_view, std::string_view>> controlTarget(std::string_view path) {
  constexpr std::string_view kPrefix = "/api/v1/paths/";
  if (path.size() > 256 || path.substr(0, kPrefix.size()) != kPrefix) {
    return std::nullopt;
  }
  std::string_view rest = path.substr(kPrefix.size());
  const std::size_t slash = rest.find('/');
  if (slash == 0 || slash == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view name = rest.substr(0, slash);
  // Everything after the first slash is the action, so a deeper path ("dx/drain/x") is no
  // match. The name is checked by the handler (validPathName), after auth.
  std::string_view action = rest.substr(slash + 1);
  if (action != "drain" && action != "undrain") {
    return std::nullopt;
  }
  return std::make_pair(name, action);
}

// The host part of a Host header ("example.com:9180", "[::1]:9180", "10.0.0.1"), lowercased.
std::string hostOf(std::string_view header) {
  std::string_view h = header;
  // A bracketed IPv6 literal loses brackets and port (without a ']' the header stays whole).
  // A port is cut only at a lone colon: a bare IPv6 address ("::1") has several.
  if (!h.empty() && h.front() == '[') {
    const std::size_t close = h.find(']');
    h = close == std::string_view::npos ? h : h.substr(1, close - 1);
  } else if (const std::size_t colon = h.rfind(':');
             colon != std::string_view::npos && h.find(':') == colon) {
    h = h.substr(0, colon);
  }
  // No DNS name is longer than 255 bytes; the cap bounds the copy and the lowercasing.
  std::string out(h.substr(0, 255));
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// IP literals cannot be rebound, "localhost" is resolved locally; other names only when listed.
bool hostAllowed(std::string_view header, const std::vector<std::string>& allowed) {
  if (header.empty()) {
    return true;  // HTTP/1.0 clients send none; browsers always do
  }
  const std::string host = hostOf(header);
  if (host == "localhost" || IpAddress::parse(host)) {
    return true;
  }
  // `host` is lowercase already (hostOf); only the configured names need folding.
  return std::any_of(allowed.begin(), allowed.end(), [&](const std::string& a) {
    return a.size() == host.size() &&
           std::equal(a.begin(), a.end(), host.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) == y;
           });
  });
}

bool validPathName(std::string_view name) {
  if (name.empty() || name.size() > kMaxPathName || name == "." || name == "..") {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

// Parses the query of /api/v1/events into a journal query; returns an error message naming
// the parameter on bad input.
std::optional<std::string> parseEventQuery(const QueryParams& params, WallTime now,
                                           std::size_t max_events, journal::Query& q) {
  static const std::array<std::string_view, 13> kKnown = {
      "site",  "path", "link",  "kind",      "route_table", "severity", "since",
      "until", "q",    "limit", "after_seq", "before_seq",  "_"};
  std::set<std::string, std::less<>> seen;
  for (const auto& [key, value] : params) {
    if (std::find(kKnown.begin(), kKnown.end(), key) == kKnown.end()) {
      std::string known;
      // The last entry, "_", is accepted but not listed to the client.
      for (std::size_t i = 0; i + 1 < kKnown.size(); ++i) {
        known += (i ? ", " : "") + std::string(kKnown[i]);
      }
      // The client's own key is echoed cut to 64 bytes; the known keys echoed below are short.
      return "unknown parameter \"" + key.substr(0, 64) + "\" (known: " + known + ")";
    }
    // A repeated key is refused: get() below would use one of its values and drop the rest.
    if (!seen.insert(key).second) {
      return "parameter \"" + key + "\" is given more than once";
    }
    if (value.size() > kMaxParamBytes) {
      return "parameter \"" + key + "\" is longer than " + std::to_string(kMaxParamBytes) +
             " bytes";
    }
  }
  auto get = [&](const char* key) -> std::optional<std::string> {
    auto it = params.find(key);
    if (it == params.end()) {
      return std::nullopt;
    }
    return it->second;
  };
  // An empty value (`?site=`) sets no filter rather than matching the empty string.
  auto setString = [&](const char* key, std::optional<std::string>& field) {
    if (auto v = get(key); v && !v->empty()) {
      field = *v;
    }
  };
  setString("site", q.site);
  setString("path", q.path);
  setString("route_table", q.route_table);
  if (auto v = get("link"); v && !v->empty()) {
    auto link = journal::parseLink(*v);
    if (!link) {
      return "parameter \"link\": " + link.error().message();
    }
    q.link = *link;
  }
  if (auto v = get("kind"); v && !v->empty()) {
    auto kind = journal::parseEventKind(*v);
    if (!kind) {
      return "parameter \"kind\": " + kind.error().message();
    }
    q.kind = *kind;
  }
  if (auto v = get("severity"); v && !v->empty()) {
    auto s = journal::parseSeverity(*v);
    if (!s) {
      return "parameter \"severity\": " + s.error().message();
    }
    q.min_severity = *s;
  }
  if (auto v = get("since"); v && !v->empty()) {
    auto t = journal::parseTimeArgument(*v, now);
    if (!t) {
      return "parameter \"since\": " + t.error().message();
    }
    q.since = *t;
  }
  if (auto v = get("until"); v && !v->empty()) {
    auto t = journal::parseTimeArgument(*v, now);
    if (!t) {
      return "parameter \"until\": " + t.error().message();
    }
    q.until = *t;
  }
  if (q.since && q.until && *q.until <= *q.since) {
    return "parameter \"until\" must be later than \"since\"";
  }
  if (auto v = get("q")) {
    q.text = *v;
  }
  auto number = [&](const char* key, std::uint64_t& out) -> std::optional<std::string> {
    auto v = get(key);
    if (!v) {
      return std::nullopt;
    }
    const char* first = v->data();
    const char* last = v->data() + v->size();
    // from_chars into an unsigned type takes no sign or leading space and reports overflow
    // ("-1", " 5", 2^64); ptr != last refuses trailing text ("5x", "1e3").
    auto [ptr, ec] = std::from_chars(first, last, out);
    if (v->empty() || ec != std::errc() || ptr != last) {
      return "parameter \"" + std::string(key) + "\" must be a non-negative integer, not \"" +
             v->substr(0, 32) + "\"";
    }
    return std::nullopt;
  };
  // The default stays when there is no `limit`: number() assigns only what it parsed.
  std::uint64_t limit = 100;
  if (auto e = number("limit", limit)) {
    return e;
  }
  if (limit < 1 || limit > max_events) {
    return "parameter \"limit\" must be between 1 and " + std::to_string(max_events);
  }
  q.limit = static_cast<std::size_t>(limit);
  std::uint64_t seq = 0;
  if (params.count("after_seq") != 0) {
    if (auto e = number("after_seq", seq)) {
      return e;
    }
    q.after_seq = seq;
  }
  if (params.count("before_seq") != 0) {
    if (auto e = number("before_seq", seq)) {
      return e;
    }
    q.before_seq = seq;
  }
  return std::nullopt;
}

Result<std::string> parseDrainBody(std::string_view body) {
  if (body.empty()) {
    return std::string();
  }
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return fail(ErrorCode::InvalidArgument, "the request body is not valid JSON");
  }
  if (!parsed.is_object()) {
    return fail(ErrorCode::InvalidArgument, "the request body must be a JSON object");
  }
  std::string comment;
  for (const auto& [key, value] : parsed.items()) {
    if (key != "comment") {
      return fail(ErrorCode::InvalidArgument, "unknown field \"" + key.substr(0, 64) +
                                                  "\" in the request body (known: comment)");
    }
    if (!value.is_string() || value.get_ref<const std::string&>().size() > 256) {
      return fail(ErrorCode::InvalidArgument,
                  "field \"comment\" must be a string of at most 256 bytes");
    }
    comment = value.get<std::string>();
  }
  return comment;
}

}  // namespace pathpilot::api
