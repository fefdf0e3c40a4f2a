// alert/http_channels.h — channels that POST JSON: generic webhook, Slack, DingTalk, Feishu,
// WeCom and Prometheus Alertmanager.
//
// Purpose: one HttpChannel class, parameterised by kind, over http::HttpClient (libcurl in
// production, FakeHttpClient in unit tests). The request building and response reading are
// pure functions (buildHttpRequest, readHttpResponse) so that every format and signature is
// tested without a network; the integration tests (tests/integration/alert_*) send them to
// a real receiver and a real Alertmanager.
//
// Formats (the title is the first line everywhere):
//   webhook       POST url, the Notification as JSON (alert/alert.h toJson) + "source"
//   slack         POST url, {"text": "*title*\nbody"} (Slack escapes &, <, >)
//   dingtalk      POST url[&timestamp=T&sign=S], {"msgtype":"text","text":{"content":…}};
//                 signed when a secret is set: T = Unix milliseconds,
//                 S = urlencode(base64(HMAC-SHA256(key = secret, T + "\n" + secret)));
//                 the answer is {"errcode":0,...}: 130101 = too fast (retried), 310000 =
//                 signature/keyword/IP refused
//   feishu        POST url, {"timestamp":"T","sign":"S","msg_type":"text","content":{"text":…}};
//                 T = Unix seconds, S = base64(HMAC-SHA256(key = T + "\n" + secret, "")); the
//                 answer is {"code":0,...} (older: "StatusCode"); 9499/11232 = rate limited
//   wecom         POST url, {"msgtype":"text","text":{"content":…}} (≤ 2048 bytes); the answer
//                 is {"errcode":0,...}; 45009 = rate limited
//   alertmanager  POST <url>/api/v2/alerts, [{labels, annotations, startsAt, endsAt}]. Labels
//                 identify the incident and are the same for FIRING and RESOLVED
//                 (alertname=PathpilotIncident, incident=<fingerprint>, site, path, link);
//                 severity, kind, summary and description are annotations. A FIRING alert is
//                 sent with endsAt = now + 24h (one-shot alerts: + 1h) so that Alertmanager
//                 keeps it active without re-sends; RESOLVED carries its real end.
// Chat texts are cut at a UTF-8 boundary to the provider's limit.
// Threading: deliver() from one thread at a time (the channel's worker).
// Metrics: none (the manager counts).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "alert/channel.h"
#include "base/base64.h"
#include "base/time.h"
#include "http/http_client.h"

namespace pathpilot::alert {

struct HttpChannelOptions {
  std::string name;
  config::AlertChannelKind kind = config::AlertChannelKind::Webhook;
  std::string url;     // resolved (may hold a token: never logged)
  std::string secret;  // dingtalk / feishu signing secret; empty = unsigned
  std::string token;   // webhook / alertmanager bearer token; empty = none
  Duration timeout = std::chrono::seconds(10);
  std::string ca_file;  // PEM bundle for https:// (makeChannel passes it to the CurlHttpClient)
};

// DingTalk's signature for `timestamp_ms`: base64 HMAC-SHA256, NOT yet URL-encoded.
std::string dingtalkSign(std::string_view secret, std::int64_t timestamp_ms);
// Feishu's signature for `timestamp_s`.
std::string feishuSign(std::string_view secret, std::int64_t timestamp_s);

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string urlEncode(std::string_view text);

// The request for `n` at wall time `now` (signatures and Alertmanager times use it).
// Errors: InvalidArgument for a URL that is not http(s).
[[nodiscard]] Result<http::Request> buildHttpRequest(const HttpChannelOptions& options,
                                                     const Notification& n, WallTime now);

// Success or the classified failure for a response (see the formats above).
DeliveryResult readHttpResponse(const HttpChannelOptions& options, const http::Response& response,
                                WallTime now);

class HttpChannel final : public Channel {
 public:
  // `http` is owned (one client per channel keeps its connection alive); `clock` must
  // outlive the channel.
  HttpChannel(HttpChannelOptions options, std::unique_ptr<http::HttpClient> http,
              const Clock& clock);

  // alert::Channel
  const std::string& name() const override { return options_.name; }
  config::AlertChannelKind kind() const override { return options_.kind; }
  DeliveryResult deliver(const Notification& n) override;

 private:
  HttpChannelOptions options_;
  std::unique_ptr<http::HttpClient> http_;
  const Clock& clock_;
  Redactor redactor_;
};

}  // namespace pathpilot::alert
