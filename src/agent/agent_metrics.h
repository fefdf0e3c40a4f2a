// agent/agent_metrics.h — what the gateway agent exports: Prometheus text and CloudWatch data.
//
// Purpose: one immutable AgentSnapshot per poll (the poll loop builds it, the HTTP threads and
// the CloudWatch publisher read it), rendered two ways:
//   Prometheus (/metrics of the agent; labels gateway, tunnel, ike, interface):
//     pathpilot_agent_build_info{version,gateway,site}        1
//     pathpilot_agent_vici_up{gateway}                        1 = charon answered the last poll
//     pathpilot_agent_vici_{calls,errors,connects}_total{gateway}
//     pathpilot_agent_poll_duration_seconds{gateway}          how long the last poll took
//     pathpilot_tunnel_up{gateway,tunnel,ike}                 1 = IKE_SA established and
//                                                             CHILD_SA installed
//     pathpilot_tunnel_installed_child_sas{...}               2 while rekeying
//     pathpilot_tunnel_established_seconds{...}               IKE_SA age
//     pathpilot_tunnel_{bytes,packets}_{in,out}_total{...}    monotonic across rekeys
//     pathpilot_interface_up{gateway,interface}
//     pathpilot_interface_{receive,transmit}_{bytes,packets,errors,dropped}_total{...}
//     pathpilot_agent_cloudwatch_requests_total{gateway,outcome}, ..._datapoints_total,
//     ..._dropped_batches_total, ..._last_success_timestamp_seconds
//   CloudWatch (PutMetricData, namespace and dimensions from agent.yaml, plus Tunnel=<name>):
//     TunnelState    1 up / 0 down                              Unit None
//     TunnelDataIn   bytes received through the tunnel since the previous publish, Unit Bytes
//     TunnelDataOut  bytes sent, likewise                       Unit Bytes
//   — the names AWS Site-to-Site VPN uses for its own tunnels, so existing dashboards and
//   alarms carry over.
//
// Threading: value types; render from any thread.
// Metrics: this is the list.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/link_stats.h"
#include "agent/tunnels.h"
#include "agent/vici_client.h"
#include "aws/cloudwatch.h"
#include "base/time.h"

namespace pathpilot::agent {

struct CloudWatchStats {
  std::uint64_t ok = 0;              // successful PutMetricData batches
  std::uint64_t errors = 0;          // failed batches
  std::uint64_t datapoints = 0;      // data points accepted
  std::uint64_t dropped_batches = 0;  // batches dropped because publishing fell behind
  std::optional<WallTime> last_success;
  std::string last_error;
};

struct AgentSnapshot {
  std::string gateway;
  std::string site;
  std::string version;
  WallTime taken_at{};
  MonoTime taken_mono{};
  bool vici_up = false;
  std::string vici_error;  // why the last poll failed ("" when up)
  ViciStats vici;
  double poll_seconds = 0;
  std::vector<TunnelStatus> tunnels;
  std::map<std::string, Traffic> traffic;  // monotonic totals by tunnel
  std::vector<LinkStats> links;            // already filtered by the config
  std::string links_error;
  bool cloudwatch_enabled = false;
  CloudWatchStats cloudwatch;
};

// The Prometheus text exposition of `s`.
std::string renderAgentMetrics(const AgentSnapshot& s);

// The CloudWatch data points for one publish: TunnelState per tunnel, and TunnelDataIn/Out as
// the growth of `traffic` over `previous` (the totals at the previous publish; a tunnel missing
// there counts from zero). `dimensions` get Tunnel=<name> appended.
std::vector<aws::MetricDatum> cloudWatchData(
    const std::vector<TunnelStatus>& tunnels, const std::map<std::string, Traffic>& traffic,
    const std::map<std::string, Traffic>& previous,
    const std::vector<std::pair<std::string, std::string>>& dimensions, int storage_resolution,
    WallTime now);

}  // namespace pathpilot::agent
