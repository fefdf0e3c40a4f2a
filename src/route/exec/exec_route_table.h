// route/exec/exec_route_table.h — a route "table" programmed by an operator's hook command.
//
// Purpose: for setups that neither netlink nor EC2 fit (a firewall API, a router's CLI, a
// script that also updates monitoring), every route change runs a configured command, argv
// with no shell, with the change in environment variables:
//
//   PATHPILOT_ACTION         "replace" or "delete"
//   PATHPILOT_TABLE          the table id as configured, e.g. "rtb-468f5222"
//   PATHPILOT_DESTINATION    "10.10.0.0/16"
//   PATHPILOT_OLD_NEXT_HOP   what the route pointed at ("" when unknown or absent)
//   PATHPILOT_NEW_NEXT_HOP   what it must point at ("" for delete)
//   PATHPILOT_PATH           the new path's name, e.g. "vpn-a" ("" for delete)
//   PATHPILOT_OLD_PATH       the old path's name ("" when unknown)
//
// Nothing else of the daemon's environment reaches the hook but PATH, LANG, LANGUAGE, LC_*, TZ
// and the names in `inherit` (never the AWS keys or {env:} secrets); its stderr is redacted of
// known secrets and capped before it becomes part of an error.
// Next hops are written as NextHop::toString prints them: "vgw-078bcc55",
// "via 169.254.100.1 dev vti0". Exit status 0 means done; anything else, a signal or the
// timeout (the process group is killed) is an error carrying the command's stderr tail, and
// the reconciler retries with backoff. Hooks must be idempotent: the same change may run twice
// (a retry after a timeout that had in fact succeeded, a restart).
//
// Listing: with `list_argv` set, list() runs that command (PATHPILOT_TABLE set) and reads one
// route per stdout line, "<prefix> <next hop>", e.g. "10.10.0.0/16 vgw-078bcc55"; blank lines
// and lines starting with '#' are skipped. Without it, list() returns the routes this process
// has applied, so after a restart every decided route is applied once more.
//
// Threading: blocking (runs a child process); called on reconciler workers, one call per table
// at a time. The applied-routes record is locked, so list/apply may also overlap safely.
// Metrics: none (the reconciler measures calls).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/time.h"
#include "route/route_table.h"
#include "runtime/process_runner.h"

namespace pathpilot::route {

struct ExecOptions {
  // The hook, run for every change. Requires: not empty.
  std::vector<std::string> argv;
  // Optional: prints the table's routes (see above). Empty: remember what was applied.
  std::vector<std::string> list_argv;
  Duration timeout = std::chrono::seconds(10);
  Duration kill_grace = std::chrono::seconds(2);
  // Extra environment for both commands (e.g. credentials of a firewall API; never logged).
  std::vector<std::pair<std::string, std::string>> env;
  // The daemon's variables passed through besides PATH, LANG, LC_*, TZ (config
  // `backends.exec.env_passthrough`; see process_runner.h for what a hook never sees).
  std::vector<std::string> inherit;
  // Secrets to remove from the commands' stderr and stdout before they reach an error.
  std::shared_ptr<const Redactor> redactor;

  // InvalidArgument for an empty argv or a non-positive timeout.
  [[nodiscard]] Result<void> validate() const;
};

class ExecRouteTable final : public RouteTable {
 public:
  // Requires: options valid; runner outlives the table.
  ExecRouteTable(std::string id, ExecOptions options, runtime::ProcessRunner& runner);

  // route::RouteTable
  const std::string& id() const override { return id_; }
  std::string_view kind() const override { return "exec"; }
  [[nodiscard]] Result<std::vector<Route>> list() override;
  [[nodiscard]] Result<void> apply(const RouteDelta& delta) override;

 private:
  Result<std::vector<Route>> parseListOutput(std::string_view text) const;

  std::string id_;
  ExecOptions options_;
  runtime::ProcessRunner& runner_;
  std::mutex mutex_;
  std::map<IpPrefix, NextHop> applied_;  // guarded by mutex_
};

// Opens ExecRouteTables that all run the same commands.
class ExecRouteBackend final : public RouteBackend {
 public:
  // Requires: runner outlives the backend and its tables.
  ExecRouteBackend(ExecOptions options, runtime::ProcessRunner& runner);

  // route::RouteBackend
  std::string_view kind() const override { return "exec"; }
  // InvalidArgument for an empty id, an id with whitespace, or invalid options.
  [[nodiscard]] Result<std::unique_ptr<RouteTable>> openTable(std::string_view id) override;

 private:
  ExecOptions options_;
  runtime::ProcessRunner& runner_;
};

}  // namespace pathpilot::route
