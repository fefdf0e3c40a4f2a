// agent/tunnels.h — what charon's list-conns and list-sas say, as tunnel states and traffic.
//
// Purpose: turn VICI messages into the figures the agent exports. A *tunnel* is one CHILD_SA
// configuration (swanctl.conf `connections.<ike>.children.<child>`), named by its child name;
// it is up when an IKE_SA of its connection is ESTABLISHED and a CHILD_SA of that name is
// INSTALLED under it. Tunnels come from the configured connections (list-conns), so a tunnel
// that is down — no SA at all — is still reported, as down; SAs of connections loaded later
// appear too. The agent config may restrict the list (`tunnels:`).
//
// Traffic: charon's byte and packet counters belong to one CHILD_SA and restart at zero when
// it is rekeyed (a new SA) or charon restarts. TrafficTotals turns them into monotonic totals
// per tunnel by remembering the last counters of every SA (keyed by IKE and CHILD unique ids):
// the growth of a known SA is added, a new SA is added whole, and an SA whose counters went
// down (unique ids reused after a charon restart) is treated as new.
//
// Pure: parsing and accounting only, no I/O.
// Threading: value types; TrafficTotals is owned by the agent's poll loop.
// Metrics: pathpilot_tunnel_* (agent/agent_metrics.h).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/vici_message.h"
#include "base/error.h"

namespace pathpilot::agent {

struct ChildSaState {
  std::string name;      // child config name
  std::string uniqueid;  // CHILD_SA unique id
  std::string state;     // "INSTALLED", "REKEYING", ...
  std::string reqid;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t packets_in = 0;
  std::uint64_t packets_out = 0;
  std::uint64_t install_seconds = 0;
  std::vector<std::string> local_ts;
  std::vector<std::string> remote_ts;
};

struct IkeSaState {
  std::string name;      // connection name
  std::string uniqueid;  // IKE_SA unique id
  std::string state;     // "ESTABLISHED", "CONNECTING", ...
  std::string local_host;
  std::string remote_host;
  std::string remote_id;
  std::uint64_t established_seconds = 0;
  std::vector<ChildSaState> children;
};

struct ConnConfig {
  std::string name;                   // connection name
  std::vector<std::string> children;  // child config names
  std::vector<std::string> remote_addrs;
};

// Parses the list-sa events of one list-sas call. Counters that are absent or malformed read as
// 0 (libipsec may omit them before the first packet); never fails on unknown keys.
std::vector<IkeSaState> parseListSas(const std::vector<ViciSection>& events);
// Parses the list-conn events of one list-conns call.
std::vector<ConnConfig> parseListConns(const std::vector<ViciSection>& events);

// One tunnel as the agent reports it.
struct TunnelStatus {
  std::string tunnel;  // child config name
  std::string ike;     // connection name
  bool up = false;
  std::string ike_state;    // of the best IKE_SA of the connection, "" if none
  std::string child_state;  // of the best CHILD_SA, "" if none
  std::string remote_host;
  std::uint64_t established_seconds = 0;  // IKE_SA age
  std::uint32_t installed = 0;            // INSTALLED CHILD_SAs (2 during a rekey)
  // Per-SA counters, for TrafficTotals.
  struct Sa {
    std::string key;  // "<ike uniqueid>/<child uniqueid>"
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    std::uint64_t packets_in = 0;
    std::uint64_t packets_out = 0;
  };
  std::vector<Sa> sas;
};

// Which tunnels to report: empty = every child of every configured connection plus any SA
// seen. Otherwise exactly these child names (a name with no config and no SA is reported down).
std::vector<TunnelStatus> tunnelStatus(const std::vector<ConnConfig>& conns,
                                       const std::vector<IkeSaState>& sas,
                                       const std::vector<std::string>& wanted = {});

// Monotonic traffic per tunnel.
struct Traffic {
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t packets_in = 0;
  std::uint64_t packets_out = 0;
  friend bool operator==(const Traffic&, const Traffic&) = default;
};

class TrafficTotals {
 public:
  // Adds the growth seen in `tunnels` since the previous update.
  void update(const std::vector<TunnelStatus>& tunnels);
  // Totals of `tunnel` since the agent started (zero if never seen).
  Traffic total(const std::string& tunnel) const;

 private:
  std::map<std::string, Traffic> totals_;                 // by tunnel
  std::map<std::string, TunnelStatus::Sa> last_;          // by SA key
};

}  // namespace pathpilot::agent
