// config/config.h — the validated configuration of one pathpilot site, as plain values.
//
// Purpose: the loader (config/loader.h) turns a YAML file into this tree and guarantees every
// invariant written next to the fields below; other modules read it and never see YAML. The
// member initializers ARE the defaults: this header is the one place where they are defined
// (docs/config.md repeats them for users). Per-path `probe` and `health` values are already
// merged with the top-level defaults, so a consumer never merges anything.
//
// Only std types and base types (Duration, IpAddress, IpPrefix) appear here, so that the tree
// can be copied into snapshots and compared in tests.
// Threading: value types.
// Metrics: none.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip.h"
#include "base/link.h"
#include "base/route_protocol.h"
#include "base/time.h"
#include "config/diagnostic.h"

namespace pathpilot::config {

// The schema version this build reads (top-level key `version`, optional, default 1).
inline constexpr int kSchemaVersion = 1;

// ---------------------------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------------------------

// What a path physically is (base/link.h). The policy prefers kinds in `policy.preference`
// order.
using pathpilot::LinkKind;
using pathpilot::linkKindName;

enum class ProbeKind : std::uint8_t {
  Icmp,  // ICMP / ICMPv6 echo
  Tcp,   // TCP connect to host:port (for targets that drop ICMP)
};

// Who programs a route table.
enum class BackendKind : std::uint8_t {
  Aws,    // an AWS VPC route table, through the EC2 API
  Linux,  // a Linux policy-routing table, through netlink
  Exec,   // a hook command (backends.exec.command) that does it
};

// The AWS next-hop field a path programs into VPC route tables.
enum class AwsTargetKind : std::uint8_t {
  None,              // the path has no AWS next hop (e.g. linux-only)
  Gateway,           // gateway_id: vgw-… (virtual private gateway) or igw-…
  Instance,          // instance_id: i-… (a strongSwan gateway instance)
  NetworkInterface,  // network_interface_id: eni-…
  TransitGateway,    // transit_gateway_id: tgw-…
};

enum class RecoveryAction : std::uint8_t {
  Command,     // run an argv (e.g. ssh the gateway and restart strongSwan)
  Ec2Restart,  // EC2 StopInstances, wait, StartInstances on the gateway instance
};

// Stable lowercase names, exactly as written in the YAML file ("dx", "icmp", "aws",
// "instance_id", "ec2-restart").
std::string_view probeKindName(ProbeKind k);
std::string_view backendKindName(BackendKind k);
std::string_view awsTargetKeyName(AwsTargetKind k);
std::string_view recoveryActionName(RecoveryAction a);

// A value that must not be written into logs, events or the plan. Written in YAML as
// `{env: NAME}`, `{file: PATH}` or, discouraged (the loader warns), an inline string.
struct SecretRef {
  enum class Source : std::uint8_t { Inline, Env, File };
  Source source = Source::Env;
  // The secret itself for Inline, the variable name for Env, the path for File.
  std::string value;

  // Safe to print: "env:NAME", "file:/etc/x", or "<inline secret>" (never the value).
  std::string describe() const;
};

// ---------------------------------------------------------------------------------------------
// Probing and health
// ---------------------------------------------------------------------------------------------

struct ProbeTarget {
  IpAddress address;
  std::uint16_t port = 0;  // tcp probes only; always non-zero for tcp, zero for icmp

