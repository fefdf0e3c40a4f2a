// JSON channels. Provider formats and signature schemes are described in the header; the
// signature definitions follow the providers' robot documentation (DingTalk custom robot
// "加签", Feishu custom bot "签名校验").
#include "alert/http_channels.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

namespace pathpilot::alert {
namespace {

using config::AlertChannelKind;
using nlohmann::json;

std::string hmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

// Cuts at a UTF-8 boundary to at most `max` bytes, marking the cut.
std::string cutUtf8(std::string text, std::size_t max) {
  if (text.size() <= max) {
    return text;
  }
  // 16 bytes of room for the 12-byte marker; the cut then backs up over continuation bytes
  // (10xxxxxx) so that no character is split.
  std::size_t cut = max > 16 ? max - 16 : 0;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  text.resize(cut);
  return text + "\n[truncated]";
}

std::string slackEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// Invalid UTF-8 in alert text is replaced with U+FFFD instead of making nlohmann::json throw.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string chatText(const Notification& n, std::size_t max) {
  std::string text = n.title;
  if (!n.body.empty()) {
    text += "\n" + n.body;
  }
  return cutUtf8(std::move(text), max);
}

std::string kindLabel(AlertChannelKind k) { return std::string(config::alertChannelKindName(k)); }

// A chat API answer's status code: which field held it, its value and the provider's message.
struct ChatStatus {
  std::string field;
  long code = 0;
  std::string message;
};

// Parses a chat API answer and reads the first present status code field of `keys`.
std::optional<ChatStatus> chatStatus(std::string_view body,
                                     const std::vector<const char*>& keys) {
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return std::nullopt;
  }
  for (const char* key : keys) {
    auto it = j.find(key);
    if (it != j.end() && it->is_number_integer()) {
      ChatStatus s{key == std::string_view("StatusCode") ? "code" : key, it->get<long>(), {}};
      // errmsg: DingTalk and WeCom; msg: Feishu; StatusMessage: older Feishu.
      for (const char* m : {"errmsg", "msg", "StatusMessage"}) {
        if (auto mi = j.find(m); mi != j.end() && mi->is_string()) {
          s.message = mi->get<std::string>();
          break;
        }
      }
      return s;
    }
  }
  return std::nullopt;
}

}  // namespace

std::string urlEncode(std::string_view text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 0x0F];
    }
  }
  return out;
}

std::string dingtalkSign(std::string_view secret, std::int64_t timestamp_ms) {
  // The secret is both the HMAC key and the end of the signed text: DingTalk's definition.
  std::string to_sign = std::to_string(timestamp_ms) + "\n" + std::string(secret);
  return base64Encode(hmacSha256(secret, to_sign));
}

std::string feishuSign(std::string_view secret, std::int64_t timestamp_s) {
  // Unlike DingTalk, Feishu uses "timestamp\nsecret" as the HMAC key over an empty message,
  // with the timestamp in seconds.
  std::string key = std::to_string(timestamp_s) + "\n" + std::string(secret);
  return base64Encode(hmacSha256(key, ""));
}

Result<http::Request> buildHttpRequest(const HttpChannelOptions& o, const Notification& n,
                                       WallTime now) {
  std::string_view url = o.url;
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    return fail(ErrorCode::InvalidArgument,
                "channel " + o.name + ": the URL must be http:// or https://");
  }
  http::Request r;
  r.method = "POST";
  r.url = o.url;
  r.timeout = o.timeout;
  r.connect_timeout = std::min<Duration>(o.timeout, std::chrono::seconds(5));
  r.headers.push_back({"Content-Type", "application/json; charset=utf-8"});
  std::int64_t now_ms = journal::toUnixMillis(now);
  switch (o.kind) {
    case AlertChannelKind::Webhook: {
      json j = toJson(n);
      j["source"] = "pathpilot";
      j["version"] = 1;
      r.body = dump(j);
      break;
    }
    case AlertChannelKind::Slack: {
      std::string text = "*" + slackEscape(n.title) + "*";
      if (!n.body.empty()) {
        text += "\n" + slackEscape(n.body);
      }
      r.body = dump(json{{"text", cutUtf8(std::move(text), 39000)}});
      break;
    }
    case AlertChannelKind::DingTalk: {
      if (!o.secret.empty()) {
        // Normally appended after the robot URL's access_token. The base64 signature is
        // percent-encoded: '+', '/' and '=' are not literal in a query ('+' reads as a space).
        r.url += (url.find('?') == std::string_view::npos ? "?" : "&");
        r.url += "timestamp=" + std::to_string(now_ms) +
                 "&sign=" + urlEncode(dingtalkSign(o.secret, now_ms));
      }
      r.body = dump(json{{"msgtype", "text"}, {"text", {{"content", chatText(n, 18000)}}}});
      break;
    }
    case AlertChannelKind::Feishu: {
      json j = {{"msg_type", "text"}, {"content", {{"text", chatText(n, 18000)}}}};
      if (!o.secret.empty()) {
        std::int64_t ts = now_ms / 1000;
        j["timestamp"] = std::to_string(ts);
        j["sign"] = feishuSign(o.secret, ts);
      }
      r.body = dump(j);
      break;
    }
    case AlertChannelKind::WeCom:
      r.body = dump(json{{"msgtype", "text"}, {"text", {{"content", chatText(n, 2048)}}}});
      break;
    case AlertChannelKind::Alertmanager: {
      // A base URL configured with a trailing '/' would otherwise give "//api/v2/alerts".
      std::string base = o.url;
      while (!base.empty() && base.back() == '/') {
        base.pop_back();
      }
      r.url = base + "/api/v2/alerts";
      json labels = {{"alertname", "PathpilotIncident"}, {"incident", n.fingerprint}};
      if (!n.site.empty()) {
        labels["site"] = n.site;
      }
      if (!n.path.empty()) {
        labels["path"] = n.path;
      }
      if (!n.link.empty()) {
        labels["link"] = n.link;
      }
      if (n.test) {
        labels["test"] = "true";
      }
      json annotations = {{"summary", n.title},
                          {"description", n.body},
                          {"severity", journal::severityName(n.severity)},
                          {"kind", n.kind}};
      WallTime ends = n.status == AlertStatus::Resolved && n.ends_at
                          ? *n.ends_at
                          : now + (n.one_shot || n.test ? std::chrono::hours(1)
                                                        : std::chrono::hours(24));
      // Alertmanager rejects an alert whose endsAt precedes its startsAt; a RESOLVED one
      // with such an end (a clock stepped back) is sent as ending when it started.
      if (n.status == AlertStatus::Resolved && ends < n.starts_at) {
        ends = n.starts_at;
      }
      json alert = {{"labels", labels},
                    {"annotations", annotations},
                    {"startsAt", formatRfc3339(n.starts_at)},
                    {"endsAt", formatRfc3339(ends)}};
      r.body = dump(json::array({alert}));
      break;
    }
    case AlertChannelKind::Smtp:
    case AlertChannelKind::Sns:
      return fail(ErrorCode::Internal, "channel " + o.name + ": not an HTTP channel");
  }
  if (!o.token.empty() &&
      (o.kind == AlertChannelKind::Webhook || o.kind == AlertChannelKind::Alertmanager)) {
    r.headers.push_back({"Authorization", "Bearer " + o.token});
  }
  return r;
}

