// api/rate_limiter.h — token buckets per client, to keep API floods off the engine's CPU.
//
// Purpose: the API runs on its own threads and reads snapshots, so a flood cannot block the
// engine; but on a two-core monitor it can still eat the CPU the engine needs. Each client
// address gets a token bucket: `per_second` tokens are added per second up to `burst`; a
// request takes one token or is refused (429 with Retry-After). Reads and writes use separate
// limiters with separate limits (writes are rarer and dearer).
//
// Memory is bounded: at most `max_clients` buckets are kept. When a new client arrives and
// the table is full, buckets that have refilled completely (idle clients) are dropped first,
// then the least recently used one.
//
// Pure: every call takes `now`. Threading: not synchronised (the server holds a mutex).
// Metrics: refusals are counted by the server (pathpilot_api_rejected_total{reason}).
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

#include "base/time.h"

namespace pathpilot::api {

struct RateLimit {
  double per_second = 0;  // <= 0: unlimited
  double burst = 1;       // bucket size, >= 1
};

class RateLimiter {
 public:
  explicit RateLimiter(RateLimit limit, std::size_t max_clients = 4096);

  // Takes a token for `client` if one is available.
  bool allow(std::string_view client, MonoTime now);
  // Time until `client` has a token again (zero if it has one now).
  Duration retryAfter(std::string_view client, MonoTime now) const;

  std::size_t clients() const { return buckets_.size(); }
  const RateLimit& limit() const { return limit_; }

 private:
  struct Bucket {
    double tokens = 0;
    MonoTime updated{};
  };
  double refill(const Bucket& b, MonoTime now) const;
  void evict(MonoTime now);

  RateLimit limit_;
  std::size_t max_clients_;
  std::map<std::string, Bucket, std::less<>> buckets_;
};

}  // namespace pathpilot::api
