// cli/command.h — how `pathpilot` subcommands plug into main.
//
// Each subcommand lives in its own <name>_cmd.cc and exposes one add*Command function that
// registers its options on the root CLI11 app and returns the function that runs it after a
// successful parse. Exit codes follow LSB meanings: 0 ok, 1 failure (e.g. an invalid config),
// 2 usage error.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace pathpilot::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

Command addCheckCommand(CLI::App& root);
Command addEventsCommand(CLI::App& root);
Command addRunCommand(CLI::App& root);
Command addStatusCommand(CLI::App& root);
Command addDrainCommand(CLI::App& root);
Command addUndrainCommand(CLI::App& root);
Command addDebugCommand(CLI::App& root);
Command addAlertsCommand(CLI::App& root);
Command addAgentCommand(CLI::App& root);

}  // namespace pathpilot::cli
