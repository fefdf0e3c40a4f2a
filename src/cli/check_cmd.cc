// `pathpilot check FILE [--json]`: validates a config file and prints the routing plan.
//
// Every problem is printed to stderr as FILE:LINE:COL: error|warning: MESSAGE (all of them, not
// just the first). When the file is valid, the plan goes to stdout: the site, each path (kind,
// zone, probe targets, pinning, next hop, recovery) and, for every route table and
// destination, the ordered candidate paths with the reason for each place, e.g.
//
//   rtb-468f5222 (Private-1, az ap-southeast-1a) 10.10.0.0/16: dx → vpn-a → vpn-b
//       1. dx     preferred link kind dx
//       2. vpn-a  vpn gateway in the table's own AZ
//       3. vpn-b  vpn gateway in another AZ (cross-AZ)
//
// --json prints the same as one JSON document (with the diagnostics) instead.
// Secrets are never printed: an api.auth_token shows as env:NAME, file:PATH or <inline secret>.
//
// --iam prints, instead of the plan, the least-privilege IAM policy for the config
// (aws/iam_policy.h) on stdout, so that `pathpilot check --iam site.yaml > policy.json` is safe
// to script: diagnostics, warnings (a wildcard account) and reasons for printing nothing go to
// stderr. The account id of the route table and instance ARNs is --account-id, else
// backends.aws.account_id; with neither, nothing is printed (a policy with a silently invented
// "*" account would allow these ids in every account the role reaches). --account-id '*'
// asks for that wildcard explicitly and is warned about. With --agent, FILE is a gateway
// agent's agent.yaml and the policy is its cloudwatch:PutMetricData in its namespace.
// Exit: 0 valid (warnings allowed), 1 invalid or unreadable file (with --iam also: no AWS call
// configured, or no account id), 2 usage error.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "agent/agent_config.h"
#include "aws/iam_policy.h"
#include "cli/command.h"
#include "config/loader.h"
#include "daemon/topology_builder.h"
#include "policy/policy.h"

