// Alerts through Amazon SNS, end to end against the fake AWS endpoint (aws/fake_endpoint.h),
// in process on 127.0.0.1 port 0: pathpilot's real SnsChannel, QueryClient, SigV4 signer and
// libcurl client talk HTTP to a server that verifies every signature the way AWS does.
//   - an alert routed to an SNS channel (built from its config entry, as the daemon does)
//     arrives as a signed Publish with the topic ARN, a Subject SNS accepts (< 100 bytes, one
//     line, cut at a UTF-8 boundary) and the whole message;
//   - an arn:aws-cn: topic in cn-north-1 is sent to sns.cn-north-1.amazonaws.com.cn and signed
//     for that host and the cn-north-1/sns scope (the request is redirected to the fake with
//     its Host header kept, so the fake verifies the signature for the China host);
//   - throttling from the fake is retried: once inside the attempt (QueryClient), longer by
//     the outbox, and the alert is published exactly once;
//   - a phone channel sends one Transactional SMS (Publish with PhoneNumber, no subject, cut
//     to 1,600 bytes), and is refused in a China region before anything is sent;
//   - a refused signature gives up with alert_failed, and neither the secret key nor the
//     session token appears in its reason, message or the channel's last error.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>

#include "alert/alert_manager.h"
#include "alert/sns_channel.h"
#include "aws/credential_providers.h"
#include "aws/fake_endpoint.h"
#include "http/curl_http_client.h"
#include "http/url.h"

