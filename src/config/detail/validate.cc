// Whole-file checks: what no single section can show on its own. Runs on the decoded Config
// and uses the LocationIndex the decoder filled to point at the line that has to change.
#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "config/detail/decode.h"
#include "config/detail/suggest.h"

namespace pathpilot::config::detail {
namespace {

std::string familyName(IpFamily f) { return f == IpFamily::V4 ? "IPv4" : "IPv6"; }

bool contains(const std::vector<LinkKind>& kinds, LinkKind k) {
  return std::find(kinds.begin(), kinds.end(), k) != kinds.end();
}

class Validator {
 public:
  Validator(const Config& config, Context& ctx) : c_(config), ctx_(ctx) {}

  void run() {
    uniquePathNames();
    for (std::size_t i = 0; i < c_.paths.size(); ++i) {
      pathOnItsOwn(i);
    }
    distinctPinning();
    holdDownCoversDetection();
    uniqueTables();
    for (std::size_t i = 0; i < c_.tables.size(); ++i) {
      table(i);
    }
    unusedPaths();
    backends();
    services();
    passthroughKeepsSecrets();
  }

 private:
  std::string pathKey(std::size_t i, std::string_view rest = {}) const {
    std::string p = indexPath("paths", i);
    return rest.empty() ? p : p + "." + std::string(rest);
  }
  std::string tableKey(std::size_t i, std::string_view rest = {}) const {
    std::string p = indexPath("route_tables", i);
    return rest.empty() ? p : p + "." + std::string(rest);
  }
  std::string tableLabel(const RouteTableConfig& t) const { return "'" + t.id + "'"; }

  // --- paths ----------------------------------------------------------------------------------

  void uniquePathNames() {
    std::map<std::string, std::size_t> first;
    for (std::size_t i = 0; i < c_.paths.size(); ++i) {
      const std::string& name = c_.paths[i].name;
      if (name.empty()) {
        continue;
      }
      auto [it, inserted] = first.emplace(name, i);
      if (!inserted) {
        ctx_.errorAt(pathKey(i, "name"),
                     "duplicate path name '" + name + "' (also " + pathKey(it->second) + ")");
      }
    }
  }

  // A path or table item whose own keys had errors (wrong type, missing or unknown keys) is
  // left out of the cross-checks: its values are partly defaults, and checking them would
  // report follow-up errors of the mistake already reported.
  bool itemFailed(const std::string& key) const { return ctx_.failed(key); }

  void pathOnItsOwn(std::size_t i) {
    const PathConfig& p = c_.paths[i];
    if (itemFailed(pathKey(i))) {
      return;
    }
    const ProbeSettings& probe = p.probe;
    // Inherited timings were checked under `probe` (decode.cc), so only a path that writes its
    // own timeout or interval is checked here, at the key it wrote.
    bool own_timing = ctx_.locations.has(pathKey(i, "probe.timeout")) ||
                      ctx_.locations.has(pathKey(i, "probe.interval"));
    bool timing_valid =
        !ctx_.failed(pathKey(i, "probe.timeout")) && !ctx_.failed(pathKey(i, "probe.interval"));
    if (own_timing && timing_valid && probe.timeout >= probe.interval) {
      ctx_.errorAt(pathKey(i, ctx_.locations.has(pathKey(i, "probe.timeout")) ? "probe.timeout"
                                                                              : "probe.interval"),
                   "timeout " + formatDuration(probe.timeout) +
                       " must be shorter than the interval " + formatDuration(probe.interval) +
                       " (a probe must finish before the next one starts)");
    }
    // A target list with a rejected item is marked failed by the decoder, so the quorum is not
    // compared with a list shortened by that mistake.
    if (!probe.targets.empty() && !ctx_.failed(pathKey(i, "probe.targets")) &&
        static_cast<std::size_t>(probe.quorum) > probe.targets.size()) {
      ctx_.errorAt(pathKey(i, "probe.quorum"),
                   "quorum " + std::to_string(probe.quorum) + " is more than the " +
                       std::to_string(probe.targets.size()) +
                       (probe.targets.size() == 1 ? " target" : " targets") + " of path '" +
                       p.name + "'");
    }
    if (probe.pinning.source) {
      for (const ProbeTarget& t : probe.targets) {
        if (t.address.family() != probe.pinning.source->family()) {
          ctx_.errorAt(pathKey(i, "probe.source"),
                       "source " + probe.pinning.source->toString() + " is " +
                           familyName(probe.pinning.source->family()) + " but target " +
                           t.toString() + " is " + familyName(t.address.family()) +
                           " (use one path per address family, or pin by interface/fwmark)");
          break;
        }
      }
    }
    if (p.kind == LinkKind::Vpn && p.az.empty() && c_.policy.az_affinity &&
        !ctx_.failed(pathKey(i, "kind"))) {
      ctx_.errorAt(pathKey(i),
                   "missing 'az': vpn path '" + p.name +
                       "' needs the availability zone of its gateway while policy.az_affinity "
                       "is on (or set az_affinity: false)");
    }
    std::string region = awsRegion();
    // Zone IDs such as apse1-az1 do not start with the region name, so they are not compared.
    if (!region.empty() && !p.az.empty() && p.az.rfind(region, 0) != 0 &&
        p.az.find("-az") == std::string::npos) {
      ctx_.warningAt(pathKey(i, "az"),
                     "availability zone '" + p.az + "' is not in region '" + region + "'");
    }
  }

