#include "api/server.h"

#include <httplib.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include <gtest/gtest.h>

#include "api/snapshot_builder.h"
#include "fakes/memory_event_log.h"
#include "sample_status.h"
#include "test_util.h"

namespace pathpilot::api {
namespace {

using nlohmann::json;
using testing::bodyOf;
using testing::RawClient;
using testing::statusOf;

constexpr const char* kToken = "0123456789abcdef0123456789abcdef";

class ApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.port = 0;
    options_.token = kToken;
    options_.read_limit = {0, 1};  // unlimited unless a test sets one
    options_.write_limit = {0, 1};
    auto e1 = journal::makeEvent(journal::EventKind::PathDown, clock_.wallNow(), "Singapore");
    e1.path = "dx";
    e1.link = journal::Link::Dx;
    e1.message = "path dx is down";
    e1.reason = "probe error: timeout";
    auto e2 = journal::makeEvent(journal::EventKind::RouteChanged, clock_.wallNow(), "Beijing");
    e2.route_table = "rtb-1";
    e2.path = "vpn-a";
    e2.link = journal::Link::Vpn;
    e2.message = "rtb-1 moved to vpn-a";
    events_.append(e1);
    events_.append(e2);
  }
  void TearDown() override {
    if (server_) {
      server_->stop();
    }
  }

  void start(bool with_snapshot = true) {
    if (with_snapshot) {
      publish(testing::sampleStatus());
    }
    server_ = std::make_unique<ApiServer>(
        options_, store_, clock_, with_events_ ? &events_ : nullptr,
        [this](ControlAction action, const std::string& path) -> Result<std::string> {
          std::lock_guard<std::mutex> lock(mutex_);
          calls_.push_back((action == ControlAction::Drain ? "drain " : "undrain ") + path);
          if (path == "nope") {
            return fail(ErrorCode::NotFound, "unknown path \"nope\"");
          }
          if (path == "slow") {
            return fail(ErrorCode::Timeout, "the engine did not answer within 5s");
          }
          return std::string("path " + path + " drained");
        });
    auto started = server_->start();
    ASSERT_TRUE(started) << started.error().toString();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  }

  void publish(json status) {
    SnapshotInputs in;
    in.status = std::move(status);
    store_.publish(builder_.build(std::move(in), clock_.now(), clock_.wallNow()));
  }

  httplib::Headers bearer(const std::string& token = kToken) {
    return {{"Authorization", "Bearer " + token}};
  }

  static json errorOf(const httplib::Result& r) {
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
    auto j = json::parse(r->body);
    EXPECT_TRUE(j.contains("error")) << r->body;
    EXPECT_TRUE(j.contains("code")) << r->body;
    return j;
  }

  RealClock clock_;
  ApiOptions options_;
  SnapshotStore store_;
  SnapshotBuilder builder_{clock_.now(), clock_.wallNow()};
  journal::MemoryEventLog events_{&clock_};
  bool with_events_ = true;
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<httplib::Client> client_;
  std::mutex mutex_;
  std::vector<std::string> calls_;
};

TEST_F(ApiServerTest, StatusIsTheSnapshotDocument) {
  start();
  auto r = client_->Get("/api/v1/status");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(r->get_header_value("Cache-Control"), "no-store");
  EXPECT_EQ(json::parse(r->body), testing::sampleStatus());
  publish(testing::sampleStatus("down"));
  r = client_->Get("/api/v1/status");
  EXPECT_EQ(json::parse(r->body)["paths"][0]["state"], "down");
}

TEST_F(ApiServerTest, NoSnapshotYetIs503) {
  start(/*with_snapshot=*/false);
  auto r = client_->Get("/api/v1/status");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_NE(errorOf(r)["error"].get<std::string>().find("starting"), std::string::npos);
  r = client_->Get("/healthz");
  EXPECT_EQ(r->status, 503);
  // /metrics still answers (the server's own families).
  r = client_->Get("/metrics");
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("pathpilot_api_requests_total"), std::string::npos);
}

TEST_F(ApiServerTest, HealthzReportsStaleSnapshots) {
  start();
  auto r = client_->Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["status"], "ok");
  auto old = std::make_shared<Snapshot>();
  old->taken_mono = clock_.now() - std::chrono::seconds(60);
  store_.publish(old);
  r = client_->Get("/healthz");
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(json::parse(r->body)["status"], "stale");
}

