// alert/pacing.h — how fast each channel may send, and when a failed delivery is retried.
//
// Purpose:
//   TokenBucket   per-channel rate limit: `burst` messages at once, refilled at `per_minute`.
//                 A message that finds the bucket empty is not dropped: it waits in the
//                 outbox until a token is available (takeAt tells when).
//   RetryPolicy   exponential backoff for a delivery that failed with a retryable error:
//                 initial × 2^(attempt-1), capped at max, with ±20% jitter from an injected
//                 random value; a server's Retry-After is honoured (never retried sooner),
//                 and a message older than max_age is given up (alert_failed).
// Both are pure: time comes in as an argument (docs/development.md).
// Threading: not thread-safe; each channel worker owns its own.
// Metrics: none.
#pragma once

#include <optional>

#include "base/time.h"

namespace pathpilot::alert {

class TokenBucket {
 public:
  // Requires: per_minute > 0, burst ≥ 1. Starts full.
  TokenBucket(double per_minute, int burst);

  // Takes one token at `now` if available.
  bool tryTake(MonoTime now);
  // When the next token will be available (now if one is).
  MonoTime nextAvailable(MonoTime now);
  double tokens(MonoTime now);

 private:
  void refill(MonoTime now);

  double per_second_;
  double burst_;
  double tokens_;
  std::optional<MonoTime> last_;
};

struct RetryPolicy {
  Duration initial = std::chrono::seconds(2);
  Duration max = std::chrono::minutes(5);
  Duration max_age = std::chrono::hours(24);

  // The wait before attempt number `attempts + 1`, after `attempts` (≥ 1) failures.
  // `random01` in [0, 1) picks the jitter; `retry_after` (from a 429/503) is a lower bound.
  Duration delay(int attempts, double random01,
                 std::optional<Duration> retry_after = std::nullopt) const;

  // Whether a message created at `created` may still be retried at `now`.
  bool mayRetry(WallTime created, WallTime now) const { return now - created < max_age; }
};

}  // namespace pathpilot::alert
