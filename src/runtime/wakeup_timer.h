// runtime/wakeup_timer.h — turns "call me back at time T" into an Asio timer.
//
// Purpose: the reconciler and the recovery manager are driven by `poll(now)` and report the
// next time they need to be polled through a `wakeup(MonoTime)` callback. The daemon connects
// that callback to a WakeupTimer, which keeps one one-shot steady timer (docs/development.md:
// one-shot, re-armed by its owner) and calls `on_fire(clock.now())` when it expires.
//
// Threading: engine thread only (the io_context's thread).
// Metrics: none.
#pragma once

#include <functional>
#include <memory>

#include "base/time.h"

namespace asio {
class io_context;
}  // namespace asio

namespace pathpilot::runtime {

class WakeupTimer {
 public:
  // `on_fire` receives clock.now() at expiry. Requires: io and clock outlive this timer.
  WakeupTimer(asio::io_context& io, const Clock& clock, std::function<void(MonoTime)> on_fire);
  ~WakeupTimer();

  WakeupTimer(const WakeupTimer&) = delete;
  WakeupTimer& operator=(const WakeupTimer&) = delete;

  // Fires at `when` (immediately on the next loop turn if in the past). MonoTime::max() cancels.
  // Re-arming replaces the previous expiry.
  void arm(MonoTime when);
  // The armed expiry, or MonoTime::max() when idle.
  MonoTime armedAt() const;

 private:
  struct Impl;
  // Shared with the pending handler through a weak_ptr, so that a handler that was already
  // queued when the timer went away finds nothing and returns.
  std::shared_ptr<Impl> impl_;
};

}  // namespace pathpilot::runtime
