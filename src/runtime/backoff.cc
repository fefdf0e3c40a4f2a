#include "runtime/backoff.h"

#include <algorithm>
#include <cmath>

namespace pathpilot::runtime {

Result<void> BackoffPolicy::validate() const {
  if (initial <= Duration::zero()) {
    return fail(ErrorCode::InvalidArgument,
                "backoff: initial delay must be positive, got " + formatDuration(initial));
  }
  if (max < initial) {
    return fail(ErrorCode::InvalidArgument, "backoff: max (" + formatDuration(max) +
                                                ") is below initial (" + formatDuration(initial) +
                                                ")");
  }
  if (!(multiplier >= 1.0) || !std::isfinite(multiplier)) {
    return fail(ErrorCode::InvalidArgument, "backoff: multiplier must be >= 1");
  }
  if (!(jitter >= 0.0 && jitter <= 1.0)) {
    return fail(ErrorCode::InvalidArgument, "backoff: jitter must be between 0 and 1");
  }
  return ok();
}

Duration backoffDelay(const BackoffPolicy& policy, int failures) {
  if (failures <= 0) {
    return Duration::zero();
  }
  // Computed in double nanoseconds and clamped before converting back, so that a large
  // attempt count cannot overflow.
  double nanos = static_cast<double>(policy.initial.count()) *
                 std::pow(policy.multiplier, static_cast<double>(failures - 1));
  double cap = static_cast<double>(policy.max.count());
  return Duration(static_cast<Duration::rep>(std::min(nanos, cap)));
}

Backoff::Backoff(BackoffPolicy policy, std::uint64_t seed)
    : policy_(policy), rng_(seed != 0 ? seed : std::random_device{}()) {}

Duration Backoff::delay(int failures) {
  Duration base = backoffDelay(policy_, failures);
  if (policy_.jitter <= 0.0 || base <= Duration::zero()) {
    return base;
  }
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  double factor = 1.0 + policy_.jitter * unit(rng_);
  return Duration(static_cast<Duration::rep>(static_cast<double>(base.count()) * factor));
}

}  // namespace pathpilot::runtime
