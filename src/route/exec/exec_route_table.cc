#include "route/exec/exec_route_table.h"

#include <cctype>

#include "base/check.h"

namespace pathpilot::route {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) {
    s.remove_prefix(1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

Result<void> ExecOptions::validate() const {
  if (argv.empty() || argv[0].empty()) {
    return fail(ErrorCode::InvalidArgument, "exec route backend: the hook command is empty");
  }
  if (timeout <= Duration::zero()) {
    return fail(ErrorCode::InvalidArgument, "exec route backend: timeout must be positive");
  }
  if (!list_argv.empty() && list_argv[0].empty()) {
    return fail(ErrorCode::InvalidArgument, "exec route backend: the list command is empty");
  }
  return ok();
}

ExecRouteTable::ExecRouteTable(std::string id, ExecOptions options, runtime::ProcessRunner& runner)
    : id_(std::move(id)), options_(std::move(options)), runner_(runner) {
  PP_CHECK(options_.validate().has_value());
}

Result<void> ExecRouteTable::apply(const RouteDelta& delta) {
  runtime::ProcessSpec spec;
  spec.argv = options_.argv;
  spec.env = options_.env;
  spec.inherit = options_.inherit;
  spec.redactor = options_.redactor;
  spec.timeout = options_.timeout;
  spec.kill_grace = options_.kill_grace;
  auto hop = [](const std::optional<NextHop>& h) { return h ? h->toString() : std::string(); };
  // Appended after the configured variables: ProcessRunner lets a later entry win, so a
  // configured PATHPILOT_* name cannot mask the change being applied.
  spec.env.emplace_back("PATHPILOT_ACTION", delta.isDelete() ? "delete" : "replace");
  spec.env.emplace_back("PATHPILOT_TABLE", id_);
  spec.env.emplace_back("PATHPILOT_DESTINATION", delta.destination.toString());
  spec.env.emplace_back("PATHPILOT_OLD_NEXT_HOP", hop(delta.old_next_hop));
  spec.env.emplace_back("PATHPILOT_NEW_NEXT_HOP", hop(delta.new_next_hop));
  spec.env.emplace_back("PATHPILOT_PATH", delta.isDelete() ? std::string() : delta.new_path);
  spec.env.emplace_back("PATHPILOT_OLD_PATH", delta.old_path);

  std::string what = "route hook \"" + options_.argv[0] + "\" for " +
                     delta.destination.toString() + " in table " + id_;
  auto outcome = runner_.run(spec);
  if (!outcome) {
    return fail(outcome.error().withContext(what));
  }
  // A failing hook is reported as retryable (Unavailable/Timeout): the reconciler backs off and
  // tries again, and the operator sees the hook's own stderr in the route_error event.
  if (!outcome->success()) {
    ErrorCode code = outcome->timed_out ? ErrorCode::Timeout : ErrorCode::Unavailable;
    return fail(code, what + " " + outcome->describe(options_.timeout));
  }
  // Recorded only after the hook succeeded: after a failure or timeout, list() without a list
  // command still shows the route as it was, so the change is not taken as done.
  std::lock_guard<std::mutex> lock(mutex_);
  if (delta.new_next_hop) {
    applied_[delta.destination] = *delta.new_next_hop;
  } else {
    applied_.erase(delta.destination);
  }
  return ok();
}

Result<std::vector<Route>> ExecRouteTable::list() {
  if (options_.list_argv.empty()) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<Route> routes;
    for (const auto& [prefix, hop] : applied_) {
      routes.push_back(Route{id_, prefix, hop});
    }
    return routes;
  }
  runtime::ProcessSpec spec;
  spec.argv = options_.list_argv;
  spec.env = options_.env;
  spec.inherit = options_.inherit;
  spec.redactor = options_.redactor;
  spec.env.emplace_back("PATHPILOT_TABLE", id_);
  spec.timeout = options_.timeout;
  spec.kill_grace = options_.kill_grace;
  std::string what = "route list command \"" + options_.list_argv[0] + "\" for table " + id_;
  auto outcome = runner_.run(spec);
  if (!outcome) {
    return fail(outcome.error().withContext(what));
  }
  if (!outcome->success()) {
    ErrorCode code = outcome->timed_out ? ErrorCode::Timeout : ErrorCode::Unavailable;
    return fail(code, what + " " + outcome->describe(options_.timeout));
  }
  // A cut listing is an error, not a shorter list: the routes past the limit would look absent
  // and the last line may be cut in half.
  if (outcome->stdout_truncated) {
    return fail(ErrorCode::InvalidArgument, what + " printed more than " +
                                                std::to_string(spec.stdout_limit) + " bytes");
  }
  auto routes = parseListOutput(outcome->stdout_text);
  if (!routes) {
    return fail(routes.error().withContext(what));
  }
  return routes;
}

Result<std::vector<Route>> ExecRouteTable::parseListOutput(std::string_view text) const {
  std::vector<Route> routes;
  std::map<IpPrefix, size_t> seen;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    // Trimming also drops the '\r' of CRLF output. line_no counts skipped lines too, so errors
    // name the line as the command printed it.
    line = trim(line);
    if (line.empty() || line.front() == '#') {
      continue;
    }
    auto where = [&](const std::string& why) {
      return fail(ErrorCode::InvalidArgument,
                  "output line " + std::to_string(line_no) + " \"" + std::string(line) +
                      "\": " + why + " (expected \"<prefix> <next hop>\")");
    };
    // Only the first blank separates: the next hop itself may contain spaces ("via ... dev ...").
    size_t space = line.find_first_of(" \t");
    if (space == std::string_view::npos) {
      return where("no next hop");
    }
    auto prefix = IpPrefix::parse(line.substr(0, space));
    if (!prefix) {
      return where(prefix.error().message());
    }
    auto hop = parseNextHop(trim(line.substr(space)));
    if (!hop) {
      return where(hop.error().message());
    }
    // A table holds one route per destination; two lines for one would leave it ambiguous.
    if (seen.count(*prefix) != 0) {
      return where("destination listed twice");
    }
    seen[*prefix] = routes.size();
    routes.push_back(Route{id_, *prefix, *hop});
  }
  return routes;
}

ExecRouteBackend::ExecRouteBackend(ExecOptions options, runtime::ProcessRunner& runner)
    : options_(std::move(options)), runner_(runner) {}

Result<std::unique_ptr<RouteTable>> ExecRouteBackend::openTable(std::string_view id) {
  // Checked here so that bad options come back as an error, instead of tripping the
  // constructor's PP_CHECK and aborting the daemon.
  if (auto valid = options_.validate(); !valid) {
    return fail(valid.error());
  }
  if (id.empty()) {
    return fail(ErrorCode::InvalidArgument, "exec route backend: empty table id");
  }
  for (char c : id) {
    if (std::isspace(static_cast<unsigned char>(c)) != 0 || c == '\0') {
      return fail(ErrorCode::InvalidArgument,
                  "exec route backend: table id \"" + std::string(id) + "\" contains whitespace");
    }
  }
  return std::unique_ptr<RouteTable>(
      std::make_unique<ExecRouteTable>(std::string(id), options_, runner_));
}

}  // namespace pathpilot::route