TEST_F(ApiServerTest, MetricsAreTextFormatWithApiFamilies) {
  start();
  client_->Get("/nope");
  auto r = client_->Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(r->body.find("pathpilot_path_up{site=\"Singapore\",path=\"dx\",link=\"dx\",az=\"\"} 1"),
            std::string::npos);
  EXPECT_NE(r->body.find("pathpilot_api_requests_total{code=\"404\"} 1"), std::string::npos)
      << r->body.substr(r->body.find("pathpilot_api_requests_total"), 200);
  EXPECT_NE(r->body.find("pathpilot_api_snapshot_age_seconds "), std::string::npos);
}

TEST_F(ApiServerTest, HistoryServed) {
  start();
  auto r = client_->Get("/api/v1/history");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto j = json::parse(r->body);
  EXPECT_EQ(j["bucket_seconds"], 5.0);
  EXPECT_TRUE(j["paths"].is_object());
}

TEST_F(ApiServerTest, EventsSearchAndFilters) {
  start();
  auto r = client_->Get("/api/v1/events");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto j = json::parse(r->body);
  EXPECT_EQ(j["count"], 2);
  EXPECT_EQ(j["events"][0]["kind"], "route_changed");  // newest first

  r = client_->Get("/api/v1/events?site=Singapore&link=dx&kind=path_down&since=1h&limit=5");
  ASSERT_EQ(r->status, 200) << r->body;
  j = json::parse(r->body);
  ASSERT_EQ(j["count"], 1);
  EXPECT_EQ(j["events"][0]["path"], "dx");
  EXPECT_EQ(j["limit"], 5);

  r = client_->Get("/api/v1/events?q=timeout");
  j = json::parse(r->body);
  ASSERT_EQ(j["count"], 1);
  EXPECT_EQ(j["events"][0]["kind"], "path_down");

  r = client_->Get("/api/v1/events?route_table=rtb-1&path=vpn-a");
  EXPECT_EQ(json::parse(r->body)["count"], 1);
}

TEST_F(ApiServerTest, BadEventParametersAreNamed) {
  start();
  struct Case {
    const char* query;
    const char* mentions;
  };
  for (const Case& c :
       {Case{"link=fiber", "\"link\""}, Case{"kind=path_sideways", "\"kind\""},
        Case{"since=yesterday", "\"since\""}, Case{"limit=0", "\"limit\""},
        Case{"limit=100000", "\"limit\""}, Case{"limit=-1", "\"limit\""},
        Case{"limit=5x", "\"limit\""}, Case{"after_seq=x", "\"after_seq\""},
        Case{"severity=panic", "\"severity\""}, Case{"sitee=x", "unknown parameter \"sitee\""},
        Case{"site=a&site=b", "more than once"}, Case{"since=1h&until=2h", "later than"}}) {
    auto r = client_->Get((std::string("/api/v1/events?") + c.query).c_str());
    ASSERT_TRUE(r) << c.query;
    EXPECT_EQ(r->status, 400) << c.query;
    auto message = errorOf(r)["error"].get<std::string>();
    EXPECT_NE(message.find(c.mentions), std::string::npos) << c.query << ": " << message;
  }
}

TEST_F(ApiServerTest, EventsWithoutJournalAre503) {
  with_events_ = false;
  start();
  auto r = client_->Get("/api/v1/events");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_NE(errorOf(r)["error"].get<std::string>().find("journal.sqlite"), std::string::npos);
}

TEST_F(ApiServerTest, DrainNeedsTheBearerToken) {
  start();
  auto r = client_->Post("/api/v1/paths/dx/drain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Bearer realm=\"pathpilot\"");
  errorOf(r);
  r = client_->Post("/api/v1/paths/dx/drain", bearer("wrong-token-wrong-token"), "", "");
  EXPECT_EQ(r->status, 403);
  EXPECT_TRUE(calls_.empty());
  r = client_->Post("/api/v1/paths/dx/drain", bearer(), "", "");
  ASSERT_EQ(r->status, 200) << r->body;
  auto j = json::parse(r->body);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["action"], "drain");
  r = client_->Post("/api/v1/paths/vpn-a/undrain", bearer(), R"({"comment":"maintenance done"})",
                    "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(calls_, (std::vector<std::string>{"drain dx", "undrain vpn-a"}));
}

