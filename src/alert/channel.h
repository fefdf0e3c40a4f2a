// alert/channel.h — the side-effect interface of the alert module: deliver one notification.
//
// Purpose: every destination (SMTP, SNS, webhooks, chat robots, Alertmanager) is a Channel.
// deliver() blocks for one attempt, bounded by the channel's timeout, and says whether it
// worked; retrying, pacing and ordering are the outbox worker's job (alert/alert_manager.h).
// Real channels: alert/http_channels.h, alert/smtp_channel.h, alert/sns_channel.h. Tests use
// FakeChannel (tests/unit/alert) or real receivers on loopback.
//
// Failure classification (what the worker does with it):
//   Timeout, Unavailable, Throttled  → retried with backoff (Throttled honours retry_after)
//   anything else (InvalidArgument: the receiver rejected the message; PermissionDenied: a
//   bad token or signature; NotFound: no such webhook/topic) → given up at once, alert_failed.
// Secrets: a Channel's errors never contain its URL's path/query, tokens, passwords or signing
// secrets; Redactor is the tool for that.
// Threading: deliver() is called by one worker thread at a time per channel.
// Metrics: none here (the manager counts per channel).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "alert/alert.h"
#include "base/error.h"
#include "base/redact.h"
#include "base/time.h"
#include "config/config.h"
#include "http/http_client.h"

namespace pathpilot::alert {

struct DeliveryFailure {
  Error error;
  std::optional<Duration> retry_after;  // the receiver asked us to wait this long
};

// Success: a short receipt for the alert_sent event ("HTTP 200", "SNS message id ...").
using DeliveryResult = tl::expected<std::string, DeliveryFailure>;

inline tl::unexpected<DeliveryFailure> deliveryFailed(Error error,
                                                      std::optional<Duration> retry_after = {}) {
  return tl::unexpected<DeliveryFailure>(DeliveryFailure{std::move(error), retry_after});
}

class Channel {
 public:
  virtual ~Channel() = default;

  virtual const std::string& name() const = 0;
  virtual config::AlertChannelKind kind() const = 0;
  // One delivery attempt. Requires: n.channel == name() (not checked; tests may differ).
  [[nodiscard]] virtual DeliveryResult deliver(const Notification& n) = 0;
};

// Channels register their URL (whole, its path+query, its parameters), tokens, passwords and
// secrets in a Redactor (base/redact.h) and pass every error text through it.
using Redactor = ::pathpilot::Redactor;

// "https://oapi.dingtalk.com/…": scheme and authority only, for messages about a URL whose
// path or query may hold a token.
std::string describeUrl(std::string_view url);

// Parses a Retry-After value: delta-seconds or an HTTP-date (RFC 9110 §10.2.3), relative to
// `now`. Capped at one hour (a broken server must not park a channel for days).
std::optional<Duration> parseRetryAfter(std::string_view value, WallTime now);

// The one classification of HTTP answers for every HTTP channel (webhooks, chat robots,
// Alertmanager). Nullopt for a 2xx; otherwise the failure: 429 Throttled, 408/504 Timeout,
// other 5xx Unavailable, 401/403 PermissionDenied, 404/410 NotFound, other 4xx
// InvalidArgument, 1xx/3xx Unavailable (a proxy or a wrong URL). A Retry-After header on a
// 429 or 503 (the statuses RFC 9110 §10.2.3 gives it meaning for) becomes retry_after,
// relative to `now`. `what` names the channel; the body, cut to 200 bytes and made one
// line, is appended (the caller redacts secrets).
std::optional<DeliveryFailure> httpStatusFailure(std::string_view what,
                                                 const http::Response& response, WallTime now);

// The answer code of a chat robot API (DingTalk errcode, Feishu code, WeCom errcode) when the
// HTTP status was 2xx: 0 is success; the provider's rate-limit codes are Throttled with a
// 60 s pause (their limits are per minute), the listed denied codes PermissionDenied (bad
// signature, keyword or IP), not-found codes NotFound, anything else InvalidArgument.
struct ChatCodes {
  std::vector<long> throttled;
  std::vector<long> denied;
  std::vector<long> not_found;
};
std::optional<DeliveryFailure> chatCodeFailure(std::string_view what, std::string_view field,
                                               long code, std::string_view message,
                                               const ChatCodes& codes);

}  // namespace pathpilot::alert
