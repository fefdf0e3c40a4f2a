// Schema decoding: one function per section of the file. Each reads its keys through a
// MapReader (which rejects unknown keys), applies config.h defaults for absent keys, and checks
// what the section shows on its own. Checks that need several sections are in validate.cc.
#include <algorithm>
#include <cctype>
#include <set>
#include <string>
#include <unordered_map>

#include "base/redact.h"
#include "config/detail/decode.h"
#include "config/detail/ids.h"
#include "config/detail/suggest.h"
#include "config/message_template.h"
#include "config/schema.h"
#include "config/secret_file.h"

namespace pathpilot::config::detail {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr std::size_t kMaxPaths = 4096;
constexpr std::size_t kMaxTables = 4096;
constexpr std::size_t kMaxTargets = 16;
constexpr std::size_t kMaxDestinations = 1000;
constexpr std::size_t kMaxArgv = 64;
constexpr std::size_t kMaxPassthrough = 64;

// The keys of each mapping, in the order docs/config.md lists them.
const std::vector<std::string_view> kTopKeys = {
    "version",  "site",    "paths",   "route_tables", "policy", "probe",   "health",
    "backends", "journal", "control", "api",          "alerts", "monitor", "ha"};
const std::vector<std::string_view> kMonitorKeys = {"probe", "correlation_window"};
const std::vector<std::string_view> kSiteKeys = {"name", "region"};
const std::vector<std::string_view> kProbeDefaultKeys = {"kind",    "quorum", "interval",
                                                         "timeout", "jitter", "adaptive_timeout"};
const std::vector<std::string_view> kPathProbeKeys = {
    "targets",          "kind",   "quorum",    "interval", "timeout", "jitter",
    "adaptive_timeout", "source", "interface", "fwmark"};
const std::vector<std::string_view> kAdaptiveTimeoutKeys = {"enabled", "min", "rttvar_factor",
                                                            "margin"};
const std::vector<std::string_view> kHealthKeys = {"window",
                                                   "rise",
                                                   "fall",
                                                   "degraded_loss",
                                                   "down_loss",
                                                   "degraded_rtt",
                                                   "degraded_rtt_p95",
                                                   "degraded_clear_loss",
                                                   "degraded_clear_rtt",
                                                   "damping"};
const std::vector<std::string_view> kDampingKeys = {"enabled", "half_life", "penalty",
                                                    "suppress", "reuse",    "max_suppress"};
const std::vector<std::string_view> kPathKeys = {"name",     "kind",     "az",       "priority",
                                                 "probe",    "next_hop", "recovery", "health"};
const std::vector<std::string_view> kNextHopKeys = {"gateway_id",         "instance_id",
                                                    "network_interface_id", "transit_gateway_id",
                                                    "via",                "dev"};
const std::vector<std::string_view> kRecoveryKeys = {
    "action",  "command", "instance_id",           "after",
    "timeout", "backoff", "max_attempts_per_hour", "env_passthrough"};
const std::vector<std::string_view> kBackoffKeys = {"initial", "max"};
const std::vector<std::string_view> kTableKeys = {"id",    "name",         "az",   "backend",
                                                  "table", "destinations", "paths"};
const std::vector<std::string_view> kPolicyKeys = {
    "preference", "az_affinity", "failback_hold_down", "fail_static", "fail_static_settle"};
const std::vector<std::string_view> kBackendsKeys = {"aws", "linux", "exec"};
const std::vector<std::string_view> kAwsKeys = {"region", "endpoint_url", "profile",
                                                "max_concurrency", "account_id"};
const std::vector<std::string_view> kLinuxKeys = {"netns", "drift_check_interval", "protocol",
                                                  "adopt_protocols"};
const std::vector<std::string_view> kExecKeys = {"command", "list_command", "timeout",
                                                 "env_passthrough"};
const std::vector<std::string_view> kJournalKeys = {"sqlite", "jsonl", "queue_size", "state"};
const std::vector<std::string_view> kControlKeys = {"socket"};
const std::vector<std::string_view> kApiKeys = {"listen",
                                                "auth_token",
                                                "rate_limit",
                                                "allowed_hosts",
                                                "auth_reads",
                                                "max_connections_per_client",
                                                "max_queued_per_client",
                                                "request_timeout",
                                                "response_timeout"};
const std::vector<std::string_view> kHaKeys = {
    "endpoints", "node", "prefix", "lease_ttl", "fence_margin", "ca_file", "cert_file", "key_file",
    "agreement"};
const std::vector<std::string_view> kApiRateKeys = {"read_per_second", "read_burst",
                                                    "write_per_second", "write_burst"};
const std::vector<std::string_view> kSecretKeys = {"env", "file"};
const std::vector<std::string_view> kAlertsKeys = {"outbox",   "group_window", "repeat_interval",
                                                   "retry",    "max_age",      "templates",
                                                   "channels", "routes"};
const std::vector<std::string_view> kAlertRetryKeys = {"initial", "max"};
const std::vector<std::string_view> kTemplateKeys = {"title", "body"};
const std::vector<std::string_view> kRateKeys = {"per_minute", "burst"};
const std::vector<std::string_view> kChannelKeys = {
    "name",         "kind",    "url",     "secret", "token",     "starttls",     "username",
    "password",     "from",    "to",      "html",   "topic_arn", "phone_number", "region",
    "endpoint_url", "ca_file", "timeout", "rate",   "templates"};
const std::vector<std::string_view> kAlertRouteKeys = {"channels", "severity", "sites",
                                                       "links",    "kinds",    "resolved"};
// Where each key list is used (config/schema.h). Every k...Keys list above is here: the key
// test checks this table against docs/config.md, and that no list is missing from it.
const std::vector<SchemaSection> kSchema = {
    {"", &kTopKeys},
    {"site", &kSiteKeys},
    {"probe", &kProbeDefaultKeys},
    {"probe.adaptive_timeout", &kAdaptiveTimeoutKeys},
    {"health", &kHealthKeys},
    {"health.damping", &kDampingKeys},
    {"policy", &kPolicyKeys},
    {"paths[]", &kPathKeys},
    {"paths[].probe", &kPathProbeKeys},
    {"paths[].probe.adaptive_timeout", &kAdaptiveTimeoutKeys},
    {"paths[].next_hop", &kNextHopKeys},
    {"paths[].recovery", &kRecoveryKeys},
    {"paths[].recovery.backoff", &kBackoffKeys},
    {"paths[].health", &kHealthKeys},
    {"paths[].health.damping", &kDampingKeys},
    {"route_tables[]", &kTableKeys},
    {"backends", &kBackendsKeys},
    {"backends.aws", &kAwsKeys},
    {"backends.linux", &kLinuxKeys},
    {"backends.exec", &kExecKeys},
    {"monitor", &kMonitorKeys},
    {"monitor.probe", &kPathProbeKeys},
    {"monitor.probe.adaptive_timeout", &kAdaptiveTimeoutKeys},
    {"journal", &kJournalKeys},
    {"control", &kControlKeys},
    {"api", &kApiKeys},
    {"api.rate_limit", &kApiRateKeys},
    {"ha", &kHaKeys},
    {"alerts", &kAlertsKeys},
    {"alerts.retry", &kAlertRetryKeys},
    {"alerts.templates", &kTemplateKeys},
    {"alerts.channels[]", &kChannelKeys},
    {"alerts.channels[].rate", &kRateKeys},
    {"alerts.channels[].templates", &kTemplateKeys},
    {"alerts.routes[]", &kAlertRouteKeys},
    {"<secret>", &kSecretKeys},
};

const std::initializer_list<std::pair<std::string_view, AlertChannelKind>> kChannelKinds = {
    {"smtp", AlertChannelKind::Smtp},         {"sns", AlertChannelKind::Sns},
    {"webhook", AlertChannelKind::Webhook},   {"slack", AlertChannelKind::Slack},
    {"dingtalk", AlertChannelKind::DingTalk}, {"feishu", AlertChannelKind::Feishu},
    {"wecom", AlertChannelKind::WeCom},       {"alertmanager", AlertChannelKind::Alertmanager}};
const std::initializer_list<std::pair<std::string_view, AlertSeverity>> kAlertSeverities = {
    {"info", AlertSeverity::Info},
    {"warning", AlertSeverity::Warning},
    {"critical", AlertSeverity::Critical}};

const std::initializer_list<std::pair<std::string_view, LinkKind>> kLinkKinds = {
    {"dx", LinkKind::Dx}, {"vpn", LinkKind::Vpn}};
const std::initializer_list<std::pair<std::string_view, ProbeKind>> kProbeKinds = {
    {"icmp", ProbeKind::Icmp}, {"tcp", ProbeKind::Tcp}};
const std::initializer_list<std::pair<std::string_view, BackendKind>> kBackendKinds = {
    {"aws", BackendKind::Aws}, {"linux", BackendKind::Linux}, {"exec", BackendKind::Exec}};
const std::initializer_list<std::pair<std::string_view, RecoveryAction>> kRecoveryActions = {
    {"command", RecoveryAction::Command}, {"ec2-restart", RecoveryAction::Ec2Restart}};

// Probe addresses must identify one remote host reachable through the path.
std::optional<std::string> unusableTarget(const IpAddress& a) {
  if (a.isUnspecified()) {
    return "the unspecified address cannot be probed";
  }
  if (a.isLoopback()) {
    return "a loopback address never leaves this host";
  }
  const auto& b = a.bytes();
  if ((a.isV4() && (b[0] & 0xF0) == 0xE0) || (a.isV6() && b[0] == 0xFF)) {
    return "a multicast address cannot be probed";
  }
  if (a.isV4() && a.v4HostOrder() == 0xFFFFFFFFu) {
    return "the broadcast address cannot be probed";
  }
  return std::nullopt;
}

// A letter and no ':' suggests a DNS name: IPv6 addresses have letters (hex digits) too, but
// always contain ':'.
bool looksLikeHostName(std::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }) &&
         text.find(':') == std::string_view::npos;
}

