// daemon/ha_setup.h — the HA part of the daemon's wiring: the HaNode for a config's `ha`
// section, and the leader_changed event.
//
// Threading: makeHaNode on the main thread at start; leadershipEvent on the engine thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "alert/alert_manager.h"
#include "alert/incident.h"
#include "base/error.h"
#include "base/time.h"
#include "config/config.h"
#include "daemon/state_file.h"
#include "ha/ha_node.h"
#include "journal/event.h"
#include "metrics/daemon_metrics.h"

namespace pathpilot::daemon {

// The HaNode of `config.ha` (which must be set): two libcurl clients with the section's CA
// and client certificate, the node name defaulting to the host name. Errors: InvalidArgument
// when no node name can be found (no ha.node and no host name).
[[nodiscard]] Result<std::unique_ptr<ha::HaNode>> makeHaNode(const config::Config& config,
                                                             const Clock& clock);

// The leader_changed event for the step from `before` (nullopt: the first view) to `now`, or
// nullopt when role and leader are the same (only `writing` or the lease changed).
std::optional<journal::Event> leadershipEvent(const std::optional<ha::HaView>& before,
                                              const ha::HaView& now, const std::string& site,
                                              WallTime at);

// ha_lost when etcd stopped answering for a lease TTL (or never answered in the first TTL),
// ha_restored when it answers again; nullopt otherwise. Logged here (error / info).
std::optional<journal::Event> etcdEvent(const std::optional<ha::HaView>& before,
                                        const ha::HaView& now, const std::string& site,
                                        WallTime at);

// What a monitor publishes of its view (ha::HaNode::publishView): {"paths": {name: state}}
// from the engine's status document.
std::string compactView(const nlohmann::json& status);
// Every monitor's published view by node name (another monitor's text that is not JSON is kept
// as a string).
nlohmann::json viewsJson(const std::vector<ha::PeerView>& views);

// Monitors checking each other: what the group says of each path that `status` (this
// monitor's, Engine::statusJson) shows down or degraded. Among the other monitors' views
// (`views` minus `self`) that report the path:
//   confirmed    more than half see it failing too, or none reports it (a monitor alone);
//   disputed     more than half see it up (value: who, "mon-b, mon-c");
//   unconfirmed  neither (a tie, or the others do not know yet).
struct GroupVerdict {
  std::set<std::string> confirmed;
  std::set<std::string> unconfirmed;
  std::map<std::string, std::string> disputed;
};
GroupVerdict groupVerdict(const std::string& self, const nlohmann::json& status,
                          const std::vector<ha::PeerView>& views);

// Open alert incidents across a takeover (docs/ha.md). The leader publishes every incident it
// fired (leader state "incident/<key>", the alert/incident.h record) and removes it with its
// RESOLVED; a new leader takes them over so that it neither fires them again nor forgets to
// resolve them. What it does with them given its own view of the paths (`status`,
// Engine::statusJson) at `at`:
//   adopt  every record (each resolves as a restored incident does);
//   close  the path and recovery incidents whose path this monitor sees up: the heal happened
//          while nobody led (their RESOLVED says so);
//   open   a path_down / path_degraded for every path it sees failing that no record covers:
//          the previous leader died before its FIRING left the group window.
struct IncidentTakeover {
  std::vector<alert::IncidentRecord> adopt;
  std::vector<std::pair<std::string, journal::Event>> close;  // incident key, closing event
  std::vector<journal::Event> open;
  std::vector<std::string> bad;  // records that could not be read: "incident/<key>: why"
};
IncidentTakeover planIncidentTakeover(const std::map<std::string, std::string>& state,
                                      const nlohmann::json& status, const std::string& site,
                                      const std::string& node, WallTime at);
// The leader-state name of incident `key`.
std::string incidentStateName(const std::string& key);
// Publishes every incident `alerts` fires or closes as leader state of `node`; a FIRING is
// delivered once etcd holds its record (bounded by the lease TTL).
void shareIncidents(alert::AlertManager& alerts, ha::HaNode& node);
// Applies planIncidentTakeover to `alerts` (logs unreadable records).
void takeOverIncidents(alert::AlertManager& alerts, const std::map<std::string, std::string>& state,
                       const nlohmann::json& status, const std::string& site,
                       const std::string& node, WallTime at);

// Recovery limits across a takeover (docs/ha.md): the leader publishes each gateway's recovery
// memory (attempts in the last hour, back-off) as leader state "recovery/<gateway>" whenever it
// changes, and a new leader merges them into its own (Engine::adoptRecovery). Engine thread.
class RecoveryShare {
 public:
  // `publish`: ha::HaNode::publishState.
  using Publish = std::function<void(std::string name, std::optional<std::string> value)>;
  RecoveryShare(Publish publish, std::string site)
      : publish_(std::move(publish)), site_(std::move(site)) {}
  // Engine::setStateSink's state: publishes the gateways whose memory changed since the last
  // call (and removes the ones gone). A monitor that does not lead publishes nothing
  // (HaNode::publishState drops it), and one that never published has nothing to remove.
  void onState(const PersistentState& state);
  // The gateways' memories in the leader state `state` (unreadable ones are logged and
  // skipped); from now on they count as published.
  std::map<std::string, StoredRecovery> adopt(const std::map<std::string, std::string>& state);

 private:
  Publish publish_;
  std::string site_;
  std::map<std::string, StoredRecovery> published_;
};

// The "ha" object of the status document: role, node, leader, term, writing, lease left (s),
// etcd endpoint and last error, keepalive and fence counters.
nlohmann::json haStatusJson(const ha::HaView& view);

// The pathpilot_ha_* families of /metrics, labelled with the site and node:
//   pathpilot_ha_leader            gauge   1 = this monitor holds the leader key
//   pathpilot_ha_writing           gauge   1 = leader inside its fence deadline (writes pass)
//   pathpilot_ha_term              gauge   the leader key's creation revision (0: unknown)
//   pathpilot_ha_lease_remaining_seconds  until the fence deadline (leader) / lease expiry
//   pathpilot_ha_keepalives_total, pathpilot_ha_keepalive_failures_total   counters
//   pathpilot_ha_keepalive_latency_seconds  gauge, the last answered keepalive
//   pathpilot_ha_fence_checks_total, pathpilot_ha_fence_refusals_total      counters
std::vector<metrics::MetricFamily> haMetricFamilies(const ha::HaView& view,
                                                    const std::string& site);

}  // namespace pathpilot::daemon
