// cli/control_target.h — which daemon a control command talks to.
//
// `--socket PATH` names the control socket directly; `-c CONFIG` reads it from the config's
// `control.socket`; with neither, the default /run/pathpilot/control.sock is used.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "base/error.h"
#include "config/loader.h"

namespace pathpilot::cli {

class ControlTarget {
 public:
  void addOptions(CLI::App& app) {
    app.add_option("--socket", socket_, "control socket of the daemon")
        ->excludes(app.add_option("-c,--config", config_, "config file of the daemon"));
  }

  Result<std::string> socketPath() const {
    if (!socket_.empty()) {
      return socket_;
    }
    if (!config_.empty()) {
      auto report = config::checkFile(config_);
      if (!report.ok()) {
        return fail(ErrorCode::InvalidArgument, config_ + ": invalid config:\n" + report.format());
      }
      return report.config->control.socket;
    }
    return config::ControlSettings{}.socket;
  }

 private:
  std::string socket_;
  std::string config_;
};

}  // namespace pathpilot::cli
