// agent/link_stats.h — interface counters from the kernel over rtnetlink.
//
// Purpose: besides per-SA counters from charon, the agent exports the counters of the
// gateway's interfaces (ipsec0 of kernel-libipsec or a vti/xfrm device, and the uplinks), read
// with one RTM_GETLINK dump (IFLA_STATS64, IFLA_OPERSTATE) per poll — what `ip -s link`
// shows. LinkStatsSource is the side-effect interface (Real: netlink; tests use a fake).
//
// Threading: one caller at a time. Blocking, but a link dump takes microseconds.
// Metrics: pathpilot_interface_* (agent/agent_metrics.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"

namespace pathpilot::agent {

struct LinkStats {
  std::string name;
  std::uint32_t index = 0;
  bool oper_up = false;  // IFLA_OPERSTATE is UP (or UNKNOWN with the link up, as for tun)
  std::uint64_t rx_bytes = 0;
  std::uint64_t tx_bytes = 0;
  std::uint64_t rx_packets = 0;
  std::uint64_t tx_packets = 0;
  std::uint64_t rx_errors = 0;
  std::uint64_t tx_errors = 0;
  std::uint64_t rx_dropped = 0;
  std::uint64_t tx_dropped = 0;
};

class LinkStatsSource {
 public:
  virtual ~LinkStatsSource() = default;
  // Every interface of the network namespace. Errors: Unavailable (netlink failed).
  [[nodiscard]] virtual Result<std::vector<LinkStats>> read() = 0;
};

// The real source: a NETLINK_ROUTE socket opened per read (no state to go stale).
class NetlinkLinkStats final : public LinkStatsSource {
 public:
  // agent::LinkStatsSource
  [[nodiscard]] Result<std::vector<LinkStats>> read() override;
};

}  // namespace pathpilot::agent
