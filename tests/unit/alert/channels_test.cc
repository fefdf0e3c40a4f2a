// Request formats, signatures and response handling of every channel, without a network.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "alert/http_channels.h"
#include "alert/smtp_channel.h"
#include "fakes/fake_clock.h"
#include "fakes/fake_http_client.h"

namespace pathpilot::alert {
namespace {

using config::AlertChannelKind;
using nlohmann::json;

Notification sample() {
  Notification n;
  n.channel = "chat";
  n.fingerprint = "Beijing/path/dx";
  n.severity = journal::Severity::Critical;
  n.site = "Beijing";
  n.kind = "path_down";
  n.path = "dx";
  n.link = "dx";
  n.title = "[FIRING] Beijing: dx down: 2 route tables moved dx → vpn-a";
  n.body = "reason: loss 100% <over> 10 probes & more";
  n.route_tables = {"rtb-1", "rtb-2"};
  n.starts_at = WallTime(std::chrono::seconds(1764075172));
  n.created_at = n.starts_at;
  return n;
}

const WallTime kNow = WallTime(std::chrono::milliseconds(1764075172123LL));

TEST(SignatureTest, DingTalkMatchesPublishedScheme) {
  // HMAC-SHA256(key=secret, "<ms>\n<secret>"), base64 — checked against openssl:
  //   printf '1764075172123\nSECabc' | openssl dgst -sha256 -hmac SECabc -binary | base64
  EXPECT_EQ(dingtalkSign("SECabc", 1764075172123LL),
            "eQAvdBH4Jzq4ntJZbBDU0764tdVsb/Q7ynSGn8QCsUU=");
}

TEST(SignatureTest, FeishuMatchesPublishedScheme) {
  // HMAC-SHA256(key="<s>\n<secret>", ""), base64 — checked against openssl:
  //   printf '' | openssl dgst -sha256 -hmac "$(printf '1764075172\nabc')" -binary | base64
  EXPECT_EQ(feishuSign("abc", 1764075172LL), "CborafrPYFhr1e4iHpZ+h3IiWuKRpxBkrZV46cz27ko=");
}

TEST(SignatureTest, Base64RoundTripAndUrlEncode) {
  for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    auto back = base64Decode(base64Encode(s));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, s);
  }
  EXPECT_FALSE(base64Decode("abc"));
  EXPECT_EQ(urlEncode("a+b/c=d e"), "a%2Bb%2Fc%3Dd%20e");
}

TEST(HttpRequestTest, DingTalkSignedUrlAndTextBody) {
  HttpChannelOptions o{"ding", AlertChannelKind::DingTalk,
                       "https://oapi.dingtalk.com/robot/send?access_token=TOKEN123", "SECabc", "",
                       std::chrono::seconds(5), ""};
  auto r = buildHttpRequest(o, sample(), kNow);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->url, "https://oapi.dingtalk.com/robot/send?access_token=TOKEN123&timestamp="
                    "1764075172123&sign=" +
                        urlEncode(dingtalkSign("SECabc", 1764075172123LL)));
  auto body = json::parse(r->body);
  EXPECT_EQ(body["msgtype"], "text");
  std::string content = body["text"]["content"];
  EXPECT_EQ(content.rfind(sample().title, 0), 0u);
}

TEST(HttpRequestTest, FeishuSignatureInBody) {
  HttpChannelOptions o{"fs", AlertChannelKind::Feishu,
                       "https://open.feishu.cn/open-apis/bot/v2/hook/abcd", "abc", "",
                       std::chrono::seconds(5), ""};
  auto r = buildHttpRequest(o, sample(), kNow);
  ASSERT_TRUE(r);
  auto body = json::parse(r->body);
  EXPECT_EQ(body["timestamp"], "1764075172");
  EXPECT_EQ(body["sign"], feishuSign("abc", 1764075172));
  EXPECT_EQ(body["msg_type"], "text");
}

TEST(HttpRequestTest, SlackEscapesAndWeComCuts) {
  HttpChannelOptions slack{"s", AlertChannelKind::Slack, "https://hooks.slack.com/services/T/B/X",
                           "", "", std::chrono::seconds(5), ""};
  auto r = buildHttpRequest(slack, sample(), kNow);
  ASSERT_TRUE(r);
  std::string text = json::parse(r->body)["text"];
  EXPECT_NE(text.find("&lt;over&gt; 10 probes &amp; more"), std::string::npos);
  EXPECT_EQ(text.rfind("*[FIRING]", 0), 0u);

  HttpChannelOptions wecom{"w", AlertChannelKind::WeCom,
                           "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K", "", "",
                           std::chrono::seconds(5), ""};
  Notification big = sample();
  big.body = std::string(5000, 'y');
  r = buildHttpRequest(wecom, big, kNow);
  ASSERT_TRUE(r);
  std::string content = json::parse(r->body)["text"]["content"];
  EXPECT_LE(content.size(), 2048u);
  EXPECT_NE(content.find("[truncated]"), std::string::npos);
}