  void distinctPinning() {
    for (std::size_t j = 0; j < c_.paths.size(); ++j) {
      const Pinning& pj = c_.paths[j].probe.pinning;
      if (pj.empty()) {
        continue;
      }
      // Only earlier paths are compared: a pair is reported once, at its second path.
      for (std::size_t i = 0; i < j; ++i) {
        if (c_.paths[i].probe.pinning == pj) {
          ctx_.errorAt(pathKey(j, "probe"),
                       "pinned exactly like path '" + c_.paths[i].name + "' (" + pj.toString() +
                           "): both probes would take the same route, so neither says anything "
                           "about its own path");
          break;
        }
      }
    }
  }

  void holdDownCoversDetection() {
    const PathConfig* worst = nullptr;
    for (const PathConfig& p : c_.paths) {
      if (worst == nullptr || p.detectionTime() > worst->detectionTime()) {
        worst = &p;
      }
    }
    Duration hold = c_.policy.failback_hold_down;
    if (worst == nullptr || hold >= worst->detectionTime()) {
      return;
    }
    bool written = ctx_.locations.has("policy.failback_hold_down");
    ctx_.errorAt("policy.failback_hold_down",
                 "failback_hold_down " + formatDuration(hold) + (written ? "" : " (default)") +
                     " is shorter than the time to detect a failure of path '" + worst->name +
                     "' (interval " + formatDuration(worst->probe.interval) + " x fall " +
                     std::to_string(worst->health.fall) + " + timeout " +
                     formatDuration(worst->probe.timeout) + " = " +
                     formatDuration(worst->detectionTime()) +
                     "): traffic could move back to a path that failed again before the "
                     "failure is seen");
  }

  // --- route tables ---------------------------------------------------------------------------

  void uniqueTables() {
    std::map<std::string, std::size_t> ids;
    std::map<std::string, std::size_t> names;
    std::map<std::uint32_t, std::size_t> numbers;
    for (std::size_t i = 0; i < c_.tables.size(); ++i) {
      const RouteTableConfig& t = c_.tables[i];
      if (!t.id.empty()) {
        auto [it, inserted] = ids.emplace(t.id, i);
        if (!inserted) {
          ctx_.errorAt(tableKey(i, "id"), "duplicate route table id '" + t.id + "' (also " +
                                              tableKey(it->second) + ")");
        }
      }
      // A table written without a name takes its id as name (decode.cc); such a name is left to
      // the id check so that one duplicate is not reported twice.
      if (!t.name.empty() && t.name != t.id) {
        auto [it, inserted] = names.emplace(t.name, i);
        if (!inserted) {
          ctx_.errorAt(tableKey(i, "name"), "duplicate route table name '" + t.name + "' (also " +
                                                tableKey(it->second) + ")");
        }
      }
      // linux_table stays 0 when the number was missing or rejected, which has been reported.
      if (t.backend == BackendKind::Linux && t.linux_table != 0) {
        auto [it, inserted] = numbers.emplace(t.linux_table, i);
        if (!inserted) {
          ctx_.errorAt(tableKey(i, "table"), "Linux table " + std::to_string(t.linux_table) +
                                                 " is also used by " + tableKey(it->second));
        }
      }
    }
  }

  // The paths that may carry table `t`: its restriction (or every path), limited to the link
  // kinds of policy.preference.
  std::vector<std::size_t> candidates(const RouteTableConfig& t) const {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < c_.paths.size(); ++i) {
      const PathConfig& p = c_.paths[i];
      bool allowed =
          t.paths.empty() || std::find(t.paths.begin(), t.paths.end(), p.name) != t.paths.end();
      if (allowed && contains(c_.policy.preference, p.kind)) {
        out.push_back(i);
      }
    }
    return out;
  }

