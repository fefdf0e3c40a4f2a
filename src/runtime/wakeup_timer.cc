#include "runtime/wakeup_timer.h"

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

namespace pathpilot::runtime {

struct WakeupTimer::Impl {
  Impl(asio::io_context& io, const Clock& c, std::function<void(MonoTime)> fire)
      : timer(io), clock(c), on_fire(std::move(fire)) {}
  asio::steady_timer timer;
  const Clock& clock;
  std::function<void(MonoTime)> on_fire;
  MonoTime armed_at = MonoTime::max();
  // Bumped on every arm() so that a handler of a replaced expiry does nothing even if it was
  // already queued when the timer was re-armed.
  unsigned generation = 0;
};

WakeupTimer::WakeupTimer(asio::io_context& io, const Clock& clock,
                         std::function<void(MonoTime)> on_fire)
    : impl_(std::make_shared<Impl>(io, clock, std::move(on_fire))) {}

WakeupTimer::~WakeupTimer() { impl_->timer.cancel(); }

MonoTime WakeupTimer::armedAt() const { return impl_->armed_at; }

void WakeupTimer::arm(MonoTime when) {
  if (when == impl_->armed_at) {
    return;
  }
  impl_->armed_at = when;
  unsigned generation = ++impl_->generation;
  impl_->timer.cancel();
  if (when == MonoTime::max()) {
    return;
  }
  impl_->timer.expires_at(when);
  std::weak_ptr<Impl> weak = impl_;
  impl_->timer.async_wait([weak, generation](const std::error_code& ec) {
    std::shared_ptr<Impl> impl = weak.lock();
    // operation_aborted: cancelled by a re-arm or by destruction.
    if (ec || !impl || generation != impl->generation) {
      return;
    }
    impl->armed_at = MonoTime::max();
    // Copy: on_fire may re-arm or even destroy the timer.
    auto fire = impl->on_fire;
    fire(impl->clock.now());
  });
}

}  // namespace pathpilot::runtime