namespace pathpilot::cli {
namespace {

struct CheckOptions {
  std::string file;
  bool json = false;
  bool iam = false;
  bool agent = false;      // --agent: FILE is an agent.yaml (only with --iam)
  std::string account_id;  // --account-id: overrides backends.aws.account_id
};

std::string fwmarkText(std::uint32_t mark) { return fmt::format("0x{:x}", mark); }

std::string targetsText(const config::ProbeSettings& probe) {
  std::string out;
  for (const config::ProbeTarget& t : probe.targets) {
    out += (out.empty() ? "" : ", ") + t.toString();
  }
  return out;
}

std::string zoneText(const std::string& az) { return az.empty() ? "no az" : "az " + az; }

// "rtb-468f5222 (Private-1, az ap-southeast-1a)"; linux tables show their number.
std::string tableTitle(const config::RouteTableConfig& t) {
  std::string head = t.id;
  std::vector<std::string> details;
  if (t.name != t.id) {
    details.push_back(t.name);
  }
  if (t.backend == config::BackendKind::Linux) {
    if (t.id == std::to_string(t.linux_table)) {
      head = "table " + t.id;
    } else {
      details.push_back("linux table " + std::to_string(t.linux_table));
    }
  } else if (t.backend == config::BackendKind::Exec) {
    details.push_back("exec");
  }
  if (!t.az.empty()) {
    details.push_back("az " + t.az);
  }
  std::string joined;
  for (const std::string& d : details) {
    joined += (joined.empty() ? "" : ", ") + d;
  }
  return joined.empty() ? head : head + " (" + joined + ")";
}

std::string recoveryText(const config::RecoverySettings& r) {
  std::string what = r.action == config::RecoveryAction::Ec2Restart
                         ? "ec2-restart " + r.instance_id
                         : "command " + [&] {
                             std::string argv;
                             for (const std::string& a : r.command) {
                               argv += (argv.empty() ? "" : " ") + a;
                             }
                             return argv;
                           }();
  return fmt::format("{} after {} down (timeout {}, backoff {}..{}, at most {} per hour)", what,
                     formatDuration(r.after), formatDuration(r.timeout),
                     formatDuration(r.backoff_initial), formatDuration(r.backoff_max),
                     r.max_attempts_per_hour);
}

void printDiagnostics(const config::LoadReport& report) {
  for (const config::Diagnostic& d : report.diagnostics) {
    fmt::print(stderr, "{}\n", d.toString());
  }
}

void printText(const config::Config& c, const policy::Topology& topology) {
  fmt::print("site {}{}\n", c.site.name,
             c.site.region.empty() ? "" : " (region " + c.site.region + ")");
  std::size_t width = 0;
  for (const config::PathConfig& p : c.paths) {
    width = std::max(width, p.name.size());
  }

  fmt::print("\npaths:\n");
  for (const config::PathConfig& p : c.paths) {
    fmt::print("  {} ({}, {}, priority {})\n", p.name, config::linkKindName(p.kind), zoneText(p.az),
               p.priority);
    fmt::print("      probe     {} {} every {} (timeout {}, jitter {}%, quorum {} of {})\n",
               config::probeKindName(p.probe.kind), targetsText(p.probe),
               formatDuration(p.probe.interval), formatDuration(p.probe.timeout),
               p.probe.jitter_percent, p.probe.quorum, p.probe.targets.size());
    fmt::print("      pinning   {}\n", p.probe.pinning.toString());
    fmt::print("      next hop  {}\n", p.next_hop.toString());
    fmt::print("      health    down after {} (fall {} x {} + {}), up after {} good rounds\n",
               formatDuration(p.detectionTime()), p.health.fall, formatDuration(p.probe.interval),
               formatDuration(p.probe.timeout), p.health.rise);
    if (p.recovery) {
      fmt::print("      recovery  {}\n", recoveryText(*p.recovery));
    }
  }

  std::string preference;
  for (config::LinkKind k : c.policy.preference) {
    preference += (preference.empty() ? "" : " → ") + std::string(config::linkKindName(k));
  }
  fmt::print(
      "\nplan (preference {}, az affinity {}, failback hold-down {}, fail static {}, settle {}):\n",
      preference, c.policy.az_affinity ? "on" : "off", formatDuration(c.policy.failback_hold_down),
      c.policy.fail_static ? "on" : "off", formatDuration(c.policy.fail_static_settle));
  for (std::size_t i = 0; i < c.tables.size(); ++i) {
    const config::RouteTableConfig& t = c.tables[i];
    std::vector<policy::RankedCandidate> ranked =
        policy::rankCandidates(topology, topology.tables[i]);
    std::string chain;
    for (const policy::RankedCandidate& r : ranked) {
      chain += (chain.empty() ? "" : " → ") + r.path;
    }
    for (const IpPrefix& d : t.destinations) {
      fmt::print("{} {}: {}\n", tableTitle(t), d.toString(), chain);
      for (std::size_t k = 0; k < ranked.size(); ++k) {
        fmt::print("    {}. {:<{}}  {}\n", k + 1, ranked[k].path, width, ranked[k].why);
      }
    }
  }
  // The numbers behind "usable", "degraded" and "clean" (health/link_health.h, hysteresis):
  // what an operator needs to predict when traffic leaves a lossy path and when it returns.
  fmt::print(
      "\nhealth (an up path beats a degraded one; failback needs the better path up — "
      "clean — for the whole hold-down {}):\n",
      formatDuration(c.policy.failback_hold_down));
  for (const config::PathConfig& p : c.paths) {
    const config::HealthSettings& h = p.health;
    const double clear = h.degraded_clear_loss >= 0 ? h.degraded_clear_loss : h.degraded_loss / 2;
    std::string rtt;
    if (h.degraded_rtt > Duration::zero()) {
      const Duration clear_rtt = h.degraded_clear_rtt > Duration::zero()
                                     ? h.degraded_clear_rtt
                                     : std::chrono::duration_cast<Duration>(h.degraded_rtt * 4 / 5);
      rtt = fmt::format(", rtt above {} (clean at or below {})", formatDuration(h.degraded_rtt),
                        formatDuration(clear_rtt));
    }
    fmt::print(
        "  {:<{}}  degraded: loss above {:g}%{} over {} rounds; clean again at or below "
        "{:g}%; down: {} lost rounds in a row or loss above {:g}%; up after {} good rounds\n",
        p.name, width, h.degraded_loss * 100, rtt, h.window, clear * 100, h.fall, h.down_loss * 100,
        h.rise);
  }
}

nlohmann::ordered_json diagnosticsJson(const config::LoadReport& report) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const config::Diagnostic& d : report.diagnostics) {
    nlohmann::ordered_json j = {
        {"severity", config::severityName(d.severity)}, {"file", d.file}, {"message", d.message}};
    if (d.where.known()) {
      j["line"] = d.where.line;
      j["column"] = d.where.column;
    }
    out.push_back(std::move(j));
  }
  return out;
}

