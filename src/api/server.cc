#include "api/server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <sys/socket.h>
#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <functional>
#include <regex>
#include <string_view>

#include <nlohmann/json.hpp>

#include "api/auth.h"
#include "api/dashboard_assets.h"
#include "api/request_parse.h"
#include "base/check.h"
#include "httpserver/guarded_server.h"
#include "journal/query.h"
#include "journal/text_format.h"
#include "metrics/exposition.h"

namespace pathpilot::api {
namespace {

using httpserver::GuardedServer;
using httpserver::TransportOptions;
using httpserver::TransportStats;
using Json = nlohmann::json;

constexpr const char* kJson = "application/json";
constexpr const char* kMetricsType = "text/plain; version=0.0.4; charset=utf-8";
// Connections the kernel may hold before they are accepted (and admitted or refused at once).
constexpr int kListenBacklog = 128;

std::string_view codeName(int status) {
  switch (status) {
    case 400:
      return "bad_request";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 408:
      return "request_timeout";
    case 413:
      return "payload_too_large";
    case 414:
      return "uri_too_long";
    case 415:
      return "unsupported_media_type";
    case 421:
      return "misdirected_request";
    case 429:
      return "rate_limited";
    case 431:
      return "header_too_large";
    case 500:
      return "internal";
    case 503:
      return "unavailable";
    case 504:
      return "timeout";
    default:
      return status >= 500 ? "server_error" : "client_error";
  }
}

void noStore(httplib::Response& res) {
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Content-Type-Options", "nosniff");
}

void sendJson(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  noStore(res);
  res.set_content(body.dump(-1, ' ', false, Json::error_handler_t::replace), kJson);
}

void sendError(httplib::Response& res, int status, const std::string& message) {
  sendJson(res, status, Json{{"error", message}, {"code", std::string(codeName(status))}});
}

// Serves a body owned by a snapshot without copying it; the snapshot stays alive until the
// response has been written.
void sendShared(httplib::Response& res, std::shared_ptr<const void> owner, std::string_view body,
                const char* type) {
  res.status = 200;
  noStore(res);
  res.set_content_provider(body.size(), type,
                           [owner, body](size_t offset, size_t length, httplib::DataSink& sink) {
                             return sink.write(body.data() + offset, length);
                           });
}

// The URL must not contain dot segments, backslashes or NULs, raw or percent-encoded. Nothing
// here maps URLs to files, so this is defence in depth and a clear answer to scanners.
bool suspiciousPath(const httplib::Request& req) {
  auto bad = [](std::string_view p) {
    if (p.find('\\') != std::string_view::npos || p.find('\0') != std::string_view::npos) {
      return true;
    }
    std::size_t start = 0;
    while (start <= p.size()) {
      std::size_t end = p.find('/', start);
      if (end == std::string_view::npos) {
        end = p.size();
      }
      std::string_view seg = p.substr(start, end - start);
      if (seg == "." || seg == "..") {
        return true;
      }
      start = end + 1;
    }
    return false;
  };
  std::string_view target = req.target;
  if (auto q = target.find('?'); q != std::string_view::npos) {
    target = target.substr(0, q);
  }
  std::string lowered(target);
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return bad(req.path) || bad(target) || lowered.find("%2e") != std::string::npos ||
         lowered.find("%2f") != std::string::npos || lowered.find("%5c") != std::string::npos ||
         lowered.find("%00") != std::string::npos;
}

bool expectsBody(const httplib::Request& req) {
  auto length = req.get_header_value("Content-Length");
  return (!length.empty() && length != "0") ||
         req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos;
}

std::string noSuchEndpoint(const httplib::Request& req) {
  return "no such endpoint: " + req.method + " " + req.path.substr(0, 256);
}

// Which requests an endpoint takes: GET (and HEAD, which httplib answers with the GET
// handler) or POST. An endpoint takes one of them; the others get 405.
enum class Method { Get, Post };

bool accepts(Method m, const std::string& method) {
  return m == Method::Get ? method == "GET" || method == "HEAD" : method == "POST";
}

// The guard level of an endpoint: which of the client's rate limits it counts against, and
// whether it needs the bearer token always (Write) or only with api.auth_reads (Read).
enum class Access { Read, Write };

// An endpoint's path, as both matchers need it. The guard finds the endpoint of an untrusted,
// not yet authenticated path by `exact` or `matches`: plain string work, never a regex. httplib
// then routes by `regex` only the requests that the guard let through.
struct PathPattern {
  std::string exact;                                 // the whole path; "" when `matches` is set
  bool (*matches)(std::string_view path) = nullptr;  // a path with parameters
  std::string regex;                                 // httplib's route
};

// A fixed path. The regex escaping runs once at start-up on our own constant paths.
PathPattern exactPath(std::string_view path) {
  return {std::string(path), nullptr,
          std::regex_replace(std::string(path), std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)")};
}

// /api/v1/paths/{name}/{drain|undrain}: controlTarget() for the guard; the regex captures the
// name and the action for the handler (req.matches[1], [2]).
PathPattern drainPath() {
  return {"", [](std::string_view path) { return controlTarget(path).has_value(); },
          R"(/api/v1/paths/([^/]+)/(drain|undrain))"};
}

// An endpoint's handler: the request, its response and its body (always empty for GET).
using Handler =
    std::function<void(const httplib::Request&, httplib::Response&, std::string_view body)>;

void serveAsset(const Asset& asset, httplib::Response& res) {
  res.set_header("Content-Security-Policy",
                 "default-src 'self'; img-src 'self' data:; "
                 "frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Cache-Control", "no-cache");
  res.set_content(asset.body.data(), asset.body.size(), std::string(asset.content_type));
}

// The status of a failed drain or undrain, from the engine's error.
int controlErrorStatus(const Error& e) {
  switch (e.code()) {
    case ErrorCode::NotFound:
      return 404;
    case ErrorCode::InvalidArgument:
      return 400;
    case ErrorCode::Timeout:
    case ErrorCode::Unavailable:
      return 503;
    default:
      return 500;
  }
}

void answerException(const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
  std::string what = "unknown exception";
  try {
    std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  spdlog::error("api: {} {}: internal error: {}", req.method, req.path, what);
  sendError(res, 500, "internal error");
}

}  // namespace

// One row of the endpoint table (routes()).
struct ApiServer::Endpoint {
  Method method;
  PathPattern path;
  Access access;
  Handler handle;

  bool matches(std::string_view p) const {
    return path.matches != nullptr ? path.matches(p) : path.exact == p;
  }
};

ApiServer::ApiServer(ApiOptions options, const SnapshotStore& snapshots, const Clock& clock,
                     journal::EventLog* events, ControlFn control)
    : options_(std::move(options)),
      snapshots_(snapshots),
      clock_(clock),
      events_(events),
      control_(std::move(control)),
      transport_stats_(std::make_unique<TransportStats>()),
      read_limiter_(options_.read_limit),
      write_limiter_(options_.write_limit) {
  TransportOptions t;
  t.threads = options_.threads;
  t.max_queued = options_.max_queued;
  t.max_connections_per_client = options_.max_connections_per_client;
  t.max_queued_per_client = options_.max_queued_per_client;
  t.max_requests_per_connection = options_.max_requests_per_connection;
  t.request_timeout = options_.request_timeout;
  t.read_timeout = options_.read_timeout;
  t.response_timeout = options_.response_timeout;
  t.write_timeout = options_.write_timeout;
  t.idle_timeout = options_.idle_timeout;
  t.max_header_bytes = options_.max_header_bytes;
  t.max_header_fields = options_.max_header_fields;
  http_ = std::make_unique<GuardedServer>(t, *transport_stats_);
  configure();
  routes();
}

ApiServer::~ApiServer() { stop(); }

void ApiServer::countStatus(int status) {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  ++responses_[status];
}

// Every endpoint: (method, path, guard level, handler). The guard looks requests up here
// before httplib routes them, so an endpoint is known to both by being listed once.
void ApiServer::routes() {
  auto add = [this](Method method, PathPattern path, Access access, Handler handler) {
    endpoints_.push_back({method, std::move(path), access, std::move(handler)});
  };
  auto member = [this](void (ApiServer::*fn)(const httplib::Request&, httplib::Response&,
                                             std::string_view)) -> Handler {
    return [this, fn](const httplib::Request& req, httplib::Response& res, std::string_view body) {
      (this->*fn)(req, res, body);
    };
  };
  for (const Asset& asset : dashboardAssets()) {
    add(Method::Get, exactPath(asset.path), Access::Read,
        [&asset](const httplib::Request&, httplib::Response& res, std::string_view) {
          serveAsset(asset, res);
        });
  }
  add(Method::Get, exactPath("/healthz"), Access::Read, member(&ApiServer::getHealthz));
  add(Method::Get, exactPath("/metrics"), Access::Read, member(&ApiServer::getMetrics));
  add(Method::Get, exactPath("/api/v1/status"), Access::Read, member(&ApiServer::getStatus));
  add(Method::Get, exactPath("/api/v1/history"), Access::Read, member(&ApiServer::getHistory));
  add(Method::Get, exactPath("/api/v1/events"), Access::Read, member(&ApiServer::getEvents));
  add(Method::Post, drainPath(), Access::Write, member(&ApiServer::postDrain));

  // Only now that the table is complete: httplib keeps pointers to its rows.
  for (const Endpoint& endpoint : endpoints_) {
    route(endpoint);
  }
}

void ApiServer::route(const Endpoint& endpoint) {
  if (endpoint.method == Method::Get) {
    http_->Get(endpoint.path.regex,
               [&endpoint](const httplib::Request& req, httplib::Response& res) {
                 endpoint.handle(req, res, {});
               });
    return;
  }
  // A content-reader handler: httplib would otherwise wait for the end of the connection to
  // read the body of a POST that has neither Content-Length nor chunked encoding (such as
  // `curl -X POST`); here such a request simply has an empty body.
  http_->Post(endpoint.path.regex,
              [this, &endpoint](const httplib::Request& req, httplib::Response& res,
                                const httplib::ContentReader& content_reader) {
                std::string body;
                if (readBody(req, res, content_reader, body)) {
                  endpoint.handle(req, res, body);
                }
              });
}

void ApiServer::configure() {
  auto& http = *http_;
  http.set_payload_max_length(options_.max_body_bytes);
  // httplib's default also sets SO_REUSEPORT, which would let a second daemon bind the same
  // port and silently take half of the requests. SO_REUSEADDR alone allows a quick restart.
  http.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(options_.idle_timeout).count();
  http.set_keep_alive_timeout(std::max<time_t>(1, static_cast<time_t>(secs)));
  http.set_keep_alive_max_count(options_.max_requests_per_connection);

  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    return guard(req, res) ? httplib::Server::HandlerResponse::Handled
                           : httplib::Server::HandlerResponse::Unhandled;
  });
  http.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req, httplib::Response& res) {
        answerTransportError(req, res);
        return httplib::Server::HandlerResponse::Handled;
      }));
  http.set_exception_handler(answerException);
  // Runs for every response written, errors included (after the error handler).
  http.set_post_routing_handler(
      [this](const httplib::Request&, httplib::Response& res) { countStatus(res.status); });
}