// "10.10.3.100" (icmp), "10.10.3.100:443" or "[2001:db8::1]:443" (tcp).
std::optional<ProbeTarget> readTarget(Context& ctx, const YamlNode& node, std::string_view path,
                                      ProbeKind kind) {
  auto text = readString(ctx, node, path);
  if (!text) {
    return std::nullopt;
  }
  std::string_view t = *text;
  std::string host(t);
  std::optional<std::uint16_t> port;
  bool has_port = false;
  // A bare IPv6 address has several ':', so exactly one ':' means host:port. An IPv6 target
  // with a port must be bracketed, and brackets without a port are rejected.
  if (!t.empty() && t.front() == '[') {
    std::size_t close = t.find(']');
    if (close == std::string_view::npos || close + 1 >= t.size() || t[close + 1] != ':') {
      ctx.error(node.where, path, "expected [IPv6 address]:port, got " + quote(t));
      return std::nullopt;
    }
    host = std::string(t.substr(1, close - 1));
    has_port = true;
    t = t.substr(close + 2);
  } else if (std::count(t.begin(), t.end(), ':') == 1) {
    std::size_t colon = t.find(':');
    host = std::string(t.substr(0, colon));
    has_port = true;
    t = t.substr(colon + 1);
  }
  if (has_port) {
    // At most five digits: the value cannot overflow before the range check.
    std::uint32_t value = 0;
    bool digits = !t.empty() && t.size() <= 5 &&
                  std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
    for (char c : t) {
      value = digits ? value * 10 + static_cast<std::uint32_t>(c - '0') : 0;
    }
    if (!digits || value == 0 || value > 65535) {
      ctx.error(node.where, path,
                "invalid port " + quote(t) + " in " + quote(*text) + " (expected 1..65535)");
      return std::nullopt;
    }
    port = static_cast<std::uint16_t>(value);
  }
  auto address = IpAddress::parse(host);
  if (!address) {
    if (looksLikeHostName(host)) {
      ctx.error(node.where, path,
                quote(host) +
                    " is not an IP address; probe targets must be addresses (no DNS: a "
                    "resolver outage must not look like a path outage)");
    } else {
      ctx.error(node.where, path, "invalid IP address " + quote(host));
    }
    return std::nullopt;
  }
  if (auto why = unusableTarget(*address)) {
    ctx.error(node.where, path, quote(*text) + ": " + *why);
    return std::nullopt;
  }
  if (kind == ProbeKind::Icmp && port) {
    ctx.error(node.where, path,
              quote(*text) +
                  ": icmp targets take no port (set probe kind: tcp to probe "
                  "host:port)");
    return std::nullopt;
  }
  if (kind == ProbeKind::Tcp && !port) {
    ctx.error(node.where, path,
              quote(*text) + ": tcp targets need a port: " +
                  (address->isV6() ? "[" + address->toString() + "]:443" : host + ":443"));
    return std::nullopt;
  }
  return ProbeTarget{*address, port.value_or(0)};
}

// A POSIX-portable environment variable name: [A-Za-z_][A-Za-z0-9_]*.
bool isEnvName(std::string_view name) {
  return !name.empty() && !(name[0] >= '0' && name[0] <= '9') &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_';
         });
}

// `env_passthrough: [NAME, ...]` of a command (backends.exec, paths[].recovery): names of the
// daemon's variables the command may see. Each item's position is recorded, so that the
// whole-file check against {env:} secret names (validate.cc) points at it.
void readPassthrough(Context& ctx, const MapReader& m, std::vector<std::string>& out) {
  const YamlNode* node = m.find("env_passthrough");
  std::vector<std::string> names;
  if (node == nullptr || !m.getStringList("env_passthrough", names, 0)) {
    return;
  }
  std::string p = m.pathOf("env_passthrough");
  if (names.size() > kMaxPassthrough) {
    ctx.errorAt(p, "at most " + std::to_string(kMaxPassthrough) + " variables");
    return;
  }
  bool valid = true;
  for (std::size_t i = 0; i < names.size(); ++i) {
    std::string item = indexPath(p, i);
    ctx.locations.record(item, node->items[i]->where);
    if (!isEnvName(names[i])) {
      ctx.errorAt(item, "invalid environment variable name " + quote(names[i]));
      valid = false;
    } else if (isCredentialVariable(names[i])) {
      ctx.errorAt(item, names[i] +
                            " holds the daemon's AWS credentials, which commands never receive; "
                            "give the command credentials of its own (an instance profile or a "
                            "profile in its AWS config)");
      valid = false;
    }
  }
  if (valid) {
    out = std::move(names);
  }
}

// { env: NAME } | { file: PATH } | inline string (warned).
// With `warn_inline` false an inline value is accepted silently (a URL that is not secret).
std::optional<SecretRef> readSecret(Context& ctx, const YamlNode& node, std::string_view path,
                                    bool warn_inline = true) {
  if (node.isScalar()) {
    if (node.value.empty()) {
      ctx.error(node.where, path, "must not be empty");
      return std::nullopt;
    }
    // The value itself is never quoted in a message.
    if (warn_inline) {
      ctx.warning(node.where, path,
                  "secret written inline in the config file; use {env: NAME} or {file: PATH} so "
                  "that it does not end up in backups, tickets and version control");
    }
    return SecretRef{SecretRef::Source::Inline, node.value};
  }
  if (!node.isMap()) {
    ctx.error(node.where, path,
              "expected {env: NAME} or {file: PATH}, got " + std::string(describeKind(node)));
    return std::nullopt;
  }
  MapReader m(ctx, node, std::string(path), kSecretKeys);
  std::string env;
  std::string file;
  bool has_env = m.get("env", env);
  bool has_file = m.get("file", file);
  if (has_env == has_file) {
    // One key written but unreadable (e.g. `env: [A]`) has been reported by get(); only none
    // or both need a message here.
    if (m.has("env") == m.has("file")) {
      ctx.error(node.where, path, "set exactly one of 'env' or 'file'");
    }
    return std::nullopt;
  }
  if (has_env) {
    if (!isEnvName(env)) {
      ctx.errorAt(m.pathOf("env"), "invalid environment variable name " + quote(env));
      return std::nullopt;
    }
    return SecretRef{SecretRef::Source::Env, env};
  }
  if (file.empty() || file.front() != '/') {
    ctx.errorAt(m.pathOf("file"), "must be an absolute path, got " + quote(file));
    return std::nullopt;
  }
  // A file that exists here gets the daemon's checks now (stat only: nothing is opened, so a
  // FIFO cannot block the check): a FIFO, a group-readable file or a huge one would make the
  // start or a reload fail. A missing file is only reported by the daemon, since the config
  // may be checked on another machine (as {env: NAME} is not looked up either).
  // (An error with an errno is stat's own: missing, or not searchable by this user.)
  // Named as the daemon names it when it reads the file (api/auth.h, alert/secret.h).
  std::string name = (path == "api.auth_token" ? "token file " : "secret file ") + file;
  if (auto checked = checkSecretFile(file, kMaxSecretFileBytes, name);
      !checked && checked.error().sysErrno() == 0) {
    ctx.errorAt(m.pathOf("file"), checked.error().message());
    return std::nullopt;
  }
  return SecretRef{SecretRef::Source::File, file};
}

class Decoder {
 public:
  Decoder(Context& ctx, Config& out) : ctx_(ctx), cfg_(out) {}

  void run(const YamlNode& root) {
    if (root.isNull()) {
      ctx_.error(root.where, "",
                 "the file is empty; a config needs at least 'site', 'paths' and "
                 "'route_tables' (see examples/seed-2az.yaml)");
      return;
    }
    if (!root.isMap()) {
      ctx_.error(root.where, "",
                 "the top level must be a mapping with 'site', 'paths' and 'route_tables', got " +
                     std::string(describeKind(root)));
      return;
    }
    MapReader top(ctx_, root, "", kTopKeys);
    if (const YamlNode* v = top.find("version")) {
      auto version = readInt(ctx_, *v, "version", 0, 1'000'000);
      if (version && *version != kSchemaVersion) {
        ctx_.error(v->where, "version",
                   "unsupported schema version " + std::to_string(*version) +
                       " (this pathpilot reads version " + std::to_string(kSchemaVersion) + ")");
      }
    }
    if (const YamlNode* n = top.require("site", "the site name appears in every event")) {
      site(*n);
    }
    // Defaults first: paths inherit them whatever order the file uses.
    if (const YamlNode* n = top.find("probe")) {
      probeDefaults(*n);
    }
    if (const YamlNode* n = top.find("health")) {
      MapReader m(ctx_, *n, "health", kHealthKeys);
      health(m, cfg_.health);
    }
    if (const YamlNode* n = top.find("policy")) {
      policy(*n);
    }
    if (const YamlNode* n = top.require("paths")) {
      paths(*n);
    }
    if (const YamlNode* n = top.require("route_tables")) {
      tables(*n);
    }
    if (const YamlNode* n = top.find("backends")) {
      backends(*n);
    }
    if (const YamlNode* n = top.find("monitor")) {
      monitor(*n);
    }
    if (const YamlNode* n = top.find("journal")) {
      journal(*n);
    }
    if (const YamlNode* n = top.find("control")) {
      control(*n);
    }
    if (const YamlNode* n = top.find("api")) {
      api(*n);
    }
    // After site, backends and journal: an sns channel falls back to their AWS region, and the
    // outbox must not be a journal file.
    if (const YamlNode* n = top.find("alerts")) {
      alerts(*n);
    }
    if (const YamlNode* n = top.find("ha")) {
      ha(*n);
    }
  }

 private:
  // --- site -----------------------------------------------------------------------------------

  void site(const YamlNode& node) {
    MapReader m(ctx_, node, "site", kSiteKeys);
    if (m.require("name") && m.get("name", cfg_.site.name)) {
      if (cfg_.site.name.empty() || cfg_.site.name.size() > 64) {
        ctx_.errorAt("site.name", "must be 1 to 64 characters");
      }
    }
    if (m.get("region", cfg_.site.region) && !isRegionName(cfg_.site.region)) {
      ctx_.errorAt("site.region",
                   "expected an AWS region such as ap-southeast-1 or cn-north-1, "
                   "got " +
                       quote(cfg_.site.region));
    }
  }

  // --- probe and health -----------------------------------------------------------------------

  // Reads kind/quorum/interval/timeout/jitter of `m` over `out`.
  void probeCommon(const MapReader& m, ProbeDefaults& out) {
    m.getEnum("kind", out.kind, kProbeKinds);
    m.getInt("quorum", out.quorum, 1, static_cast<int>(kMaxTargets));
    m.get("interval", out.interval, milliseconds(10), hours(1));
    m.get("timeout", out.timeout, milliseconds(1), hours(1));
    m.getInt("jitter", out.jitter_percent, 0, 50);
    if (const YamlNode* n = m.find("adaptive_timeout")) {
      // A path's block overrides the defaults key by key; writing the block turns it on
      // unless it says `enabled: false`.
      MapReader a(ctx_, *n, m.pathOf("adaptive_timeout"), kAdaptiveTimeoutKeys);
      AdaptiveTimeoutSettings& at = out.adaptive_timeout;
      at.enabled = true;
      a.get("enabled", at.enabled);
      a.get("min", at.min, milliseconds(1), minutes(1));
      a.getNumber("rttvar_factor", at.rttvar_factor, 1, 16);
      a.get("margin", at.margin, Duration::zero(), minutes(1));
    }
  }

