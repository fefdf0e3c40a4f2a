#include "recovery/recovery_manager.h"

#include <algorithm>
#include <cstdio>

namespace pathpilot::recovery {
namespace {

// "41.2s": the status text's durations, tenths of a second like the daemon's events.
std::string seconds1(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", toMillis(d) / 1000.0);
  return buf;
}

}  // namespace

struct RecoveryManager::Gateway {
  Gateway(std::string n, RecoveryPolicy policy, std::unique_ptr<RecoveryAction> a)
      : name(std::move(n)), plan(policy), action(std::move(a)) {}
  std::string name;
  GatewayRecoveryPlan plan;
  std::unique_ptr<RecoveryAction> action;
  // The attempt whose outcome we wait for (0: none). Bumped on every start, cleared on cancel,
  // so that the late outcome of a cancelled attempt is recognised and dropped.
  unsigned current_attempt = 0;
  // The action is still busy (a cancelled attempt has not reported back yet): no new start.
  bool action_busy = false;
  int attempt = 0;
  Duration down_for{};
  MonoTime attempt_started{};  // when the last attempt began (confirmed: elapsed)
  MonoTime action_done{};      // when its action reported success (unconfirmed: how long)
  Duration action_elapsed{};   // how long that successful action ran (confirmed: the facts)
  std::string last_failure;