TEST(HttpRequestTest, AlertmanagerLabelsStableAcrossResolve) {
  HttpChannelOptions o{"am", AlertChannelKind::Alertmanager, "http://127.0.0.1:9093/", "", "tok3n",
                       std::chrono::seconds(5), ""};
  Notification firing = sample();
  auto r = buildHttpRequest(o, firing, kNow);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->url, "http://127.0.0.1:9093/api/v2/alerts");
  EXPECT_EQ(http::findHeader(r->headers, "Authorization").value_or(""), "Bearer tok3n");
  auto fj = json::parse(r->body);
  ASSERT_TRUE(fj.is_array());
  EXPECT_EQ(fj[0]["labels"]["incident"], "Beijing/path/dx");
  EXPECT_EQ(fj[0]["annotations"]["severity"], "critical");
  EXPECT_EQ(fj[0]["endsAt"], formatRfc3339(kNow + std::chrono::hours(24)));
  Notification resolved = firing;
  resolved.status = AlertStatus::Resolved;
  resolved.ends_at = firing.starts_at + std::chrono::minutes(3);
  auto rr = buildHttpRequest(o, resolved, kNow);
  ASSERT_TRUE(rr);
  auto rj = json::parse(rr->body);
  EXPECT_EQ(rj[0]["labels"], fj[0]["labels"]);
  EXPECT_EQ(rj[0]["endsAt"], formatRfc3339(*resolved.ends_at));
}

TEST(HttpResponseTest, StatusClassification) {
  HttpChannelOptions o{"hook", AlertChannelKind::Webhook, "http://x/", "", "",
                       std::chrono::seconds(5), ""};
  auto resp = [](int status, std::string body, http::Headers h = {}) {
    return pathpilot::testing::FakeHttpClient::response(status, std::move(body), std::move(h));
  };
  EXPECT_TRUE(readHttpResponse(o, resp(204, ""), kNow));
  auto r429 = readHttpResponse(o, resp(429, "slow down", {{"Retry-After", "17"}}), kNow);
  ASSERT_FALSE(r429);
  EXPECT_EQ(r429.error().error.code(), ErrorCode::Throttled);
  EXPECT_EQ(r429.error().retry_after, std::chrono::seconds(17));
  auto r500 = readHttpResponse(o, resp(500, "boom"), kNow);
  ASSERT_FALSE(r500);
  EXPECT_TRUE(r500.error().error.retryable());
  auto r400 = readHttpResponse(o, resp(400, "bad"), kNow);
  ASSERT_FALSE(r400);
  EXPECT_FALSE(r400.error().error.retryable());
  auto r403 = readHttpResponse(o, resp(403, ""), kNow);
  ASSERT_FALSE(r403);
  EXPECT_EQ(r403.error().error.code(), ErrorCode::PermissionDenied);
}

TEST(HttpResponseTest, ChatApiErrorsInsideHttp200) {
  HttpChannelOptions ding{"d", AlertChannelKind::DingTalk, "http://x/", "", "",
                          std::chrono::seconds(5), ""};
  auto ok = pathpilot::testing::FakeHttpClient::response(200, R"({"errcode":0,"errmsg":"ok"})");
  EXPECT_TRUE(readHttpResponse(ding, ok, kNow));
  auto fast = pathpilot::testing::FakeHttpClient::response(
      200, R"({"errcode":130101,"errmsg":"send too fast"})");
  auto r = readHttpResponse(ding, fast, kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().error.code(), ErrorCode::Throttled);
  auto sign = pathpilot::testing::FakeHttpClient::response(
      200, R"({"errcode":310000,"errmsg":"sign not match"})");
  r = readHttpResponse(ding, sign, kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().error.code(), ErrorCode::PermissionDenied);
  auto garbage = pathpilot::testing::FakeHttpClient::response(200, "<html>proxy</html>");
  r = readHttpResponse(ding, garbage, kNow);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().error.retryable());

  HttpChannelOptions fs{"f", AlertChannelKind::Feishu, "http://x/", "", "",
                        std::chrono::seconds(5), ""};
  EXPECT_TRUE(readHttpResponse(
      fs, pathpilot::testing::FakeHttpClient::response(200, R"({"StatusCode":0})"), kNow));
  r = readHttpResponse(
      fs, pathpilot::testing::FakeHttpClient::response(200, R"({"code":19021,"msg":"sign"})"),
      kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().error.code(), ErrorCode::PermissionDenied);
}

