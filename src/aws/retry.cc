#include "aws/retry.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

namespace pathpilot::aws {

namespace {

// Error codes the AWS SDKs treat as throttling (standard mode).
constexpr std::array<std::string_view, 15> kThrottlingCodes = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    "ThrottledRequest",
};

// Error codes that are transient whatever their status.
constexpr std::array<std::string_view, 7> kTransientCodes = {
    "RequestTimeout",  "RequestTimeoutException", "InternalError", "InternalFailure",
    "ServiceUnavailable", "Unavailable",          "IDPCommunicationError",
};

// Error codes that mean "your clock is off".
constexpr std::array<std::string_view, 3> kSkewCodes = {
    "RequestTimeTooSkewed", "RequestExpired", "RequestInTheFuture"};

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& list, std::string_view code) {
  return std::find(list.begin(), list.end(), code) != list.end();
}

constexpr std::array<std::string_view, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                   "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 12> kMonths = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

}  // namespace

std::string_view retryKindName(RetryKind kind) {
  switch (kind) {
    case RetryKind::NotRetryable:
      return "not retryable";
    case RetryKind::Throttling:
      return "throttling";
    case RetryKind::Transient:
      return "transient";
    case RetryKind::Timeout:
      return "timeout";
    case RetryKind::ClockSkew:
      return "clock skew";
  }
  return "not retryable";
}

RetryKind classifyAwsError(int http_status, std::string_view code) {
  // The code decides before the status: throttling arrives as 400 (Throttling) or 503
  // (RequestLimitExceeded, SlowDown) and needs the throttling base delay, and a clock-skew
  // rejection is a 4xx that would otherwise count as a client error.
  if (contains(kThrottlingCodes, code) || http_status == 429) {
    return RetryKind::Throttling;
  }
  if (contains(kSkewCodes, code)) {
    return RetryKind::ClockSkew;
  }
  if (contains(kTransientCodes, code)) {
    return RetryKind::Transient;
  }
  if (http_status == 500 || http_status == 502 || http_status == 503 || http_status == 504) {
    return RetryKind::Transient;
  }
  return RetryKind::NotRetryable;
}

RetryKind classifyTransportError(const Error& error) {
  switch (error.code()) {
    case ErrorCode::Timeout:
      return RetryKind::Timeout;
    case ErrorCode::Unavailable:
      return RetryKind::Transient;
    default:
      return RetryKind::NotRetryable;
  }
}

Duration backoffDelay(int retry_index, RetryKind kind, double random01,
                      const RetryOptions& options) {
  // Waiting cannot fix a skewed clock: the caller corrects its offset from the server's Date
  // header, and the request signed again with the corrected time can go at once.
  if (kind == RetryKind::ClockSkew || kind == RetryKind::NotRetryable) {
    return Duration::zero();
  }
  random01 = std::clamp(random01, 0.0, 1.0);
  const Duration base =
      kind == RetryKind::Throttling ? options.throttling_base_delay : options.base_delay;
  // base × 2^i, computed in double and capped before converting back, so a large retry
  // index cannot overflow.
  double ceiling = static_cast<double>(base.count()) *
                   std::pow(2.0, static_cast<double>(std::clamp(retry_index, 0, 62)));
  ceiling = std::min(ceiling, static_cast<double>(options.max_backoff.count()));
  return Duration(static_cast<Duration::rep>(random01 * ceiling));
}

bool RetryQuota::tryAcquire(int cost) {
  std::lock_guard lock(mu_);
  if (cost > available_) {
    return false;
  }
  available_ -= cost;
  return true;
}

void RetryQuota::release(int amount) {
  std::lock_guard lock(mu_);
  available_ = std::min(capacity_, available_ + amount);
}

int RetryQuota::available() const {
  std::lock_guard lock(mu_);
  return available_;
}

// Order matters: a non-retryable error never takes tokens, and the attempt budget is checked
// before the quota so that a call that is out of attempts leaves the bucket untouched.
std::optional<Duration> RetryState::onFailure(RetryKind kind, double random01,
                                              RetryQuota& quota) {
  if (kind == RetryKind::NotRetryable) {
    stop_reason_ = "not retryable";
    return std::nullopt;
  }
  if (attempt_ >= options_.max_attempts) {
    stop_reason_ = "attempts exhausted";
    return std::nullopt;
  }
  int cost = kind == RetryKind::Timeout ? options_.timeout_retry_cost : options_.retry_cost;
  if (!quota.tryAcquire(cost)) {
    stop_reason_ = "retry quota empty";
    return std::nullopt;
  }
  last_cost_ = cost;
  Duration delay = backoffDelay(attempt_ - 1, kind, random01, options_);
  ++attempt_;
  return delay;
}

