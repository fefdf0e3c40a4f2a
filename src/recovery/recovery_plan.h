// recovery/recovery_plan.h — when to try to heal a dead VPN gateway (pure decision logic).
//
// Purpose: a strongSwan gateway whose instance hangs is brought back by an action (an EC2
// stop/start, or an operator's command). Doing that too eagerly makes things worse: a
// restart takes minutes, and a gateway that keeps dying must not be restarted in a loop.
// GatewayRecoveryPlan decides, for one gateway:
//
//   * start the first attempt only after the gateway has been Down for `after` (a short
//     outage heals by itself; Unknown and Degraded never count as down);
//   * after a failed attempt wait an exponential backoff (backoff_initial, doubling up to
//     backoff_max) before the next one;
//   * after an attempt that succeeded (the action said so) wait `settle` for the probes to
//     see the gateway come back; if it is still Down by then, that attempt counts as failed
//     for the backoff, and the next one waits max(settle, backoff);
//   * never start more than max_attempts_per_hour attempts within any sliding hour; hitting
//     the cap is reported once (Capped), and the next attempt waits for the oldest to age out;
//   * when the gateway becomes usable (Up or Degraded) while an attempt runs, cancel it;
//   * when it becomes usable while Settling, report Confirmed: the probes saw the action work.
//     When `settle` passes first, the next decision carries `unconfirmed` (the action said it
//     worked, the probes disagree), so that this is reported instead of a silent retry.
//
// What must survive a restart (a crash loop must not reset the hourly cap or the back-off) is
// memory(): attempt starts of the last hour and the ongoing outage's attempts, failures and
// earliest next attempt. The daemon stores it (daemon/state_file.h) and restore()s it into a
// new plan; the restored outage applies if the gateway is still Down when first observed.
//
// Threading: a value type for the engine thread; it takes `now` and never reads a clock.
// Metrics: phase(), attemptsInWindow(), consecutiveFailures() for the status API.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/time.h"
#include "health/path_state.h"

namespace pathpilot::recovery {

struct RecoveryPolicy {
  // How long the gateway must be Down before the first attempt.
  Duration after = std::chrono::seconds(60);
  // Wait after a failed attempt: initial, then doubled (multiplier) up to max.
  Duration backoff_initial = std::chrono::seconds(60);
  Duration backoff_max = std::chrono::minutes(15);
  double backoff_multiplier = 2.0;
  // At most this many attempt starts in any sliding hour.
  int max_attempts_per_hour = 3;
  // After a successful action, how long to wait for the probes before trying again.
  Duration settle = std::chrono::seconds(120);

  // InvalidArgument naming the field for negative durations, backoff_max < backoff_initial,
  // multiplier < 1 or a cap below 1.
  [[nodiscard]] Result<void> validate() const;
};

enum class RecoveryPhase : std::uint8_t {
  Idle,         // the gateway is not Down (or its state is unknown)
  WaitingDown,  // Down, waiting for `after` to pass
  Running,      // an attempt is in progress
  Settling,     // the last attempt succeeded; waiting for probes to confirm
  BackingOff,   // the last attempt failed; waiting for the backoff
  Capped,       // the hourly cap blocks the next attempt
};

// "idle", "waiting_down", "running", "settling", "backing_off", "capped".
std::string_view recoveryPhaseName(RecoveryPhase phase);

struct RecoveryDecision {
  enum class Kind : std::uint8_t { None, Start, Cancel, Capped, Confirmed };
  Kind kind = Kind::None;
  int attempt = 0;          // Start: 1 for the first attempt of this outage
  Duration down_for{};      // Start/Capped: how long the gateway has been Down
  MonoTime next_allowed{};  // Capped: when the window lets the next attempt start
  std::string reason;       // why, in words, for events
  // poll(): the settle period of the last successful attempt ran out with the gateway still
  // Down (set on Start, Capped or None alike; reported once).
  bool unconfirmed = false;
};

// The part of a plan that outlives the process (see above).
struct RecoveryMemory {
  std::vector<MonoTime> starts;        // attempt starts within the last hour, oldest first
  int attempts = 0;                    // attempts of the ongoing outage (0: none)
  int failures = 0;                    // of which did not bring the gateway back
  std::optional<MonoTime> not_before;  // back-off or settle deadline of the ongoing outage

  bool operator==(const RecoveryMemory&) const = default;
};

class GatewayRecoveryPlan {
 public:
  // Requires: policy.validate() succeeds (PP_CHECK).
  explicit GatewayRecoveryPlan(RecoveryPolicy policy);

  // The gateway's health. Returns Cancel when an attempt is running and the gateway is usable
  // again (the plan is then Idle; a later finished() for that attempt is ignored), Confirmed
  // when it is usable again while Settling after a successful attempt.
  RecoveryDecision observe(health::PathState state, MonoTime now);

  // Returns Start when an attempt is due (the plan is then Running), Capped once when the hourly
  // cap blocks one, None otherwise. Call at nextWakeup() and after observe().
  RecoveryDecision poll(MonoTime now);

  // The running attempt ended. Ignored unless Running.
  void finished(bool success, MonoTime now);

  // The monitor doubted its own view until `now` (policy/view_check.h): what it saw meanwhile
  // is no evidence against the gateway. An outage still waiting for an attempt (WaitingDown,
  // BackingOff, or Settling) waits at least `after` from now, so that a gateway whose probes
  // answer again a moment after the monitor's own outage ended is not restarted. Other phases
  // are left alone. downSince() is unchanged (it is what the probes saw).
  void restartWait(MonoTime now);

  // When poll() next has something to decide (MonoTime::max(): nothing until new input).
  MonoTime nextWakeup() const;

  RecoveryPhase phase() const { return phase_; }
  const RecoveryPolicy& policy() const { return policy_; }
  // Attempt starts within the hour before `now`.
  int attemptsInWindow(MonoTime now) const;
  // Attempts of this outage that did not bring the gateway back.
  int consecutiveFailures() const { return failures_; }
  // When the current outage began (meaningless while Idle).
  MonoTime downSince() const { return down_since_; }

  // What must survive a restart (see above).
  RecoveryMemory memory(MonoTime now) const;
  // Puts `memory` back into a plan that has observed nothing yet: the hourly window at once;
  // the outage part when the gateway is first observed Down (the first attempt then waits for
  // max(after, not_before), and attempt numbers and back-off continue). Requires: Idle.
  void restore(const RecoveryMemory& memory, MonoTime now);
  // A takeover in a group of monitors (docs/ha.md): merges what the previous leader
  // remembered of this gateway into this plan, which watched the same gateway without acting.
  // The hourly window gets the other's attempt starts too (one within a second of one of
  // ours counts once); an outage this plan waits on (WaitingDown) continues the other's
  // attempt count and failures and waits at least until its not_before; while Idle it applies
  // as restore() does, at the next observe(Down). A plan that acted itself (Running, Settling,
  // BackingOff, Capped) keeps its outage and takes the window only.
  void adopt(const RecoveryMemory& other, MonoTime now);

 private:
  void prune(MonoTime now);
  Duration backoff(int failures) const;

  RecoveryPolicy policy_;
  RecoveryPhase phase_ = RecoveryPhase::Idle;
  MonoTime down_since_{};
  MonoTime next_at_ = MonoTime::max();
  int failures_ = 0;
  int attempt_ = 0;  // attempts of this outage
  bool cap_reported_ = false;
  std::deque<MonoTime> starts_;  // attempt starts within the last hour
  // A restored outage, applied at the first observe(Down) after restore().
  std::optional<RecoveryMemory> restored_;
};

}  // namespace pathpilot::recovery
