#include "recovery/recovery_plan.h"

#include <algorithm>

#include "base/check.h"
#include "runtime/backoff.h"

namespace pathpilot::recovery {
namespace {

constexpr Duration kWindow = std::chrono::hours(1);

}  // namespace

Result<void> RecoveryPolicy::validate() const {
  auto bad = [](const std::string& why) {
    return fail(ErrorCode::InvalidArgument, "recovery policy: " + why);
  };
  if (after < Duration::zero()) {
    return bad("after must not be negative");
  }
  if (backoff_initial <= Duration::zero()) {
    return bad("backoff initial delay must be positive");
  }
  if (backoff_max < backoff_initial) {
    return bad("backoff max (" + formatDuration(backoff_max) + ") is below the initial delay (" +
               formatDuration(backoff_initial) + ")");
  }
  // Written as a negation so that NaN, for which every comparison is false, is rejected too.
  if (!(backoff_multiplier >= 1.0)) {
    return bad("backoff multiplier must be >= 1");
  }
  if (max_attempts_per_hour < 1) {
    return bad("max_attempts_per_hour must be at least 1");
  }
  if (settle < Duration::zero()) {
    return bad("settle must not be negative");
  }
  return ok();
}

std::string_view recoveryPhaseName(RecoveryPhase phase) {
  switch (phase) {
    case RecoveryPhase::Idle:
      return "idle";
    case RecoveryPhase::WaitingDown:
      return "waiting_down";
    case RecoveryPhase::Running:
      return "running";
    case RecoveryPhase::Settling:
      return "settling";
    case RecoveryPhase::BackingOff:
      return "backing_off";
    case RecoveryPhase::Capped:
      return "capped";
  }
  return "idle";
}

GatewayRecoveryPlan::GatewayRecoveryPlan(RecoveryPolicy policy) : policy_(policy) {
  PP_CHECK_MSG(policy_.validate().has_value(), "invalid recovery policy");
}

Duration GatewayRecoveryPlan::backoff(int failures) const {
  // backoffDelay is the jitter-free formula, not runtime::Backoff with its random engine: the
  // plan stays a pure function of its inputs.
  runtime::BackoffPolicy p;
  p.initial = policy_.backoff_initial;
  p.max = policy_.backoff_max;
  p.multiplier = policy_.backoff_multiplier;
  p.jitter = 0;
  return runtime::backoffDelay(p, failures);
}

void GatewayRecoveryPlan::prune(MonoTime now) {
  // starts_ is kept sorted (poll appends the newest; restore and adopt sort after merging), so
  // the expired starts are all at the front. A start leaves the window exactly one hour after it.
  while (!starts_.empty() && starts_.front() + kWindow <= now) {
    starts_.pop_front();
  }
}

int GatewayRecoveryPlan::attemptsInWindow(MonoTime now) const {
  return static_cast<int>(
      std::count_if(starts_.begin(), starts_.end(), [&](MonoTime t) { return t + kWindow > now; }));
}

RecoveryDecision GatewayRecoveryPlan::observe(health::PathState state, MonoTime now) {
  RecoveryDecision decision;
  switch (state) {
    case health::PathState::Unknown:
      // Not enough data (start-up, reload): neither a reason to act nor proof of health.
      return decision;
    case health::PathState::Down:
      if (phase_ == RecoveryPhase::Idle) {
        phase_ = RecoveryPhase::WaitingDown;
        down_since_ = now;
        next_at_ = now + policy_.after;
        failures_ = 0;
        attempt_ = 0;
        cap_reported_ = false;
        if (restored_ && restored_->attempts > 0) {
          // The outage began before a restart: its attempts and back-off go on.
          attempt_ = restored_->attempts;
          failures_ = restored_->failures;
          if (restored_->not_before) {
            next_at_ = std::max(next_at_, *restored_->not_before);
          }
        }
      }
      restored_.reset();
      return decision;
    case health::PathState::Up:
    case health::PathState::Degraded:
      restored_.reset();
      if (phase_ == RecoveryPhase::Running) {
        decision.kind = RecoveryDecision::Kind::Cancel;
        decision.attempt = attempt_;
        // The outage is over without the action's help; say so, and that it was stopped.
        decision.reason = std::string("gateway is ") + std::string(health::pathStateName(state)) +
                          " again while the action was still running; the attempt was stopped";
      } else if (phase_ == RecoveryPhase::Settling) {
        decision.kind = RecoveryDecision::Kind::Confirmed;
        decision.attempt = attempt_;
        decision.down_for = now - down_since_;
        decision.reason =
            "the probes see the gateway " + std::string(health::pathStateName(state)) + " again";
      }
      phase_ = RecoveryPhase::Idle;
      next_at_ = MonoTime::max();
      failures_ = 0;
      attempt_ = 0;
      cap_reported_ = false;
      return decision;
  }
  return decision;
}

void GatewayRecoveryPlan::restartWait(MonoTime now) {
  if (phase_ == RecoveryPhase::WaitingDown || phase_ == RecoveryPhase::BackingOff ||
      phase_ == RecoveryPhase::Settling) {
    next_at_ = std::max(next_at_, now + policy_.after);
  }
}

RecoveryDecision GatewayRecoveryPlan::poll(MonoTime now) {
  RecoveryDecision decision;
  if (phase_ == RecoveryPhase::Idle || phase_ == RecoveryPhase::Running || now < next_at_) {
    return decision;
  }
  prune(now);
  // Settling ran out with the gateway still Down: the last action "worked" but did not heal.
  decision.unconfirmed = phase_ == RecoveryPhase::Settling;
  if (static_cast<int>(starts_.size()) >= policy_.max_attempts_per_hour) {
    phase_ = RecoveryPhase::Capped;
    // The oldest start in the window is the first to leave it.
    next_at_ = starts_.front() + kWindow;
    if (!cap_reported_) {
      cap_reported_ = true;
      decision.kind = RecoveryDecision::Kind::Capped;
      decision.down_for = now - down_since_;
      decision.next_allowed = next_at_;
      // Whole seconds: formatDuration prints the largest exact unit, so an unrounded difference
      // would come out in nanoseconds.
      decision.reason = "hourly cap reached: " + std::to_string(starts_.size()) +
                        " attempts in the last hour; next attempt in " +
                        formatDuration(std::chrono::duration_cast<seconds>(next_at_ - now));
    }
    return decision;
  }
  starts_.push_back(now);
  phase_ = RecoveryPhase::Running;
  next_at_ = MonoTime::max();
  cap_reported_ = false;
  decision.kind = RecoveryDecision::Kind::Start;
  decision.attempt = ++attempt_;
  decision.down_for = now - down_since_;
  decision.reason =
      "down for " + formatDuration(std::chrono::duration_cast<seconds>(decision.down_for));
  return decision;
}

void GatewayRecoveryPlan::finished(bool success, MonoTime now) {
  if (phase_ != RecoveryPhase::Running) {
    return;
  }
  // Either way the gateway is still Down now (observe(Up) would have moved us to Idle), so the
  // attempt has not healed it yet: count it for the backoff.
  ++failures_;
  if (success) {
    phase_ = RecoveryPhase::Settling;
    next_at_ = now + std::max(policy_.settle, backoff(failures_));
  } else {
    phase_ = RecoveryPhase::BackingOff;
    next_at_ = now + backoff(failures_);
  }
}

RecoveryMemory GatewayRecoveryPlan::memory(MonoTime now) const {
  RecoveryMemory m;
  for (MonoTime t : starts_) {
    if (t + kWindow > now) {
      m.starts.push_back(t);
    }
  }
  if (phase_ != RecoveryPhase::Idle) {
    m.attempts = attempt_;
    m.failures = failures_;
    // A fresh outage's WaitingDown keeps no deadline: after a restart the first observe(Down)
    // waits `after` anew. One that continues failed attempts (a restored or adopted back-off)
    // keeps it, or a second restart would drop the back-off. Running has none (next_at_ is
    // max) until finished() sets one.
    const bool waiting_with_backoff = phase_ == RecoveryPhase::WaitingDown && attempt_ > 0;
    if ((phase_ == RecoveryPhase::BackingOff || phase_ == RecoveryPhase::Settling ||
         phase_ == RecoveryPhase::Capped || waiting_with_backoff) &&
        next_at_ != MonoTime::max()) {
      m.not_before = next_at_;
    }
  } else if (restored_) {
    // Not observed since the restore: keep what was restored.
    m.attempts = restored_->attempts;
    m.failures = restored_->failures;
    m.not_before = restored_->not_before;
  }
  return m;
}

void GatewayRecoveryPlan::restore(const RecoveryMemory& memory, MonoTime now) {
  if (phase_ != RecoveryPhase::Idle) {
    return;
  }
  starts_.clear();
  for (MonoTime t : memory.starts) {
    if (t + kWindow > now) {
      starts_.push_back(t);
    }
  }
  // prune() and the cap's wake-up rely on the order, so it is not left to the stored list.
  std::sort(starts_.begin(), starts_.end());
  restored_ = memory;
}

void GatewayRecoveryPlan::adopt(const RecoveryMemory& other, MonoTime now) {
  for (MonoTime t : other.starts) {
    const bool known = std::any_of(starts_.begin(), starts_.end(), [&](MonoTime s) {
      return (s > t ? s - t : t - s) < std::chrono::seconds(1);
    });
    if (t + kWindow > now && !known) {
      starts_.push_back(t);
    }
  }
  std::sort(starts_.begin(), starts_.end());
  if (other.attempts == 0) {
    return;
  }
  if (phase_ == RecoveryPhase::WaitingDown) {
    // The larger count wins, so a takeover never numbers an attempt of this outage twice.
    if (other.attempts > attempt_) {
      attempt_ = other.attempts;
      failures_ = std::max(failures_, other.failures);
    }
    if (other.not_before) {
      next_at_ = std::max(next_at_, *other.not_before);
    }
  } else if (phase_ == RecoveryPhase::Idle &&
             (!restored_ || restored_->attempts < other.attempts)) {
    // An earlier restore() gives way only to memory of more attempts, for the same reason.
    restored_ = other;
  }
}

MonoTime GatewayRecoveryPlan::nextWakeup() const {
  if (phase_ == RecoveryPhase::Idle || phase_ == RecoveryPhase::Running) {
    return MonoTime::max();
  }
  return next_at_;
}

}  // namespace pathpilot::recovery