  void table(std::size_t i) {
    const RouteTableConfig& t = c_.tables[i];
    if (itemFailed(tableKey(i))) {
      return;
    }
    std::vector<std::string_view> names;
    for (const PathConfig& p : c_.paths) {
      names.push_back(p.name);
    }
    std::set<std::string> seen;
    bool restriction_ok = true;
    for (std::size_t k = 0; k < t.paths.size(); ++k) {
      const std::string& name = t.paths[k];
      std::string key = tableKey(i, "paths[" + std::to_string(k) + "]");
      if (!seen.insert(name).second) {
        ctx_.errorAt(key, "path '" + name + "' is listed twice");
        continue;
      }
      if (c_.findPath(name) == nullptr) {
        restriction_ok = false;
        ctx_.errorAt(key, "unknown path '" + name + "'" + didYouMean(name, names));
      }
    }
    std::vector<std::size_t> usable = candidates(t);
    // An unknown name in the restriction, or no paths at all, has been reported and would
    // explain an empty candidate list on its own.
    if (usable.empty() && restriction_ok && !c_.paths.empty()) {
      ctx_.errorAt(tableKey(i), "no path can carry route table " + tableLabel(t) +
                                    ": none of its paths has a link kind listed in "
                                    "policy.preference");
    }
    bool has_vpn = std::any_of(usable.begin(), usable.end(),
                               [&](std::size_t j) { return c_.paths[j].kind == LinkKind::Vpn; });
    if (t.az.empty() && c_.policy.az_affinity && has_vpn) {
      ctx_.errorAt(tableKey(i), "missing 'az': route table " + tableLabel(t) +
                                    " needs the availability zone of its subnets to prefer the "
                                    "VPN gateway in the same zone (or set policy.az_affinity: "
                                    "false)");
    }
    std::string region = awsRegion();
    if (!region.empty() && !t.az.empty() && t.backend == BackendKind::Aws &&
        t.az.rfind(region, 0) != 0 && t.az.find("-az") == std::string::npos) {
      ctx_.warningAt(tableKey(i, "az"),
                     "availability zone '" + t.az + "' is not in region '" + region + "'");
    }
    for (std::size_t j : usable) {
      nextHopFits(t, j);
    }
  }

  // A path that may carry a table must have a next hop the table's backend can program.
  void nextHopFits(const RouteTableConfig& t, std::size_t j) {
    const PathConfig& p = c_.paths[j];
    if (itemFailed(pathKey(j)) || ctx_.failed(pathKey(j, "next_hop"))) {
      return;  // its next hop was invalid and has been reported
    }
    // A path can be a candidate of many tables: a missing next hop is reported once per path
    // and backend (reported_), not once per table.
    if (t.backend == BackendKind::Aws && !p.next_hop.hasAws()) {
      if (reported_.insert({j, BackendKind::Aws}).second) {
        ctx_.errorAt(pathKey(j, "next_hop"),
                     "path '" + p.name + "' may carry aws route table " + tableLabel(t) +
                         " but has no AWS next hop: set next_hop.gateway_id (vgw-...), "
                         "instance_id (i-...), network_interface_id or transit_gateway_id");
      }
    }
    if (t.backend == BackendKind::Linux) {
      if (!p.next_hop.hasLinux()) {
        if (reported_.insert({j, BackendKind::Linux}).second) {
          ctx_.errorAt(pathKey(j, "next_hop"),
                       "path '" + p.name + "' may carry linux table " + tableLabel(t) +
                           " but has no Linux next hop: set next_hop.via and/or next_hop.dev");
        }
      } else if (p.next_hop.via) {
        for (const IpPrefix& d : t.destinations) {
          if (d.family() != p.next_hop.via->family()) {
            ctx_.errorAt(pathKey(j, "next_hop.via"),
                         "via " + p.next_hop.via->toString() + " is " +
                             familyName(p.next_hop.via->family()) + " but linux table " +
                             tableLabel(t) + " routes " + familyName(d.family()) + " destination " +
                             d.toString() + " over path '" + p.name + "'");
            break;
          }
        }
      }
    }
  }

  void unusedPaths() {
    for (std::size_t j = 0; j < c_.paths.size(); ++j) {
      const PathConfig& p = c_.paths[j];
      if (itemFailed(pathKey(j)) || ctx_.failed(pathKey(j, "kind"))) {
        continue;
      }
      if (!contains(c_.policy.preference, p.kind)) {
        ctx_.warningAt(pathKey(j, "kind"), "link kind '" + std::string(linkKindName(p.kind)) +
                                               "' is not in policy.preference, so path '" + p.name +
                                               "' never carries traffic (it is still probed)");
        continue;
      }
      bool used = std::any_of(c_.tables.begin(), c_.tables.end(), [&](const RouteTableConfig& t) {
        return t.paths.empty() ||
               std::find(t.paths.begin(), t.paths.end(), p.name) != t.paths.end();
      });
      // Without route tables (an error of its own) every path would be reported as unused.
      if (!used && !c_.tables.empty()) {
        ctx_.warningAt(pathKey(j),
                       "path '" + p.name + "' is not used by any route table (it is still probed)");
      }
    }
  }