namespace pathpilot::alert {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kKeyId = "AKIDEXAMPLE";
constexpr const char* kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr const char* kTopic = "arn:aws:sns:us-east-1:111122223333:DCI-Status";
constexpr const char* kChinaTopic = "arn:aws-cn:sns:cn-north-1:111122223333:DCI-Status";

fs::path tempDir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("pp_alert_sns_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// Sends every request to the fake, whatever host the URL names, and records what was asked.
// The Host header the QueryClient signed is kept, so the fake checks the signature for the
// real AWS host name (the China endpoint here).
class RedirectHttpClient final : public http::HttpClient {
 public:
  explicit RedirectHttpClient(std::string target) : target_(std::move(target)) {}

  Result<http::Response> send(const http::Request& request) override {
    {
      std::lock_guard lock(mu_);
      seen_.push_back(request);
    }
    http::Request r = request;
    std::size_t scheme = r.url.find("://");
    std::size_t path = r.url.find('/', scheme + 3);
    r.url = target_ + (path == std::string::npos ? "/" : r.url.substr(path));
    return inner_.send(r);
  }
  std::vector<http::Request> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  std::string target_;
  http::CurlHttpClient inner_;
  mutable std::mutex mu_;
  std::vector<http::Request> seen_;
};

// The credential scope of a SigV4 Authorization header: "20261125/cn-north-1/sns/aws4_request".
std::string credentialScope(std::string_view authorization) {
  std::size_t c = authorization.find("Credential=");
  if (c == std::string_view::npos) {
    return "";
  }
  std::string_view rest = authorization.substr(c + 11);
  rest = rest.substr(0, rest.find(','));
  return std::string(rest.substr(rest.find('/') + 1));
}

struct Emitted {
  std::mutex mu;
  std::vector<journal::Event> events;

  AlertManager::EventSink sink() {
    return [this](journal::Event e) {
      std::lock_guard lock(mu);
      events.push_back(std::move(e));
    };
  }
  std::vector<journal::Event> of(journal::EventKind kind) {
    std::lock_guard lock(mu);
    std::vector<journal::Event> out;
    for (const auto& e : events) {
      if (e.kind == kind) {
        out.push_back(e);
      }
    }
    return out;
  }
};

config::AlertChannelConfig snsConfig(const std::string& name, const std::string& topic,
                                     const std::string& endpoint_url) {
  config::AlertChannelConfig c;
  c.name = name;
  c.kind = config::AlertChannelKind::Sns;
  c.topic_arn = topic;
  c.endpoint_url = endpoint_url;
  c.timeout = seconds(5);
  c.rate.per_minute = 6000;
  c.rate.burst = 100;
  return c;
}

config::AlertSettings settingsFor(const fs::path& dir, const config::AlertChannelConfig& c) {
  config::AlertSettings s;
  s.outbox = (dir / "alerts.db").string();
  s.group_window = Duration::zero();
  s.retry_initial = milliseconds(100);
  s.retry_max = milliseconds(300);
  s.channels.push_back(c);  // no routes: the implicit one, severity >= warning to every channel
  return s;
}

// A DX failure at a site whose name makes the title long and multi-byte.
journal::Event dxDown(const Clock& clock, const std::string& site) {
  auto e = journal::makeEvent(journal::EventKind::PathDown, clock.wallNow(), site);
  e.path = "dx";
  e.link = journal::Link::Dx;
  e.reason = "loss 100% over 10 probes";
  e.message = "dx down";
  return e;
}

// Pumps the manager (no threads of its own) until the outbox is empty or `limit` passes;
// retries are scheduled on the real clock, so this waits for them.
bool pumpUntilEmpty(AlertManager& m, std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  for (;;) {
    m.pump();
    if (m.outboxDepth() == 0) {
      return true;
    }
    if (std::chrono::steady_clock::now() > end) {
      return false;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
}

class AlertSnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    aws::FakeAwsOptions fo;
    fo.keys = {{kKeyId, kSecret}};
    fake_ = std::make_unique<aws::FakeAwsEndpoint>(fo);
    ASSERT_TRUE(fake_->start());
    // The daemon's SNS channels take credentials from the default chain; the environment
    // comes first in it. This process is the test's own, so setting it here is hermetic.
    ::setenv("AWS_ACCESS_KEY_ID", kKeyId, 1);
    ::setenv("AWS_SECRET_ACCESS_KEY", kSecret, 1);
    ::unsetenv("AWS_SESSION_TOKEN");
    ::setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    ::setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/pp-credentials", 1);
    ::setenv("AWS_CONFIG_FILE", "/nonexistent/pp-config", 1);
  }
  void TearDown() override { fake_.reset(); }

  // An AlertManager for `site` on a fresh outbox in `dir`, delivering through `channel` (built
  // from `cfg`) alone; its events land in `emitted`. Null (test failed) when the outbox does
  // not open.
  std::unique_ptr<AlertManager> managerFor(const fs::path& dir,
                                           const config::AlertChannelConfig& cfg,
                                           std::unique_ptr<Channel> channel,
                                           const std::string& site, Emitted& emitted,
                                           AlertManager::Random01 random01 = nullptr) {
    std::vector<std::unique_ptr<Channel>> channels;
    channels.push_back(std::move(channel));
    auto settings = settingsFor(dir, cfg);
    auto box = Outbox::open(settings.outbox);
    if (!box) {
      ADD_FAILURE() << "outbox " << settings.outbox << ": " << box.error().toString();
      return nullptr;
    }
    return std::make_unique<AlertManager>(settings, site, std::move(channels), std::move(*box),
                                          clock_, emitted.sink(), std::move(random01));
  }

  std::unique_ptr<aws::FakeAwsEndpoint> fake_;
  RealClock clock_;
};

TEST_F(AlertSnsTest, AlertArrivesAsSignedPublishWithTopicSubjectAndMessage) {
  fs::path dir = tempDir("publish");
  auto cfg = snsConfig("sns-noc", kTopic, fake_->url());
  auto channel = makeChannel(cfg, clock_, http::curlClients(), processEnv());
  ASSERT_TRUE(channel) << channel.error().toString();
  Emitted emitted;
  // 40 × "北京" = 240 bytes: the title alone is far over SNS's subject limit.
  std::string site;
  for (int i = 0; i < 40; ++i) {
    site += "北京";
  }
  auto manager = managerFor(dir, cfg, std::move(*channel), site, emitted);
  ASSERT_TRUE(manager);
  manager->submit(dxDown(clock_, site));
  ASSERT_TRUE(pumpUntilEmpty(*manager, seconds(10)));

  auto published = fake_->publishes();
  ASSERT_EQ(published.size(), 1u);
  const auto& p = published[0];
  EXPECT_EQ(p.topic_arn, kTopic);
  EXPECT_EQ(p.access_key_id, kKeyId);  // the fake verified its signature
  EXPECT_LT(p.subject.size(), 100u);
  EXPECT_GT(p.subject.size(), 90u);
  EXPECT_EQ(p.subject.find_first_of("\r\n"), std::string::npos);
  // Cut at a character boundary: the subject is still whole "北京" pairs after the prefix.
  EXPECT_NE(p.subject.find("北京"), std::string::npos);
  for (std::size_t i = p.subject.size(); i > 0; --i) {
    auto u = static_cast<unsigned char>(p.subject[i - 1]);
    if ((u & 0xC0) != 0x80) {  // the last character's lead byte: its sequence is complete
      std::size_t len = u < 0x80 ? 1 : (u >= 0xF0 ? 4 : (u >= 0xE0 ? 3 : 2));
      EXPECT_EQ(i - 1 + len, p.subject.size()) << "subject cut inside a UTF-8 sequence";
      break;
    }
  }
  // The message is title + body, untruncated.
  EXPECT_EQ(p.message.rfind("[FIRING]", 0), 0u) << p.message;
  EXPECT_NE(p.message.find(site), std::string::npos);
  EXPECT_NE(p.message.find("loss 100% over 10 probes"), std::string::npos) << p.message;

  auto sent = emitted.of(journal::EventKind::AlertSent);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].to, "sns-noc");
  EXPECT_NE(sent[0].reason.find("SNS message id"), std::string::npos) << sent[0].reason;
  EXPECT_TRUE(emitted.of(journal::EventKind::AlertFailed).empty());
  EXPECT_EQ(fake_->stats().rejected_signatures, 0u);
}