  // "10.10.3.100", "10.10.3.100:443", "[2001:db8::1]:443".
  std::string toString() const;
  friend bool operator==(const ProbeTarget&, const ProbeTarget&) = default;
};

// How a path's probes are forced onto that path and no other (base/link.h). A path's has at
// least one field set.
using pathpilot::Pinning;

// `probe.adaptive_timeout`: the probe timeout follows the target's measured RTT (RFC 6298
// SRTT + K·RTTVAR, see probe/rtt_estimator.h); `probe.timeout` is then the ceiling.
struct AdaptiveTimeoutSettings {
  bool enabled = false;
  Duration min = std::chrono::milliseconds(10);  // floor, 1ms ≤ min ≤ timeout
  double rttvar_factor = 4;                      // K, 1..16
  Duration margin =
      std::chrono::milliseconds(2);  // least allowance above SRTT, 0 ≤ margin ≤ timeout
};

// Top-level `probe:` — defaults that every path's `probe:` inherits.
struct ProbeDefaults {
  ProbeKind kind = ProbeKind::Icmp;
  int quorum = 1;                                     // targets that must answer a round
  Duration interval = std::chrono::seconds(1);        // 10ms ≤ interval ≤ 1h
  Duration timeout = std::chrono::milliseconds(500);  // 0 < timeout < interval
  int jitter_percent = 10;                            // 0..50, spread of the interval
  AdaptiveTimeoutSettings adaptive_timeout;           // off unless configured
};

// One path's probing, defaults already applied.
struct ProbeSettings : ProbeDefaults {
  std::vector<ProbeTarget> targets;  // 1..16, unique; all tcp targets have a port
  Pinning pinning;                   // never empty
};

// Flap damping, modelled on BGP route-flap damping (RFC 2439): every down transition adds
// `penalty` to a figure of merit that decays with `half_life`; above `suppress` the path is
// held Down, below `reuse` it is released; no path stays suppressed longer than `max_suppress`.
struct DampingSettings {
  bool enabled = true;
  Duration half_life = std::chrono::minutes(5);
  double penalty = 1000;                             // > 0
  double suppress = 3000;                            // > reuse
  double reuse = 750;                                // > 0
  Duration max_suppress = std::chrono::minutes(20);  // ≥ half_life
};

// Top-level `health:` and per-path `health:` overrides (merged).
struct HealthSettings {
  int window = 10;              // probe rounds over which loss and RTT are measured, 1..1000
  int rise = 3;                 // consecutive good rounds before Down/Unknown → Up, 1..100
  int fall = 3;                 // consecutive failed rounds before → Down, 1..100
  double degraded_loss = 0.10;  // loss ratio over the window that makes a path Degraded
  double down_loss = 0.50;      // loss ratio that makes it Down; degraded_loss < down_loss ≤ 1
  // Mean RTT of the answered probes over the window above which a path is Degraded (what
  // dpinger / pfSense latency thresholds compare); 0 = off.
  Duration degraded_rtt = Duration::zero();
  // p95 (nearest rank) of the same RTTs above which a path is Degraded: the tail of slow
  // replies that the mean hides; 0 = off.
  Duration degraded_rtt_p95 = Duration::zero();
  // Hysteresis: a Degraded path is Up (clean) again only at or below these. Negative / zero:
  // the defaults, half of degraded_loss and 80% of degraded_rtt (health/link_health.h).
  double degraded_clear_loss = -1;
  Duration degraded_clear_rtt = Duration::zero();
  DampingSettings damping;
};

// ---------------------------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------------------------

// Where traffic for a path goes, per backend. A path used by an aws table has aws_kind set; a
// path used by a linux table has `via` and/or `dev`; the exec backend receives whatever is set.
struct NextHop {
  AwsTargetKind aws_kind = AwsTargetKind::None;
  std::string aws_id;            // "vgw-078bcc55", "i-0e1466e8a5dd4892c" (format-checked)
  std::optional<IpAddress> via;  // linux: gateway address
  std::string dev;               // linux: output interface