  // --- backends and services ------------------------------------------------------------------

  std::string awsRegion() const {
    return c_.backends.aws.region.empty() ? c_.site.region : c_.backends.aws.region;
  }

  void backends() {
    std::string needs_aws;
    for (const RouteTableConfig& t : c_.tables) {
      if (t.backend == BackendKind::Aws) {
        needs_aws = "route table '" + t.id + "'";
        break;
      }
    }
    if (needs_aws.empty()) {
      for (const PathConfig& p : c_.paths) {
        if (p.recovery && p.recovery->action == RecoveryAction::Ec2Restart) {
          needs_aws = "the ec2-restart recovery of path '" + p.name + "'";
          break;
        }
      }
    }
    if (!needs_aws.empty() && awsRegion().empty()) {
      ctx_.errorAt(
          ctx_.locations.has("backends.aws") ? "backends.aws" : "site",
          "no AWS region: set site.region or backends.aws.region (needed by " + needs_aws + ")");
    }
    if (!c_.site.region.empty() && !c_.backends.aws.region.empty() &&
        c_.site.region != c_.backends.aws.region) {
      ctx_.warningAt("backends.aws.region", "backends.aws.region '" + c_.backends.aws.region +
                                                "' differs from site.region '" + c_.site.region +
                                                "'; the EC2 calls use backends.aws.region");
    }
    for (std::size_t i = 0; i < c_.tables.size(); ++i) {
      // Reported once, at the first exec table: the fix is one key, backends.exec.command.
      if (c_.tables[i].backend == BackendKind::Exec && c_.backends.exec.command.empty()) {
        ctx_.errorAt(tableKey(i, "backend"),
                     "backend exec needs backends.exec.command (the hook that programs routes)");
        break;
      }
    }
  }

  void services() {
    if (c_.api && !c_.api->address.isLoopback()) {
      // Writes are refused without a token, so the risk without one is reading, and with one
      // it is the token itself: the API speaks plain HTTP.
      if (!c_.api->auth_token) {
        ctx_.warningAt("api.listen",
                       "the API listens on " + c_.api->address.toString() +
                           ", not loopback, without api.auth_token: anyone who can reach it can "
                           "read status, topology and events (drain/undrain stay refused)");
      } else {
        ctx_.warningAt("api.listen",
                       "the API listens on " + c_.api->address.toString() +
                           ", not loopback, over plain HTTP: the bearer token crosses the "
                           "network in clear text; put a TLS reverse proxy in front (docs/"
                           "config.md#api) or listen on loopback");
      }
    }
    if (c_.journal.sqlite.empty() && c_.journal.jsonl.empty()) {
      ctx_.warningAt("journal",
                     "both journal.sqlite and journal.jsonl are empty: events are not "
                     "kept anywhere");
    }
  }

  // A command must never receive the config's secrets: an env_passthrough naming a variable
  // that a secret is read from ({env: NAME}) is an error at that item.
  void passthroughKeepsSecrets() {
    std::map<std::string, std::string> secret_vars;  // variable → the key reading it
    auto note = [&](const std::optional<SecretRef>& ref, const std::string& key) {
      if (ref && ref->source == SecretRef::Source::Env) {
        secret_vars.emplace(ref->value, key);
      }
    };
    if (c_.api) {
      note(c_.api->auth_token, "api.auth_token");
    }
    if (c_.alerts) {
      for (std::size_t i = 0; i < c_.alerts->channels.size(); ++i) {
        const AlertChannelConfig& ch = c_.alerts->channels[i];
        std::string p = indexPath("alerts.channels", i);
        note(ch.url, p + ".url");
        note(ch.secret, p + ".secret");
        note(ch.token, p + ".token");
        note(ch.password, p + ".password");
      }
    }
    auto check = [&](const std::vector<std::string>& names, const std::string& key) {
      for (std::size_t i = 0; i < names.size(); ++i) {
        auto it = secret_vars.find(names[i]);
        if (it != secret_vars.end()) {
          ctx_.errorAt(indexPath(key, i), names[i] + " holds the secret of " + it->second +
                                              " ({env: " + names[i] +
                                              "}); commands never receive the config's "
                                              "secrets");
        }
      }
    };
    check(c_.backends.exec.env_passthrough, "backends.exec.env_passthrough");
    for (std::size_t i = 0; i < c_.paths.size(); ++i) {
      if (c_.paths[i].recovery) {
        check(c_.paths[i].recovery->env_passthrough, pathKey(i, "recovery.env_passthrough"));
      }
    }
  }

  const Config& c_;
  Context& ctx_;
  std::set<std::pair<std::size_t, BackendKind>> reported_;
};

}  // namespace

void validateConfig(const Config& config, Context& ctx) { Validator(config, ctx).run(); }

}  // namespace pathpilot::config::detail
