// agent/agent_config.h — the gateway agent's configuration file (agent.yaml).
//
// Purpose: `pathpilot agent -c agent.yaml` runs on each strongSwan gateway. Its file is small
// and separate from the monitor's config (a gateway knows nothing about route tables):
//
//   gateway: strongswan-1            # required; label/dimension naming this gateway
//   site: Singapore                  # optional; added to metrics and dimensions
//   vici:
//     socket: unix:///var/run/charon.vici   # default
//     timeout: 2s                    # whole VICI exchange, default 2s
//   poll_interval: 10s               # how often SA state and counters are read (1s..10m)
//   tunnels: [tunnel1]               # child names to report; default: every configured one
//   interfaces: [ipsec0, eth0]       # interface counters to export; default: all but lo
//   listen: 127.0.0.1:9181           # /metrics and /healthz; "" disables
//   cloudwatch:                      # optional; absent = no CloudWatch
//     region: cn-north-1             # required; China regions use amazonaws.com.cn
//     namespace: pathpilot/Tunnels   # default; must not start with "AWS/"
//     dimensions: {Site: Singapore, Gateway: strongswan-1}   # default: Gateway (+ Site)
//     interval: 60s                  # publish period (10s..1h), default 60s
//     storage_resolution: 60         # 60 (standard) or 1 (high resolution)
//     endpoint_url: ""               # optional override (VPC endpoint, tests)
//     profile: ""                    # optional shared-config profile
//
// Errors name the file, line and column: "agent.yaml:7:3: vici.timeout: expected a duration
// such as 2s, not \"soon\"". Unknown keys are errors (a typo must not silently disable
// CloudWatch).
//
// Threading: value types; loading reads one file.
// Metrics: none.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/ip.h"
#include "base/time.h"

namespace pathpilot::agent {

struct CloudWatchSettings {
  std::string region;
  std::string metric_namespace = "pathpilot/Tunnels";
  std::vector<std::pair<std::string, std::string>> dimensions;  // without "Tunnel"
  Duration interval = std::chrono::seconds(60);
  int storage_resolution = 60;
  std::string endpoint_url;
  std::string profile;
};

struct ListenAddress {
  IpAddress address = IpAddress::v4FromHostOrder(0x7F000001);
  std::uint16_t port = 9181;  // 0 (tests): any free port
};

struct AgentConfig {
  std::string source;  // file name
  std::string gateway;
  std::string site;
  std::string vici_socket = "unix:///var/run/charon.vici";
  Duration vici_timeout = std::chrono::seconds(2);
  Duration poll_interval = std::chrono::seconds(10);
  std::vector<std::string> tunnels;
  std::vector<std::string> interfaces;
  std::optional<ListenAddress> listen = ListenAddress{};
  std::optional<CloudWatchSettings> cloudwatch;
};

// Parses and validates `text`; `source` names it in errors.
[[nodiscard]] Result<AgentConfig> parseAgentConfig(std::string_view text, std::string source);
// Reads and parses a file. Errors: NotFound, PermissionDenied, InvalidArgument (with position).
[[nodiscard]] Result<AgentConfig> loadAgentConfig(const std::string& path);

// Parses "127.0.0.1:9181" or "[::1]:9181". Errors: InvalidArgument.
[[nodiscard]] Result<ListenAddress> parseListen(std::string_view text);

}  // namespace pathpilot::agent