// DNS rebinding: a web page at evil.example whose name now resolves to 127.0.0.1 makes the
// operator's browser send "Host: evil.example:9180". Such requests are refused before anything
// is read; IP literals, localhost and the configured names are served.
TEST_F(ApiServerTest, ForeignHostHeadersAreRefused) {
  options_.allowed_hosts = {"monitor-1.dc.example"};
  start();
  auto r = client_->Get("/api/v1/status", httplib::Headers{{"Host", "evil.example:9180"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 421);
  EXPECT_NE(errorOf(r)["error"].get<std::string>().find("api.allowed_hosts"), std::string::npos);
  r = client_->Post("/api/v1/paths/dx/drain",
                    httplib::Headers{{"Host", "evil.example"},
                                     {"Authorization", std::string("Bearer ") + kToken}},
                    "", "");
  EXPECT_EQ(r->status, 421);
  EXPECT_TRUE(calls_.empty());
  for (const char* host :
       {"127.0.0.1:9180", "localhost", "[::1]:9180", "MONITOR-1.dc.example", "10.1.0.10"}) {
    r = client_->Get("/api/v1/status", httplib::Headers{{"Host", host}});
    ASSERT_TRUE(r) << host;
    EXPECT_EQ(r->status, 200) << host;
  }
  EXPECT_NE(server_->renderMetrics(nullptr).find("pathpilot_api_rejected_total{reason=\"host\"} 2"),
            std::string::npos);
}

// api.auth_reads: status, events and metrics need the token too.
TEST_F(ApiServerTest, ReadsCanRequireTheToken) {
  options_.auth_reads = true;
  start();
  auto r = client_->Get("/api/v1/status");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  r = client_->Get("/metrics", bearer("wrong-token-wrong-token"));
  EXPECT_EQ(r->status, 403);
  r = client_->Get("/api/v1/status", bearer());
  EXPECT_EQ(r->status, 200);
}

// A drain path is parsed by hand, not by a regex run on an attacker's 8 KiB path.
TEST_F(ApiServerTest, ControlPathsAreParsedStrictly) {
  start();
  for (const char* path : {"/api/v1/paths//drain", "/api/v1/paths/dx/drainx",
                           "/api/v1/paths/dx/drain/x", "/api/v1/paths/dx"}) {
    auto r = client_->Post(path, bearer(), "", "");
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 404) << path;
  }
  std::string huge = "/api/v1/paths/" + std::string(6000, 'a') + "/drain";
  auto r = client_->Post(huge, bearer(), "", "");
  ASSERT_TRUE(r);
  EXPECT_NE(r->status, 200);
  EXPECT_TRUE(calls_.empty());
}

TEST_F(ApiServerTest, WritesDisabledWithoutToken) {
  options_.token.reset();
  start();
  auto r = client_->Post("/api/v1/paths/dx/drain", bearer(), "", "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_NE(errorOf(r)["error"].get<std::string>().find("api.auth_token"), std::string::npos);
  EXPECT_TRUE(calls_.empty());
}

TEST_F(ApiServerTest, DrainErrors) {
  start();
  auto r = client_->Post("/api/v1/paths/nope/drain", bearer(), "", "");
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(errorOf(r)["error"], "unknown path \"nope\"");
  r = client_->Post("/api/v1/paths/slow/drain", bearer(), "", "");
  EXPECT_EQ(r->status, 503);
  r = client_->Post("/api/v1/paths/bad name!/drain", bearer(), "", "");
  EXPECT_EQ(r->status, 400);
  r = client_->Post("/api/v1/paths/dx/drain", bearer(), "{not json", "application/json");
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(errorOf(r)["error"].get<std::string>().find("not valid JSON"), std::string::npos);
  r = client_->Post("/api/v1/paths/dx/drain", bearer(), "[1,2]", "application/json");
  EXPECT_EQ(r->status, 400);
  r = client_->Post("/api/v1/paths/dx/drain", bearer(), R"({"reason":"x"})", "application/json");
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(errorOf(r)["error"].get<std::string>().find("unknown field \"reason\""),
            std::string::npos);
  r = client_->Post("/api/v1/paths/dx/drain", bearer(), R"({"comment":5})", "application/json");
  EXPECT_EQ(r->status, 400);
  r = client_->Post("/api/v1/paths/dx/drain", bearer(), std::string(20000, 'x'), "text/plain");
  EXPECT_EQ(r->status, 413);
  errorOf(r);
  EXPECT_EQ(calls_, (std::vector<std::string>{"drain nope", "drain slow"}));
}

TEST_F(ApiServerTest, PostWithoutContentLengthHasAnEmptyBody) {
  start();
  RawClient c(server_->port());
  // What `curl -X POST` sends: no Content-Length, no body, keep-alive.
  c.send(std::string(
             "POST /api/v1/paths/dx/drain HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ") +
         kToken + "\r\n\r\n");
  auto response = c.readResponse(3000);
  EXPECT_FALSE(c.timedOut());
  EXPECT_EQ(statusOf(response), 200) << response;
  EXPECT_EQ(calls_, (std::vector<std::string>{"drain dx"}));
}

TEST_F(ApiServerTest, ChunkedBodyIsRead) {
  start();
  RawClient c(server_->port());
  std::string body = R"({"comment":"chunked"})";
  char size[16];
  std::snprintf(size, sizeof size, "%zx", body.size());
  c.send(
      std::string(
          "POST /api/v1/paths/dx/undrain HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ") +
      kToken + "\r\nTransfer-Encoding: chunked\r\n\r\n" + size + "\r\n" + body + "\r\n0\r\n\r\n");
  auto response = c.readResponse(3000);
  EXPECT_EQ(statusOf(response), 200) << response;
  EXPECT_EQ(calls_, (std::vector<std::string>{"undrain dx"}));
}

TEST_F(ApiServerTest, UnknownEndpointsAndWrongMethods) {
  start();
  auto r = client_->Get("/api/v1/nothing");
  EXPECT_EQ(r->status, 404);
  errorOf(r);
  r = client_->Post("/api/v1/status", "", "");
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->get_header_value("Allow"), "GET, HEAD");
  errorOf(r);
  r = client_->Get("/api/v1/paths/dx/drain");
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->get_header_value("Allow"), "POST");
  r = client_->Delete("/api/v1/paths/dx/drain");
  EXPECT_EQ(r->status, 405);
}