TEST(HttpChannelTest, TransportErrorsAreRedacted) {
  pathpilot::testing::FakeClock clock;
  auto fake = std::make_unique<pathpilot::testing::FakeHttpClient>();
  fake->onCall("POST", "", [](const http::Request& r) -> Result<http::Response> {
    return fail(ErrorCode::Timeout, "POST " + r.url + " timed out");
  });
  HttpChannel ch({"slack", AlertChannelKind::Slack,
                  "https://hooks.slack.com/services/T000/B000/SECRETPART", "", "",
                  std::chrono::seconds(1), ""},
                 std::move(fake), clock);
  auto r = ch.deliver(sample());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().error.code(), ErrorCode::Timeout);
  EXPECT_EQ(r.error().error.message().find("SECRETPART"), std::string::npos)
      << r.error().error.message();
  EXPECT_NE(r.error().error.message().find("hooks.slack.com"), std::string::npos);
}

TEST(RetryAfterTest, SecondsAndHttpDate) {
  WallTime now = WallTime(std::chrono::seconds(1764075172));
  EXPECT_EQ(parseRetryAfter("120", now), std::chrono::seconds(120));
  EXPECT_EQ(parseRetryAfter("99999999", now), std::chrono::hours(1));
  // Tue, 25 Nov 2025 12:53:52 GMT is 1764075232 = now + 60 s.
  EXPECT_EQ(parseRetryAfter("Tue, 25 Nov 2025 12:53:52 GMT", now), std::chrono::seconds(60));
  EXPECT_FALSE(parseRetryAfter("soon", now));
  EXPECT_FALSE(parseRetryAfter("", now));
}

TEST(RedactorTest, ReplacesUrlPartsAndEncodedSecrets) {
  Redactor r;
  r.addUrl("https://oapi.dingtalk.com/robot/send?access_token=abc123xyz");
  r.add("p@ss/word");
  std::string out = r.apply("x access_token=abc123xyz y p%40ss%2Fword z p@ss/word");
  EXPECT_EQ(out.find("abc123xyz"), std::string::npos);
  EXPECT_EQ(out.find("ss/word"), std::string::npos);
  EXPECT_EQ(out.find("%2Fword"), std::string::npos);
  EXPECT_EQ(describeUrl("https://user:pw@host:8443/a/b?c"), "https://host:8443/…");
}

TEST(SmtpMimeTest, MultipartWithEncodedSubjectAndThreading) {
  SmtpOptions o{"mail", "smtp://127.0.0.1:2525", false, "", "", "pathpilot@example.com",
                {"noc@example.com", "oncall@example.com"}, true, std::chrono::seconds(5), ""};
  Notification n = sample();
  std::string m = buildMimeMessage(o, n, kNow);
  EXPECT_NE(m.find("Subject: =?UTF-8?B?"), std::string::npos);  // "→" is not ASCII
  EXPECT_NE(m.find("To: noc@example.com, oncall@example.com\r\n"), std::string::npos);
  EXPECT_NE(m.find("Content-Type: multipart/alternative; boundary="), std::string::npos);
  EXPECT_NE(m.find("Content-Type: text/html; charset=utf-8"), std::string::npos);
  EXPECT_NE(m.find("Date: Tue, 25 Nov 2025 12:52:52 +0000\r\n"), std::string::npos);
  Notification resolved = n;
  resolved.status = AlertStatus::Resolved;
  std::string m2 = buildMimeMessage(o, resolved, kNow + std::chrono::minutes(3));
  auto refs = [](const std::string& s) {
    auto p = s.find("References: ");
    return s.substr(p, s.find("\r\n", p) - p);
  };
  EXPECT_EQ(refs(m), refs(m2));  // FIRING and RESOLVED thread together
  // Plain ASCII subjects stay readable; header injection is neutralised.
  n.title = "ok\r\nBcc: evil@example.com";
  std::string m3 = buildMimeMessage(o, n, kNow);
  EXPECT_EQ(m3.find("\r\nBcc:"), std::string::npos);
}

TEST(SmtpMimeTest, EncodedWordsSplitAtCharacterBoundaries) {
  std::string subject;
  for (int i = 0; i < 40; ++i) {
    subject += "北京";
  }
  std::string enc = encodeHeaderWord(subject);
  std::size_t pos = 0;
  std::string decoded;
  while ((pos = enc.find("=?UTF-8?B?", pos)) != std::string::npos) {
    std::size_t end = enc.find("?=", pos + 10);
    ASSERT_LE(end - pos + 2, 75u);
    auto part = base64Decode(enc.substr(pos + 10, end - pos - 10));
    ASSERT_TRUE(part);
    EXPECT_EQ(part->size() % 3, 0u);
    decoded += *part;
    pos = end;
  }
  EXPECT_EQ(decoded, subject);
}

}  // namespace
}  // namespace pathpilot::alert