  // The adaptive timeout's floor and margin must fit under its ceiling, `timeout`.
  void checkAdaptiveTimeout(const std::string& path, const ProbeDefaults& p) {
    const AdaptiveTimeoutSettings& at = p.adaptive_timeout;
    if (!at.enabled) {
      return;
    }
    const std::string ap = keyPath(path, "adaptive_timeout");
    if (at.min > p.timeout) {
      ctx_.errorAt(keyPath(ap, "min"), "min " + formatDuration(at.min) +
                                           " must not exceed the timeout " +
                                           formatDuration(p.timeout) +
                                           " (the timeout is the ceiling of the adaptive one)");
    }
    if (at.margin > p.timeout) {
      ctx_.errorAt(keyPath(ap, "margin"), "margin " + formatDuration(at.margin) +
                                              " must not exceed the timeout " +
                                              formatDuration(p.timeout));
    }
  }

  void probeDefaults(const YamlNode& node) {
    MapReader m(ctx_, node, "probe", kProbeDefaultKeys);
    probeCommon(m, cfg_.probe);
    if (cfg_.probe.timeout >= cfg_.probe.interval) {
      ctx_.errorAt("probe.timeout", timeoutMessage(cfg_.probe));
    }
    checkAdaptiveTimeout("probe", cfg_.probe);
  }

  static std::string timeoutMessage(const ProbeDefaults& p) {
    return "timeout " + formatDuration(p.timeout) + " must be shorter than the interval " +
           formatDuration(p.interval) + " (a probe must finish before the next one starts)";
  }

  void health(const MapReader& m, HealthSettings& out) {
    m.getInt("window", out.window, 1, 1000);
    m.getInt("rise", out.rise, 1, 100);
    m.getInt("fall", out.fall, 1, 100);
    m.getRatio("degraded_loss", out.degraded_loss);
    m.getRatio("down_loss", out.down_loss);
    m.get("degraded_rtt", out.degraded_rtt, Duration::zero(), minutes(1));
    m.get("degraded_rtt_p95", out.degraded_rtt_p95, Duration::zero(), minutes(1));
    m.getRatio("degraded_clear_loss", out.degraded_clear_loss);
    m.get("degraded_clear_rtt", out.degraded_clear_rtt, Duration::zero(), minutes(1));
    if (const YamlNode* n = m.find("damping")) {
      MapReader d(ctx_, *n, m.pathOf("damping"), kDampingKeys);
      DampingSettings& damping = out.damping;
      d.get("enabled", damping.enabled);
      d.get("half_life", damping.half_life, seconds(1), hours(24));
      d.getNumber("penalty", damping.penalty, 1, 1e6);
      d.getNumber("suppress", damping.suppress, 1, 1e7);
      d.getNumber("reuse", damping.reuse, 1, 1e7);
      d.get("max_suppress", damping.max_suppress, seconds(1), hours(24));
    }
    checkHealth(m.path(), out);
  }

  void checkHealth(const std::string& path, const HealthSettings& h) {
    if (h.degraded_loss >= h.down_loss) {
      ctx_.errorAt(keyPath(path, "degraded_loss"),
                   "degraded_loss (" + formatNumber(h.degraded_loss) +
                       ") must be lower than down_loss (" + formatNumber(h.down_loss) + ")");
    }
    if (h.down_loss <= 0.0) {
      ctx_.errorAt(keyPath(path, "down_loss"), "must be greater than 0");
    }
    if (h.degraded_clear_loss > h.degraded_loss) {
      ctx_.errorAt(keyPath(path, "degraded_clear_loss"),
                   "degraded_clear_loss (" + formatNumber(h.degraded_clear_loss) +
                       ") must not be above degraded_loss (" + formatNumber(h.degraded_loss) +
                       "): a degraded path must be cleaner than the threshold to count as up");
    }
    if (h.degraded_clear_rtt > Duration::zero() &&
        (h.degraded_rtt <= Duration::zero() || h.degraded_clear_rtt > h.degraded_rtt)) {
      ctx_.errorAt(keyPath(path, "degraded_clear_rtt"),
                   "needs degraded_rtt and must not be above it");
    }
    const DampingSettings& d = h.damping;
    std::string dp = keyPath(path, "damping");
    if (d.reuse >= d.suppress) {
      ctx_.errorAt(keyPath(dp, "reuse"), "reuse (" + formatNumber(d.reuse) +
                                             ") must be lower than suppress (" +
                                             formatNumber(d.suppress) + ")");
    }
    if (d.max_suppress < d.half_life) {
      ctx_.errorAt(keyPath(dp, "max_suppress"), "max_suppress " + formatDuration(d.max_suppress) +
                                                    " must be at least the half_life " +
                                                    formatDuration(d.half_life));
    }
  }

  // std::to_string prints six decimals ("0.050000"); the trailing zeros and a bare '.' go.
  static std::string formatNumber(double v) {
    std::string s = std::to_string(v);
    while (s.size() > 1 && s.back() == '0') {
      s.pop_back();
    }
    if (!s.empty() && s.back() == '.') {
      s.pop_back();
    }
    return s;
  }

  // --- paths ----------------------------------------------------------------------------------

  void paths(const YamlNode& node) {
    if (!expectList(ctx_, node, "paths")) {
      return;
    }
    ctx_.locations.record("paths", node.where);
    if (node.items.empty()) {
      ctx_.error(node.where, "paths", "needs at least one path");
      return;
    }
    if (node.items.size() > kMaxPaths) {
      ctx_.error(node.where, "paths",
                 "at most " + std::to_string(kMaxPaths) + " paths are supported");
      return;
    }
    for (std::size_t i = 0; i < node.items.size(); ++i) {
      cfg_.paths.push_back(path(*node.items[i], indexPath("paths", i)));
    }
  }

  PathConfig path(const YamlNode& node, const std::string& p) {
    PathConfig out;
    out.health = cfg_.health;
    // Only the ProbeDefaults part is inherited: targets and pinning are each path's own.
    static_cast<ProbeDefaults&>(out.probe) = cfg_.probe;
    MapReader m(ctx_, node, p, kPathKeys);
    if (!m.isMap()) {
      return out;
    }
    if (m.require("name") && m.get("name", out.name) && !isSimpleName(out.name)) {
      ctx_.errorAt(m.pathOf("name"),
                   "invalid path name " + quote(out.name) +
                       " (letters, digits, '_', '.', '-'; up to 64; starting with a letter or "
                       "digit)");
    }
    if (m.require("kind", "dx or vpn")) {
      m.getEnum("kind", out.kind, kLinkKinds);
    }
    if (m.get("az", out.az) && !isZoneName(out.az)) {
      ctx_.errorAt(m.pathOf("az"),
                   "expected an availability zone such as ap-southeast-1a, got " + quote(out.az));
    }
    m.getInt("priority", out.priority, 0, 65535);
    if (const YamlNode* n = m.require("probe", "every path is probed")) {
      pathProbe(*n, m.pathOf("probe"), out.probe);
    }
    // next_hop is read before recovery: ec2-restart takes its instance from
    // next_hop.instance_id when recovery names none.
    if (const YamlNode* n = m.find("next_hop")) {
      nextHop(*n, m.pathOf("next_hop"), out.next_hop);
    }
    if (const YamlNode* n = m.find("health")) {
      MapReader h(ctx_, *n, m.pathOf("health"), kHealthKeys);
      health(h, out.health);
    }
    if (const YamlNode* n = m.find("recovery")) {
      out.recovery = recovery(*n, m.pathOf("recovery"), out);
    }
    return out;
  }

  void monitor(const YamlNode& node) {
    MapReader m(ctx_, node, "monitor", kMonitorKeys);
    if (!m.isMap()) {
      return;
    }
    if (const YamlNode* n = m.find("probe")) {
      ProbeSettings probe;
      static_cast<ProbeDefaults&>(probe) = cfg_.probe;
      pathProbe(*n, m.pathOf("probe"), probe, /*require_pinning=*/false);
      cfg_.monitor.probe = std::move(probe);
    }
    m.get("correlation_window", cfg_.monitor.correlation_window, Duration::zero(), minutes(1));
  }

  void pathProbe(const YamlNode& node, const std::string& p, ProbeSettings& out,
                 bool require_pinning = true) {
    MapReader m(ctx_, node, p, kPathProbeKeys);
    if (!m.isMap()) {
      return;
    }
    probeCommon(m, out);
    // Inherited settings were checked under `probe`; only a path's own keys can break them.
    if (m.has("timeout") || m.has("adaptive_timeout")) {
      checkAdaptiveTimeout(p, out);
    }
    // Targets are read after probeCommon: whether one takes a port depends on the probe kind.
    if (const YamlNode* targets = m.require("targets", "the addresses probed through this path")) {
      std::string tp = m.pathOf("targets");
      if (expectList(ctx_, *targets, tp)) {
        if (targets->items.empty()) {
          ctx_.error(targets->where, tp, "needs at least one target");
        } else if (targets->items.size() > kMaxTargets) {
          ctx_.error(targets->where, tp,
                     "at most " + std::to_string(kMaxTargets) + " targets per path");
        } else {
          for (std::size_t i = 0; i < targets->items.size(); ++i) {
            std::string ip = indexPath(tp, i);
            const YamlNode& item = *targets->items[i];
            ctx_.locations.record(ip, item.where);
            auto target = readTarget(ctx_, item, ip, out.kind);
            if (!target) {
              // So that validate.cc does not compare the quorum with the list left without
              // this item.
              ctx_.markFailed(tp);
              continue;
            }
            if (std::find(out.targets.begin(), out.targets.end(), *target) != out.targets.end()) {
              ctx_.error(item.where, ip, "duplicate target " + quote(target->toString()));
              continue;
            }
            out.targets.push_back(*target);
          }
        }
      }
    }
    Pinning& pin = out.pinning;
    if (m.get("source", pin.source) && (pin.source->isUnspecified() || pin.source->isLoopback())) {
      ctx_.errorAt(m.pathOf("source"), "must be an address of this host on the path, not " +
                                           quote(pin.source->toString()));
      // Dropped so that validate.cc does not check address families or pinning against it.
      pin.source.reset();
    }
    if (m.get("interface", pin.interface) && !isInterfaceName(pin.interface)) {
      ctx_.errorAt(m.pathOf("interface"), "invalid interface name " + quote(pin.interface) +
                                              " (1 to 15 characters, no '/', ':' or spaces)");
    }
    if (const YamlNode* n = m.find("fwmark")) {
      if (auto mark = readInt(ctx_, *n, m.pathOf("fwmark"), 1, 0xFFFFFFFFLL, true)) {
        pin.fwmark = static_cast<std::uint32_t>(*mark);
      }
    }
    // has(), not the values: a pin written but rejected has its own error, not this one.
    if (require_pinning && !m.has("source") && !m.has("interface") && !m.has("fwmark")) {
      ctx_.error(m.where(), p,
                 "the probe is not pinned to its path: set source, interface or fwmark, or its "
                 "packets may leave over another path and report this one healthy");
    }
  }

