#include "alert/pacing.h"

#include <algorithm>
#include <cmath>

namespace pathpilot::alert {

TokenBucket::TokenBucket(double per_minute, int burst)
    : per_second_(std::max(per_minute, 1e-6) / 60.0),
      burst_(std::max(burst, 1)),
      tokens_(burst_) {}

void TokenBucket::refill(MonoTime now) {
  if (last_ && now > *last_) {
    double elapsed = std::chrono::duration<double>(now - *last_).count();
    tokens_ = std::min(burst_, tokens_ + elapsed * per_second_);
  }
  if (!last_ || now > *last_) {
    last_ = now;
  }
}

bool TokenBucket::tryTake(MonoTime now) {
  refill(now);
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return true;
  }
  return false;
}

MonoTime TokenBucket::nextAvailable(MonoTime now) {
  refill(now);
  if (tokens_ >= 1.0) {
    return now;
  }
  double wait = (1.0 - tokens_) / per_second_;
  return now + std::chrono::duration_cast<Duration>(std::chrono::duration<double>(wait)) +
         Duration(1);
}

double TokenBucket::tokens(MonoTime now) {
  refill(now);
  return tokens_;
}

Duration RetryPolicy::delay(int attempts, double random01,
                            std::optional<Duration> retry_after) const {
  int exponent = std::clamp(attempts - 1, 0, 30);
  double base = std::chrono::duration<double>(initial).count() * std::ldexp(1.0, exponent);
  base = std::min(base, std::chrono::duration<double>(max).count());
  // ±20% so that channels recovering together do not retry in lock step.
  double jittered = base * (0.8 + 0.4 * std::clamp(random01, 0.0, 1.0));
  auto d = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(jittered));
  if (retry_after && *retry_after > d) {
    d = *retry_after;
  }
  return d;
}

}  // namespace pathpilot::alert
