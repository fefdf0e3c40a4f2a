// CurlHttpClient against a cpp-httplib server on 127.0.0.1 (port 0): methods, headers,
// status codes, connection reuse, and every transport failure mapped to a clear Error.
#include <httplib.h>

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "http/curl_http_client.h"
#include "http/url.h"

namespace pathpilot::http {
namespace {

using namespace std::chrono_literals;

class LoopbackServer {
 public:
  LoopbackServer() {
    server_.set_tcp_nodelay(true);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // The socket already listens (connections queue in the backlog); wait only so that
    // stop() cannot run before the accept loop has started.
    while (!server_.is_running()) {
      std::this_thread::yield();
    }
  }
  ~LoopbackServer() {
    server_.stop();
    thread_.join();
  }
  httplib::Server& server() { return server_; }
  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }
  int port() const { return port_; }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

TEST(CurlHttpClientTest, PostRoundTripsHeadersAndBody) {
  LoopbackServer s;
  s.server().Post("/", [](const httplib::Request& req, httplib::Response& res) {
    res.status = 200;
    res.set_header("X-Echo-Type", req.get_header_value("Content-Type"));
    res.set_header("X-Echo-Host", req.get_header_value("Host"));
    res.set_header("X-Has-Expect", req.has_header("Expect") ? "yes" : "no");
    res.set_content("got:" + req.body, "text/xml");
  });
  CurlHttpClient client;
  Request req;
  req.method = "POST";
  req.url = s.url("/");
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
                 {"Host", "ec2.us-east-1.amazonaws.com"}};
  req.body = std::string(4096, 'a');  // > 1 KiB: no Expect: 100-continue
  auto r = client.send(req);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "got:" + req.body);
  EXPECT_EQ(r->header("x-echo-type"), "application/x-www-form-urlencoded; charset=utf-8");
  EXPECT_EQ(r->header("X-Echo-Host"), "ec2.us-east-1.amazonaws.com");
  EXPECT_EQ(r->header("X-Has-Expect"), "no");
  EXPECT_EQ(r->header("Content-Type"), "text/xml");
}

TEST(CurlHttpClientTest, PutWithEmptyBodyAndGet) {
  LoopbackServer s;
  s.server().Put("/latest/api/token", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content("TOKEN-" + req.get_header_value("X-aws-ec2-metadata-token-ttl-seconds"),
                    "text/plain");
  });
  s.server().Get("/missing", [](const httplib::Request&, httplib::Response& res) {
    res.status = 404;
    res.set_content("nope", "text/plain");
  });
  CurlHttpClient client;
  Request put;
  put.method = "PUT";
  put.url = s.url("/latest/api/token");
  put.headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}};
  auto r = client.send(put);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "TOKEN-21600");
  Request get;
  get.url = s.url("/missing");
  auto g = client.send(get);
  ASSERT_TRUE(g);  // a 404 is a response, not a transport error
  EXPECT_EQ(g->status, 404);
}

TEST(CurlHttpClientTest, BypassProxyIgnoresTheEnvironmentProxy) {
  LoopbackServer s;
  s.server().Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("direct", "text/plain");
  });
  // A proxy on a port that was just closed: going through it fails (connection refused).
  int closed_port = 0;
  {
    LoopbackServer gone;
    closed_port = gone.port();
  }
  std::string proxy = "http://127.0.0.1:" + std::to_string(closed_port);
  ::setenv("http_proxy", proxy.c_str(), 1);
  ::setenv("no_proxy", "", 1);
  CurlHttpClient client;
  Request get;
  get.url = s.url("/");
  auto via_proxy = client.send(get);
  get.bypass_proxy = true;
  auto direct = client.send(get);
  ::unsetenv("http_proxy");
  ::unsetenv("no_proxy");
  EXPECT_FALSE(via_proxy);
  ASSERT_TRUE(direct) << direct.error().message();
  EXPECT_EQ(direct->body, "direct");
}

TEST(CurlHttpClientTest, ReusesTheConnection) {
  LoopbackServer s;
  s.server().Get("/port", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content(std::to_string(req.remote_port), "text/plain");
  });
  CurlHttpClient client;
  Request get;
  get.url = s.url("/port");
  auto a = client.send(get);
  auto b = client.send(get);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->body, b->body) << "second request used a new TCP connection";
}

