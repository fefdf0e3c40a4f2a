// `pathpilot events`: placeholder until the journal module lands.
#include <cstdio>

#include "cli/command.h"

namespace pathpilot::cli {

Command addEventsCommand(CLI::App& root) {
  auto* app = root.add_subcommand("events", "Search the event journal");
  return {app, [] {
            std::fputs("pathpilot events: journal module not built yet\n", stderr);
            return kExitFailure;
          }};
}

}  // namespace pathpilot::cli