TEST_F(ApiServerTest, DotSegmentsAndEncodedTraversalAreRejected) {
  start();
  for (const char* target : {"/../../etc/passwd", "/api/v1/../status", "/%2e%2e/%2e%2e/etc/passwd",
                             "/api/v1/paths/%2E%2E/drain", "/app.js%00.html", "/a\\..\\b",
                             "/./metrics", "/api/v1/paths/..%2f..%2fetc/drain"}) {
    RawClient c(server_->port());
    ASSERT_TRUE(c.connected());
    c.send(std::string("GET ") + target +
           " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    auto response = c.readAll();
    EXPECT_EQ(statusOf(response), 400) << target << "\n" << response;
    EXPECT_NE(bodyOf(response).find("\"code\":\"bad_request\""), std::string::npos) << target;
  }
}

TEST_F(ApiServerTest, MalformedRequestLineGetsJson400) {
  start();
  RawClient c(server_->port());
  c.send("THIS IS NOT HTTP\r\n\r\n");
  auto response = c.readAll();
  EXPECT_EQ(statusOf(response), 400) << response;
  EXPECT_NE(bodyOf(response).find("\"error\""), std::string::npos) << response;
}

TEST_F(ApiServerTest, OversizedHeadersAndUriAreRefused) {
  start();
  RawClient c(server_->port());
  c.send("GET /api/v1/status?" + std::string(10000, 'a') + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  auto response = c.readAll();
  int status = statusOf(response);
  EXPECT_TRUE(status == 414 || status == 400) << response.substr(0, 200);
  RawClient d(server_->port());
  d.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + std::string(10000, 'b') +
         "\r\n\r\n");
  response = d.readAll();
  EXPECT_EQ(statusOf(response), 400) << response.substr(0, 200);
}

TEST_F(ApiServerTest, TooManyHeaderFieldsGet431) {
  start();
  RawClient c(server_->port());
  std::string request = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (int i = 0; i < 200; ++i) {
    request += "X-F" + std::to_string(i) + ": v\r\n";  // httplib 0.11 alone takes them all
  }
  c.send(request + "\r\n");
  auto response = c.readAll();
  EXPECT_EQ(statusOf(response), 431) << response.substr(0, 300);
  EXPECT_NE(response.find("\"code\":\"header_too_large\""), std::string::npos) << response;
  EXPECT_NE(server_->renderMetrics(nullptr).find(
                "pathpilot_api_rejected_total{reason=\"header_too_large\"} 1"),
            std::string::npos);
}

TEST_F(ApiServerTest, HeaderBytesOverTheLimitGet431) {
  start();
  RawClient c(server_->port());
  // Each line is under httplib's own 8 KiB line limit; together they are over 16 KiB.
  std::string request = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (int i = 0; i < 4; ++i) {
    request += "X-Pad" + std::to_string(i) + ": " + std::string(6000, 'p') + "\r\n";
  }
  c.send(request + "\r\n");
  auto response = c.readAll();
  EXPECT_EQ(statusOf(response), 431) << response.substr(0, 300);
  // Within the limits: served.
  EXPECT_EQ(client_->Get("/healthz", {{"X-Pad", std::string(6000, 'p')}})->status, 200);
}

TEST_F(ApiServerTest, DefaultClientCapLeavesAWorkerForOthers) {
  options_ = ApiOptions{};
  options_.port = 0;
  options_.read_limit = {0, 1};
  ASSERT_LT(options_.max_connections_per_client, options_.threads);
  start();
  // One client opens every connection it may: 3 get a worker (each waits for its first
  // request), 12 wait behind them.
  std::vector<std::unique_ptr<RawClient>> held;
  for (std::size_t i = 0; i < options_.max_connections_per_client + options_.max_queued_per_client;
       ++i) {
    held.push_back(std::make_unique<RawClient>(server_->port(), "127.0.0.2"));
  }
  RawClient more(server_->port(), "127.0.0.2");
  auto response = more.readAll(3000);
  EXPECT_EQ(statusOf(response), 503) << response << server_->renderMetrics(nullptr);
  EXPECT_NE(server_->renderMetrics(nullptr).find(
                "pathpilot_api_rejected_total{reason=\"client_connections\"} 1"),
            std::string::npos);
  EXPECT_EQ(client_->Get("/healthz")->status, 200);  // from 127.0.0.1: a worker is left
}

TEST_F(ApiServerTest, StalledRequestGets408AndIsClosed) {
  options_.request_timeout = std::chrono::milliseconds(300);
  start();
  RawClient c(server_->port());
  // Request line and one header, then nothing: the classic slowloris start.
  c.send("GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  auto t0 = std::chrono::steady_clock::now();
  auto response = c.readAll(5000);
  auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_FALSE(c.timedOut()) << "the server never closed the connection";
  EXPECT_EQ(statusOf(response), 408) << response;
  EXPECT_LT(waited, std::chrono::seconds(3));
  auto m = client_->Get("/metrics");
  EXPECT_NE(m->body.find("pathpilot_api_rejected_total{reason=\"request_timeout\"} 1"),
            std::string::npos);
}

TEST_F(ApiServerTest, StalledBodyGets408) {
  options_.request_timeout = std::chrono::milliseconds(300);
  start();
  RawClient c(server_->port());
  c.send(std::string(
             "POST /api/v1/paths/dx/drain HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ") +
         kToken + "\r\nContent-Length: 100\r\n\r\n{\"comm");
  auto response = c.readAll(5000);
  EXPECT_EQ(statusOf(response), 408) << response;
  EXPECT_TRUE(calls_.empty());
}

TEST_F(ApiServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  start();
  RawClient c(server_->port());
  c.send(
      "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /api/v1/status HTTP/1.1\r\nHost: "
      "127.0.0.1\r\n\r\n");
  auto first = c.readResponse();
  EXPECT_EQ(statusOf(first), 200) << first;
  auto second = c.readResponse();
  EXPECT_EQ(statusOf(second), 200) << second;
  EXPECT_NE(second.find("Singapore"), std::string::npos) << second;
}

TEST_F(ApiServerTest, RejectedPostWithBodyClosesTheConnection) {
  start();
  RawClient c(server_->port());
  // Unauthenticated POST with a body: 401 without reading it, then the server must close
  // rather than parse the body as a next request.
  c.send(
      "POST /api/v1/paths/dx/drain HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 18\r\n\r\n"
      "GET /x HTTP/1.1\r\n\r\n");
  auto response = c.readAll();
  EXPECT_EQ(statusOf(response), 401);
  EXPECT_EQ(response.find("HTTP/1.1", 10), std::string::npos) << response;
}

TEST_F(ApiServerTest, ReadRateLimitGives429WithRetryAfter) {
  options_.read_limit = {1, 2};
  start();
  EXPECT_EQ(client_->Get("/healthz")->status, 200);
  EXPECT_EQ(client_->Get("/healthz")->status, 200);
  auto r = client_->Get("/healthz");
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  errorOf(r);
  // Writes have their own bucket.
  EXPECT_EQ(client_->Post("/api/v1/paths/dx/drain", bearer(), "", "")->status, 200);
}

TEST_F(ApiServerTest, WriteRateLimit) {
  options_.write_limit = {0.001, 1};
  start();
  EXPECT_EQ(client_->Post("/api/v1/paths/dx/drain", bearer(), "", "")->status, 200);
  EXPECT_EQ(client_->Post("/api/v1/paths/dx/drain", bearer(), "", "")->status, 429);
  EXPECT_EQ(calls_.size(), 1u);
}

TEST_F(ApiServerTest, PerClientConnectionLimit) {
  options_.max_connections_per_client = 1;
  options_.max_queued_per_client = 0;
  options_.threads = 2;
  start();
  RawClient first(server_->port());
  first.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  ASSERT_EQ(statusOf(first.readResponse()), 200);  // now held open by keep-alive
  RawClient second(server_->port());
  second.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  auto response = second.readAll();
  EXPECT_EQ(statusOf(response), 503) << response;
  EXPECT_NE(bodyOf(response).find("too many open connections"), std::string::npos) << response;
}

TEST_F(ApiServerTest, SaturatedServerSheds503WithoutReading) {
  options_.threads = 1;
  options_.max_queued = 1;
  start();
  RawClient busy(server_->port());
  busy.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  ASSERT_EQ(statusOf(busy.readResponse()), 200);  // the only worker serves `busy`
  // A second request that never ends: the worker keeps reading it (an idle keep-alive
  // connection would yield to the queued one of the same client, and the third connection
  // would then find room in the queue).
  busy.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  RawClient queued(server_->port());  // waits in the queue
  RawClient shed(server_->port());    // beyond worker and queue: 503 at once
  auto response = shed.readAll(3000);
  EXPECT_EQ(statusOf(response), 503) << response;
}

TEST_F(ApiServerTest, DashboardIsServedWithSecurityHeaders) {
  start();
  auto r = client_->Get("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(r->get_header_value("Content-Security-Policy").find("default-src 'self'"),
            std::string::npos);
  EXPECT_NE(r->body.find("<title>pathpilot"), std::string::npos);
  r = client_->Get("/app.js");
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(client_->Get("/style.css")->status, 200);
  EXPECT_EQ(client_->Get("/favicon.svg")->status, 200);
  EXPECT_EQ(client_->Get("/etc/passwd")->status, 404);
}

TEST_F(ApiServerTest, BindFailureNamesTheAddress) {
  start();
  ApiOptions other = options_;
  other.port = server_->port();
  ApiServer second(other, store_, clock_, nullptr, nullptr);
  auto r = second.start();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("127.0.0.1:" + std::to_string(server_->port())),
            std::string::npos)
      << r.error().message();
}

TEST_F(ApiServerTest, ListensOnIpv6Loopback) {
  options_.host = "::1";
  server_ = std::make_unique<ApiServer>(options_, store_, clock_, nullptr, nullptr);
  publish(testing::sampleStatus());
  auto started = server_->start();
  if (!started) {
    GTEST_SKIP() << "no IPv6 loopback here: " << started.error().toString();
  }
  httplib::Client c("::1", server_->port());
  auto r = c.Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ApiServerTest, StopIsPromptWithIdleKeepAliveConnections) {
  start();
  RawClient idle(server_->port());
  idle.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  ASSERT_EQ(statusOf(idle.readResponse()), 200);
  auto t0 = std::chrono::steady_clock::now();
  server_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
}

}  // namespace
}  // namespace pathpilot::api