TEST(CurlHttpClientTest, TimeoutIsTimeout) {
  // Declared before the server: its handler thread may still be waking up on them while the
  // server is destroyed (ASan: stack-use-after-scope).
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  LoopbackServer s;
  s.server().Get("/slow", [&](const httplib::Request&, httplib::Response& res) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, 5s, [&] { return release; });
    res.set_content("late", "text/plain");
  });
  CurlHttpClient client;
  Request get;
  get.url = s.url("/slow");
  get.timeout = 200ms;
  auto r = client.send(get);
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::Timeout);
  EXPECT_NE(r.error().message().find("GET http://127.0.0.1:"), std::string::npos);
}

TEST(CurlHttpClientTest, RefusedConnectionIsUnavailable) {
  int port = 0;
  {
    LoopbackServer s;  // bind a free port, then close it
    port = s.port();
  }
  CurlHttpClient client;
  Request get;
  get.url = "http://127.0.0.1:" + std::to_string(port) + "/";
  auto r = client.send(get);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::Unavailable);
  EXPECT_TRUE(r.error().retryable());
}

TEST(CurlHttpClientTest, InvalidTldFailsWithoutDns) {
  CurlHttpClient client;
  Request req;
  req.method = "POST";
  req.url = "https://ec2.nowhere.invalid/?X-Amz-Signature=secret";
  auto r = client.send(req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::Unavailable);
  EXPECT_NE(r.error().message().find("cannot resolve host 'ec2.nowhere.invalid'"),
            std::string::npos);
  EXPECT_EQ(r.error().message().find("X-Amz-Signature"), std::string::npos);
}

TEST(CurlHttpClientTest, BadRequestsAreInvalidArgument) {
  CurlHttpClient client;
  Request bad_url;
  bad_url.url = "not a url";
  EXPECT_EQ(client.send(bad_url).error().code(), ErrorCode::InvalidArgument);
  Request ftp;
  ftp.url = "ftp://127.0.0.1/";
  EXPECT_EQ(client.send(ftp).error().code(), ErrorCode::InvalidArgument);
  Request injected;
  injected.url = "http://127.0.0.1:1/";
  injected.headers = {{"X-Evil", "a\r\nHost: other"}};
  auto r = client.send(injected);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::InvalidArgument);
  EXPECT_NE(r.error().message().find("X-Evil"), std::string::npos);
}

TEST(CurlHttpClientTest, OversizedResponseIsRefused) {
  LoopbackServer s;
  s.server().Get("/big", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(64 * 1024, 'x'), "text/plain");
  });
  CurlOptions opts;
  opts.max_response_bytes = 1024;
  CurlHttpClient client(opts);
  Request get;
  get.url = s.url("/big");
  auto r = client.send(get);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::Internal);
  EXPECT_NE(r.error().message().find("larger than 1024"), std::string::npos);
}

TEST(HttpHelpersTest, DescribeAndRedact) {
  Request req;
  req.method = "GET";
  req.url = "https://user:pw@host.example/path?X-Amz-Credential=AKID&X-Amz-Signature=abc";
  req.headers = {{"Host", "host.example"}, {"Authorization", "AWS4-HMAC-SHA256 secret"},
                 {"X-Amz-Security-Token", "tok"}};
  std::string d = describeRequest(req);
  EXPECT_EQ(d, "GET https://host.example/path (0 bytes; headers: Host, "
               "Authorization=<redacted>, X-Amz-Security-Token=<redacted>)");
  EXPECT_EQ(redactUrl("http://h:1/p#frag"), "http://h:1/p");
}

TEST(UrlTest, ParsesWhatEndpointsUse) {
  auto u = parseUrl("https://EC2.cn-north-1.amazonaws.com.cn");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "ec2.cn-north-1.amazonaws.com.cn");
  EXPECT_EQ(u->port, 443);
  EXPECT_FALSE(u->explicit_port);
  EXPECT_EQ(u->path, "/");
  EXPECT_EQ(u->hostHeader(), "ec2.cn-north-1.amazonaws.com.cn");
  auto v6 = parseUrl("http://[fd00:ec2::254]:80/latest");
  ASSERT_TRUE(v6) << v6.error().message();
  EXPECT_EQ(v6->host, "[fd00:ec2::254]");
  EXPECT_EQ(v6->hostHeader(), "[fd00:ec2::254]");
  EXPECT_EQ(v6->path, "/latest");
  auto q = parseUrl("http://127.0.0.1:8080/a?b=c");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->hostHeader(), "127.0.0.1:8080");
  EXPECT_EQ(q->query, "b=c");
  EXPECT_EQ(q->toString(), "http://127.0.0.1:8080/a?b=c");
}

}  // namespace
}  // namespace pathpilot::http