// The checks every request passes, in this order, before httplib routes it (so before a body
// is read or a route regex runs): Host allow-list (421), URL (400), endpoint and method (404,
// 405), the client's read or write rate limit (429), the bearer token (401, 403).
bool ApiServer::guard(const httplib::Request& req, httplib::Response& res) {
  if (!hostAllowed(req.get_header_value("Host"), options_.allowed_hosts)) {
    return refuse(req, res, 421,
                  "this API answers only to its address, localhost and api.allowed_hosts, not "
                  "to Host " +
                      req.get_header_value("Host").substr(0, 100),
                  "host");
  }
  if (suspiciousPath(req)) {
    return refuse(req, res, 400, "dot segments, backslashes and NUL bytes are not allowed in URLs",
                  "bad_url");
  }
  const Endpoint* endpoint = findEndpoint(req.path);
  if (endpoint == nullptr) {
    return refuse(req, res, 404, noSuchEndpoint(req), nullptr);
  }
  if (!accepts(endpoint->method, req.method)) {
    const bool get = endpoint->method == Method::Get;
    res.set_header("Allow", get ? "GET, HEAD" : "POST");
    return refuse(
        req, res, 405,
        req.method + " is not allowed on " + req.path + (get ? " (use GET)" : " (use POST)"),
        nullptr);
  }
  const bool write = endpoint->access == Access::Write;
  return refusedByRateLimit(req, res, write) ||
         ((write || options_.auth_reads) && refusedByToken(req, res));
}