nlohmann::ordered_json pathJson(const config::PathConfig& p) {
  nlohmann::ordered_json targets = nlohmann::ordered_json::array();
  for (const config::ProbeTarget& t : p.probe.targets) {
    targets.push_back(t.toString());
  }
  nlohmann::ordered_json pinning = nlohmann::ordered_json::object();
  if (p.probe.pinning.source) {
    pinning["source"] = p.probe.pinning.source->toString();
  }
  if (!p.probe.pinning.interface.empty()) {
    pinning["interface"] = p.probe.pinning.interface;
  }
  if (p.probe.pinning.fwmark) {
    pinning["fwmark"] = fwmarkText(*p.probe.pinning.fwmark);
  }
  nlohmann::ordered_json next_hop = nlohmann::ordered_json::object();
  if (p.next_hop.hasAws()) {
    next_hop[std::string(config::awsTargetKeyName(p.next_hop.aws_kind))] = p.next_hop.aws_id;
  }
  if (p.next_hop.via) {
    next_hop["via"] = p.next_hop.via->toString();
  }
  if (!p.next_hop.dev.empty()) {
    next_hop["dev"] = p.next_hop.dev;
  }
  nlohmann::ordered_json j = {
      {"name", p.name},
      {"kind", config::linkKindName(p.kind)},
      {"az", p.az},
      {"priority", p.priority},
      {"probe",
       {{"kind", config::probeKindName(p.probe.kind)},
        {"targets", targets},
        {"interval", formatDuration(p.probe.interval)},
        {"timeout", formatDuration(p.probe.timeout)},
        {"jitter_percent", p.probe.jitter_percent},
        {"quorum", p.probe.quorum}}},
      {"pinning", pinning},
      {"next_hop", next_hop},
      {"detection_time", formatDuration(p.detectionTime())},
  };
  if (p.recovery) {
    const config::RecoverySettings& r = *p.recovery;
    j["recovery"] = {{"action", config::recoveryActionName(r.action)},
                     {"after", formatDuration(r.after)},
                     {"timeout", formatDuration(r.timeout)},
                     {"backoff_initial", formatDuration(r.backoff_initial)},
                     {"backoff_max", formatDuration(r.backoff_max)},
                     {"max_attempts_per_hour", r.max_attempts_per_hour}};
    if (r.action == config::RecoveryAction::Ec2Restart) {
      j["recovery"]["instance_id"] = r.instance_id;
    } else {
      j["recovery"]["command"] = r.command;
    }
  }
  return j;
}