  bool hasAws() const { return aws_kind != AwsTargetKind::None; }
  bool hasLinux() const { return via.has_value() || !dev.empty(); }
  // "instance_id i-0e14…", "via 169.254.100.1 dev vti1", "vgw-… / via … dev …".
  std::string toString() const;
};

// What to do when a gateway stays Down: see the recovery module.
struct RecoverySettings {
  RecoveryAction action = RecoveryAction::Command;
  std::vector<std::string> command;  // Command: argv, non-empty, argv[0] non-empty
  std::string instance_id;           // Ec2Restart: the instance (defaults to next_hop.instance_id)
  Duration after = std::chrono::seconds(30);           // Down this long before acting, ≥ 0
  Duration timeout = std::chrono::minutes(5);          // one attempt may take this long, > 0
  Duration backoff_initial = std::chrono::minutes(1);  // wait after a failed attempt, > 0
  Duration backoff_max = std::chrono::minutes(15);     // backoff doubles up to this, ≥ initial
  int max_attempts_per_hour = 3;                       // 1..60
  // Command: variables of the daemon's environment the command also sees, besides PATH, LANG,
  // LANGUAGE, LC_* and TZ. Valid names, at most 64; never an AWS credential variable nor a
  // variable the config reads a secret from ({env: NAME}).
  std::vector<std::string> env_passthrough;
};

struct PathConfig {
  std::string name;  // unique, [A-Za-z0-9_.-]{1,64}, e.g. "vpn-a"
  LinkKind kind = LinkKind::Vpn;
  std::string az;      // AZ of the gateway ("ap-southeast-1a"); may be empty for DX
  int priority = 100;  // 0..65535, lower is preferred among equals
  ProbeSettings probe;
  NextHop next_hop;
  std::optional<RecoverySettings> recovery;  // none: never act on the gateway
  HealthSettings health;

