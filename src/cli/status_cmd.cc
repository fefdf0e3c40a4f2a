// `pathpilot status [--json]`, `pathpilot drain PATH`, `pathpilot undrain PATH`: talk to the
// running daemon over its control socket (daemon/control_server.h).
#include <cstdio>
#include <memory>
#include <string>

#include <fmt/core.h>

#include "cli/command.h"
#include "cli/control_target.h"
#include "daemon/control_server.h"

namespace pathpilot::cli {
namespace {

std::string str(const nlohmann::json& j, const char* key, const char* fallback = "-") {
  if (!j.contains(key) || j[key].is_null()) {
    return fallback;
  }
  if (j[key].is_string()) {
    std::string s = j[key].get<std::string>();
    return s.empty() ? fallback : s;
  }
  return j[key].dump();
}

std::string ms(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_number()) {
    return "-";
  }
  return fmt::format("{:.1f}ms", j[key].get<double>());
}

void printStatus(const nlohmann::json& s) {
  fmt::print("site {}  (pathpilot {}, up since {}, config {})\n\n", str(s, "site"),
             str(s, "version"), str(s, "started_at"), str(s, "config"));
  if (s.contains("ha") && s["ha"].is_object()) {
    // One line: what this monitor is in its group, whether it writes, and etcd's health.
    const auto& h = s["ha"];
    bool leader = str(h, "role") == "leader";
    std::string who = leader ? "leader" : "follower of " + str(h, "leader", "(no leader known)");
    fmt::print("ha: {} {}, term {}, {}, lease {:.1f}s left, etcd {}{}\n\n", str(h, "node"), who,
               str(h, "term"), h.value("writing", false) ? "writing" : "not writing",
               h.value("lease_left_seconds", 0.0), str(h, "etcd_endpoint"),
               str(h, "last_error", "").empty() ? "" : " — " + str(h, "last_error"));
    // How every monitor of the group sees the paths (each publishes its view to etcd).
    if (h.contains("views") && h["views"].is_object()) {
      for (const auto& [node, view] : h["views"].items()) {
        std::string line;
        if (view.is_object() && view.contains("paths") && view["paths"].is_object()) {
          for (const auto& [path, state] : view["paths"].items()) {
            line += (line.empty() ? "" : ", ") + path + " " +
                    (state.is_string() ? state.get<std::string>() : state.dump());
          }
        }
        fmt::print("  view of {}: {}\n", node, line.empty() ? "-" : line);
      }
      if (!h["views"].empty()) {
        fmt::print("\n");
      }
    }
  }
  fmt::print("{:<12} {:<4} {:<16} {:<9} {:>6} {:>9} {:>9}  {:<24} {}\n", "PATH", "LINK", "AZ",
             "STATE", "LOSS", "RTT p50", "RTT p95", "SINCE", "WHY");
  for (const auto& p : s.value("paths", nlohmann::json::array())) {
    std::string state = str(p, "state");
    if (p.value("drained", false)) {
      state += "*";
    }
    std::string loss =
        p.contains("loss") && p["loss"].is_number()
            ? fmt::format("{:.0f}%", p["loss"].get<double>() * 100.0)
            : "-";
    fmt::print("{:<12} {:<4} {:<16} {:<9} {:>6} {:>9} {:>9}  {:<24} {}\n", str(p, "name"),
               str(p, "link"), str(p, "az"), state, loss, ms(p, "rtt_p50_ms"),
               ms(p, "rtt_p95_ms"), str(p, "since"), str(p, "reason", ""));
  }
  bool any_drained = false;
  for (const auto& p : s.value("paths", nlohmann::json::array())) {
    any_drained = any_drained || p.value("drained", false);
  }
  if (any_drained) {
    fmt::print("  (* drained by an operator)\n");
  }
  // Gateway recoveries under way: a finished action waiting for the probes is no journal
  // event (only the probes' verdict is), so this is where an operator sees it.
  for (const auto& p : s.value("paths", nlohmann::json::array())) {
    if (!p.contains("recovery") || !p["recovery"].is_object()) {
      continue;
    }
    const auto& r = p["recovery"];
    std::string phase = str(r, "phase");
    if (phase == "idle" || phase == "-") {
      continue;
    }
    std::string why = str(r, "detail", "");
    if (why.empty()) {
      why = str(r, "last_failure", "");
    }
    fmt::print("  recovery of {} ({}): {}{}\n", str(p, "name"), str(r, "action"), phase,
               why.empty() ? "" : " — " + why);
  }
  fmt::print("\n{:<16} {:<18} {:<10} {:<10} {:<9} {:>9}  {}\n", "ROUTE TABLE", "DESTINATION",
             "CURRENT", "DESIRED", "SYNC", "HOLD", "WHY");
  for (const auto& r : s.value("routes", nlohmann::json::array())) {
    std::string hold = r.contains("hold_down_remaining_ms") &&
                               r["hold_down_remaining_ms"].is_number() &&
                               r["hold_down_remaining_ms"].get<double>() > 0
                           ? fmt::format("{:.1f}s", r["hold_down_remaining_ms"].get<double>() / 1e3)
                           : "-";
    std::string why = str(r, "reason", "");
    if (r.value("fail_static", false)) {
      why = "FAIL-STATIC: " + why;
    }
    fmt::print("{:<16} {:<18} {:<10} {:<10} {:<9} {:>9}  {}\n", str(r, "route_table"),
               str(r, "destination"), str(r, "current"), str(r, "desired"), str(r, "sync"), hold,
               why);
  }
}

}  // namespace

