// http/http_client.h — one HTTP request in, one response out.
//
// Purpose: the seam between pathpilot and the outbound HTTPS it makes (AWS query APIs, the EC2
// instance metadata service, later webhooks). Callers build a Request, a client sends it and
// returns the Response or an Error; everything above this interface (SigV4 signing, retries,
// XML parsing) is pure and tested against FakeHttpClient (tests/fakes/fake_http_client.h),
// which records requests and replays canned bodies (docs/development.md).
//
// Errors: transport failures only. A response with any status code (404, 500, ...) is a
// successful send; interpreting the status is the caller's job. Transport errors map to
//   Timeout      — connect or total timeout elapsed,
//   Unavailable  — DNS failure, connection refused/reset, TLS handshake failure,
//   InvalidArgument — a malformed URL or unsupported scheme.
// Messages name the method and the URL without its query string (which may hold a
// presigned credential) and never contain header values.
//
// Threading: an HttpClient instance is used by one thread at a time unless the
// implementation says otherwise (CurlHttpClient serialises callers; give each worker its own
// instance for parallelism).
// Metrics: none here; callers count requests and errors per API.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/time.h"

namespace pathpilot::http {

// One header line. Names keep the caller's spelling; lookups are case-insensitive.
struct Header {
  std::string name;
  std::string value;

  bool operator==(const Header&) const = default;
};
using Headers = std::vector<Header>;

// The value of the first header named `name` (ASCII case-insensitive), or nullopt.
std::optional<std::string_view> findHeader(const Headers& headers, std::string_view name);

// Removes every header named `name` (case-insensitive); returns how many were removed.
std::size_t removeHeader(Headers& headers, std::string_view name);

// True if `a` and `b` are equal ignoring ASCII case (header names, host names).
bool equalsIgnoreCase(std::string_view a, std::string_view b);

// Header names whose values are secrets: Authorization, X-Amz-Security-Token, Cookie,
// X-aws-ec2-metadata-token, Proxy-Authorization. Logs and errors must print "<redacted>".
bool isSensitiveHeader(std::string_view name);

struct Request {
  std::string method = "GET";
  // Absolute URL: scheme://host[:port]/path[?query]. http and https only.
  std::string url;
  Headers headers;
  std::string body;
  // Limit for the whole exchange (connect + send + receive).
  Duration timeout = std::chrono::seconds(10);
  // Limit for establishing the TCP/TLS connection alone; bounded by `timeout`.
  Duration connect_timeout = std::chrono::seconds(3);
  // Never go through an HTTP proxy from the environment (http_proxy/https_proxy), whatever
  // no_proxy says: link-local services such as IMDS must be reached directly.
  bool bypass_proxy = false;
};

struct Response {
  int status = 0;
  Headers headers;
  std::string body;

  std::optional<std::string_view> header(std::string_view name) const {
    return findHeader(headers, name);
  }
};

// "POST https://ec2.us-east-1.amazonaws.com/ (123 bytes; headers: Host, X-Amz-Date,
// Authorization=<redacted>)" — safe for logs: no query string, sensitive values redacted.
std::string describeRequest(const Request& request);

// The URL with any query string and user-info removed, for error messages.
std::string redactUrl(std::string_view url);

class HttpClient {
 public:
  virtual ~HttpClient() = default;

  // Sends `request` and waits for the complete response, or fails with a transport Error
  // (see the header comment). Requires: request.url is absolute.
  [[nodiscard]] virtual Result<Response> send(const Request& request) = 0;
};

// How a client is to be built: the transport settings a module knows from its config.
struct ClientOptions {
  // PEM bundle to trust instead of the system store (corporate TLS inspection proxies).
  std::string ca_file;
  // PEM client certificate and its key for servers that require one (etcd with
  // --client-cert-auth); both or neither. The key file must not be encrypted.
  std::string cert_file;
  std::string key_file;
  // Sent as User-Agent unless the request sets one.
  std::string user_agent = "pathpilot";
  // Responses larger than this fail with Internal (guards memory against a broken proxy).
  std::size_t max_response_bytes = 16 * 1024 * 1024;
  // How long an idle kept-alive connection may be reused.
  Duration max_idle = std::chrono::seconds(55);
};

// Builds clients. Modules that need HTTP clients (alert channels, the EC2 route backend, the
// agent's CloudWatch publisher) receive one and never name the transport; the daemon and the
// agent pass http::curlClients() (http/curl_http_client.h), tests may pass fakes.
using HttpClientFactory = std::function<std::unique_ptr<HttpClient>(const ClientOptions&)>;

}  // namespace pathpilot::http