  void nextHop(const YamlNode& node, const std::string& p, NextHop& out) {
    MapReader m(ctx_, node, p, kNextHopKeys);
    struct AwsField {
      std::string_view key;
      AwsTargetKind kind;
      std::vector<std::string_view> prefixes;
      std::string_view example;
    };
    const AwsField fields[] = {
        {"gateway_id", AwsTargetKind::Gateway, {"vgw", "igw"}, "vgw-078bcc55"},
        {"instance_id", AwsTargetKind::Instance, {"i"}, "i-0e1466e8a5dd4892c"},
        {"network_interface_id", AwsTargetKind::NetworkInterface, {"eni"}, "eni-0a1b2c3d4e5f67890"},
        {"transit_gateway_id", AwsTargetKind::TransitGateway, {"tgw"}, "tgw-0a1b2c3d4e5f67890"},
    };
    std::string first_key;
    for (const std::string& key : m.keys()) {  // file order: the second one is the mistake
      const AwsField* f = nullptr;
      for (const AwsField& candidate : fields) {
        if (candidate.key == key) {
          f = &candidate;
        }
      }
      std::string id;
      if (f == nullptr || !m.get(f->key, id)) {
        continue;
      }
      if (!first_key.empty()) {
        ctx_.errorAt(m.pathOf(f->key),
                     "set only one AWS next hop; '" + first_key + "' is already set");
        continue;
      }
      first_key = key;
      bool valid = std::any_of(f->prefixes.begin(), f->prefixes.end(),
                               [&](std::string_view prefix) { return isAwsId(id, prefix); });
      if (!valid) {
        ctx_.errorAt(m.pathOf(f->key),
                     "expected an id such as " + std::string(f->example) + ", got " + quote(id));
        // So that validate.cc does not also report the path as having no AWS next hop.
        ctx_.markFailed(p);
        continue;
      }
      out.aws_kind = f->kind;
      out.aws_id = id;
    }
    if (m.get("via", out.via) && (out.via->isUnspecified() || out.via->isLoopback())) {
      ctx_.errorAt(m.pathOf("via"), "cannot route via " + quote(out.via->toString()));
      ctx_.markFailed(p);
      out.via.reset();
    }
    if (m.get("dev", out.dev) && !isInterfaceName(out.dev)) {
      ctx_.errorAt(m.pathOf("dev"), "invalid interface name " + quote(out.dev) +
                                        " (1 to 15 characters, no '/', ':' or spaces)");
    }
    // The entries as written, not the decoded values: a next hop whose only key was rejected
    // is not also reported as empty. `next_hop:` with nothing after it is empty.
    bool any = node.isMap() && !node.entries.empty();
    if (m.isMap() && !any) {
      ctx_.error(node.where, p,
                 "is empty; set an AWS id (gateway_id, instance_id, ...) or "
                 "via/dev for the linux backend");
    }
  }

  std::optional<RecoverySettings> recovery(const YamlNode& node, const std::string& p,
                                           const PathConfig& path) {
    MapReader m(ctx_, node, p, kRecoveryKeys);
    if (!m.isMap()) {
      return std::nullopt;
    }
    RecoverySettings out;
    bool valid_action = false;
    if (m.require("action", "command or ec2-restart")) {
      valid_action = m.getEnum("action", out.action, kRecoveryActions);
    }
    // Keys are checked against the action only when the action is valid: a misspelt action
    // would otherwise make every other key look wrong as well.
    if (m.has("command")) {
      if (valid_action && out.action != RecoveryAction::Command) {
        ctx_.errorAt(m.pathOf("command"), "'command' is only used with action: command");
      } else if (m.getStringList("command", out.command, 1) && out.command.size() > kMaxArgv) {
        ctx_.errorAt(m.pathOf("command"), "at most " + std::to_string(kMaxArgv) + " arguments");
      }
    } else if (valid_action && out.action == RecoveryAction::Command) {
      ctx_.error(m.where(), p,
                 "missing required key 'command' (the argv to run, e.g. [/usr/local/sbin/"
                 "restart-gateway, vpn-a])");
    }
    if (m.has("instance_id")) {
      if (valid_action && out.action != RecoveryAction::Ec2Restart) {
        ctx_.errorAt(m.pathOf("instance_id"),
                     "'instance_id' is only used with action: ec2-restart");
      } else if (m.get("instance_id", out.instance_id) && !isAwsId(out.instance_id, "i")) {
        ctx_.errorAt(
            m.pathOf("instance_id"),
            "expected an instance id such as i-0e1466e8a5dd4892c, got " + quote(out.instance_id));
      }
    }
    if (valid_action && out.action == RecoveryAction::Ec2Restart) {
      if (path.kind == LinkKind::Dx) {
        ctx_.errorAt(m.pathOf("action"),
                     "ec2-restart on a dx path: a Direct Connect link has no gateway instance to "
                     "restart (use action: command, or remove recovery)");
      } else if (!m.has("instance_id")) {
        if (path.next_hop.aws_kind == AwsTargetKind::Instance) {
          out.instance_id = path.next_hop.aws_id;
        } else {
          ctx_.errorAt(m.pathOf("action"),
                       "ec2-restart needs the gateway instance: set recovery.instance_id or "
                       "next_hop.instance_id");
        }
      }
    }
    m.get("after", out.after, Duration::zero(), hours(24));
    m.get("timeout", out.timeout, seconds(1), hours(2));
    if (const YamlNode* n = m.find("backoff")) {
      MapReader b(ctx_, *n, m.pathOf("backoff"), kBackoffKeys);
      b.get("initial", out.backoff_initial, seconds(1), hours(24));
      b.get("max", out.backoff_max, seconds(1), hours(24));
      if (out.backoff_max < out.backoff_initial) {
        ctx_.errorAt(b.pathOf("max"), "backoff max " + formatDuration(out.backoff_max) +
                                          " is shorter than backoff initial " +
                                          formatDuration(out.backoff_initial));
      }
    }
    m.getInt("max_attempts_per_hour", out.max_attempts_per_hour, 1, 60);
    if (m.has("env_passthrough") && valid_action && out.action != RecoveryAction::Command) {
      ctx_.errorAt(m.pathOf("env_passthrough"),
                   "'env_passthrough' is only used with action: command");
    } else {
      readPassthrough(ctx_, m, out.env_passthrough);
    }
    return out;
  }

  // --- route tables ---------------------------------------------------------------------------

  void tables(const YamlNode& node) {
    if (!expectList(ctx_, node, "route_tables")) {
      return;
    }
    ctx_.locations.record("route_tables", node.where);
    if (node.items.empty()) {
      ctx_.error(node.where, "route_tables", "needs at least one route table");
      return;
    }
    if (node.items.size() > kMaxTables) {
      ctx_.error(node.where, "route_tables",
                 "at most " + std::to_string(kMaxTables) + " route tables are supported");
      return;
    }
    for (std::size_t i = 0; i < node.items.size(); ++i) {
      cfg_.tables.push_back(table(*node.items[i], indexPath("route_tables", i)));
    }
  }

  RouteTableConfig table(const YamlNode& node, const std::string& p) {
    RouteTableConfig out;
    MapReader m(ctx_, node, p, kTableKeys);
    if (!m.isMap()) {
      return out;
    }
    // The backend comes first: whether `table` and `id` are required, and what an id looks
    // like, depend on it.
    // A misspelt backend is one error: the checks that depend on it are skipped rather than
    // run against the default (aws), which would add errors about `table` and `id`.
    const bool backend_known =
        !m.has("backend") || m.getEnum("backend", out.backend, kBackendKinds);
    if (!backend_known) {
      (void)m.get("id", out.id);
    } else if (m.has("table")) {
      if (out.backend != BackendKind::Linux) {
        ctx_.errorAt(m.pathOf("table"),
                     "'table' is only used with backend: linux (this table's "
                     "backend is " +
                         std::string(backendKindName(out.backend)) + ")");
      } else if (const YamlNode* n = m.find("table")) {
        if (auto number = readInt(ctx_, *n, m.pathOf("table"), 1, 4294967294LL)) {
          if (*number >= 253 && *number <= 255) {
            ctx_.error(n->where, m.pathOf("table"),
                       "tables 253 (default), 254 (main) and 255 (local) belong to the system; "
                       "use a dedicated table such as 101");
          } else {
            out.linux_table = static_cast<std::uint32_t>(*number);
          }
        }
      }
    } else if (out.backend == BackendKind::Linux) {
      ctx_.error(m.where(), p,
                 "missing required key 'table' (the Linux routing table number, "
                 "e.g. 101, for backend: linux)");
    }
    const bool has_id = backend_known && m.get("id", out.id);
    if (backend_known) {
      switch (out.backend) {
        case BackendKind::Aws:
          if (!m.has("id")) {
            m.require("id", "the VPC route table id, e.g. rtb-468f5222");
          } else if (has_id && !isAwsId(out.id, "rtb")) {
            ctx_.errorAt(m.pathOf("id"),
                         "expected a route table id such as rtb-468f5222, got " + quote(out.id));
          }
          break;
        case BackendKind::Linux:
          if (has_id && !isSimpleName(out.id)) {
            ctx_.errorAt(m.pathOf("id"), "invalid table id " + quote(out.id));
          } else if (!m.has("id") && out.linux_table != 0) {
            out.id = std::to_string(out.linux_table);
          }
          break;
        case BackendKind::Exec:
          if (!m.has("id")) {
            m.require("id", "the name the exec hook receives for this table");
          } else if (has_id && !isSimpleName(out.id)) {
            ctx_.errorAt(m.pathOf("id"), "invalid table id " + quote(out.id));
          }
          break;
      }
    }
    if (m.get("name", out.name) && (out.name.empty() || out.name.size() > 64)) {
      ctx_.errorAt(m.pathOf("name"), "must be 1 to 64 characters");
    }
    if (out.name.empty()) {
      out.name = out.id;
    }
    if (m.get("az", out.az) && !isZoneName(out.az)) {
      ctx_.errorAt(m.pathOf("az"),
                   "expected an availability zone such as ap-southeast-1a, got " + quote(out.az));
    }
    if (const YamlNode* n = m.require("destinations",
                                      "the on-premises prefixes, e.g. "
                                      "[10.10.0.0/16]")) {
      destinations(*n, m.pathOf("destinations"), out.destinations);
    }
    m.getStringList("paths", out.paths, 1);
    return out;
  }