// The classic script's second notification: an SMS to the on-call number. The fake checks
// what SNS checks (E.164, at most 1,600 bytes, a valid SMS type, not both a topic and a number).
TEST_F(AlertSnsTest, AlertArrivesAsTransactionalSmsToThePhoneNumber) {
  fs::path dir = tempDir("sms");
  config::AlertChannelConfig cfg = snsConfig("oncall-sms", "", fake_->url());
  cfg.phone_number = "+15555550100";
  cfg.region = "us-east-1";  // the loader fills it in from site.region when absent
  auto channel = makeChannel(cfg, clock_, http::curlClients(), processEnv());
  ASSERT_TRUE(channel) << channel.error().toString();
  Emitted emitted;
  // A site name this long makes the text longer than one SMS publish may be: it is cut, and
  // SNS (the fake) still accepts it.
  std::string site(1700, 'S');
  auto manager = managerFor(dir, cfg, std::move(*channel), site, emitted);
  ASSERT_TRUE(manager);
  manager->submit(dxDown(clock_, site));
  ASSERT_TRUE(pumpUntilEmpty(*manager, seconds(10)));

  auto published = fake_->publishes();
  ASSERT_EQ(published.size(), 1u);
  const auto& p = published[0];
  EXPECT_EQ(p.phone_number, "+15555550100");
  EXPECT_EQ(p.topic_arn, "");
  EXPECT_EQ(p.subject, "") << "an SMS has no subject";
  EXPECT_EQ(p.sms_type, "Transactional");
  EXPECT_EQ(p.access_key_id, kKeyId);
  EXPECT_EQ(p.message.rfind("[FIRING]", 0), 0u) << p.message.substr(0, 80);
  EXPECT_LE(p.message.size(), 1600u);
  EXPECT_TRUE(p.message.ends_with("[truncated]"));

  auto sent = emitted.of(journal::EventKind::AlertSent);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_NE(sent[0].reason.find("SNS SMS to +1555…0100, message id"), std::string::npos)
      << sent[0].reason;
  EXPECT_EQ(sent[0].reason.find("5555550100"), std::string::npos) << "the number is masked";
  EXPECT_EQ(fake_->stats().rejected_signatures, 0u);

  // A China region is refused when the channel is built (start or reload), never sent.
  cfg.region = "cn-north-1";
  auto china = makeChannel(cfg, clock_, http::curlClients(), processEnv());
  ASSERT_FALSE(china);
  EXPECT_NE(china.error().message().find("no SMS in the China regions"), std::string::npos)
      << china.error().toString();
  EXPECT_EQ(fake_->publishes().size(), 1u);
}

TEST_F(AlertSnsTest, ChinaTopicIsSignedForTheChinaEndpoint) {
  auto redirect = std::make_unique<RedirectHttpClient>(fake_->url());
  RedirectHttpClient* seen = redirect.get();
  SnsChannelOptions o{"sns-cn", kChinaTopic, "", "", seconds(5)};
  auto ch = SnsChannel::create(std::move(o), std::move(redirect), clock_,
                               std::make_unique<aws::StaticCredentialsProvider>(
                                   aws::Credentials{kKeyId, kSecret, "", std::nullopt}));
  ASSERT_TRUE(ch) << ch.error().toString();
  Notification n = testNotification("Beijing", "sns-cn", clock_.wallNow());
  auto r = (*ch)->deliver(n);
  ASSERT_TRUE(r) << r.error().error.toString();

  auto requests = seen->seen();
  ASSERT_EQ(requests.size(), 1u);
  const auto& req = requests[0];
  EXPECT_EQ(req.url.rfind("https://sns.cn-north-1.amazonaws.com.cn/", 0), 0u) << req.url;
  auto host = http::findHeader(req.headers, "Host");
  ASSERT_TRUE(host);
  EXPECT_EQ(*host, "sns.cn-north-1.amazonaws.com.cn");
  auto authz = http::findHeader(req.headers, "Authorization");
  ASSERT_TRUE(authz);
  std::string scope = credentialScope(*authz);
  EXPECT_NE(scope.find("/cn-north-1/sns/aws4_request"), std::string::npos) << scope;
  // The fake accepted the signature computed for that host and scope.
  auto published = fake_->publishes();
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].topic_arn, kChinaTopic);
  EXPECT_EQ(fake_->stats().rejected_signatures, 0u);

  // A China topic with a region of the aws partition is refused before anything is sent.
  auto wrong = SnsChannel::create(SnsChannelOptions{"sns-x", kChinaTopic, "us-east-1", "",
                                                    seconds(5)},
                                  std::make_unique<RedirectHttpClient>(fake_->url()), clock_,
                                  std::make_unique<aws::StaticCredentialsProvider>(
                                      aws::Credentials{kKeyId, kSecret, "", std::nullopt}));
  if (wrong) {
    auto w = (*wrong)->deliver(n);
    ASSERT_FALSE(w);
    EXPECT_FALSE(w.error().error.retryable()) << w.error().error.toString();
  }
  EXPECT_EQ(fake_->publishes().size(), 1u);
}

