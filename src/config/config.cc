#include "config/config.h"

#include <cstdio>

namespace pathpilot::config {

std::string_view linkKindName(LinkKind k) { return k == LinkKind::Dx ? "dx" : "vpn"; }

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
  if (address.isV6()) {
    return "[" + address.toString() + "]:" + std::to_string(port);
  }
  return address.toString() + ":" + std::to_string(port);
}

std::string Pinning::toString() const {
  std::string out;
  auto add = [&](const std::string& part) {
    if (!out.empty()) {
      out += ", ";
    }
    out += part;
  };
  if (source) {
    add("source " + source->toString());
  }
  if (!interface.empty()) {
    add("interface " + interface);
  }
  if (fwmark) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%x", *fwmark);
    add(std::string("fwmark ") + hex);
  }
  return out.empty() ? "not pinned" : out;
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

Duration PathConfig::detectionTime() const {
  return probe.interval * health.fall + probe.timeout;
}

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
