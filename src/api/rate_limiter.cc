#include "api/rate_limiter.h"

#include <algorithm>
#include <cmath>

#include "base/check.h"

namespace pathpilot::api {

RateLimiter::RateLimiter(RateLimit limit, std::size_t max_clients)
    : limit_(limit), max_clients_(max_clients) {
  PP_CHECK(max_clients_ > 0);
  if (limit_.burst < 1) {
    limit_.burst = 1;
  }
}

double RateLimiter::refill(const Bucket& b, MonoTime now) const {
  double elapsed = std::chrono::duration<double>(now - b.updated).count();
  if (elapsed < 0) {
    elapsed = 0;
  }
  return std::min(limit_.burst, b.tokens + elapsed * limit_.per_second);
}

void RateLimiter::evict(MonoTime now) {
  std::erase_if(buckets_, [&](const auto& entry) { return refill(entry.second, now) >= limit_.burst; });
  while (buckets_.size() >= max_clients_) {
    auto oldest = std::min_element(buckets_.begin(), buckets_.end(), [](const auto& a, const auto& b) {
      return a.second.updated < b.second.updated;
    });
    buckets_.erase(oldest);
  }
}

bool RateLimiter::allow(std::string_view client, MonoTime now) {
  if (limit_.per_second <= 0) {
    return true;
  }
  auto it = buckets_.find(client);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_clients_) {
      evict(now);
    }
    it = buckets_.emplace(std::string(client), Bucket{limit_.burst, now}).first;
  }
  Bucket& b = it->second;
  b.tokens = refill(b, now);
  b.updated = now;
  if (b.tokens < 1) {
    return false;
  }
  b.tokens -= 1;
  return true;
}

Duration RateLimiter::retryAfter(std::string_view client, MonoTime now) const {
  if (limit_.per_second <= 0) {
    return Duration::zero();
  }
  auto it = buckets_.find(client);
  if (it == buckets_.end()) {
    return Duration::zero();
  }
  double tokens = refill(it->second, now);
  if (tokens >= 1) {
    return Duration::zero();
  }
  double seconds = (1 - tokens) / limit_.per_second;
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds));
}

}  // namespace pathpilot::api
