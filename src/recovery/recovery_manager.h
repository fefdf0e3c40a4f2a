// recovery/recovery_manager.h — heals dead VPN gateways without ever blocking the engine.
//
// Purpose: one GatewayRecoveryPlan (when) plus one RecoveryAction (how) per gateway. The
// daemon feeds it the health of each gateway (onGatewayState) and wires its callbacks:
//   started    an attempt began;
//   succeeded  the action itself finished well (EC2 reports running, the command exited 0).
//              Not the end of the recovery: the plan is now Settling, waiting for the probes;
//   confirmed  the probes saw the gateway back while settling — the recovery worked;
//   cancelled  the gateway came back while the action was still running (the attempt is
//              stopped) — the outage is over, too;
//   failed     the action failed or timed out, the hourly cap blocks attempts, or the settle
//              time ran out without the probes seeing the gateway back.
// Every attempt ends in exactly one of confirmed, cancelled or failed (or nothing, when a
// reload removes the gateway); the daemon journals those as its single terminal event.
// Probing, health and routing go on meanwhile: an attempt runs on a worker and reports back
// on the engine thread.
//
// Leadership: setWriteAllowed(false) (a follower) starts nothing; an attempt that is already
// running is left to finish, since killing a half-done stop/start is worse than finishing it.
//
// Threading: engine thread only. Decision points take `now`; action completions read the
// injected Clock.
// Metrics: per gateway (snapshot()): phase, attempts in the last hour, consecutive failures.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/time.h"
#include "health/path_state.h"
#include "recovery/recovery_action.h"
#include "recovery/recovery_plan.h"

namespace pathpilot::recovery {

struct RecoveryEvent {
  std::string gateway;
  std::string action;   // RecoveryAction::kind()
  int attempt = 0;      // 0 for a cap report
  Duration down_for{};  // how long the gateway had been Down when the attempt started
  Duration elapsed{};   // succeeded/failed/confirmed/cancelled: since the attempt began
  // confirmed: how long the action itself ran, and how long after it reported success the
  // probes saw the gateway back (elapsed ≈ action_elapsed + confirmed_after).
  Duration action_elapsed{};
  Duration confirmed_after{};
  bool action_finished = false;  // confirmed: true (cancelled: the action was still running)
  std::string reason;            // failed/cancelled/capped: why, in words
  std::optional<int> exit_code;
  std::string stderr_tail;
  bool timed_out = false;
  bool capped = false;                   // failed: the hourly cap blocks further attempts
  std::optional<MonoTime> next_attempt;  // failed: earliest next attempt, if the gateway stays Down
};

// Wired by the daemon; all run on the engine thread and may call back into the manager.
struct RecoveryCallbacks {
  std::function<void(const RecoveryEvent&)> started;
  std::function<void(const RecoveryEvent&)> succeeded;
  std::function<void(const RecoveryEvent&)> failed;
  std::function<void(const RecoveryEvent&)> cancelled;
  // The gateway is usable again after a successful action (elapsed: since the attempt began).
  std::function<void(const RecoveryEvent&)> confirmed;
  // Poll again at this time (MonoTime::max(): nothing scheduled). Connect to a WakeupTimer.
  std::function<void(MonoTime when)> wakeup;
};

struct GatewayRecoveryStatus {
  std::string gateway;
  std::string action;
  RecoveryPhase phase = RecoveryPhase::Idle;
  int attempts_last_hour = 0;
  int consecutive_failures = 0;
  MonoTime next_attempt = MonoTime::max();
  std::string last_failure;  // reason of the last failed attempt, "" if none
  // Settling: what the action reported and that the probes have yet to confirm, in words
  // ("the ec2-restart action finished (attempt 1, took 41.2s); waiting for the probes"); the
  // action's success is not journalled as an event, so the status shows it here. "" otherwise.
  std::string detail;
};

class RecoveryManager {
 public:
  // Requires: clock outlives the manager.
  RecoveryManager(const Clock& clock, RecoveryCallbacks callbacks);
  // Cancels running attempts; their callbacks are not delivered.
  ~RecoveryManager();

  RecoveryManager(const RecoveryManager&) = delete;
  RecoveryManager& operator=(const RecoveryManager&) = delete;

  // Registers a gateway. Errors: InvalidArgument (empty name, invalid policy, null action),
  // AlreadyExists (name taken).
  [[nodiscard]] Result<void> addGateway(std::string name, RecoveryPolicy policy,
                                        std::unique_ptr<RecoveryAction> action);
  // Forgets a gateway (config reload); a running attempt is cancelled silently.
  void removeGateway(std::string_view name, MonoTime now);

  // The gateway's health changed (or was re-reported). Unknown names are ignored.
  void onGatewayState(std::string_view gateway, health::PathState state, MonoTime now);

  // The leadership gate (see above).
  void setWriteAllowed(bool allowed, MonoTime now);
  // Holds every new attempt back while the monitor doubts its own view (policy/view_check.h):
  // `reason` set = held (shown in snapshot()'s detail), nullopt = released. Like a follower, a
  // held manager starts nothing and lets a running attempt finish. On release, a gateway that
  // is still Down waits its `after` delay again from the release (GatewayRecoveryPlan::
  // restartWait): the outage it saw while in doubt is no evidence.
  void setHeld(std::optional<std::string> reason, MonoTime now);

  // Starts due attempts; returns (and reports through callbacks.wakeup) when to poll next.
  MonoTime poll(MonoTime now);

  std::vector<GatewayRecoveryStatus> snapshot(MonoTime now) const;

  // What must outlive the process, per gateway (GatewayRecoveryPlan::memory); the daemon
  // stores it after every attempt event and restores it at start.
  std::map<std::string, RecoveryMemory> memory(MonoTime now) const;
  // Restores one gateway's memory (before it is first observed). Unknown names are ignored.
  void restore(std::string_view gateway, const RecoveryMemory& memory, MonoTime now);
  // Merges another monitor's memory of one gateway (GatewayRecoveryPlan::adopt). Unknown names
  // are ignored. The caller re-polls (nextWakeup may have moved).
  void adopt(std::string_view gateway, const RecoveryMemory& memory, MonoTime now);

 private:
  struct Gateway;
  void onActionDone(const std::string& name, unsigned attempt_id, const ActionOutcome& outcome);

  const Clock& clock_;
  RecoveryCallbacks callbacks_;
  bool write_allowed_ = true;
  std::optional<std::string> held_;  // why attempts are held back, if they are
  // Attempt ids are unique across gateways, so that the late outcome of a removed gateway's
  // attempt is never taken for one of a re-added gateway of the same name.
  unsigned next_attempt_id_ = 1;
  std::map<std::string, std::unique_ptr<Gateway>, std::less<>> gateways_;
  // Action callbacks hold a weak_ptr: after destruction they do nothing.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace pathpilot::recovery
