#include "daemon/operator_drain.h"

#include <spdlog/spdlog.h>

#include "daemon/engine.h"

namespace pathpilot::daemon {

Result<std::string> applyDrain(Engine& engine, const std::string& path, bool drain,
                               const DrainRequester& requester) {
  std::string by = requester.channel;
  if (!requester.peer.empty()) {
    by += ", " + requester.peer;
    // Who moves traffic is logged before the engine acts. Without a peer nothing is logged
    // here: the HTTP API logs its own line (api/server.cc) once the engine answered, with the
    // client's address and comment, which do not reach the engine thread.
    spdlog::info("{}: {} {} requested by {}", requester.channel, drain ? "drain" : "undrain", path,
                 requester.peer);
  }
  return drain ? engine.drain(path, by) : engine.undrain(path, by);
}

}  // namespace pathpilot::daemon
