// aws/retry.h — the AWS SDKs' "standard" retry mode, pure.
//
// Purpose: decide whether and when to retry a failed AWS call, the way every current AWS SDK
// does in standard mode, so that pathpilot behaves well when EC2 throttles a whole account
// (several monitors, Terraform and the console share one request quota):
//   - at most `max_attempts` attempts (3: the first try and two retries);
//   - retried: throttling codes (Throttling, RequestLimitExceeded, ...; HTTP 429),
//     transient errors (HTTP 500/502/503/504, InternalError, ServiceUnavailable, connection
//     reset or refused), timeouts, and clock-skew rejections after the clock offset is
//     corrected; never 4xx client errors (bad parameters, NotFound, UnauthorizedOperation);
//   - delay before retry i (0-based) = random[0,1) × base × 2^i, capped at `max_backoff`
//     ("full jitter"); base = 100 ms, or 500 ms for throttling (the JS v3 / Java v2 SDK
//     constants; botocore uses 1 s);
//   - a retry quota shared by every call of a client: a token bucket of 500; a retry costs
//     5 (10 after a timeout); a call that succeeds returns what its last retry took, or 1
//     token when it succeeded first time; an empty bucket stops retries (a circuit
//     breaker during an outage) while first attempts still go out.
// Everything here takes its randomness and time as arguments; the caller sleeps.
// Threading: RetryQuota is thread-safe (shared by workers); the functions are pure.
// Metrics: RetryQuota::available() is exported as aws_retry_quota_available.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string_view>

#include "base/error.h"
#include "base/time.h"

namespace pathpilot::aws {

struct RetryOptions {
  int max_attempts = 3;
  Duration base_delay = std::chrono::milliseconds(100);
  Duration throttling_base_delay = std::chrono::milliseconds(500);
  Duration max_backoff = std::chrono::seconds(20);
  int quota_capacity = 500;
  int retry_cost = 5;
  int timeout_retry_cost = 10;
  int no_retry_increment = 1;
};

// Why a failure may be retried.
enum class RetryKind {
  NotRetryable,  // client errors: retrying cannot help
  Throttling,    // the service asked us to slow down
  Transient,     // 5xx or a broken connection
  Timeout,       // no answer in time (costs more quota: the request may have run)
  ClockSkew,     // the signature's time was rejected; retry after correcting the offset
};

std::string_view retryKindName(RetryKind kind);

// Classifies an AWS error response by HTTP status and error code.
RetryKind classifyAwsError(int http_status, std::string_view code);
// Classifies a transport failure (HttpClient error): Timeout → Timeout, Unavailable →
// Transient, everything else NotRetryable.
RetryKind classifyTransportError(const Error& error);

// The delay before retry number `retry_index` (0 for the first retry) with `random01` drawn
// uniformly from [0, 1). ClockSkew retries go at once (zero delay).
Duration backoffDelay(int retry_index, RetryKind kind, double random01,
                      const RetryOptions& options);

// The shared retry token bucket.
class RetryQuota {
 public:
  explicit RetryQuota(const RetryOptions& options = {})
      : capacity_(options.quota_capacity), available_(options.quota_capacity) {}

  // Takes `cost` tokens if there are that many; false (and takes nothing) otherwise.
  bool tryAcquire(int cost);
  // Returns `amount` tokens, never above capacity.
  void release(int amount);
  int available() const;
  int capacity() const { return capacity_; }

 private:
  mutable std::mutex mu_;
  const int capacity_;
  int available_;
};

// The retry bookkeeping of one call (one logical request and its retries).
class RetryState {
 public:
  explicit RetryState(const RetryOptions& options) : options_(options) {}

  // After attempt number attempts() failed with `kind`: returns the delay to wait before
  // the next attempt, or nullopt when the call must stop (not retryable, attempts
  // exhausted, or the quota is empty — see stopReason()). Takes quota tokens on retry.
  std::optional<Duration> onFailure(RetryKind kind, double random01, RetryQuota& quota);
  // After a successful attempt: returns tokens to the quota as described above.
  void onSuccess(RetryQuota& quota);

  // 1-based number of the attempt about to be made / just made.
  int attempts() const { return attempt_; }
  // Why onFailure last returned nullopt: "not retryable", "attempts exhausted", "retry quota
  // empty".
  std::string_view stopReason() const { return stop_reason_; }

 private:
  const RetryOptions& options_;
  int attempt_ = 1;
  int last_cost_ = 0;
  std::string_view stop_reason_;
};

// Parses an HTTP date (RFC 9110 IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT"; also the
// obsolete RFC 850 and asctime forms) as sent in the Date response header. Errors:
// InvalidArgument.
[[nodiscard]] Result<WallTime> parseHttpDate(std::string_view text);
// Formats IMF-fixdate.
std::string formatHttpDate(WallTime t);

}  // namespace pathpilot::aws