  // An event about the current attempt: gateway, action, attempt number and how long the
  // gateway had been down when it started. Callers add what the event is about.
  RecoveryEvent event() const {
    RecoveryEvent e;
    e.gateway = name;
    e.action = std::string(action->kind());
    e.attempt = attempt;
    e.down_for = down_for;
    return e;
  }
};

RecoveryManager::RecoveryManager(const Clock& clock, RecoveryCallbacks callbacks)
    : clock_(clock), callbacks_(std::move(callbacks)) {}

RecoveryManager::~RecoveryManager() {
  alive_.reset();
  for (auto& [name, gateway] : gateways_) {
    if (gateway->action_busy) {
      gateway->action->cancel();
    }
  }
}

Result<void> RecoveryManager::addGateway(std::string name, RecoveryPolicy policy,
                                         std::unique_ptr<RecoveryAction> action) {
  if (name.empty()) {
    return fail(ErrorCode::InvalidArgument, "recovery: gateway name is empty");
  }
  if (!action) {
    return fail(ErrorCode::InvalidArgument, "recovery: gateway " + name + " has no action");
  }
  if (auto valid = policy.validate(); !valid) {
    return fail(valid.error().withContext("gateway " + name));
  }
  if (gateways_.count(name) != 0) {
    return fail(ErrorCode::AlreadyExists, "recovery: gateway " + name + " added twice");
  }
  auto gateway = std::make_unique<Gateway>(name, policy, std::move(action));
  gateways_.emplace(std::move(name), std::move(gateway));
  return ok();
}

void RecoveryManager::removeGateway(std::string_view name, MonoTime now) {
  auto it = gateways_.find(name);
  if (it == gateways_.end()) {
    return;
  }
  if (it->second->action_busy) {
    it->second->action->cancel();
  }
  // The action's pending completion checks the gateway by name and attempt id, finds none.
  gateways_.erase(it);
  poll(now);
}

void RecoveryManager::onGatewayState(std::string_view name, health::PathState state, MonoTime now) {
  auto it = gateways_.find(name);
  if (it == gateways_.end()) {
    return;
  }
  Gateway& gateway = *it->second;
  RecoveryDecision decision = gateway.plan.observe(state, now);
  if (decision.kind == RecoveryDecision::Kind::Cancel) {
    gateway.action->cancel();
    gateway.current_attempt = 0;  // its outcome is no longer ours to report
    RecoveryEvent event = gateway.event();
    event.elapsed = now - gateway.attempt_started;
    event.reason = decision.reason;
    if (callbacks_.cancelled) {
      callbacks_.cancelled(event);
    }
  } else if (decision.kind == RecoveryDecision::Kind::Confirmed) {
    RecoveryEvent event = gateway.event();
    event.elapsed = now - gateway.attempt_started;
    event.action_elapsed = gateway.action_elapsed;
    event.confirmed_after = now - gateway.action_done;
    event.action_finished = true;
    event.reason = decision.reason;
    if (callbacks_.confirmed) {
      callbacks_.confirmed(event);
    }
  }
  if (state != health::PathState::Down && state != health::PathState::Unknown) {
    gateway.last_failure.clear();
  }
  poll(now);
}

void RecoveryManager::setWriteAllowed(bool allowed, MonoTime now) {
  write_allowed_ = allowed;
  poll(now);
}

// Events are collected and delivered after the loop: a callback may call back into the
// manager (the daemon journals, alerts, maybe changes leadership), which must not happen while
// we iterate the gateways.
void RecoveryManager::setHeld(std::optional<std::string> reason, MonoTime now) {
  const bool released = held_.has_value() && !reason.has_value();
  held_ = std::move(reason);
  if (released) {
    // Found in the lab: the view is trusted again at the first path that answers, a few
    // milliseconds before the others do; judged "as usual" at that instant, every other
    // gateway had been Down for the whole doubt and was restarted at once.
    for (auto& [name, gateway] : gateways_) {
      gateway->plan.restartWait(now);
    }
  }
  poll(now);
}

MonoTime RecoveryManager::poll(MonoTime now) {
  MonoTime next = MonoTime::max();
  std::vector<std::pair<std::string, RecoveryEvent>> events;  // ("started"|"failed", event)
  if (write_allowed_ && !held_) {
    for (auto& [name, gateway] : gateways_) {
      if (gateway->action_busy) {
        continue;  // its completion polls again
      }
      RecoveryDecision decision = gateway->plan.poll(now);
      if (decision.unconfirmed) {
        // Reported before the next start: the operator must see that the restart "worked"
        // for EC2 (or the command) but not for the tunnel.
        RecoveryEvent event;
        event.gateway = name;
        event.action = std::string(gateway->action->kind());
        event.attempt = gateway->attempt;
        event.down_for = now - gateway->plan.downSince();
        event.elapsed = now - gateway->attempt_started;
        event.reason =
            "the " + event.action + " action finished but the probes did not see " + name +
            " come back within " +
            formatDuration(std::chrono::duration_cast<seconds>(now - gateway->action_done));
        gateway->last_failure = event.reason;
        events.emplace_back("failed", event);
      }
      if (decision.kind == RecoveryDecision::Kind::Start) {
        unsigned id = next_attempt_id_++;
        gateway->current_attempt = id;
        gateway->action_busy = true;
        gateway->attempt = decision.attempt;
        gateway->down_for = decision.down_for;
        gateway->attempt_started = now;
        RecoveryEvent event;
        event.gateway = name;
        event.action = std::string(gateway->action->kind());
        event.attempt = decision.attempt;
        event.down_for = decision.down_for;
        event.reason = decision.reason;
        events.emplace_back("started", event);
        std::weak_ptr<int> alive = alive_;
        std::string key = name;
        gateway->action->start(RecoveryContext{name, decision.attempt, decision.down_for},
                               [this, alive, key, id](ActionOutcome outcome) {
                                 if (alive.expired()) {
                                   return;
                                 }
                                 onActionDone(key, id, outcome);
                               });
      } else if (decision.kind == RecoveryDecision::Kind::Capped) {
        RecoveryEvent event;
        event.gateway = name;
        event.action = std::string(gateway->action->kind());
        event.down_for = decision.down_for;
        event.reason = decision.reason;
        event.capped = true;
        event.next_attempt = decision.next_allowed;
        gateway->last_failure = decision.reason;
        events.emplace_back("failed", event);
      }
      next = std::min(next, gateway->plan.nextWakeup());
    }
  }
  if (callbacks_.wakeup) {
    callbacks_.wakeup(next);
  }
  for (const auto& [kind, event] : events) {
    const auto& callback = kind == "started" ? callbacks_.started : callbacks_.failed;
    if (callback) {
      callback(event);
    }
  }
  return next;
}

void RecoveryManager::onActionDone(const std::string& name, unsigned attempt_id,
                                   const ActionOutcome& outcome) {
  MonoTime now = clock_.now();
  auto it = gateways_.find(name);
  if (it == gateways_.end()) {
    return;  // removed meanwhile
  }
  Gateway& gateway = *it->second;
  gateway.action_busy = false;
  // A cancelled attempt's outcome (usually "killed") is noise for the operator: the cancel was
  // already reported, and the gateway is healthy or being handled by a newer attempt.
  if (attempt_id != gateway.current_attempt) {
    poll(now);  // a cancelled attempt finished; a new one may start now
    return;
  }
  gateway.current_attempt = 0;
  gateway.plan.finished(outcome.success, now);
  RecoveryEvent event = gateway.event();
  event.elapsed = outcome.elapsed;
  event.exit_code = outcome.exit_code;
  event.stderr_tail = outcome.stderr_tail;
  event.timed_out = outcome.timed_out;
  event.reason = outcome.reason;
  if (!outcome.success) {
    event.next_attempt = gateway.plan.nextWakeup();
    gateway.last_failure = outcome.reason;
  } else {
    gateway.action_done = now;
    // On our clock, like confirmed_after and elapsed, so that the event's figures add up.
    gateway.action_elapsed = now - gateway.attempt_started;
  }
  poll(now);
  const auto& callback = outcome.success ? callbacks_.succeeded : callbacks_.failed;
  if (callback) {
    callback(event);
  }
}

std::map<std::string, RecoveryMemory> RecoveryManager::memory(MonoTime now) const {
  std::map<std::string, RecoveryMemory> out;
  for (const auto& [name, gateway] : gateways_) {
    out.emplace(name, gateway->plan.memory(now));
  }
  return out;
}

void RecoveryManager::restore(std::string_view gateway, const RecoveryMemory& memory,
                              MonoTime now) {
  auto it = gateways_.find(gateway);
  if (it != gateways_.end()) {
    it->second->plan.restore(memory, now);
  }
}

void RecoveryManager::adopt(std::string_view gateway, const RecoveryMemory& memory, MonoTime now) {
  auto it = gateways_.find(gateway);
  if (it != gateways_.end()) {
    it->second->plan.adopt(memory, now);
  }
}

std::vector<GatewayRecoveryStatus> RecoveryManager::snapshot(MonoTime now) const {
  std::vector<GatewayRecoveryStatus> out;
  for (const auto& [name, gateway] : gateways_) {
    GatewayRecoveryStatus status;
    status.gateway = name;
    status.action = std::string(gateway->action->kind());
    status.phase = gateway->plan.phase();
    status.attempts_last_hour = gateway->plan.attemptsInWindow(now);
    status.consecutive_failures = gateway->plan.consecutiveFailures();
    status.next_attempt = gateway->plan.nextWakeup();
    status.last_failure = gateway->last_failure;
    if (status.phase == RecoveryPhase::Settling) {
      status.detail = "the " + status.action + " action finished (attempt " +
                      std::to_string(gateway->attempt) + ", took " +
                      seconds1(gateway->action_elapsed) + ") " +
                      seconds1(now - gateway->action_done) +
                      " ago; waiting for the probes to see the gateway back";
    } else if (held_ && !gateway->action_busy) {
      status.detail = "held back: " + *held_;
    }
    out.push_back(std::move(status));
  }
  return out;
}

}  // namespace pathpilot::recovery
