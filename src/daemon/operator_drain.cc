#include "daemon/operator_drain.h"

#include <spdlog/spdlog.h>

#include "daemon/engine.h"

namespace pathpilot::daemon {

Result<std::string> applyDrain(Engine& engine, const std::string& path, bool drain,
                               const DrainRequester& requester, ha::HaNode* group) {
  std::string by = requester.channel;
  if (!requester.peer.empty()) {
    by += ", " + requester.peer;
    // Who moves traffic is logged before the engine acts. Without a peer nothing is logged
    // here: the HTTP API logs its own line (api/server.cc) once the engine answered, with the
    // client's address and comment, which do not reach the engine thread.
    spdlog::info("{}: {} {} requested by {}", requester.channel, drain ? "drain" : "undrain", path,
                 requester.peer);
  }
  if (group != nullptr) {
    if (engine.config().findPath(path) == nullptr) {
      return fail(ErrorCode::NotFound, "unknown path \"" + path + "\"");
    }
    group->requestDrain(path, drain, by);
    return std::string(drain ? "drain" : "undrain") + " of " + path +
           " requested for every monitor of site " + engine.config().site.name +
           " (recorded in etcd; each monitor applies it within a second)";
  }
  return drain ? engine.drain(path, by) : engine.undrain(path, by);
}

}  // namespace pathpilot::daemon