  // Worst-case time to declare this path Down: interval × fall + timeout.
  Duration detectionTime() const;
};

// ---------------------------------------------------------------------------------------------
// Route tables and policy
// ---------------------------------------------------------------------------------------------

struct RouteTableConfig {
  // aws: "rtb-" + 8 or 17 hex digits; linux: defaults to the table number ("101");
  // exec: any [A-Za-z0-9_.:/-]{1,128}. Unique among tables.
  std::string id;
  std::string name;  // human label, e.g. "Private-1"; defaults to id; unique
  std::string az;    // AZ of the subnets using the table; required while az_affinity is on
  BackendKind backend = BackendKind::Aws;
  std::uint32_t linux_table = 0;       // linux only: 1..4294967294 except 253, 254, 255
  std::vector<IpPrefix> destinations;  // 1..1000, unique, no host bits set
  std::vector<std::string> paths;      // restriction to these paths; empty = every path
};

struct PolicySettings {
  std::vector<LinkKind> preference = {LinkKind::Dx, LinkKind::Vpn};  // unique, non-empty
  bool az_affinity = true;  // prefer the VPN gateway in the table's own AZ
  // How long a better path must stay usable before traffic moves back to it. Must be at least
  // the detection time of every path, or a flapping path could pull traffic back between two
  // failed probes.
  Duration failback_hold_down = std::chrono::seconds(60);
  bool fail_static = true;  // nothing healthy: keep the routes as they are (and alert)
  // Leaving fail static: how long a route waits for its current path to come back before
  // moving to another that returned first (0..1m; 0: no wait).
  Duration fail_static_settle = std::chrono::seconds(3);
};

// ---------------------------------------------------------------------------------------------
// Backends and services
// ---------------------------------------------------------------------------------------------

struct AwsBackendSettings {
  std::string region;        // defaults to site.region; required when anything uses AWS
  std::string endpoint_url;  // optional override, http(s)://…, never with credentials
  std::string profile;       // shared-config profile; empty = default credential chain
  int max_concurrency = 4;   // parallel EC2 calls, 1..32
  // The 12-digit AWS account that owns the route tables and gateway instances. Optional: only
  // `pathpilot check --iam` needs it (to write resource ARNs); the daemon does not.
  std::string account_id;
};

struct LinuxBackendSettings {
  std::string netns;  // network namespace to program; empty = the daemon's own
  Duration drift_check_interval = std::chrono::seconds(30);  // re-read tables, > 0
  // rtm_protocol of pathpilot's routes, 1..255; never a number the kernel reserves or a known
  // routing suite uses (base/route_protocol.h).
  std::uint8_t protocol = kRtprotPathpilot;
  // Protocols whose routes pathpilot may take over as its own (YAML names or numbers, e.g.
  // [boot]); empty: it touches only routes of `protocol`.
  std::vector<std::uint8_t> adopt_protocols;
};

struct ExecBackendSettings {
  std::vector<std::string> command;             // argv of the hook; required when a table uses exec
  // argv printing what a table holds, "<prefix> <next hop>" per line (route/exec); none: the
  // routes this process applied.
  std::vector<std::string> list_command;
  Duration timeout = std::chrono::seconds(10);  // > 0
  // As RecoverySettings::env_passthrough, for the hook.
  std::vector<std::string> env_passthrough;
};

struct BackendSettings {
  AwsBackendSettings aws;  // YAML `backends.aws`
  // YAML `backends.linux` (not called `linux`: that is a predefined macro under -std=gnu++).
  LinuxBackendSettings linux_backend;
  ExecBackendSettings exec;  // YAML `backends.exec`
};

struct JournalSettings {
  std::string sqlite = "/var/lib/pathpilot/journal.db";   // empty = no SQLite store
  std::string jsonl = "/var/log/pathpilot/events.jsonl";  // empty = no JSON lines file
  int queue_size = 65536;                                 // 64..10000000 events
  // The state a restart keeps (drains, recovery limits; daemon/state_file.h). Empty: state.json
  // in the directory of `sqlite` (else of `jsonl`); "none": not kept.
  std::string state;
  // The state file this config means (resolving the default above); "" when not kept.
  std::string stateFile() const;
};

struct ControlSettings {
  std::string socket = "/run/pathpilot/control.sock";  // unix socket, ≤ 107 bytes
};

// A token bucket per client address (YAML `api.rate_limit`): `burst` requests at once, refilled
// at `per_second`. per_second 0 = unlimited.
struct ApiRateLimit {
  double per_second = 0;  // 0..100000
  double burst = 1;       // 1..1000000
  friend bool operator==(const ApiRateLimit&, const ApiRateLimit&) = default;
};

struct ApiSettings {
  IpAddress address = IpAddress::v4FromHostOrder(0x7F000001);  // 127.0.0.1
  std::uint16_t port = 9180;
  std::optional<SecretRef> auth_token;  // bearer token for the write endpoints
  // Reads (status, events, metrics, dashboard): generous, a dashboard polls every second.
  ApiRateLimit read_limit{100, 200};  // api.rate_limit.read_per_second / read_burst
  // Writes (drain/undrain): rare and they move traffic, so a tight bucket.
  ApiRateLimit write_limit{2, 10};  // api.rate_limit.write_per_second / write_burst
  // Host names a request's Host header may carry besides IP literals and "localhost" (DNS
  // rebinding: a web page whose name resolves to this address must not read the API).
  std::vector<std::string> allowed_hosts;
  // Reads (status, events, metrics, dashboard) need the bearer token too.
  bool auth_reads = false;
  // Connections of one client address served at once (1..3: below the API's 4 workers) and
  // waiting behind them (0..64); a connection beyond both gets 503.
  int max_connections_per_client = 3;
  int max_queued_per_client = 12;
  // Summed time a connection may wait for its requests to arrive (slowloris) and for its
  // client to read the responses (slow reader).
  Duration request_timeout = std::chrono::seconds(10);
  Duration response_timeout = std::chrono::seconds(10);
};

// ---------------------------------------------------------------------------------------------
// Alerts (YAML `alerts:`; see docs/config.md#alerts and the alert module)
// ---------------------------------------------------------------------------------------------

// Where an alert channel delivers.
enum class AlertChannelKind : std::uint8_t {
  Smtp,          // mail through an SMTP server (smtp:// or smtps://, optional STARTTLS and auth)
  Sns,           // Amazon SNS Publish to a topic (mail/SMS subscribers)
  Webhook,       // generic JSON POST
  Slack,         // Slack incoming webhook
  DingTalk,      // DingTalk (钉钉) custom robot, optionally signed
  Feishu,        // Feishu / Lark custom bot, optionally signed
  WeCom,         // WeCom (企业微信) group robot
  Alertmanager,  // Prometheus Alertmanager, POST /api/v2/alerts
};

// "smtp", "sns", "webhook", "slack", "dingtalk", "feishu", "wecom", "alertmanager".
std::string_view alertChannelKindName(AlertChannelKind k);

// Severities as the alert routes name them (the journal's, repeated here because config
// depends on base only; a test keeps both lists equal).
enum class AlertSeverity : std::uint8_t { Info, Warning, Critical };
std::string_view alertSeverityName(AlertSeverity s);

// The event kinds a route may name (journal::eventKindName of every EventKind).
const std::vector<std::string_view>& alertEventKindNames();

// Message templates (config/message_template.h syntax). Empty = the built-in default.
struct AlertTemplates {
  std::string title;  // first line / subject: short, readable on a phone lock screen
  std::string body;   // the rest
};

// A token bucket per channel: `burst` messages at once, refilled at `per_minute`.
struct AlertRateLimit {
  double per_minute = 20;  // 0.1..6000
  int burst = 5;           // 1..1000
};

struct AlertChannelConfig {
  std::string name;  // unique, [A-Za-z0-9_.-]{1,64}; routes and `pathpilot alerts test` use it
  AlertChannelKind kind = AlertChannelKind::Webhook;
  // Where to send. smtp: smtp://host[:port] or smtps://host[:port]; alertmanager: its base URL
  // (http://127.0.0.1:9093); webhook/slack/dingtalk/feishu/wecom: the full webhook URL, which
  // usually holds the access token, hence a secret (an inline URL with a query string or a
  // chat robot URL written inline gets a warning). Required except for sns.
  std::optional<SecretRef> url;
  // dingtalk, feishu: the signing secret ("加签"); the request then carries timestamp + sign.
  std::optional<SecretRef> secret;
  // webhook, alertmanager: sent as "Authorization: Bearer <token>".
  std::optional<SecretRef> token;
  // smtp
  bool starttls = false;              // require STARTTLS on smtp:// (smtps:// is TLS already)
  std::string username;               // empty: no SMTP AUTH
  std::optional<SecretRef> password;  // required with username
  std::string from;                   // envelope and header From, an address
  std::vector<std::string> to;        // 1..50 addresses
  bool html = true;                   // add a text/html alternative to the plain text
  // sns: exactly one of topic_arn and phone_number
  std::string topic_arn;     // arn:aws:sns:REGION:ACCOUNT:NAME or arn:aws-cn:...
  // E.164 ("+15555550100"): one SMS per alert (Publish with PhoneNumber). Never in a China
  // region (SNS has no SMS there: a config error).
  std::string phone_number;
  // topic: defaults to the topic's region; phone_number: set by the loader to the region the
  // SMS goes out from (this key, else backends.aws.region, else site.region).
  std::string region;
  std::string endpoint_url;  // optional endpoint override (VPC endpoint, tests)
  // every kind
  // PEM bundle trusted for this channel's TLS instead of the system store (an internal relay
  // or Alertmanager with a private CA). Peer and host verification stay on.
  std::string ca_file;
  Duration timeout = std::chrono::seconds(10);  // one delivery attempt, 1s..2m
  AlertRateLimit rate;
  AlertTemplates templates;  // overrides alerts.templates for this channel
};

// A credential this channel would send in clear text over the network, to `url` (the
// channel's URL, resolved): an SMTP password over smtp:// without starttls (loopback included:
// use smtps:// or STARTTLS), a bearer token (webhook, alertmanager) over http:// to a host
// that is not loopback (127.0.0.0/8, ::1, localhost), or a chat robot URL, which holds the
// robot's access token, over http:// to such a host. Returns the key that carries the
// credential ("password", "token", "url") and the reason, or nullopt when none would.
struct CleartextCredential {
  std::string key;
  std::string reason;
};
std::optional<CleartextCredential> cleartextCredential(const AlertChannelConfig& c,
                                                       std::string_view url);

// Which alerts go to which channels. An alert matches when every set criterion matches; an
// alert goes to the union of the channels of all matching routes.
struct AlertRoute {
  std::vector<std::string> channels;                    // ≥ 1, names of alerts.channels
  AlertSeverity min_severity = AlertSeverity::Warning;  // YAML `severity`
  std::vector<std::string> sites;                       // empty = any site
  std::vector<LinkKind> links;                          // empty = any (and events without a link)
  std::vector<std::string> kinds;                       // event kinds; empty = any
  bool resolved = true;                                 // also send the RESOLVED message
};

struct AlertSettings {
  std::string outbox = "/var/lib/pathpilot/alerts.db";  // SQLite outbox (not the journal's file)
  // Events of one incident arriving within this window of the first become one alert.
  Duration group_window = std::chrono::seconds(30);  // 0..10m
  // The same firing alert (same site, kind, path) is not sent again within this.
  Duration repeat_interval = std::chrono::hours(4);  // 0..7d
  // Delivery retries: exponential from `retry_initial` to `retry_max`, given up after `max_age`.
  Duration retry_initial = std::chrono::seconds(2);
  Duration retry_max = std::chrono::minutes(5);
  Duration max_age = std::chrono::hours(24);
  AlertTemplates templates;
  std::vector<AlertChannelConfig> channels;  // ≥ 1, names unique
  // Empty: one implicit route sending severity ≥ warning (and resolutions) to every channel.
  std::vector<AlertRoute> routes;