const ApiServer::Endpoint* ApiServer::findEndpoint(std::string_view path) const {
  for (const Endpoint& endpoint : endpoints_) {
    if (endpoint.matches(path)) {
      return &endpoint;
    }
  }
  return nullptr;
}

// Answers `status` with `message` (returns true: the request was answered) and counts the
// refusal under `reason` (nullptr: not counted).
bool ApiServer::refuse(const httplib::Request& req, httplib::Response& res, int status,
                       const std::string& message, const char* reason) {
  if (expectsBody(req)) {
    GuardedServer::closeAfterResponse();
    res.set_header("Connection", "close");
  }
  if (reason != nullptr) {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    ++rejected_[reason];
  }
  sendError(res, status, message);
  return true;
}

// Counts the request against the client's read or write limit; answers 429 when over it.
bool ApiServer::refusedByRateLimit(const httplib::Request& req, httplib::Response& res,
                                   bool write) {
  MonoTime now = clock_.now();
  std::lock_guard<std::mutex> lock(limit_mutex_);
  RateLimiter& limiter = write ? write_limiter_ : read_limiter_;
  if (limiter.allow(req.remote_addr, now)) {
    return false;
  }
  auto wait = limiter.retryAfter(req.remote_addr, now);
  auto seconds = std::max<std::int64_t>(
      1, std::chrono::duration_cast<std::chrono::seconds>(wait + std::chrono::milliseconds(999))
             .count());
  res.set_header("Retry-After", std::to_string(seconds));
  return refuse(req, res, 429,
                std::string("too many ") + (write ? "write" : "read") + " requests from " +
                    req.remote_addr + "; retry in " + std::to_string(seconds) + "s",
                "rate_limited");
}

