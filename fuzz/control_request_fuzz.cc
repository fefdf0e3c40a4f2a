// Fuzz target for the control socket's request line (daemon/control_server.h): any bytes are
// a request or an error the client can be sent, never a crash or an exception; the error text
// is valid to send back as JSON; drain/undrain always carry their path.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "daemon/control_server.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto r = pathpilot::daemon::parseControlRequest(line);
  if (!r) {
    if (r.error().message().empty()) {
      std::abort();
    }
    // The server replies with this text inside a JSON document: it must serialize.
    (void)nlohmann::json{{"ok", false}, {"error", r.error().message()}}.dump();
    return 0;
  }
  using Cmd = pathpilot::daemon::ControlRequest::Cmd;
  if ((r->cmd == Cmd::Ping || r->cmd == Cmd::Status) && !r->path.empty()) {
    std::abort();
  }
  (void)nlohmann::json{{"path", r->path}}.dump();
  return 0;
}
