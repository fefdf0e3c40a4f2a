#include "config/config.h"

#include <cstdio>

namespace pathpilot::config {

std::string_view probeKindName(ProbeKind k) { return k == ProbeKind::Icmp ? "icmp" : "tcp"; }

std::string_view backendKindName(BackendKind k) {
  switch (k) {
    case BackendKind::Aws:
      return "aws";
    case BackendKind::Linux:
      return "linux";
    case BackendKind::Exec:
      return "exec";
  }
  // Reached only by a value outside the enumerators (a cast). The switches in this file name
  // every enumerator instead of using default, so that -Wswitch flags one added later.
  return "aws";
}

std::string_view awsTargetKeyName(AwsTargetKind k) {
  switch (k) {
    case AwsTargetKind::None:
      return "none";
    case AwsTargetKind::Gateway:
      return "gateway_id";
    case AwsTargetKind::Instance:
      return "instance_id";
    case AwsTargetKind::NetworkInterface:
      return "network_interface_id";
    case AwsTargetKind::TransitGateway:
      return "transit_gateway_id";
  }
  return "none";
}

std::string_view recoveryActionName(RecoveryAction a) {
  return a == RecoveryAction::Command ? "command" : "ec2-restart";
}

namespace {

// The host of an http(s)/smtp(s) URL: without user-info, port and IPv6 brackets.
std::string_view urlHost(std::string_view url) {
  std::size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) {
    return {};
  }
  std::string_view authority = url.substr(scheme + 3);
  // Cut at the path, query or fragment first, so that an '@' there is not taken for user-info.
  authority = authority.substr(0, authority.find_first_of("/?#"));
  // The last '@' ends the user-info, so a password holding an unescaped '@' stays out of the host.
  if (std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  // An IPv6 literal holds colons of its own, so its brackets are resolved before the port is cut.
  if (!authority.empty() && authority.front() == '[') {
    std::size_t close = authority.find(']');
    return close == std::string_view::npos ? authority.substr(1) : authority.substr(1, close - 1);
  }
  return authority.substr(0, authority.find(':'));
}

bool isLoopbackHost(std::string_view host) {
  std::string lower;
  for (char c : host) {
    lower += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  // Nothing is resolved: "localhost" (with or without the root dot) is the only name trusted as
  // loopback; any other name counts as remote even if it resolves to 127.0.0.1.
  if (lower == "localhost" || lower == "localhost.") {
    return true;
  }
  auto address = IpAddress::parse(lower);
  return address.has_value() && address->isLoopback();
}

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

}  // namespace

std::optional<CleartextCredential> cleartextCredential(const AlertChannelConfig& c,
                                                       std::string_view url) {
  using K = AlertChannelKind;
  if (c.kind == K::Smtp) {
    if (c.password && startsWith(url, "smtp://") && !c.starttls) {
      return CleartextCredential{
          "password",
          "the SMTP password would be sent without TLS (smtp:// without starttls); set "
          "starttls: true or use smtps://"};
    }
    return std::nullopt;
  }
  if (!startsWith(url, "http://") || isLoopbackHost(urlHost(url))) {
    return std::nullopt;
  }
  std::string host(urlHost(url));
  if ((c.kind == K::Webhook || c.kind == K::Alertmanager) && c.token) {
    return CleartextCredential{"token",
                               "the bearer token would cross the network in clear text "
                               "(http:// to " +
                                   host +
                                   "); use https:// (only a loopback receiver may "
                                   "use http://)"};
  }
  if (c.kind == K::Slack || c.kind == K::DingTalk || c.kind == K::Feishu || c.kind == K::WeCom) {
    return CleartextCredential{"url",
                               "the robot URL holds its access token, which would cross "
                               "the network in clear text (http:// to " +
                                   host + "); use https://"};
  }
  return std::nullopt;
}

std::string_view alertChannelKindName(AlertChannelKind k) {
  switch (k) {
    case AlertChannelKind::Smtp:
      return "smtp";
    case AlertChannelKind::Sns:
      return "sns";
    case AlertChannelKind::Webhook:
      return "webhook";
    case AlertChannelKind::Slack:
      return "slack";
    case AlertChannelKind::DingTalk:
      return "dingtalk";
    case AlertChannelKind::Feishu:
      return "feishu";
    case AlertChannelKind::WeCom:
      return "wecom";
    case AlertChannelKind::Alertmanager:
      return "alertmanager";
  }
  return "webhook";
}

std::string_view alertSeverityName(AlertSeverity s) {
  switch (s) {
    case AlertSeverity::Info:
      return "info";
    case AlertSeverity::Warning:
      return "warning";
    case AlertSeverity::Critical:
      return "critical";
  }
  return "info";
}

std::string JournalSettings::stateFile() const {
  if (state == "none") {
    return "";
  }
  if (!state.empty()) {
    return state;
  }
  const std::string& beside = !sqlite.empty() ? sqlite : jsonl;
  if (beside.empty()) {
    return "";
  }
  // A bare file name ("journal.db") has no directory part, which gives a relative "state.json".
  auto slash = beside.rfind('/');
  return (slash == std::string::npos ? std::string() : beside.substr(0, slash + 1)) + "state.json";
}

const std::vector<std::string_view>& alertEventKindNames() {
  // In journal::EventKind order: a unit test compares this list element by element with the
  // journal's names, which config cannot call (its only dependency is base).
  static const std::vector<std::string_view> names = {"path_down",
                                                      "path_up",
                                                      "path_degraded",
                                                      "route_changed",
                                                      "route_drift",
                                                      "route_error",
                                                      "recovery_started",
                                                      "recovery_succeeded",
                                                      "recovery_failed",
                                                      "alert_sent",
                                                      "alert_failed",
                                                      "leader_changed",
                                                      "config_loaded",
                                                      "config_rejected",
                                                      "fail_static",
                                                      "fail_static_cleared",
                                                      "drain",
                                                      "undrain",
                                                      "daemon_started",
                                                      "daemon_stopped",
                                                      "journal_overflow",
                                                      "journal_failed",
                                                      "journal_recovered",
                                                      "monitor_suspect",
                                                      "monitor_trusted",
                                                      "state_reset",
                                                      "alert_outbox_reset",
                                                      "ha_lost",
                                                      "ha_restored"};
  return names;
}

const AlertChannelConfig* AlertSettings::findChannel(std::string_view name) const {
  for (const auto& c : channels) {
    if (c.name == name) {
      return &c;
    }
  }
  return nullptr;
}

std::string SecretRef::describe() const {
  switch (source) {
    case Source::Env:
      return "env:" + value;
    case Source::File:
      return "file:" + value;
    case Source::Inline:
      return "<inline secret>";
  }
  return "<secret>";
}

std::string ProbeTarget::toString() const {
  if (port == 0) {
    return address.toString();
  }
  // Brackets keep the port's colon apart from the address's own (the RFC 3986 form).
  if (address.isV6()) {
    return "[" + address.toString() + "]:" + std::to_string(port);
  }
  return address.toString() + ":" + std::to_string(port);
}

std::string NextHop::toString() const {
  std::string out;
  if (hasAws()) {
    out = std::string(awsTargetKeyName(aws_kind)) + " " + aws_id;
  }
  if (hasLinux()) {
    std::string linux_part;
    if (via) {
      linux_part = "via " + via->toString();
    }
    if (!dev.empty()) {
      linux_part += (linux_part.empty() ? "dev " : " dev ") + dev;
    }
    out += (out.empty() ? "" : ", ") + linux_part;
  }
  return out.empty() ? "none" : out;
}

Duration PathConfig::detectionTime() const { return probe.interval * health.fall + probe.timeout; }

const PathConfig* Config::findPath(std::string_view name) const {
  for (const PathConfig& p : paths) {
    if (p.name == name) {
      return &p;
    }
  }
  return nullptr;
}

bool Config::usesBackend(BackendKind kind) const {
  for (const RouteTableConfig& t : tables) {
    if (t.backend == kind) {
      return true;
    }
  }
  return false;
}

}  // namespace pathpilot::config
