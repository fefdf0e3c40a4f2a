// daemon/ha_coordinator.h — the engine-thread side of high availability.
//
// Purpose: connects one ha::HaNode (the election thread, etcd) with the Engine (docs/ha.md):
//   * leadership: every change the node reports opens or closes the engine's write gate and
//     becomes a leader_changed / ha_lost / ha_restored event;
//   * views: this monitor's view of the paths goes to etcd on every path transition and every
//     lease_ttl/16, and the group's views are compared with it (ha.agreement: majority): a
//     path seen failing here counts once the group confirms it; one the others see up for 1 s
//     is disputed (no evidence, recovery held), and a leader disputed for 2 s more hands
//     leadership over for 3 lease TTLs, so that a monitor with a healthy view leads;
//   * drains: the group's drains (etcd) are applied to the engine as they are read;
//   * leader state: once this monitor leads and has read the state its predecessors left
//     (ha::HaView::state_term), `adopt` gets it, once per term; when it stops leading,
//     `release` runs (the alerts' open incidents: daemon/ha_setup.h).
// runDaemon builds one when the config has an `ha` section, after it closed the engine's write
// gate and set Engine::requireConfirmation before Engine::start.
//
// Threading: everything on the engine thread (the io_context's); the node's callbacks are
// posted there. Metrics: the node's (HaView).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include <asio.hpp>

#include "base/error.h"
#include "base/time.h"
#include "config/config.h"
#include "daemon/engine.h"
#include "ha/ha_node.h"
#include "journal/event.h"

namespace pathpilot::daemon {

class HaCoordinator {
 public:
  // Requires: every reference outlives the coordinator; `settings` is the config's `ha`.
  HaCoordinator(asio::io_context& io, const Clock& clock, Engine& engine, ha::HaNode& node,
                config::HaSettings settings, std::function<void(const journal::Event&)> publish);
  HaCoordinator(const HaCoordinator&) = delete;
  HaCoordinator& operator=(const HaCoordinator&) = delete;

  // Starts the node and the view timer. `on_fatal` runs on the engine thread when the node
  // cannot go on (another monitor has this node name).
  void start(std::function<void(const Error&)> on_fatal);
  // Stops the view timer (the node is stopped by its owner, after the engine).
  void stop();
  // A path changed state: the group hears of it now, not at the next tick.
  void onPathChange();
  // See the header comment; both run on the engine thread. `adopt` gets the leader state and
  // this monitor's status (Engine::statusJson).
  using AdoptFn =
      std::function<void(const std::map<std::string, std::string>&, const nlohmann::json&)>;
  void setLeaderState(AdoptFn adopt, std::function<void()> release);

 private:
  void tick();
  void applyGroupDrains(const nlohmann::json& status, const ha::HaView& view);
  void checkAgreement(const nlohmann::json& status, const ha::HaView& view);
  void onLeadership(const ha::HaView& view);

  asio::io_context& io_;
  const Clock& clock_;
  Engine& engine_;
  ha::HaNode& node_;
  config::HaSettings settings_;
  std::function<void(const journal::Event&)> publish_;
  asio::steady_timer timer_;
  bool stopped_ = false;
  std::optional<ha::HaView> seen_;               // the last leadership view handled
  std::map<std::string, MonoTime> first_disputed_;  // path → since when the others see it up
  std::optional<MonoTime> leader_disputed_since_;
  AdoptFn adopt_;
  std::function<void()> release_;
  std::int64_t adopted_term_ = 0;  // the term whose leader state was adopted; 0: none
  std::optional<MonoTime> hold_since_;  // recovery held since promotion, until adopted
};

}  // namespace pathpilot::daemon
