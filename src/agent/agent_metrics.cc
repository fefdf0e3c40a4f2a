#include "agent/agent_metrics.h"

#include <array>
#include <tuple>

#include "metrics/exposition.h"

namespace pathpilot::agent {

using metrics::ExpositionWriter;
using metrics::MetricType;

std::string renderAgentMetrics(const AgentSnapshot& s) {
  std::string out;
  out.reserve(4096 + s.tunnels.size() * 1200 + s.links.size() * 1500);
  ExpositionWriter w(out);
  const std::string& g = s.gateway;
  w.family("pathpilot_agent_build_info", MetricType::Gauge,
           "Build, gateway and site of this pathpilot agent (value always 1).");
  w.sample({{"version", s.version}, {"gateway", g}, {"site", s.site}}, std::uint64_t{1});
  w.family("pathpilot_agent_vici_up", MetricType::Gauge,
           "1 if charon answered the last poll over VICI, else 0.");
  w.sample({{"gateway", g}}, std::uint64_t{s.vici_up ? 1u : 0u});
  w.family("pathpilot_agent_vici_calls_total", MetricType::Counter, "VICI commands sent.");
  w.sample({{"gateway", g}}, s.vici.calls);
  w.family("pathpilot_agent_vici_errors_total", MetricType::Counter,
           "VICI commands that failed (charon absent, restarting, timing out).");
  w.sample({{"gateway", g}}, s.vici.errors);
  w.family("pathpilot_agent_vici_connects_total", MetricType::Counter,
           "Connections made to the VICI socket (1 + reconnects).");
  w.sample({{"gateway", g}}, s.vici.connects);
  w.family("pathpilot_agent_poll_duration_seconds", MetricType::Gauge,
           "How long the last poll of charon and the interfaces took.");
  w.sample({{"gateway", g}}, s.poll_seconds);
  w.family("pathpilot_agent_last_poll_timestamp_seconds", MetricType::Gauge,
           "Unix time of the last poll.");
  w.sample({{"gateway", g}}, std::chrono::duration<double>(s.taken_at.time_since_epoch()).count());

  w.family("pathpilot_tunnel_up", MetricType::Gauge,
           "1 if the tunnel's IKE_SA is established and its CHILD_SA installed, else 0.");
  for (const auto& t : s.tunnels) {
    w.sample({{"gateway", g}, {"tunnel", t.tunnel}, {"ike", t.ike}},
             std::uint64_t{t.up ? 1u : 0u});
  }
  w.family("pathpilot_tunnel_installed_child_sas", MetricType::Gauge,
           "Installed CHILD_SAs of the tunnel (2 while rekeying).");
  for (const auto& t : s.tunnels) {
    w.sample({{"gateway", g}, {"tunnel", t.tunnel}, {"ike", t.ike}},
             std::uint64_t{t.installed});
  }
  w.family("pathpilot_tunnel_established_seconds", MetricType::Gauge,
           "Age of the tunnel's IKE_SA (0 when none is established).");
  for (const auto& t : s.tunnels) {
    w.sample({{"gateway", g}, {"tunnel", t.tunnel}, {"ike", t.ike}},
             t.up ? t.established_seconds : std::uint64_t{0});
  }
  using TrafficField = std::uint64_t Traffic::*;
  const std::array<std::tuple<const char*, const char*, TrafficField>, 4> traffic = {{
      {"pathpilot_tunnel_bytes_in_total", "Bytes received through the tunnel (all its SAs).",
       &Traffic::bytes_in},
      {"pathpilot_tunnel_bytes_out_total", "Bytes sent through the tunnel.", &Traffic::bytes_out},
      {"pathpilot_tunnel_packets_in_total", "Packets received through the tunnel.",
       &Traffic::packets_in},
      {"pathpilot_tunnel_packets_out_total", "Packets sent through the tunnel.",
       &Traffic::packets_out},
  }};
  for (const auto& [name, help, field] : traffic) {
    w.family(name, MetricType::Counter, help);
    for (const auto& t : s.tunnels) {
      auto it = s.traffic.find(t.tunnel);
      std::uint64_t v = it == s.traffic.end() ? 0 : it->second.*field;
      w.sample({{"gateway", g}, {"tunnel", t.tunnel}, {"ike", t.ike}}, v);
    }
  }

  w.family("pathpilot_interface_up", MetricType::Gauge,
           "1 if the interface is operationally up, else 0.");
  for (const auto& l : s.links) {
    w.sample({{"gateway", g}, {"interface", l.name}}, std::uint64_t{l.oper_up ? 1u : 0u});
  }
  using LinkField = std::uint64_t LinkStats::*;
  const std::array<std::tuple<const char*, const char*, LinkField>, 8> link = {{
      {"pathpilot_interface_receive_bytes_total", "Bytes received (IFLA_STATS64).",
       &LinkStats::rx_bytes},
      {"pathpilot_interface_transmit_bytes_total", "Bytes sent.", &LinkStats::tx_bytes},
      {"pathpilot_interface_receive_packets_total", "Packets received.", &LinkStats::rx_packets},
      {"pathpilot_interface_transmit_packets_total", "Packets sent.", &LinkStats::tx_packets},
      {"pathpilot_interface_receive_errors_total", "Receive errors.", &LinkStats::rx_errors},
      {"pathpilot_interface_transmit_errors_total", "Transmit errors.", &LinkStats::tx_errors},
      {"pathpilot_interface_receive_dropped_total", "Received packets dropped.",
       &LinkStats::rx_dropped},
      {"pathpilot_interface_transmit_dropped_total", "Packets dropped on send.",
       &LinkStats::tx_dropped},
  }};
  for (const auto& [name, help, field] : link) {
    w.family(name, MetricType::Counter, help);
    for (const auto& l : s.links) {
      w.sample({{"gateway", g}, {"interface", l.name}}, l.*field);
    }
  }

  if (s.cloudwatch_enabled) {
    const auto& c = s.cloudwatch;
    w.family("pathpilot_agent_cloudwatch_requests_total", MetricType::Counter,
             "PutMetricData batches by outcome.");
    w.sample({{"gateway", g}, {"outcome", "ok"}}, c.ok);
    w.sample({{"gateway", g}, {"outcome", "error"}}, c.errors);
    w.family("pathpilot_agent_cloudwatch_datapoints_total", MetricType::Counter,
             "Data points CloudWatch accepted.");
    w.sample({{"gateway", g}}, c.datapoints);
    w.family("pathpilot_agent_cloudwatch_dropped_batches_total", MetricType::Counter,
             "Batches dropped because publishing fell behind.");
    w.sample({{"gateway", g}}, c.dropped_batches);
    if (c.last_success) {
      w.family("pathpilot_agent_cloudwatch_last_success_timestamp_seconds", MetricType::Gauge,
               "Unix time of the last successful PutMetricData.");
      w.sample({{"gateway", g}},
               std::chrono::duration<double>(c.last_success->time_since_epoch()).count());
    }
  }
  return out;
}

std::vector<aws::MetricDatum> cloudWatchData(
    const std::vector<TunnelStatus>& tunnels, const std::map<std::string, Traffic>& traffic,
    const std::map<std::string, Traffic>& previous,
    const std::vector<std::pair<std::string, std::string>>& dimensions, int storage_resolution,
    WallTime now) {
  std::vector<aws::MetricDatum> out;
  for (const auto& t : tunnels) {
    std::vector<aws::MetricDimension> dims;
    for (const auto& [k, v] : dimensions) {
      dims.push_back({k, v});
    }
    dims.push_back({"Tunnel", t.tunnel});
    auto datum = [&](const char* name, double value, const char* unit) {
      aws::MetricDatum d;
      d.name = name;
      d.value = value;
      d.unit = unit;
      d.timestamp = now;
      d.dimensions = dims;
      d.storage_resolution = storage_resolution;
      out.push_back(std::move(d));
    };
    Traffic cur;
    if (auto it = traffic.find(t.tunnel); it != traffic.end()) {
      cur = it->second;
    }
    Traffic prev;
    if (auto it = previous.find(t.tunnel); it != previous.end()) {
      prev = it->second;
    }
    // Totals are monotonic; a smaller value can only mean the agent restarted between the two
    // (not possible within one process), so the growth is never negative.
    auto growth = [](std::uint64_t a, std::uint64_t b) {
      return a >= b ? static_cast<double>(a - b) : 0.0;
    };
    datum("TunnelState", t.up ? 1.0 : 0.0, "None");
    datum("TunnelDataIn", growth(cur.bytes_in, prev.bytes_in), "Bytes");
    datum("TunnelDataOut", growth(cur.bytes_out, prev.bytes_out), "Bytes");
  }
  return out;
}

}  // namespace pathpilot::agent
