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
#include "base/time.h"
#include "config/config.h"

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

// Replaces every registered secret (and its percent-encoded form) in a text by "<redacted>".
// Channels register their URL (whole, and its path+query), tokens, passwords and secrets.
class Redactor {
 public:
  // Ignores values shorter than 4 bytes (redacting "a" everywhere would garble messages).
  void add(std::string_view secret);
  // Registers a URL: the whole URL, its path+query, its path and its query string.
  void addUrl(std::string_view url);
  std::string apply(std::string text) const;

 private:
  std::vector<std::string> secrets_;
};

// "https://oapi.dingtalk.com/…": scheme and authority only, for messages about a URL whose
// path or query may hold a token.
std::string describeUrl(std::string_view url);

// Parses a Retry-After value: delta-seconds or an HTTP-date (RFC 9110 §10.2.3), relative to
// `now`. Capped at one hour (a broken server must not park a channel for days).
std::optional<Duration> parseRetryAfter(std::string_view value, WallTime now);

// The Error for an HTTP status that is not a success: 429 Throttled, 408/504 Timeout, other
// 5xx Unavailable, 401/403 PermissionDenied, 404/410 NotFound, other 4xx InvalidArgument.
// `what` names the channel; `detail` (the response body, cut and made one line) is appended.
Error httpStatusError(std::string_view what, int status, std::string_view detail);

}  // namespace pathpilot::alert