  void destinations(const YamlNode& node, const std::string& p, std::vector<IpPrefix>& out) {
    if (!expectList(ctx_, node, p)) {
      return;
    }
    if (node.items.empty()) {
      ctx_.error(node.where, p, "needs at least one prefix");
      return;
    }
    if (node.items.size() > kMaxDestinations) {
      ctx_.error(node.where, p,
                 "at most " + std::to_string(kMaxDestinations) + " destinations per table");
      return;
    }
    std::set<IpPrefix> seen;
    for (std::size_t i = 0; i < node.items.size(); ++i) {
      std::string ip = indexPath(p, i);
      const YamlNode& item = *node.items[i];
      ctx_.locations.record(ip, item.where);
      auto text = readString(ctx_, item, ip);
      if (!text) {
        continue;
      }
      // Before parsing, to give a bare address its own hint; strict parsing then rejects a prefix
      // with host bits set (10.10.0.1/16).
      if (text->find('/') == std::string::npos) {
        ctx_.error(item.where, ip,
                   "expected a prefix such as 10.10.0.0/16, got " + quote(*text) +
                       " (write /32 or /128 for a single host)");
        continue;
      }
      auto prefix = IpPrefix::parse(*text, /*strict=*/true);
      if (!prefix) {
        ctx_.error(item.where, ip, prefix.error().message());
        continue;
      }
      if (!seen.insert(*prefix).second) {
        ctx_.error(item.where, ip, "duplicate destination " + prefix->toString());
        continue;
      }
      out.push_back(*prefix);
    }
  }

  // --- policy ---------------------------------------------------------------------------------

  void policy(const YamlNode& node) {
    MapReader m(ctx_, node, "policy", kPolicyKeys);
    PolicySettings& out = cfg_.policy;
    if (const YamlNode* n = m.find("preference")) {
      std::string p = m.pathOf("preference");
      if (expectList(ctx_, *n, p)) {
        std::vector<LinkKind> kinds;
        bool ok = true;
        for (std::size_t i = 0; i < n->items.size(); ++i) {
          std::string ip = indexPath(p, i);
          auto kind = readEnum(ctx_, *n->items[i], ip, kLinkKinds);
          if (!kind) {
            ok = false;
          } else if (std::find(kinds.begin(), kinds.end(), *kind) != kinds.end()) {
            ctx_.error(n->items[i]->where, ip,
                       "duplicate link kind '" + std::string(linkKindName(*kind)) + "'");
            ok = false;
          } else {
            kinds.push_back(*kind);
          }
        }
        if (ok && kinds.empty()) {
          ctx_.error(n->where, p, "needs at least one link kind, e.g. [dx, vpn]");
        } else if (ok) {
          out.preference = kinds;
        }
      }
    }
    m.get("az_affinity", out.az_affinity);
    m.get("failback_hold_down", out.failback_hold_down, Duration::zero(), hours(24));
    m.get("fail_static", out.fail_static);
    m.get("fail_static_settle", out.fail_static_settle, Duration::zero(), minutes(1));
  }

  // --- backends and services ------------------------------------------------------------------

  void backends(const YamlNode& node) {
    MapReader m(ctx_, node, "backends", kBackendsKeys);
    if (const YamlNode* n = m.find("aws")) {
      MapReader a(ctx_, *n, "backends.aws", kAwsKeys);
      AwsBackendSettings& aws = cfg_.backends.aws;
      if (a.get("region", aws.region) && !isRegionName(aws.region)) {
        ctx_.errorAt("backends.aws.region",
                     "expected an AWS region such as ap-southeast-1, got " + quote(aws.region));
      }
      if (a.get("endpoint_url", aws.endpoint_url)) {
        endpointUrl(aws.endpoint_url, "backends.aws.endpoint_url");
      }
      a.get("profile", aws.profile);
      a.getInt("max_concurrency", aws.max_concurrency, 1, 32);
      // Kept as written (a leading 0 survives, quoted or not): `check --iam` writes it into ARNs.
      if (a.get("account_id", aws.account_id) &&
          (aws.account_id.size() != 12 ||
           !std::all_of(aws.account_id.begin(), aws.account_id.end(),
                        [](char c) { return c >= '0' && c <= '9'; }))) {
        ctx_.errorAt("backends.aws.account_id",
                     "expected a 12-digit AWS account id such as 111122223333, got " +
                         quote(aws.account_id));
        aws.account_id.clear();
      }
    }
    if (const YamlNode* n = m.find("linux")) {
      MapReader l(ctx_, *n, "backends.linux", kLinuxKeys);
      LinuxBackendSettings& linux_backend = cfg_.backends.linux_backend;
      if (l.get("netns", linux_backend.netns) &&
          (linux_backend.netns.empty() || linux_backend.netns.size() > 255 ||
           linux_backend.netns.find('/') != std::string::npos || linux_backend.netns == "." ||
           linux_backend.netns == "..")) {
        ctx_.errorAt("backends.linux.netns", "invalid network namespace name " +
                                                 quote(linux_backend.netns) +
                                                 " (a name under /run/netns, without '/')");
      }
      l.get("drift_check_interval", linux_backend.drift_check_interval, seconds(1), hours(24));
      linuxProtocols(l, linux_backend);
    }
    if (const YamlNode* n = m.find("exec")) {
      MapReader e(ctx_, *n, "backends.exec", kExecKeys);
      ExecBackendSettings& exec = cfg_.backends.exec;
      if (e.getStringList("command", exec.command, 1) && exec.command.size() > kMaxArgv) {
        ctx_.errorAt("backends.exec.command", "at most " + std::to_string(kMaxArgv) + " arguments");
      }
      if (e.getStringList("list_command", exec.list_command, 1) &&
          exec.list_command.size() > kMaxArgv) {
        ctx_.errorAt("backends.exec.list_command",
                     "at most " + std::to_string(kMaxArgv) + " arguments");
      }
      e.get("timeout", exec.timeout, milliseconds(100), hours(1));
      readPassthrough(ctx_, e, exec.env_passthrough);
    }
  }

  // backends.linux.protocol and adopt_protocols. A number someone else uses would make
  // pathpilot's routes theirs (a starting FRR zebra takes routes of 196 for its own), so
  // it is refused, with who uses it.
  void linuxProtocols(const MapReader& l, LinuxBackendSettings& out) {
    int protocol = out.protocol;
    if (l.getInt("protocol", protocol, 1, 255)) {
      auto number = static_cast<std::uint8_t>(protocol);
      auto known = knownRouteProtocol(number);
      if (known && known->owner == RouteProtocolOwner::Daemon) {
        ctx_.errorAt(l.pathOf("protocol"),
                     std::to_string(protocol) + " is the routing protocol number of " +
                         std::string(known->user) +
                         ", which treats such routes as its own; pick a number no routing "
                         "suite uses, such as the default " +
                         std::to_string(kRtprotPathpilot));
      } else if (known) {
        ctx_.errorAt(l.pathOf("protocol"),
                     std::to_string(protocol) + " (" + std::string(known->name) +
                         ") is reserved for " + std::string(known->user) +
                         ": pathpilot could not tell its routes from theirs; pick a number no "
                         "routing suite uses, such as the default " +
                         std::to_string(kRtprotPathpilot));
      } else {
        out.protocol = number;
      }
    }
    std::vector<std::string> adopt;
    if (!l.getStringList("adopt_protocols", adopt, 0)) {
      return;
    }
    std::string path = l.pathOf("adopt_protocols");
    for (std::size_t i = 0; i < adopt.size(); ++i) {
      std::string item = indexPath(path, i);
      const std::string& text = adopt[i];
      std::optional<std::uint8_t> number;
      if (!text.empty() &&
          std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        // The length check comes first: std::stoi throws out_of_range on a long run of digits.
        if (text.size() <= 3 && std::stoi(text) <= 255) {
          number = static_cast<std::uint8_t>(std::stoi(text));
        }
      } else {
        number = routeProtocolByName(text);
      }
      if (!number) {
        ctx_.errorAt(item,
                     "expected a routing protocol number 3-255 or a name such as boot or "
                     "static, got " +
                         quote(text));
        continue;
      }
      auto known = knownRouteProtocol(*number);
      if (known && known->owner == RouteProtocolOwner::Kernel) {
        ctx_.errorAt(item, quote(text) + " is the kernel's (" + std::string(known->user) +
                               "): its routes are not pathpilot's to take over");
        continue;
      }
      // `protocol` was read above: this compares with the configured number, not the default.
      if (*number == out.protocol) {
        ctx_.errorAt(item, quote(text) + " is pathpilot's own protocol (backends.linux.protocol)");
        continue;
      }
      if (std::find(out.adopt_protocols.begin(), out.adopt_protocols.end(), *number) !=
          out.adopt_protocols.end()) {
        ctx_.errorAt(item, quote(text) + " is listed twice");
        continue;
      }
      if (known && known->owner == RouteProtocolOwner::Daemon) {
        ctx_.warningAt(item, "routes of " + describeRouteProtocol(*number) +
                                 " belong to a routing daemon, which puts them back when "
                                 "pathpilot replaces or deletes them; adopt them only where it "
                                 "does not run (e.g. routes an earlier pathpilot wrote with 196)");
      }
      out.adopt_protocols.push_back(*number);
    }
  }

  void endpointUrl(const std::string& url, const std::string& p) {
    std::string_view u = url;
    std::size_t scheme_end = u.find("://");
    std::string_view scheme = scheme_end == std::string_view::npos ? "" : u.substr(0, scheme_end);
    if (scheme != "https" && scheme != "http") {
      ctx_.errorAt(p, "expected an http(s):// URL, got " + quote(url));
      return;
    }
    std::string_view rest = u.substr(scheme_end + 3);
    std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    if (authority.find('@') != std::string_view::npos) {
      // Do not quote the URL: it contains credentials.
      ctx_.errorAt(p,
                   "credentials in the URL are not allowed; use backends.aws.profile or the "
                   "default credential chain");
      return;
    }
    if (authority.empty()) {
      ctx_.errorAt(p, "the URL has no host: " + quote(url));
    }
  }