nlohmann::ordered_json planJson(const config::Config& c, const policy::Topology& topology) {
  nlohmann::ordered_json plan = nlohmann::ordered_json::array();
  for (std::size_t i = 0; i < c.tables.size(); ++i) {
    const config::RouteTableConfig& t = c.tables[i];
    nlohmann::ordered_json candidates = nlohmann::ordered_json::array();
    for (const policy::RankedCandidate& r : policy::rankCandidates(topology, topology.tables[i])) {
      candidates.push_back({{"path", r.path}, {"why", r.why}});
    }
    for (const IpPrefix& d : t.destinations) {
      nlohmann::ordered_json entry = {{"table", t.id},
                                      {"name", t.name},
                                      {"az", t.az},
                                      {"backend", config::backendKindName(t.backend)},
                                      {"destination", d.toString()},
                                      {"candidates", candidates}};
      if (t.backend == config::BackendKind::Linux) {
        entry["linux_table"] = t.linux_table;
      }
      plan.push_back(std::move(entry));
    }
  }
  return plan;
}

// What the daemon calls in AWS for config `c`, as the policy builder's input.
aws::IamPolicyInput iamInput(const config::Config& c, const std::string& account_override) {
  aws::IamPolicyInput in;
  in.region = c.backends.aws.region.empty() ? c.site.region : c.backends.aws.region;
  in.account_id = account_override.empty() ? c.backends.aws.account_id : account_override;
  for (const config::RouteTableConfig& t : c.tables) {
    if (t.backend == config::BackendKind::Aws) {
      in.route_table_ids.push_back(t.id);
    }
  }
  for (const config::PathConfig& p : c.paths) {
    if (p.recovery && p.recovery->action == config::RecoveryAction::Ec2Restart) {
      in.restart_instance_ids.push_back(p.recovery->instance_id);
    }
  }
  if (c.alerts) {
    for (const config::AlertChannelConfig& ch : c.alerts->channels) {
      if (ch.kind == config::AlertChannelKind::Sns && !ch.phone_number.empty()) {
        in.sns_sms_regions.push_back(ch.region);  // the loader filled it in
      } else if (ch.kind == config::AlertChannelKind::Sns) {
        in.sns_topic_arns.push_back(ch.topic_arn);
      }
    }
  }
  // The daemon publishes no CloudWatch metrics of its own (the gateway agent does, with its
  // own agent.yaml); the builder supports namespaces for when it does.
  return in;
}

// Prints the policy (or why there is none) for `in`; shared by site and agent configs.
int printIam(const CheckOptions& opt, const aws::IamPolicyInput& in) {
  auto policy = aws::buildIamPolicy(in);
  if (!policy) {
    if (policy.error().code() == ErrorCode::NotFound) {
      fmt::print(stderr, "{}: no IAM policy needed: this config makes no AWS call ({})\n", opt.file,
                 opt.agent ? "no cloudwatch section"
                           : "no route table with backend aws, no ec2-restart recovery, no sns "
                             "alert channel");
    } else {
      fmt::print(stderr, "{}: {}\n", opt.file, policy.error().message());
    }
    return kExitFailure;
  }
  for (const std::string& w : policy->warnings) {
    fmt::print(stderr, "{}: warning: {}\n", opt.file, w);
  }
  fmt::print("{}\n", policy->json);
  return kExitOk;
}

int runIam(const CheckOptions& opt, const config::LoadReport& report) {
  if (!report.ok()) {
    fmt::print(stderr, "{}: invalid: {} error{}; no IAM policy printed\n", opt.file, report.errors,
               report.errors == 1 ? "" : "s");
    return kExitFailure;
  }
  aws::IamPolicyInput in = iamInput(*report.config, opt.account_id);
  bool needs_account = !in.route_table_ids.empty() || !in.restart_instance_ids.empty();
  if (needs_account && in.account_id.empty()) {
    fmt::print(stderr,
               "{}: backends.aws.account_id is not set and --account-id was not given: the "
               "policy names the route tables and gateway instances by ARN, which includes the "
               "account (set backends.aws.account_id: 111122223333, or pass --account-id; "
               "--account-id '*' allows any account and is not recommended)\n",
               opt.file);
    return kExitFailure;
  }
  return printIam(opt, in);
}