DeliveryResult readHttpResponse(const HttpChannelOptions& o, const http::Response& response,
                                WallTime now) {
  std::string what = kindLabel(o.kind) + " channel " + o.name;
  if (auto failure = httpStatusFailure(what, response, now)) {
    return tl::unexpected<DeliveryFailure>(std::move(*failure));
  }
  std::string receipt = "HTTP " + std::to_string(response.status);
  // The chat robots answer HTTP 200 for everything and put the outcome in their JSON.
  std::vector<const char*> fields;
  ChatCodes codes;
  switch (o.kind) {
    case AlertChannelKind::DingTalk:
      // 130101: sending too fast; 310000: signature, keyword or IP refused.
      fields = {"errcode"};
      codes = {{130101}, {310000}, {}};
      break;
    case AlertChannelKind::Feishu:
      // 9499/11232: rate limited; 19021/19022/19024: signature, timestamp or IP refused.
      // Older deployments answer "StatusCode" instead of "code".
      fields = {"code", "StatusCode"};
      codes = {{9499, 11232}, {19021, 19022, 19024}, {}};
      break;
    case AlertChannelKind::WeCom:
      // 45009: rate limited; 93000: the robot's key is invalid (removed robot).
      fields = {"errcode"};
      codes = {{45009}, {}, {93000}};
      break;
    default:
      return receipt;
  }
  // A 2xx without the provider's JSON answer did not come from its API (a proxy page, for
  // instance), so it is classified Unavailable and retried.
  auto s = chatStatus(response.body, fields);
  if (!s) {
    return deliveryFailed(Error(ErrorCode::Unavailable,
                                what + ": HTTP " + std::to_string(response.status) +
                                    " with an unexpected body (not the provider's JSON answer)"));
  }
  if (auto failure = chatCodeFailure(what, s->field, s->code, s->message, codes)) {
    return tl::unexpected<DeliveryFailure>(std::move(*failure));
  }
  return receipt;
}

HttpChannel::HttpChannel(HttpChannelOptions options, std::unique_ptr<http::HttpClient> http,
                         const Clock& clock)
    : options_(std::move(options)), http_(std::move(http)), clock_(clock) {
  redactor_.addUrl(options_.url);
  redactor_.add(options_.secret);
  redactor_.add(options_.token);
}

DeliveryResult HttpChannel::deliver(const Notification& n) {
  WallTime now = clock_.wallNow();
  auto request = buildHttpRequest(options_, n, now);
  if (!request) {
    return deliveryFailed(request.error());
  }
  auto response = http_->send(*request);
  if (!response) {
    const Error& e = response.error();
    return deliveryFailed(Error(e.code(),
                                redactor_.apply(kindLabel(options_.kind) + " channel " +
                                                options_.name + " (" + describeUrl(options_.url) +
                                                "): " + e.message()),
                                e.sysErrno()));
  }
  // Failure texts quote the response body, which can echo the URL or its token back.
  auto result = readHttpResponse(options_, *response, now);
  if (!result) {
    DeliveryFailure f = result.error();
    f.error = Error(f.error.code(), redactor_.apply(f.error.message()));
    return tl::unexpected<DeliveryFailure>(std::move(f));
  }
  return result;
}

}  // namespace pathpilot::alert
