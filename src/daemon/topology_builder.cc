#include "daemon/topology_builder.h"

namespace pathpilot::daemon {

policy::Topology buildTopology(const config::Config& config) {
  policy::Topology topology;
  topology.paths.reserve(config.paths.size());
  for (const config::PathConfig& path : config.paths) {
    policy::PathSpec spec;
    spec.name = path.name;
    spec.link = path.kind;
    spec.az = path.az;
    spec.priority = path.priority;
    topology.paths.push_back(std::move(spec));
  }
  topology.tables.reserve(config.tables.size());
  for (const config::RouteTableConfig& table : config.tables) {
    policy::TableSpec spec;
    spec.id = table.id;
    spec.az = table.az;
    spec.destinations = table.destinations;
    spec.allowed_paths = table.paths;
    topology.tables.push_back(std::move(spec));
  }
  policy::PolicyParams& params = topology.params;
  params.link_preference.clear();
  for (config::LinkKind kind : config.policy.preference) {
    params.link_preference.push_back(kind);
  }
  params.az_affinity = config.policy.az_affinity;
  params.failback_hold_down = config.policy.failback_hold_down;
  params.fail_static_settle = config.policy.fail_static_settle;
  params.fail_static = config.policy.fail_static;
  return topology;
}

}  // namespace pathpilot::daemon
