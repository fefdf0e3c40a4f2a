// `pathpilot check FILE`: placeholder until the config module lands.
#include <cstdio>
#include <string>

#include "cli/command.h"

namespace pathpilot::cli {

Command addCheckCommand(CLI::App& root) {
  auto* app = root.add_subcommand("check", "Validate a config file and print the routing plan");
  auto file = std::make_shared<std::string>();
  app->add_option("FILE", *file, "config file")->required();
  return {app, [] {
            std::fputs("pathpilot check: config module not built yet\n", stderr);
            return kExitFailure;
          }};
}

}  // namespace pathpilot::cli