// Answers 401 or 403 unless the request carries the configured bearer token.
bool ApiServer::refusedByToken(const httplib::Request& req, httplib::Response& res) {
  switch (checkBearer(req.get_header_value("Authorization"), options_.token)) {
    case AuthResult::Ok:
      return false;
    case AuthResult::Missing:
      res.set_header("WWW-Authenticate", "Bearer realm=\"pathpilot\"");
      return refuse(req, res, 401, "this endpoint needs an Authorization: Bearer <token> header",
                    "unauthorized");
    case AuthResult::Invalid:
      spdlog::warn("api: {} {} from {} with a wrong bearer token", req.method, req.path,
                   req.remote_addr);
      return refuse(req, res, 403, "the bearer token is not valid", "forbidden");
    case AuthResult::Disabled:
      return refuse(req, res, 403,
                    "writes are disabled: set api.auth_token in the config to enable them",
                    "forbidden");
  }
  return false;
}

std::string ApiServer::requestTimeoutMessage() const {
  return "the request did not arrive within " +
         formatDuration(
             std::chrono::duration_cast<std::chrono::milliseconds>(options_.request_timeout));
}

std::string ApiServer::bodyTooLargeMessage() const {
  return "the request body is larger than " + std::to_string(options_.max_body_bytes) + " bytes";
}

// httplib calls this for every answer with a status of 400 or more. One that has a body (from
// the guard or a handler) stays as it is; the others are errors httplib found itself
// (malformed request, too large, timed out) and get the JSON error body here.
void ApiServer::answerTransportError(const httplib::Request& req, httplib::Response& res) {
  const auto* stream = GuardedServer::currentStream();
  if (stream != nullptr && stream->timedOut()) {
    res.status = 408;
    res.set_header("Connection", "close");
    res.body.clear();
  } else if (stream != nullptr && stream->headerLimitExceeded()) {
    res.status = 431;  // httplib reports the read it could not finish as 400
    res.body.clear();
  }
  if (!res.body.empty()) {
    return;
  }
  // The stream may be out of step with the requests, so close the connection after this answer.
  GuardedServer::closeAfterResponse();
  res.set_header("Connection", "close");
  sendError(res, res.status, transportErrorMessage(req, res.status));
}

std::string ApiServer::transportErrorMessage(const httplib::Request& req, int status) const {
  switch (status) {
    case 400:
      return "malformed HTTP request";
    case 404:
      return noSuchEndpoint(req);
    case 408:
      return requestTimeoutMessage();
    case 413:
      return bodyTooLargeMessage();
    case 414:
      return "the URI is too long";
    case 431:
      return "the request line and headers exceed " + std::to_string(options_.max_header_bytes) +
             " bytes or " + std::to_string(options_.max_header_fields) + " header fields";
    default:
      return std::string(codeName(status));
  }
}