// The gateway agent only publishes CloudWatch metrics (agent/agent_config.h).
int runAgentIam(const CheckOptions& opt) {
  auto agent = agent::loadAgentConfig(opt.file);
  if (!agent) {
    fmt::print(stderr, "{}\n{}: invalid agent config; no IAM policy printed\n",
               agent.error().message(), opt.file);
    return kExitFailure;
  }
  aws::IamPolicyInput in;
  if (agent->cloudwatch) {
    in.region = agent->cloudwatch->region;
    in.cloudwatch_namespaces.push_back(agent->cloudwatch->metric_namespace);
  }
  return printIam(opt, in);
}

int runCheck(const CheckOptions& opt) {
  if (opt.iam && opt.agent) {
    return runAgentIam(opt);
  }
  config::LoadReport report = config::checkFile(opt.file);
  if (opt.iam) {
    printDiagnostics(report);
    return runIam(opt, report);
  }
  printDiagnostics(report);
  if (opt.json) {
    nlohmann::ordered_json out = {{"file", opt.file},
                                  {"valid", report.ok()},
                                  {"errors", report.errors},
                                  {"warnings", report.warnings},
                                  {"diagnostics", diagnosticsJson(report)}};
    if (report.config) {
      const config::Config& c = *report.config;
      policy::Topology topology = daemon::buildTopology(c);
      nlohmann::ordered_json paths = nlohmann::ordered_json::array();
      for (const config::PathConfig& p : c.paths) {
        paths.push_back(pathJson(p));
      }
      nlohmann::ordered_json preference = nlohmann::ordered_json::array();
      for (config::LinkKind k : c.policy.preference) {
        preference.push_back(config::linkKindName(k));
      }
      out["site"] = {{"name", c.site.name}, {"region", c.site.region}};
      out["paths"] = paths;
      out["policy"] = {{"preference", preference},
                       {"az_affinity", c.policy.az_affinity},
                       {"failback_hold_down", formatDuration(c.policy.failback_hold_down)},
                       {"fail_static", c.policy.fail_static},
                       {"fail_static_settle", formatDuration(c.policy.fail_static_settle)}};
      out["plan"] = planJson(c, topology);
      if (c.api && c.api->auth_token) {
        out["api_auth_token"] = c.api->auth_token->describe();
      }
    }
    // Replace invalid UTF-8 rather than throw: messages quote parts of the file.
    fmt::print("{}\n", out.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
  } else if (report.config) {
    const config::Config& c = *report.config;
    printText(c, daemon::buildTopology(c));
  }
  if (!report.ok()) {
    fmt::print(stderr, "{}: invalid: {} error{}, {} warning{}\n", opt.file, report.errors,
               report.errors == 1 ? "" : "s", report.warnings, report.warnings == 1 ? "" : "s");
    return kExitFailure;
  }
  if (!opt.json) {
    fmt::print("\n{}: OK ({} paths, {} route tables, {} warning{})\n", opt.file,
               report.config->paths.size(), report.config->tables.size(), report.warnings,
               report.warnings == 1 ? "" : "s");
  }
  return kExitOk;
}

}  // namespace

Command addCheckCommand(CLI::App& root) {
  auto* app = root.add_subcommand("check", "Validate a config file and print the routing plan");
  auto opt = std::make_shared<CheckOptions>();
  app->add_option("FILE", opt->file, "config file (YAML)")->required();
  auto* json = app->add_flag("--json", opt->json, "print the plan and the diagnostics as JSON");
  auto* iam = app->add_flag("--iam", opt->iam,
                            "print the least-privilege IAM policy (JSON) for this config");
  iam->excludes(json);
  app->add_flag("--agent", opt->agent,
                "with --iam: FILE is a gateway agent's agent.yaml (CloudWatch policy)")
      ->needs(iam);
  app->add_option("--account-id", opt->account_id,
                  "AWS account of the route tables and instances in the --iam policy "
                  "(default: backends.aws.account_id; '*' = any account, warned)")
      ->needs(iam)
      ->check([](const std::string& v) -> std::string {
        bool digits = v.size() == 12 &&
                      std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
        return digits || v == "*" ? "" : "expected a 12-digit account id or '*'";
      });
  return {app, [opt] { return runCheck(*opt); }};
}

}  // namespace pathpilot::cli
