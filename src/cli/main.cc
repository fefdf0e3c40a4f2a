// pathpilot — keeps cloud ↔ on-premises traffic on a healthy path.
#include <cstdio>
#include <vector>

#include "cli/command.h"
#include "base/version.h"

int main(int argc, char** argv) {
  using namespace pathpilot::cli;
  CLI::App app{"pathpilot: path failover controller for hybrid cloud networks", "pathpilot"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(pathpilot::kVersion));

  std::vector<Command> commands = {
      addCheckCommand(app),
      addEventsCommand(app),
      addRunCommand(app),
      addStatusCommand(app),
      addDrainCommand(app),
      addUndrainCommand(app),
      addDebugCommand(app),
      addAlertsCommand(app),
      addAgentCommand(app),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  for (const Command& command : commands) {
    if (command.app->parsed()) {
      return command.run();
    }
  }
  std::fputs("pathpilot: no subcommand given (see --help)\n", stderr);
  return kExitUsage;
}