// Reads a POST body of at most max_body_bytes into `body` (nothing when none is announced).
// Returns false when it could not, after answering 408, 413 or 400 and marking the connection
// to be closed (the rest of the body may still be on its way).
bool ApiServer::readBody(const httplib::Request& req, httplib::Response& res,
                         const httplib::ContentReader& content_reader, std::string& body) {
  if (!expectsBody(req)) {
    return true;
  }
  bool read = content_reader([&](const char* data, size_t length) {
    body.append(data, length);
    return body.size() <= options_.max_body_bytes;
  });
  if (read && body.size() <= options_.max_body_bytes) {
    return true;
  }
  GuardedServer::closeAfterResponse();
  res.set_header("Connection", "close");
  const auto* stream = GuardedServer::currentStream();
  if (stream != nullptr && stream->timedOut()) {
    sendError(res, 408, requestTimeoutMessage());
  } else if (res.status == 413 || body.size() > options_.max_body_bytes) {
    sendError(res, 413, bodyTooLargeMessage());
  } else {
    sendError(res, 400, "the request body could not be read");
  }
  return false;
}

void ApiServer::getHealthz(const httplib::Request&, httplib::Response& res, std::string_view) {
  auto snap = snapshots_.current();
  if (!snap) {
    sendJson(
        res, 503,
        {{"status", "starting"}, {"error", "no snapshot published yet"}, {"code", "unavailable"}});
    return;
  }
  double age = std::chrono::duration<double>(clock_.now() - snap->taken_mono).count();
  bool fresh = clock_.now() - snap->taken_mono <= options_.stale_after;
  Json body = {{"status", fresh ? "ok" : "stale"},
               {"snapshot_age_seconds", age},
               {"generation", snap->generation}};
  if (!fresh) {
    body["error"] = "the engine has not published a snapshot for " +
                    std::to_string(static_cast<long long>(age)) + "s (stalled?)";
    body["code"] = "unavailable";
  }
  sendJson(res, fresh ? 200 : 503, body);
}

void ApiServer::getMetrics(const httplib::Request&, httplib::Response& res, std::string_view) {
  auto snap = snapshots_.current();
  auto text = std::make_shared<const std::string>(renderMetrics(snap.get()));
  sendShared(res, text, *text, kMetricsType);
}

void ApiServer::getStatus(const httplib::Request&, httplib::Response& res, std::string_view) {
  auto snap = snapshots_.current();
  if (!snap) {
    sendError(res, 503, "the daemon is starting: no status yet");
    return;
  }
  const std::string& body = snap->statusBody();
  sendShared(res, snap, body, kJson);
}

void ApiServer::getHistory(const httplib::Request&, httplib::Response& res, std::string_view) {
  auto snap = snapshots_.current();
  if (!snap) {
    sendError(res, 503, "the daemon is starting: no history yet");
    return;
  }
  const std::string& body = snap->historyBody();
  sendShared(res, snap, body, kJson);
}

void ApiServer::getEvents(const httplib::Request& req, httplib::Response& res, std::string_view) {
  journal::Query q;
  if (auto error = parseEventQuery(req.params, clock_.wallNow(), options_.max_events, q)) {
    sendError(res, 400, *error);
    return;
  }
  if (events_ == nullptr) {
    sendError(res, 503,
              "the journal has no searchable store (journal.sqlite is empty in the config)");
    return;
  }
  auto found = events_->search(q);
  if (!found) {
    int status = found.error().code() == ErrorCode::InvalidArgument ? 400 : 503;
    sendError(res, status, "journal search failed: " + found.error().message());
    return;
  }
  Json list = Json::array();
  for (const auto& e : *found) {
    list.push_back(journal::toJson(e));
  }
  sendJson(res, 200, {{"events", std::move(list)}, {"count", found->size()}, {"limit", q.limit}});
}

void ApiServer::postDrain(const httplib::Request& req, httplib::Response& res,
                          std::string_view body) {
  std::string name = req.matches[1];
  ControlAction action = req.matches[2] == "drain" ? ControlAction::Drain : ControlAction::Undrain;
  std::string verb = action == ControlAction::Drain ? "drain" : "undrain";
  if (!validPathName(name)) {
    sendError(res, 400, "invalid path name (expected 1-64 of A-Z a-z 0-9 _ . -)");
    return;
  }
  auto comment = parseDrainBody(body);
  if (!comment) {
    sendError(res, 400, comment.error().message());
    return;
  }
  if (!control_) {
    sendError(res, 503, "drain and undrain are not available in this process");
    return;
  }
  auto result = control_(action, name);
  if (!result) {
    sendError(res, controlErrorStatus(result.error()), result.error().message());
    return;
  }
  spdlog::info("api: {} {} by {}{}: {}", verb, name, req.remote_addr,
               comment->empty() ? "" : " (" + *comment + ")", *result);
  sendJson(res, 200, {{"ok", true}, {"path", name}, {"action", verb}, {"message", *result}});
}