TEST_F(AlertSnsTest, ThrottlingIsRetriedAndTheAlertPublishedOnce) {
  // One throttle: absorbed inside the attempt by the QueryClient's own retry.
  auto cfg = snsConfig("sns-noc", kTopic, fake_->url());
  auto single = makeChannel(cfg, clock_, http::curlClients(), processEnv());
  ASSERT_TRUE(single) << single.error().toString();
  fake_->injectNext(aws::FakeAwsFault::Throttle, 1);
  auto r = (*single)->deliver(testNotification("Beijing", "sns-noc", clock_.wallNow()));
  ASSERT_TRUE(r) << r.error().error.toString();
  ASSERT_EQ(fake_->publishes().size(), 1u);

  // Three throttles: the attempt (2 tries) fails Throttled, the outbox retries later.
  fs::path dir = tempDir("throttle");
  auto channel = makeChannel(cfg, clock_, http::curlClients(), processEnv());
  ASSERT_TRUE(channel);
  Emitted emitted;
  auto manager = managerFor(dir, cfg, std::move(*channel), "Beijing", emitted, [] { return 0.5; });
  ASSERT_TRUE(manager);
  fake_->injectNext(aws::FakeAwsFault::Throttle, 3);
  manager->submit(dxDown(clock_, "Beijing"));
  ASSERT_TRUE(pumpUntilEmpty(*manager, seconds(15)));

  ASSERT_EQ(fake_->publishes().size(), 2u);  // the single one above + this alert, once
  EXPECT_EQ(fake_->publishes()[1].topic_arn, kTopic);
  auto stats = manager->stats();
  ASSERT_EQ(stats.channels.size(), 1u);
  EXPECT_GE(stats.channels[0].retries, 1u);
  EXPECT_EQ(stats.channels[0].sent, 1u);
  auto sent = emitted.of(journal::EventKind::AlertSent);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_NE(sent[0].message.find("(attempt 2)"), std::string::npos) << sent[0].message;
  EXPECT_TRUE(emitted.of(journal::EventKind::AlertFailed).empty());
  EXPECT_GE(fake_->stats().injected_faults, 4u);
}

TEST_F(AlertSnsTest, RefusedSignatureFailsWithoutShowingCredentials) {
  const std::string wrong_secret = "Wr0ngSecretKeyValue/abcdefghijklmnopqrstuv";
  const std::string session = "FQoGZXIvYXdzEBYaDSessionTokenSecretValue0123456789";
  fs::path dir = tempDir("denied");
  auto cfg = snsConfig("sns-noc", kTopic, fake_->url());
  auto made = SnsChannel::create(
      SnsChannelOptions{"sns-noc", kTopic, "", fake_->url(), seconds(5)},
      std::make_unique<http::CurlHttpClient>(), clock_,
      std::make_unique<aws::StaticCredentialsProvider>(
          aws::Credentials{kKeyId, wrong_secret, session, std::nullopt}));
  ASSERT_TRUE(made) << made.error().toString();
  Emitted emitted;
  auto manager = managerFor(dir, cfg, std::move(*made), "Beijing", emitted);
  ASSERT_TRUE(manager);
  manager->submit(dxDown(clock_, "Beijing"));
  ASSERT_TRUE(pumpUntilEmpty(*manager, seconds(10)));

  EXPECT_TRUE(fake_->publishes().empty());
  EXPECT_GE(fake_->stats().rejected_signatures, 1u);
  auto failed = emitted.of(journal::EventKind::AlertFailed);
  ASSERT_EQ(failed.size(), 1u);
  const auto& f = failed[0];
  EXPECT_NE(f.reason.find("SignatureDoesNotMatch"), std::string::npos) << f.reason;
  std::string last_error = manager->stats().channels[0].last_error;
  for (const std::string& text : {f.reason, f.message, last_error}) {
    EXPECT_EQ(text.find(wrong_secret), std::string::npos) << text;
    EXPECT_EQ(text.find(session), std::string::npos) << text;
    EXPECT_EQ(text.find(kSecret), std::string::npos) << text;
    EXPECT_EQ(text.find("Signature="), std::string::npos) << text;
  }
  std::printf("[sns] refused signature reported as: %s\n", f.reason.c_str());
}

}  // namespace
}  // namespace pathpilot::alert