Command addStatusCommand(CLI::App& root) {
  auto* app = root.add_subcommand("status", "Show each path and route table of the running daemon");
  auto target = std::make_shared<ControlTarget>();
  auto json = std::make_shared<bool>(false);
  target->addOptions(*app);
  app->add_flag("--json", *json, "print the status as JSON");
  return {app, [target, json] {
            auto socket = target->socketPath();
            if (!socket) {
              std::fprintf(stderr, "pathpilot status: %s\n", socket.error().message().c_str());
              return kExitFailure;
            }
            auto response = daemon::controlRequest(*socket, {{"cmd", "status"}});
            if (!response) {
              std::fprintf(stderr, "pathpilot status: %s\n", response.error().toString().c_str());
              return kExitFailure;
            }
            if (!response->value("ok", false)) {
              std::fprintf(stderr, "pathpilot status: %s\n",
                           response->value("error", std::string("failed")).c_str());
              return kExitFailure;
            }
            const auto& status = (*response)["status"];
            if (*json) {
              std::printf("%s\n", status.dump(2).c_str());
            } else {
              printStatus(status);
            }
            return kExitOk;
          }};
}

namespace {

Command addDrainLike(CLI::App& root, const char* name, const char* help) {
  auto* app = root.add_subcommand(name, help);
  auto target = std::make_shared<ControlTarget>();
  auto path = std::make_shared<std::string>();
  target->addOptions(*app);
  app->add_option("PATH", *path, "path name, as in the config")->required();
  std::string cmd = name;
  return {app, [target, path, cmd] {
            auto socket = target->socketPath();
            if (!socket) {
              std::fprintf(stderr, "pathpilot %s: %s\n", cmd.c_str(),
                           socket.error().message().c_str());
              return kExitFailure;
            }
            auto response = daemon::controlRequest(*socket, {{"cmd", cmd}, {"path", *path}});
            if (!response) {
              std::fprintf(stderr, "pathpilot %s: %s\n", cmd.c_str(),
                           response.error().toString().c_str());
              return kExitFailure;
            }
            if (!response->value("ok", false)) {
              std::fprintf(stderr, "pathpilot %s: %s\n", cmd.c_str(),
                           response->value("error", std::string("failed")).c_str());
              return kExitFailure;
            }
            std::printf("%s\n", response->value("message", std::string("ok")).c_str());
            return kExitOk;
          }};
}

}  // namespace

Command addDrainCommand(CLI::App& root) {
  return addDrainLike(root, "drain", "Move traffic off a path for maintenance");
}

Command addUndrainCommand(CLI::App& root) {
  return addDrainLike(root, "undrain", "Let traffic use a drained path again");
}

}  // namespace pathpilot::cli