  const AlertChannelConfig* findChannel(std::string_view name) const;
};

struct Site {
  std::string name;    // required, e.g. "Singapore"; appears in every event and alert
  std::string region;  // optional, e.g. "ap-southeast-1", "cn-north-1"
};

// ---------------------------------------------------------------------------------------------
// The whole file
// ---------------------------------------------------------------------------------------------

// Top-level `monitor:` — how the monitor checks its own view (policy/view_check.h).
struct MonitorSettings {
  // Reference targets the monitor must always reach (the VPC router, a host beside it),
  // probed like a path but never carrying traffic; while they are down the monitor doubts its
  // view: no gateway recovery starts. None: only the correlated-loss rule applies.
  std::optional<ProbeSettings> probe;
  // Every path going down within this window makes the view suspect (0..1m).
  Duration correlation_window = std::chrono::seconds(5);
};

// Top-level `ha:` — a group of monitors of this site electing one writer on etcd
// (docs/ha.md). Without it the monitor writes alone.
struct HaSettings {
  std::vector<std::string> endpoints;  // etcd client URLs, http(s)://host:port, 1..16, unique
  std::string node;                    // this monitor's name; empty = the host name
  std::string prefix = "/pathpilot";   // etcd key prefix: <prefix>/<site>/...
  Duration lease_ttl = std::chrono::seconds(2);            // whole seconds, 1s..1m
  Duration fence_margin = std::chrono::milliseconds(500);  // ≤ lease_ttl/2; default lease_ttl/4
  std::string ca_file;                                     // PEM CA bundle for https:// endpoints
  std::string cert_file;  // client certificate (etcd --client-cert-auth), with key_file
  std::string key_file;
  // Monitors check each other (docs/ha.md): a path this monitor sees failing while most of the
  // others see it up is no evidence (`agreement: majority`, the default); `none` acts on this
  // monitor's view alone.
  bool require_agreement = true;

  friend bool operator==(const HaSettings&, const HaSettings&) = default;
};

struct Config {
  std::string source;  // the file name it was loaded from
  int version = kSchemaVersion;
  Site site;
  std::vector<PathConfig> paths;         // ≥ 1, names unique
  std::vector<RouteTableConfig> tables;  // ≥ 1 (YAML key `route_tables`)
  PolicySettings policy;
  ProbeDefaults probe;    // as written; already merged into every path
  HealthSettings health;  // as written; already merged into every path
  BackendSettings backends;
  JournalSettings journal;
  ControlSettings control;
  std::optional<ApiSettings> api;       // none: no HTTP API
  std::optional<AlertSettings> alerts;  // none: no alerting
  MonitorSettings monitor;
  std::optional<HaSettings> ha;  // none: this monitor writes alone
  // Warnings found while loading (the file is valid). The daemon logs them at start-up.
  std::vector<Diagnostic> warnings;

  // The path called `name`, or nullptr.
  const PathConfig* findPath(std::string_view name) const;
  // Whether any route table uses `kind`.
  bool usesBackend(BackendKind kind) const;
};

}  // namespace pathpilot::config
