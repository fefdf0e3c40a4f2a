// runtime/backoff.h — exponential backoff with jitter, as a pure function of the attempt count.
//
// Purpose: one formula for every retry in route and recovery, so operators learn it once:
//   delay(n) = min(max, initial * multiplier^(n-1)) * (1 + jitter * u),  u uniform in [-1, 1)
// where n >= 1 is the number of consecutive failures so far. Jitter spreads retries of many
// tables so that they do not hit a throttled API in lock step. [envoy `JitteredBackOffStrategy`]
//
// Threading: BackoffPolicy is a value type; Backoff holds a random engine and is not shared.
// Metrics: none.
#pragma once

#include <cstdint>
#include <random>

#include "base/error.h"
#include "base/time.h"

namespace pathpilot::runtime {

struct BackoffPolicy {
  Duration initial = std::chrono::milliseconds(500);
  Duration max = std::chrono::seconds(30);
  double multiplier = 2.0;
  // Fraction of the delay added or removed at random, 0 to 1. 0.2 means ±20%.
  double jitter = 0.2;

  // InvalidArgument when initial <= 0, max < initial, multiplier < 1 or jitter outside [0, 1].
  [[nodiscard]] Result<void> validate() const;
};

// The delay before retry number `failures` + 1, without jitter. failures <= 0 gives 0.
Duration backoffDelay(const BackoffPolicy& policy, int failures);

// backoffDelay with jitter from an injected random engine (seed it in tests).
class Backoff {
 public:
  // seed 0 draws a seed from std::random_device.
  explicit Backoff(BackoffPolicy policy, std::uint64_t seed = 0);

  const BackoffPolicy& policy() const { return policy_; }
  // The jittered delay after `failures` consecutive failures (>= 1).
  Duration delay(int failures);

 private:
  BackoffPolicy policy_;
  std::mt19937_64 rng_;
};

}  // namespace pathpilot::runtime
