// Fuzz target for what an HTTP API request carries from the client (api/request_parse.h):
// line 1 the URL path, line 2 the Host header, line 3 a query string (split on & and =, as
// httplib hands the parameters over), the rest the drain body. Every function returns a value
// or a message for the client, never crashes or throws, and every message can be sent back
// as JSON (the server serializes it).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "api/request_parse.h"

namespace {

std::string_view nextLine(std::string_view& in) {
  const std::size_t nl = in.find('\n');
  std::string_view line = in.substr(0, nl);
  in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  return line;
}

void sendable(const std::string& message) {
  if (message.empty()) {
    std::abort();
  }
  (void)nlohmann::json{{"error", message}}.dump(-1, ' ', false,
                                                nlohmann::json::error_handler_t::replace);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pathpilot;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::string_view path = nextLine(in);
  const std::string_view host = nextLine(in);
  const std::string_view query = nextLine(in);

  if (auto target = api::controlTarget(path)) {
    if (target->second != "drain" && target->second != "undrain") {
      std::abort();
    }
    (void)api::validPathName(target->first);
  }
  if (api::hostOf(host).size() > 255) {
    std::abort();
  }
  (void)api::hostAllowed(host, {"monitor.example.com"});

  api::QueryParams params;
  for (std::size_t at = 0; at <= query.size();) {
    std::size_t amp = query.find('&', at);
    if (amp == std::string_view::npos) {
      amp = query.size();
    }
    std::string_view pair = query.substr(at, amp - at);
    const std::size_t eq = pair.find('=');
    params.emplace(std::string(pair.substr(0, eq)),
                   eq == std::string_view::npos ? std::string() : std::string(pair.substr(eq + 1)));
    at = amp + 1;
  }
  journal::Query q;
  const WallTime now = WallTime(std::chrono::seconds(1'796'000'000));
  if (auto error = api::parseEventQuery(params, now, 1000, q)) {
    sendable(*error);
  } else if (q.limit < 1 || q.limit > 1000) {
    std::abort();
  }

  auto comment = api::parseDrainBody(in);
  if (!comment) {
    sendable(comment.error().message());
  } else if (comment->size() > 256) {
    std::abort();
  }
  return 0;
}
