// `pathpilot run -c FILE`: the daemon, in the foreground (systemd Type=notify).
#include <memory>
#include <string>

#include "cli/command.h"
#include "daemon/daemon.h"

namespace pathpilot::cli {

Command addRunCommand(CLI::App& root) {
  auto* app = root.add_subcommand("run", "Run the controller in the foreground");
  auto options = std::make_shared<daemon::RunOptions>();
  app->add_option("-c,--config", options->config_path, "config file")
      ->required()
      ->check(CLI::ExistingFile);
  app->add_flag("-v,--verbose", options->verbose, "debug logging");
  return {app, [options] { return daemon::runDaemon(*options); }};
}

}  // namespace pathpilot::cli
