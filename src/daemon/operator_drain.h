// daemon/operator_drain.h — an operator's drain or undrain, however it reached the daemon.
//
// Purpose: the control socket (`pathpilot drain`) and the HTTP API (POST
// /api/v1/paths/{name}/drain) both let an operator move traffic off a path and back. Both call
// applyDrain(), so the requester text written into the event ("requested by control socket,
// uid 0 (root), pid 42"), the log line naming the peer and the result (the engine's message
// or its error, e.g. NotFound for an unknown path) are the same whichever way the request came.
// What each front end makes of the result (a JSON line, an HTTP status) stays with it.
//
// Threading: the engine thread, like Engine::drain/undrain (both front ends post there).
// Metrics: none (the engine journals the drain; the front ends count their requests).
#pragma once

#include <string>

#include "base/error.h"
#include "ha/ha_node.h"

namespace pathpilot::daemon {

class Engine;

// Who asked for a drain or undrain.
struct DrainRequester {
  std::string channel;  // how the request came: "control socket", "HTTP API"
  // Who is at the other end, when the channel knows it ("uid 1000 (alice), pid 4242"); "" when
  // it does not (the HTTP API logs the client's address itself, see applyDrain).
  std::string peer;
};

// Drains (`drain`) or undrains `path` on `engine`, recording the requester as
// "<channel>, <peer>" (or "<channel>" without a peer). Returns the engine's message ("path dx
// drained", "path dx is already drained") or its error (NotFound: "unknown path \"x\"").
//
// In a group of monitors (`group` set, docs/ha.md) a drain is the group's: it is recorded in
// etcd, every monitor applies it from there within a poll interval, and it outlives any monitor
// and a takeover. The answer then says the drain was requested; the path must exist.
[[nodiscard]] Result<std::string> applyDrain(Engine& engine, const std::string& path, bool drain,
                                             const DrainRequester& requester,
                                             ha::HaNode* group = nullptr);

}  // namespace pathpilot::daemon