void RetryState::onSuccess(RetryQuota& quota) {
  // Only the last retry's cost comes back, as in the SDKs: the earlier retries of a call stay
  // spent, so a service that keeps failing drains the bucket and retries stop.
  quota.release(last_cost_ > 0 ? last_cost_ : options_.no_retry_increment);
  last_cost_ = 0;
}

// RFC 9110 §5.6.7: senders use IMF-fixdate; recipients must also accept the two obsolete
// forms. AWS sends IMF-fixdate, proxies in between may not.
Result<WallTime> parseHttpDate(std::string_view text) {
  auto bad = [&] {
    return fail(ErrorCode::InvalidArgument,
                "HTTP date '" + std::string(text.substr(0, 40)) + "' is not in a known form");
  };
  auto number = [](std::string_view s, int& out) {
    if (s.empty() || s.size() > 4) {
      return false;
    }
    out = 0;
    for (char c : s) {
      if (c < '0' || c > '9') {
        return false;
      }
      out = out * 10 + (c - '0');
    }
    return true;
  };
  auto monthIndex = [](std::string_view s) {
    for (std::size_t i = 0; i < kMonths.size(); ++i) {
      if (kMonths[i] == s) {
        return static_cast<int>(i) + 1;
      }
    }
    return 0;
  };
  auto clock = [&](std::string_view s, int& h, int& m, int& sec) {
    return s.size() == 8 && s[2] == ':' && s[5] == ':' && number(s.substr(0, 2), h) &&
           number(s.substr(3, 2), m) && number(s.substr(6, 2), sec);
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  // The weekday before the comma ("Sun", or "Sunday" in RFC 850) is not checked: the date
  // already says it. Only asctime has no comma.
  std::size_t comma = text.find(',');
  if (comma != std::string_view::npos) {
    std::string_view rest = text.substr(comma + 1);
    while (!rest.empty() && rest.front() == ' ') {
      rest.remove_prefix(1);
    }
    if (rest.size() >= 20 && rest[2] == ' ') {
      // IMF-fixdate: "06 Nov 1994 08:49:37 GMT"
      if (!number(rest.substr(0, 2), d) || (mo = monthIndex(rest.substr(3, 3))) == 0 ||
          rest[6] != ' ' || !number(rest.substr(7, 4), y) || rest[11] != ' ' ||
          !clock(rest.substr(12, 8), h, mi, s) || rest.substr(20) != " GMT") {
        return bad();
      }
    } else if (rest.size() >= 18 && rest[2] == '-') {
      // RFC 850: "06-Nov-94 08:49:37 GMT"
      if (!number(rest.substr(0, 2), d) || (mo = monthIndex(rest.substr(3, 3))) == 0 ||
          rest[6] != '-' || !number(rest.substr(7, 2), y) || rest[9] != ' ' ||
          !clock(rest.substr(10, 8), h, mi, s) || rest.substr(18) != " GMT") {
        return bad();
      }
      // A fixed pivot (00-69 → 20xx, 70-99 → 19xx), not RFC 9110's "50 years ahead" rule.
      y += y < 70 ? 2000 : 1900;
    } else {
      return bad();
    }
  } else {
    // asctime: "Sun Nov  6 08:49:37 1994"
    if (text.size() != 24 || text[3] != ' ' || (mo = monthIndex(text.substr(4, 3))) == 0 ||
        text[7] != ' ') {
      return bad();
    }
    // asctime pads a one-digit day with a space ("Nov  6").
    std::string_view day = text.substr(8, 2);
    if (day.front() == ' ') {
      day.remove_prefix(1);
    }
    if (!number(day, d) || text[10] != ' ' || !clock(text.substr(11, 8), h, mi, s) ||
        text[19] != ' ' || !number(text.substr(20, 4), y)) {
      return bad();
    }
  }
  namespace chr = std::chrono;
  chr::year_month_day ymd{chr::year{y}, chr::month{static_cast<unsigned>(mo)},
                          chr::day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 60) {
    return bad();
  }
  return WallTime(chr::sys_days(ymd)) + chr::hours(h) + chr::minutes(mi) + chr::seconds(s);
}

std::string formatHttpDate(WallTime t) {
  using namespace std::chrono;
  auto secs = floor<seconds>(t);
  auto dp = floor<days>(secs);
  year_month_day ymd{dp};
  weekday wd{dp};
  hh_mm_ss<seconds> hms{secs - dp};
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%s, %02u %s %04d %02d:%02d:%02d GMT",
                std::string(kDays[wd.c_encoding()]).c_str(), static_cast<unsigned>(ymd.day()),
                std::string(kMonths[static_cast<unsigned>(ymd.month()) - 1]).c_str(),
                static_cast<int>(ymd.year()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()));
  return buf;
}

}  // namespace pathpilot::aws