  // --- ha -------------------------------------------------------------------------------------

  void ha(const YamlNode& node) {
    MapReader m(ctx_, node, "ha", kHaKeys);
    if (!m.isMap()) {
      return;
    }
    HaSettings ha;
    if (m.require("endpoints", "the etcd members' client URLs, e.g. http://10.0.0.5:2379") &&
        m.getStringList("endpoints", ha.endpoints, 1)) {
      if (ha.endpoints.size() > 16) {
        ctx_.errorAt("ha.endpoints", "at most 16 etcd endpoints");
      }
      for (const std::string& e : ha.endpoints) {
        std::string_view u = e;
        std::size_t scheme_end = u.find("://");
        std::string_view scheme =
            scheme_end == std::string_view::npos ? "" : u.substr(0, scheme_end);
        std::string_view authority =
            scheme_end == std::string_view::npos ? "" : u.substr(scheme_end + 3);
        std::string_view path = authority.substr(std::min(authority.size(), authority.find('/')));
        authority = authority.substr(0, authority.find('/'));
        if (scheme != "http" && scheme != "https") {
          ctx_.errorAt("ha.endpoints", "expected http:// or https:// URLs, got " + quote(e));
        } else if (authority.find('@') != std::string_view::npos) {
          ctx_.errorAt("ha.endpoints",
                       "credentials in an etcd URL are not allowed (use a client certificate)");
        } else if (authority.empty() || (!path.empty() && path != "/")) {
          ctx_.errorAt("ha.endpoints",
                       "expected scheme://host:port with no path (the member's client URL), "
                       "got " +
                           quote(e));
        }
      }
      std::vector<std::string> sorted = ha.endpoints;
      std::sort(sorted.begin(), sorted.end());
      if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
        ctx_.errorAt("ha.endpoints", "lists an endpoint twice");
      }
    }
    if (m.get("node", ha.node) && !isSimpleName(ha.node)) {
      ctx_.errorAt(m.pathOf("node"),
                   "expected a name of 1 to 64 letters, digits, _ . - (starting with a letter or "
                   "digit), got " +
                       quote(ha.node));
    }
    if (m.get("prefix", ha.prefix)) {
      if (ha.prefix.empty() || ha.prefix.front() != '/' || ha.prefix.back() == '/' ||
          ha.prefix.size() > 128 || !std::all_of(ha.prefix.begin(), ha.prefix.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '-' ||
                   c == '_' || c == '.';
          })) {
        ctx_.errorAt(m.pathOf("prefix"),
                     "expected a key prefix such as /pathpilot (starts with '/', no trailing "
                     "'/', letters, digits, '/', '-', '_', '.'), got " +
                         quote(ha.prefix));
      }
    }
    // etcd grants whole seconds, and no TTL below 1.5 × its election timeout (2 s at the
    // default 1 s).
    if (m.get("lease_ttl", ha.lease_ttl, std::chrono::seconds(1), std::chrono::minutes(1)) &&
        ha.lease_ttl % std::chrono::seconds(1) != Duration::zero()) {
      ctx_.errorAt(m.pathOf("lease_ttl"), "must be whole seconds (etcd grants leases in seconds)");
    }
    // The default follows the lease_ttl just read and always passes the check below, which
    // therefore only concerns a written fence_margin.
    ha.fence_margin = ha.lease_ttl / 4;
    if (m.get("fence_margin", ha.fence_margin, std::chrono::milliseconds(10),
              std::chrono::minutes(1)) &&
        ha.fence_margin * 2 > ha.lease_ttl) {
      ctx_.errorAt(m.pathOf("fence_margin"),
                   "must be at most half of ha.lease_ttl (" + formatDuration(ha.lease_ttl) +
                       "): the leader renews its lease every lease_ttl/4 and must stay inside "
                       "lease_ttl − fence_margin between renewals");
    }
    for (auto [key, out] :
         {std::pair{"ca_file", &ha.ca_file}, std::pair{"cert_file", &ha.cert_file},
          std::pair{"key_file", &ha.key_file}}) {
      if (m.get(key, *out) && out->empty()) {
        ctx_.errorAt(m.pathOf(key), "expected a file name");
      }
    }
    if (ha.cert_file.empty() != ha.key_file.empty()) {
      ctx_.errorAt(m.pathOf(ha.cert_file.empty() ? "key_file" : "cert_file"),
                   "ha.cert_file and ha.key_file go together (a client certificate and its key)");
    }
    std::string agreement;
    if (m.get("agreement", agreement)) {
      if (agreement == "majority" || agreement == "none") {
        ha.require_agreement = agreement == "majority";
      } else {
        ctx_.errorAt(m.pathOf("agreement"),
                     "expected majority or none, got " + quote(agreement));
      }
    }
    bool tls = std::any_of(ha.endpoints.begin(), ha.endpoints.end(),
                           [](const std::string& e) { return e.rfind("https://", 0) == 0; });
    if (!tls && (!ha.ca_file.empty() || !ha.cert_file.empty())) {
      ctx_.errorAt("ha", "ca_file/cert_file need https:// endpoints");
    }
    cfg_.ha = std::move(ha);
  }

  void journal(const YamlNode& node) {
    MapReader m(ctx_, node, "journal", kJournalKeys);
    JournalSettings& j = cfg_.journal;
    m.get("sqlite", j.sqlite);
    m.get("jsonl", j.jsonl);
    m.getInt("queue_size", j.queue_size, 64, 10'000'000);
    if (!j.sqlite.empty() && j.sqlite == j.jsonl) {
      ctx_.errorAt("journal.jsonl",
                   "the JSON lines file and the SQLite database are the same file");
    }
    if (m.get("state", j.state) && (j.state == j.sqlite || j.state == j.jsonl)) {
      ctx_.errorAt("journal.state", "the state file must not be a journal file");
    }
  }

  void control(const YamlNode& node) {
    MapReader m(ctx_, node, "control", kControlKeys);
    std::string& socket = cfg_.control.socket;
    if (m.get("socket", socket)) {
      // sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
      if (socket.empty() || socket.size() > 107) {
        ctx_.errorAt("control.socket",
                     "must be 1 to 107 bytes (the limit of a unix socket "
                     "path), got " +
                         std::to_string(socket.size()));
      }
    }
  }

  void api(const YamlNode& node) {
    MapReader m(ctx_, node, "api", kApiKeys);
    ApiSettings api;
    std::string listen;
    if (m.get("listen", listen)) {
      std::string_view l = listen;
      std::string host;
      std::string_view port_text;
      // As for probe targets: an IPv6 address with a port must be bracketed.
      if (!l.empty() && l.front() == '[') {
        std::size_t close = l.find("]:");
        if (close != std::string_view::npos) {
          host = std::string(l.substr(1, close - 1));
          port_text = l.substr(close + 2);
        }
      } else if (std::count(l.begin(), l.end(), ':') == 1) {
        host = std::string(l.substr(0, l.find(':')));
        port_text = l.substr(l.find(':') + 1);
      }
      auto address = IpAddress::parse(host);
      int port = -1;
      if (!port_text.empty() && port_text.size() <= 5 &&
          std::all_of(port_text.begin(), port_text.end(),
                      [](char c) { return c >= '0' && c <= '9'; })) {
        port = std::stoi(std::string(port_text));
      }
      if (!address || port < 0 || port > 65535) {
        ctx_.errorAt("api.listen",
                     "expected address:port such as 127.0.0.1:9180 or "
                     "[::1]:9180, got " +
                         quote(listen));
      } else {
        api.address = *address;
        api.port = static_cast<std::uint16_t>(port);
      }
    }
    if (const YamlNode* n = m.find("auth_token")) {
      api.auth_token = readSecret(ctx_, *n, "api.auth_token");
    }
    if (m.getStringList("allowed_hosts", api.allowed_hosts, 1)) {
      for (const std::string& h : api.allowed_hosts) {
        if (h.empty() || h.size() > 253 || !std::all_of(h.begin(), h.end(), [](char c) {
              return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
            })) {
          ctx_.errorAt("api.allowed_hosts",
                       "expected DNS names (letters, digits, '-', '.'), got " + quote(h));
        }
      }
    }
    m.get("auth_reads", api.auth_reads);
    // has(), not the value: a token written but rejected has its own error.
    if (api.auth_reads && !m.has("auth_token")) {
      ctx_.errorAt("api.auth_reads", "needs api.auth_token (the token reads must carry)");
    }
    // Below the API's 4 worker threads, so that one client address cannot hold them all.
    m.getInt("max_connections_per_client", api.max_connections_per_client, 1, 3);
    m.getInt("max_queued_per_client", api.max_queued_per_client, 0, 64);
    m.get("request_timeout", api.request_timeout, std::chrono::seconds(1), std::chrono::minutes(1));
    m.get("response_timeout", api.response_timeout, std::chrono::seconds(1),
          std::chrono::minutes(1));
    if (const YamlNode* n = m.find("rate_limit")) {
      MapReader r(ctx_, *n, "api.rate_limit", kApiRateKeys);
      // 0 requests/s means unlimited (benchmarks, a trusted loopback-only deployment).
      r.getNumber("read_per_second", api.read_limit.per_second, 0, 100'000);
      r.getNumber("read_burst", api.read_limit.burst, 1, 1'000'000);
      r.getNumber("write_per_second", api.write_limit.per_second, 0, 100'000);
      r.getNumber("write_burst", api.write_limit.burst, 1, 1'000'000);
      // A bucket smaller than one second's refill throttles a steady client that stays under
      // the rate but sends in bursts (a dashboard fetching several resources at once).
      auto smallBurst = [&](const ApiRateLimit& l, const char* which) {
        if (l.per_second > 0 && l.burst < l.per_second) {
          ctx_.warningAt(std::string("api.rate_limit.") + which + "_burst",
                         std::string(which) + "_burst " + formatNumber(l.burst) + " is below " +
                             which + "_per_second " + formatNumber(l.per_second) +
                             ": clients get throttled below the configured rate");
        }
      };
      smallBurst(api.read_limit, "read");
      smallBurst(api.write_limit, "write");
      if (api.write_limit.per_second == 0 && r.has("write_per_second")) {
        ctx_.warningAt("api.rate_limit.write_per_second",
                       "write_per_second 0 leaves drain/undrain unlimited");
      }
    }
    cfg_.api = api;
  }

  // --- alerts ---------------------------------------------------------------------------------

  void alerts(const YamlNode& node) {
    MapReader m(ctx_, node, "alerts", kAlertsKeys);
    AlertSettings out;
    if (m.get("outbox", out.outbox)) {
      if (out.outbox.empty()) {
        ctx_.errorAt("alerts.outbox", "must name the SQLite outbox file");
      } else if (out.outbox == cfg_.journal.sqlite || out.outbox == cfg_.journal.jsonl) {
        ctx_.errorAt("alerts.outbox", "the outbox must be its own file, not the journal's");
      }
    }
    m.get("group_window", out.group_window, Duration::zero(), minutes(10));
    m.get("repeat_interval", out.repeat_interval, Duration::zero(), hours(24 * 7));
    m.get("max_age", out.max_age, minutes(1), hours(24 * 30));
    if (const YamlNode* n = m.find("retry")) {
      MapReader r(ctx_, *n, "alerts.retry", kAlertRetryKeys);
      r.get("initial", out.retry_initial, milliseconds(100), hours(1));
      r.get("max", out.retry_max, milliseconds(100), hours(24));
      if (out.retry_max < out.retry_initial) {
        ctx_.errorAt("alerts.retry.max", "retry max " + formatDuration(out.retry_max) +
                                             " is shorter than retry initial " +
                                             formatDuration(out.retry_initial));
      }
    }
    if (const YamlNode* n = m.find("templates")) {
      templates(*n, "alerts.templates", out.templates);
    }
    if (const YamlNode* n = m.require("channels", "where alerts go, e.g. a dingtalk robot")) {
      channels(*n, out);
    }
    if (const YamlNode* n = m.find("routes")) {
      alertRoutes(*n, out);
    }
    cfg_.alerts = std::move(out);
  }

  void templates(const YamlNode& node, const std::string& p, AlertTemplates& out) {
    MapReader t(ctx_, node, p, kTemplateKeys);
    for (std::string_view key : {std::string_view("title"), std::string_view("body")}) {
      std::string text;
      if (!t.get(key, text)) {
        continue;
      }
      auto parsed = parseTemplate(text);
      if (!parsed) {
        ctx_.errorAt(t.pathOf(key), parsed.error().message());
        continue;
      }
      if (key == "title") {
        if (text.find('\n') != std::string::npos) {
          ctx_.errorAt(t.pathOf(key), "a title is one line (it becomes the mail subject)");
          continue;
        }
        if (parsed->uses("details")) {
          ctx_.errorAt(t.pathOf(key), "{details} spans several lines; use it in the body");
          continue;
        }
        out.title = text;
      } else {
        out.body = text;
      }
    }
  }

  void channels(const YamlNode& node, AlertSettings& out) {
    if (!expectList(ctx_, node, "alerts.channels")) {
      return;
    }
    ctx_.locations.record("alerts.channels", node.where);
    if (node.items.empty()) {
      ctx_.error(node.where, "alerts.channels", "needs at least one channel");
      return;
    }
    if (node.items.size() > 64) {
      ctx_.error(node.where, "alerts.channels", "at most 64 channels are supported");
      return;
    }
    std::set<std::string> names;
    for (std::size_t i = 0; i < node.items.size(); ++i) {
      std::string p = indexPath("alerts.channels", i);
      AlertChannelConfig c = channel(*node.items[i], p);
      if (!c.name.empty() && !names.insert(c.name).second) {
        ctx_.errorAt(keyPath(p, "name"), "duplicate channel name " + quote(c.name));
      }
      out.channels.push_back(std::move(c));
    }
  }

  // An e-mail address as SMTP needs it: local@domain, no spaces or angle brackets (those
  // would let a config value inject SMTP commands or headers).
  static bool isMailAddress(std::string_view a) {
    std::size_t at = a.find('@');
    if (a.size() > 254 || at == std::string_view::npos || at == 0 || at + 1 >= a.size() ||
        a.find('@', at + 1) != std::string_view::npos) {
      return false;
    }
    return std::all_of(a.begin(), a.end(), [](char c) {
      auto u = static_cast<unsigned char>(c);
      return u > 0x20 && u != 0x7F && c != '<' && c != '>' && c != ',' && c != ';' && c != '"' &&
             c != '(' && c != ')' && c != '\\';
    });
  }

  // Checks a URL written inline (not from env/file, whose content is only known at run time).
  void checkInlineUrl(const std::optional<SecretRef>& url, const std::string& p,
                      std::initializer_list<std::string_view> schemes) {
    if (!url || url->source != SecretRef::Source::Inline) {
      return;
    }
    std::string_view u = url->value;
    std::size_t scheme_end = u.find("://");
    std::string_view scheme = scheme_end == std::string_view::npos ? "" : u.substr(0, scheme_end);
    bool scheme_ok = std::find(schemes.begin(), schemes.end(), scheme) != schemes.end();
    std::string expected;
    for (std::string_view s : schemes) {
      expected += (expected.empty() ? "" : " or ") + std::string(s) + "://";
    }
    std::string_view rest = scheme_end == std::string_view::npos ? "" : u.substr(scheme_end + 3);
    std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    if (!scheme_ok) {
      // Do not quote: the URL may hold a token.
      ctx_.errorAt(p, "expected a " + expected + " URL");
    } else if (authority.empty() || authority.find('@') != std::string_view::npos) {
      ctx_.errorAt(p, authority.empty() ? "the URL has no host"
                                        : "credentials in the URL are not allowed; use "
                                          "username/password or token");
    }
  }

  // E.164: '+', a country code that does not start with 0, at most 15 digits in all.
  static bool isE164(std::string_view n) {
    if (n.size() < 3 || n.size() > 16 || n[0] != '+' || n[1] == '0') {
      return false;
    }
    return std::all_of(n.begin() + 1, n.end(), [](char c) { return c >= '0' && c <= '9'; });
  }

  // An sns channel publishes to a topic (its mail, SMS, HTTPS... subscribers) or sends one SMS
  // to a phone number, as the classic script did with `aws sns publish --phone-number`. One
  // target per channel: the classic pair is two channels. Amazon SNS sends no SMS in the China
  // regions, which must show here (at `pathpilot check` and start) rather than at the first
  // outage.
  void snsTarget(const MapReader& m, AlertChannelConfig& out) {
    bool has_topic = m.has("topic_arn");
    bool has_phone = m.has("phone_number");
    if (has_topic && has_phone) {
      ctx_.errorAt(m.pathOf("phone_number"),
                   "give either topic_arn or phone_number, not both (one target per channel: "
                   "use two sns channels to mail a topic and text a phone, as the classic "
                   "script did)");
    } else if (!has_topic && !has_phone) {
      m.require("topic_arn",
                "e.g. arn:aws:sns:ap-southeast-1:111122223333:DCI-Status, or phone_number: "
                "'+15555550100' for an SMS");
    }
    if (has_topic && m.get("topic_arn", out.topic_arn)) {
      std::string_view arn = out.topic_arn;
      bool ok = arn.rfind("arn:", 0) == 0 && arn.find(":sns:") != std::string_view::npos &&
                std::count(arn.begin(), arn.end(), ':') == 5 && arn.back() != ':';
      if (!ok) {
        ctx_.errorAt(m.pathOf("topic_arn"),
                     "expected an SNS topic ARN such as "
                     "arn:aws:sns:ap-southeast-1:111122223333:DCI-Status, got " +
                         quote(out.topic_arn));
      }
    }
    if (m.get("region", out.region) && !isRegionName(out.region)) {
      ctx_.errorAt(m.pathOf("region"),
                   "expected an AWS region such as cn-north-1, got " + quote(out.region));
      out.region.clear();
      ctx_.markFailed(m.pathOf("region"));
    }
    if (m.get("endpoint_url", out.endpoint_url)) {
      endpointUrl(out.endpoint_url, m.pathOf("endpoint_url"));
    }
    if (!has_phone || has_topic || !m.get("phone_number", out.phone_number)) {
      return;
    }
    std::string path = m.pathOf("phone_number");
    if (!isE164(out.phone_number)) {
      ctx_.errorAt(path,
                   "expected a phone number in E.164 form (+, country code, number, no "
                   "spaces), such as '+15555550100'; got " +
                       quote(out.phone_number));
      return;
    }
    if (ctx_.failed(m.pathOf("region"))) {
      return;  // reported already
    }
    // The SMS goes out from the channel's region, else the site's.
    std::string_view from = "region";
    if (out.region.empty()) {
      from = !cfg_.backends.aws.region.empty() ? "backends.aws.region" : "site.region";
      out.region = !cfg_.backends.aws.region.empty() ? cfg_.backends.aws.region : cfg_.site.region;
    }
    if (out.region.empty()) {
      ctx_.errorAt(path,
                   "an SMS is sent from one SNS region: set region on this channel "
                   "(e.g. ap-southeast-1) or site.region");
      return;
    }
    if (out.region.rfind("cn-", 0) == 0) {
      ctx_.errorAt(path, "Amazon SNS does not send SMS in the China regions (" + out.region +
                             ", from " + std::string(from) +
                             ", is in partition aws-cn): alerts to a phone would fail at the "
                             "first outage. Use an smtp, dingtalk, wecom or feishu channel, or a "
                             "topic with e-mail subscribers (topic_arn)");
    }
  }

  AlertChannelConfig channel(const YamlNode& node, const std::string& p) {
    AlertChannelConfig out;
    MapReader m(ctx_, node, p, kChannelKeys);
    if (!m.isMap()) {
      return out;
    }
    if (m.require("name") && m.get("name", out.name) && !isSimpleName(out.name)) {
      ctx_.errorAt(m.pathOf("name"),
                   "expected 1 to 64 characters of [A-Za-z0-9_.-], got " + quote(out.name));
      out.name.clear();
    }
    // Which keys apply depends on the kind, so without a valid one the rest of the channel is
    // not read.
    if (!m.has("kind")) {
      m.require("kind", "one of smtp, sns, webhook, slack, dingtalk, feishu, wecom, alertmanager");
      ctx_.markFailed(p);
      return out;
    }
    if (!m.getEnum("kind", out.kind, kChannelKinds)) {
      ctx_.markFailed(p);
      return out;
    }
    const AlertChannelKind k = out.kind;
    const std::string kind_name(alertChannelKindName(k));
    auto only_for = [&](std::string_view key, std::initializer_list<AlertChannelKind> kinds) {
      if (m.has(key) && std::find(kinds.begin(), kinds.end(), k) == kinds.end()) {
        ctx_.errorAt(m.pathOf(key),
                     "'" + std::string(key) + "' does not apply to a " + kind_name + " channel");
        return false;
      }
      return m.has(key);
    };
    using K = AlertChannelKind;
    bool chat = k == K::Slack || k == K::DingTalk || k == K::Feishu || k == K::WeCom;
    if (only_for("url", {K::Smtp, K::Webhook, K::Slack, K::DingTalk, K::Feishu, K::WeCom,
                         K::Alertmanager})) {
      // A chat robot URL carries its access token; a generic webhook's may (query string).
      const YamlNode* n = m.find("url");
      bool secret_url =
          chat || (k == K::Webhook && n->isScalar() && n->value.find('?') != std::string::npos);
      out.url = readSecret(ctx_, *n, m.pathOf("url"), secret_url);
      if (k == K::Smtp) {
        checkInlineUrl(out.url, m.pathOf("url"), {"smtp", "smtps"});
      } else {
        checkInlineUrl(out.url, m.pathOf("url"), {"http", "https"});
      }
    } else if (k != K::Sns && !m.has("url")) {
      m.require("url", k == K::Smtp ? "smtp://host:587 or smtps://host:465"
                                    : "the webhook URL, e.g. {env: DINGTALK_URL}");
    }
    if (only_for("secret", {K::DingTalk, K::Feishu})) {
      out.secret = readSecret(ctx_, *m.find("secret"), m.pathOf("secret"));
    }
    if (only_for("token", {K::Webhook, K::Alertmanager})) {
      out.token = readSecret(ctx_, *m.find("token"), m.pathOf("token"));
    }
    if (only_for("starttls", {K::Smtp})) {
      m.get("starttls", out.starttls);
    }
    if (only_for("username", {K::Smtp})) {
      m.get("username", out.username);
    }
    if (only_for("password", {K::Smtp})) {
      out.password = readSecret(ctx_, *m.find("password"), m.pathOf("password"));
      if (out.username.empty()) {
        ctx_.errorAt(m.pathOf("password"), "a password needs a username");
      }
    } else if (!out.username.empty()) {
      ctx_.errorAt(m.pathOf("username"),
                   "a username needs a password ({env: NAME} or "
                   "{file: PATH})");
    }
    if (only_for("html", {K::Smtp})) {
      m.get("html", out.html);
    }
    if (k == K::Smtp) {
      if (m.require("from", "the sender address, e.g. pathpilot@example.com") &&
          m.get("from", out.from) && !isMailAddress(out.from)) {
        ctx_.errorAt(m.pathOf("from"), "invalid e-mail address " + quote(out.from));
      }
      if (m.require("to", "the recipients, e.g. [noc@example.com]") &&
          m.getStringList("to", out.to, 1)) {
        if (out.to.size() > 50) {
          ctx_.errorAt(m.pathOf("to"), "at most 50 recipients");
        }
        for (std::size_t i = 0; i < out.to.size(); ++i) {
          if (!isMailAddress(out.to[i])) {
            ctx_.errorAt(indexPath(m.pathOf("to"), i),
                         "invalid e-mail address " + quote(out.to[i]));
          }
        }
      }
    } else {
      // Called for the error alone: from and to belong to smtp channels.
      only_for("from", {K::Smtp});
      only_for("to", {K::Smtp});
    }
    if (k == K::Sns) {
      snsTarget(m, out);
    } else {
      only_for("topic_arn", {K::Sns});
      only_for("phone_number", {K::Sns});
      only_for("region", {K::Sns});
      only_for("endpoint_url", {K::Sns});
    }
    if (m.get("ca_file", out.ca_file) && out.ca_file.empty()) {
      ctx_.errorAt(m.pathOf("ca_file"), "expected the path of a PEM CA bundle");
    }
    m.get("timeout", out.timeout, seconds(1), minutes(2));
    if (const YamlNode* n = m.find("rate")) {
      MapReader r(ctx_, *n, m.pathOf("rate"), kRateKeys);
      r.getNumber("per_minute", out.rate.per_minute, 0.1, 6000);
      r.getInt("burst", out.rate.burst, 1, 1000);
    }
    if (const YamlNode* n = m.find("templates")) {
      templates(*n, m.pathOf("templates"), out.templates);
    }
    // A credential sent in clear text; a URL from env/file is checked when the daemon builds
    // the channel (alert::makeChannel).
    if (out.url && out.url->source == SecretRef::Source::Inline && !ctx_.failed(m.pathOf("url"))) {
      if (auto bad = cleartextCredential(out, out.url->value)) {
        ctx_.errorAt(m.pathOf(bad->key), bad->reason);
      }
    }
    return out;
  }

  void alertRoutes(const YamlNode& node, AlertSettings& out) {
    if (!expectList(ctx_, node, "alerts.routes")) {
      return;
    }
    for (std::size_t i = 0; i < node.items.size(); ++i) {
      std::string p = indexPath("alerts.routes", i);
      MapReader m(ctx_, *node.items[i], p, kAlertRouteKeys);
      if (!m.isMap()) {
        continue;
      }
      AlertRoute r;
      if (m.require("channels", "the channel names this route sends to") &&
          m.getStringList("channels", r.channels, 1)) {
        std::vector<std::string_view> known;
        for (const auto& c : out.channels) {
          known.push_back(c.name);
        }
        for (std::size_t j = 0; j < r.channels.size(); ++j) {
          // When the channel list itself was rejected, every name would look unknown.
          if (out.findChannel(r.channels[j]) == nullptr && !ctx_.failed("alerts.channels")) {
            ctx_.errorAt(
                indexPath(m.pathOf("channels"), j),
                "no channel named " + quote(r.channels[j]) + didYouMean(r.channels[j], known));
          }
        }
      }
      m.getEnum("severity", r.min_severity, kAlertSeverities);
      m.getStringList("sites", r.sites, 1);
      if (const YamlNode* n = m.find("links")) {
        std::string lp = m.pathOf("links");
        if (expectList(ctx_, *n, lp)) {
          for (std::size_t j = 0; j < n->items.size(); ++j) {
            if (auto kind = readEnum(ctx_, *n->items[j], indexPath(lp, j), kLinkKinds)) {
              r.links.push_back(*kind);
            }
          }
        }
      }
      if (m.getStringList("kinds", r.kinds, 1)) {
        const auto& known = alertEventKindNames();
        for (std::size_t j = 0; j < r.kinds.size(); ++j) {
          if (std::find(known.begin(), known.end(), r.kinds[j]) == known.end()) {
            ctx_.errorAt(indexPath(m.pathOf("kinds"), j),
                         "unknown event kind " + quote(r.kinds[j]) + didYouMean(r.kinds[j], known));
          }
        }
      }
      m.get("resolved", r.resolved);
      out.routes.push_back(std::move(r));
    }
  }

  Context& ctx_;
  Config& cfg_;
};

}  // namespace

