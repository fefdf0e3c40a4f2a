// daemon/logging.h — the process-wide log sink of the long-running commands.
//
// Purpose: `pathpilot run` and `pathpilot agent` both log to stderr through spdlog, with the
// same line format: their own timestamps on a terminal, none under systemd (the journal adds
// them, and JOURNAL_STREAM says it is there).
// Threading: call once at start-up, before other threads log.
// Metrics: none.
#pragma once

#include <string>

namespace pathpilot::daemon {

// Makes a stderr logger named `name` ("pathpilot", "pathpilot-agent") the default one, at
// debug level when `verbose`, info otherwise.
// Requires: no logger of that name is registered yet.
void setupLogging(const std::string& name, bool verbose);

}  // namespace pathpilot::daemon