std::string ApiServer::renderMetrics(const Snapshot* snap) const {
  std::string out;
  if (snap != nullptr) {
    out.reserve(4096 + snap->metrics.paths.size() * 2600 + snap->metrics.routes.size() * 1200);
  }
  metrics::ExpositionWriter w(out);
  if (snap != nullptr) {
    metrics::renderDaemonMetrics(snap->metrics, w);
  }
  w.family("pathpilot_api_requests_total", metrics::MetricType::Counter,
           "HTTP API responses by status code.");
  std::map<int, std::uint64_t> responses;
  std::map<std::string, std::uint64_t> rejected;
  {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    responses = responses_;
    rejected = rejected_;
  }
  for (const auto& [code, n] : responses) {
    w.sample({{"code", std::to_string(code)}}, n);
  }
  rejected["saturated"] = transport_stats_->shed.load() + transport_stats_->reset.load();
  rejected["client_connections"] = transport_stats_->client_limit.load();
  rejected["request_timeout"] = transport_stats_->request_timeouts.load();
  rejected["response_timeout"] = transport_stats_->response_timeouts.load();
  rejected["header_too_large"] = transport_stats_->header_limit.load();
  for (const char* reason : {"rate_limited", "unauthorized", "forbidden", "bad_url"}) {
    rejected.try_emplace(reason, 0);
  }
  w.family("pathpilot_api_rejected_total", metrics::MetricType::Counter,
           "HTTP API requests refused before reaching a handler, by reason.");
  for (const auto& [reason, n] : rejected) {
    w.sample({{"reason", reason}}, n);
  }
  w.family("pathpilot_api_connections_total", metrics::MetricType::Counter,
           "TCP connections accepted by the HTTP API.");
  w.sample({}, transport_stats_->connections.load());
  w.family("pathpilot_api_connections_open", metrics::MetricType::Gauge,
           "HTTP API connections open now (served or waiting for a worker).");
  w.sample({}, transport_stats_->open.load());
  if (snap != nullptr) {
    w.family("pathpilot_api_snapshot_age_seconds", metrics::MetricType::Gauge,
             "Age of the engine snapshot served (grows when the engine stalls).");
    w.sample({}, std::chrono::duration<double>(clock_.now() - snap->taken_mono).count());
  }
  return out;
}

Result<void> ApiServer::start() {
  PP_CHECK(!started_);
  int port = 0;
  errno = 0;
  if (options_.port == 0) {
    port = http_->bind_to_any_port(options_.host);
  } else {
    port = http_->bind_to_port(options_.host, options_.port) ? options_.port : -1;
  }
  if (port <= 0) {
    int err = errno;
    std::string where = options_.host.find(':') != std::string::npos
                            ? "[" + options_.host + "]:" + std::to_string(options_.port)
                            : options_.host + ":" + std::to_string(options_.port);
    return fail(ErrorCode::Unavailable,
                "api: cannot listen on " + where +
                    (err != 0 ? std::string(": ") + std::strerror(err) : std::string()),
                err);
  }
  port_ = static_cast<std::uint16_t>(port);
  if (!http_->setListenBacklog(kListenBacklog)) {
    spdlog::warn("api: cannot raise the listen backlog to {}: {}", kListenBacklog,
                 std::strerror(errno));
  }
  started_ = true;
  thread_ = std::thread([this] { http_->listen_after_bind(); });
  // httplib's stop() does nothing until the listener thread has marked itself running, so
  // wait for that here (microseconds) rather than risk a stop() that never returns.
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!http_->is_running() && std::chrono::steady_clock::now() < until) {
    std::this_thread::yield();
  }
  return ok();
}

void ApiServer::stop() {
  if (!started_) {
    return;
  }
  started_ = false;
  http_->stop();
  if (thread_.joinable()) {
    thread_.join();
  }
}

}  // namespace pathpilot::api