void decodeConfig(const YamlNode& root, Context& ctx, Config& out) { Decoder(ctx, out).run(root); }

}  // namespace pathpilot::config::detail

namespace pathpilot::config {

const std::vector<SchemaSection>& schemaSections() { return detail::kSchema; }

}  // namespace pathpilot::config

namespace pathpilot::config::detail {

const std::unordered_map<std::string_view, std::string_view>& misplacedKeyHints() {
  static const std::unordered_map<std::string_view, std::string_view> hints = {
      {"targets", "paths[].probe"},
      {"interval", "probe or paths[].probe"},
      {"timeout", "probe, paths[].probe, paths[].recovery or backends.exec"},
      {"jitter", "probe or paths[].probe"},
      {"quorum", "probe or paths[].probe"},
      {"source", "paths[].probe"},
      {"interface", "paths[].probe"},
      {"fwmark", "paths[].probe"},
      {"gateway_id", "paths[].next_hop"},
      {"network_interface_id", "paths[].next_hop"},
      {"transit_gateway_id", "paths[].next_hop"},
      {"instance_id", "paths[].next_hop or paths[].recovery"},
      {"via", "paths[].next_hop"},
      {"dev", "paths[].next_hop"},
      {"window", "health or paths[].health"},
      {"rise", "health or paths[].health"},
      {"fall", "health or paths[].health"},
      {"degraded_loss", "health or paths[].health"},
      {"down_loss", "health or paths[].health"},
      {"degraded_rtt", "health or paths[].health"},
      {"degraded_rtt_p95", "health or paths[].health"},
      {"degraded_clear_loss", "health or paths[].health"},
      {"degraded_clear_rtt", "health or paths[].health"},
      {"damping", "health or paths[].health"},
      {"half_life", "health.damping"},
      {"penalty", "health.damping"},
      {"suppress", "health.damping"},
      {"reuse", "health.damping"},
      {"max_suppress", "health.damping"},
      {"preference", "policy"},
      {"az_affinity", "policy"},
      {"failback_hold_down", "policy"},
      {"fail_static", "policy"},
      {"fail_static_settle", "policy"},
      {"correlation_window", "monitor"},
      {"destinations", "route_tables[]"},
      {"table", "route_tables[]"},
      {"backend", "route_tables[]"},
      {"region", "site or backends.aws"},
      {"endpoint_url", "backends.aws"},
      {"profile", "backends.aws"},
      {"max_concurrency", "backends.aws"},
      {"netns", "backends.linux"},
      {"drift_check_interval", "backends.linux"},
      {"protocol", "backends.linux"},
      {"adopt_protocols", "backends.linux"},
      {"command", "backends.exec or paths[].recovery"},
      {"env_passthrough", "backends.exec or paths[].recovery"},
      {"action", "paths[].recovery"},
      {"after", "paths[].recovery"},
      {"backoff", "paths[].recovery"},
      {"max_attempts_per_hour", "paths[].recovery"},
      {"sqlite", "journal"},
      {"jsonl", "journal"},
      {"queue_size", "journal"},
      {"state", "journal"},
      {"socket", "control"},
      {"listen", "api"},
      {"rate_limit", "api"},
      {"read_per_second", "api.rate_limit"},
      {"write_per_second", "api.rate_limit"},
      {"account_id", "backends.aws"},
      {"phone_number", "alerts.channels[]"},
      {"auth_token", "api"},
      {"allowed_hosts", "api"},
      {"auth_reads", "api"},
      {"max_connections_per_client", "api"},
      {"max_queued_per_client", "api"},
      {"request_timeout", "api"},
      {"response_timeout", "api"},
      {"endpoints", "ha"},
      {"lease_ttl", "ha"},
      {"fence_margin", "ha"},
      {"aws", "backends"},
      {"linux", "backends"},
      {"exec", "backends"},
      {"outbox", "alerts"},
      {"group_window", "alerts"},
      {"repeat_interval", "alerts"},
      {"channels", "alerts or alerts.routes[]"},
      {"routes", "alerts"},
      {"templates", "alerts or alerts.channels[]"},
  };
  return hints;
}

}  // namespace pathpilot::config::detail
