// daemon/daemon.h — `pathpilot run`: the process around the engine.
//
// Purpose: loads the config, opens the journal, builds the real probers and route backends,
// serves the control socket, handles signals (SIGTERM/SIGINT drain and exit, SIGHUP reloads
// the config atomically and reopens the JSON Lines file) and talks to systemd (Type=notify,
// watchdog). Returns the process exit code.
// Threading: the calling thread becomes the engine thread.
// Metrics: none of its own.
#pragma once

#include <string>

namespace pathpilot::daemon {

struct RunOptions {
  std::string config_path;
  bool verbose = false;  // debug logging
};

// Runs until SIGTERM/SIGINT. Exit codes: 0 clean stop, 1 the config or a resource (journal,
// control socket, route table) could not be set up.
int runDaemon(const RunOptions& options);

}  // namespace pathpilot::daemon
