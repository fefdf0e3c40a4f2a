// api/server.h — the local HTTP API, /metrics and the dashboard.
//
// Purpose: what operators and tools see of a running daemon over HTTP (cpp-httplib):
//   GET  /                          the dashboard (web/, embedded in the binary)
//   GET  /healthz                   200 while the engine publishes fresh snapshots, else 503
//   GET  /metrics                   Prometheus text format 0.0.4 (metrics/daemon_metrics.h)
//   GET  /api/v1/status             the same document as `pathpilot status --json`
//   GET  /api/v1/history            per-path loss/RTT of the last minutes (sparklines)
//   GET  /api/v1/events?site=&path=&link=&kind=&route_table=&severity=&since=&until=&q=
//                      &limit=&after_seq=&before_seq=
//                                   journal search (journal/query.h), newest first
//   POST /api/v1/paths/{name}/drain, /undrain
//                                   operator drain; needs `Authorization: Bearer <token>`;
//                                   optional JSON body {"comment": "..."} (logged)
// Every error is JSON: {"error": "<what and where>", "code": "<kind>"} with the HTTP status:
// 400 malformed request, bad parameter (named), malformed JSON, dot segments in the URL;
// 401 no bearer token (with WWW-Authenticate); 403 wrong token or writes disabled (no token
// configured); 404 unknown endpoint or path; 405 wrong method (with Allow); 408 request not
// received within request_timeout (slowloris); 413 body too large; 414 URI too long;
// 421 Host header not allowed; 429 rate limited (with Retry-After); 431 too many or too large
// header fields; 503 no snapshot yet, journal unavailable, engine busy, server saturated or
// too many connections from one client (the last two sent without reading the request).
// A client that does not read its responses within response_timeout is disconnected.
//
// Every request first passes one guard, in this order: Host allow-list, URL, endpoint and
// method, the client's read or write rate limit, the bearer token (writes always, reads with
// auth_reads). Only then does httplib read a body or run a route regex, and call the
// endpoint's handler. The endpoints are one table in server.cc (routes()): method, path,
// guard level (read or write) and handler; the guard and httplib both go by it.
//
// The server only reads immutable snapshots from a SnapshotStore and searches the journal
// (thread-safe, its own read connection); drain/undrain go through a ControlFn that the
// daemon implements by posting to the engine thread with a timeout (api/loop_call.h). So
// nothing here can block the engine.
//
// Threading: own threads (httplib's listener, `threads` workers, one overload responder).
// start() and stop() from one thread. ControlFn is called on worker threads.
// Metrics (appended to /metrics): pathpilot_api_requests_total{code},
// pathpilot_api_rejected_total{reason}, pathpilot_api_connections_total,
// pathpilot_api_connections_open, pathpilot_api_snapshot_age_seconds.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "api/rate_limiter.h"
#include "api/snapshot.h"
#include "base/error.h"
#include "base/time.h"
#include "journal/event_log.h"

namespace httplib {
class ContentReader;
struct Request;
struct Response;
}  // namespace httplib

namespace pathpilot::httpserver {
class GuardedServer;
struct TransportStats;
}  // namespace pathpilot::httpserver

namespace pathpilot::api {

struct ApiOptions {
  std::string host = "127.0.0.1";  // numeric address; "::1" for IPv6
  std::uint16_t port = 9180;       // 0: any free port (tests)
  // Bearer token for the write endpoints; nullopt: writes are refused (403).
  std::optional<std::string> token;
  // Reads need the bearer token too (401/403 like writes). Requires: token set.
  bool auth_reads = false;
  // Host header values accepted besides IP literals and "localhost" (case-insensitive, port
  // ignored); any other name is refused with 421 before anything else is looked at, so that a
  // page whose DNS name was rebound to this address cannot read the API from a browser.
  std::vector<std::string> allowed_hosts;

  std::size_t threads = 4;      // requests served at once
  std::size_t max_queued = 64;  // connections waiting for a worker; more get 503
  // Connections of one client address served at once; capped below `threads`
  // (httpserver/guarded_server.h), so one client cannot hold every worker. Its further connections
  // wait (up to max_queued_per_client; more get 503 without being read).
  std::size_t max_connections_per_client = 3;
  std::size_t max_queued_per_client = 12;
  std::size_t max_requests_per_connection = 100;
  std::size_t max_body_bytes = 16 * 1024;  // POST bodies
  // Whole requests must arrive in this (summed over a connection's requests); late: 408.
  Duration request_timeout = std::chrono::seconds(10);
  Duration read_timeout = std::chrono::seconds(5);  // longest silence within a request
  // A client must read responses within this (summed over the connection), or is closed.
  Duration response_timeout = std::chrono::seconds(10);
  Duration write_timeout = std::chrono::seconds(10);
  std::size_t max_header_bytes = 16 * 1024;         // request line and headers; more: 431
  std::size_t max_header_fields = 64;               // header lines; more: 431
  Duration idle_timeout = std::chrono::seconds(5);  // keep-alive
  RateLimit read_limit{100, 200};                   // per client address: requests/s and burst
  RateLimit write_limit{2, 10};
  Duration control_timeout = std::chrono::seconds(5);  // wait for the engine on drain
  std::size_t max_events = 1000;                       // largest `limit` of /api/v1/events
  Duration stale_after = std::chrono::seconds(10);     // /healthz fails when older
};

enum class ControlAction { Drain, Undrain };

// Performs a drain/undrain on the engine thread; returns the engine's message or its error
// (NotFound for an unknown path, Timeout when the engine did not answer in time).
using ControlFn = std::function<Result<std::string>(ControlAction, const std::string& path)>;

class ApiServer {
 public:
  // `snapshots`, `clock` and `events` (nullable: no journal search, 503) must outlive the
  // server. `control` may be empty (writes then answer 503).
  ApiServer(ApiOptions options, const SnapshotStore& snapshots, const Clock& clock,
            journal::EventLog* events, ControlFn control);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Binds and starts serving. Errors: Unavailable naming the address when it cannot bind
  // ("cannot listen on 127.0.0.1:9180: Address already in use").
  [[nodiscard]] Result<void> start();
  // Stops accepting and waits for in-flight requests (bounded by the timeouts).
  void stop();

  // The bound port (useful with port 0). Requires: start() succeeded.
  std::uint16_t port() const { return port_; }

  // The whole /metrics text for `snapshot` (nullable) plus the server's own families.
  std::string renderMetrics(const Snapshot* snapshot) const;

 private:
  // One row of the endpoint table: method, path, guard level and handler (server.cc).
  struct Endpoint;

  // Transport settings, the guard and the error and exception handlers.
  void configure();
  // The endpoint table, registered with httplib. The table is complete before the server
  // starts and never changes, so worker threads read it without a lock.
  void routes();
  void route(const Endpoint& endpoint);
  void countStatus(int status);

  // The guard: the checks every request passes before httplib routes it (Host, URL, endpoint
  // and method, rate limit, bearer token). Each returns true when it answered (refused) the
  // request. Worker threads.
  bool guard(const httplib::Request& req, httplib::Response& res);
  const Endpoint* findEndpoint(std::string_view path) const;
  bool refuse(const httplib::Request& req, httplib::Response& res, int status,
              const std::string& message, const char* reason);
  bool refusedByRateLimit(const httplib::Request& req, httplib::Response& res, bool write);
  bool refusedByToken(const httplib::Request& req, httplib::Response& res);

  // Errors httplib finds itself (malformed, too large, timed out) and POST bodies.
  void answerTransportError(const httplib::Request& req, httplib::Response& res);
  std::string transportErrorMessage(const httplib::Request& req, int status) const;
  std::string requestTimeoutMessage() const;
  std::string bodyTooLargeMessage() const;
  bool readBody(const httplib::Request& req, httplib::Response& res,
                const httplib::ContentReader& content_reader, std::string& body);

  // The handlers, one per endpoint (the dashboard's files share one). `body` is empty for GET.
  void getHealthz(const httplib::Request& req, httplib::Response& res, std::string_view body);
  void getMetrics(const httplib::Request& req, httplib::Response& res, std::string_view body);
  void getStatus(const httplib::Request& req, httplib::Response& res, std::string_view body);
  void getHistory(const httplib::Request& req, httplib::Response& res, std::string_view body);
  void getEvents(const httplib::Request& req, httplib::Response& res, std::string_view body);
  void postDrain(const httplib::Request& req, httplib::Response& res, std::string_view body);

  ApiOptions options_;
  const SnapshotStore& snapshots_;
  const Clock& clock_;
  journal::EventLog* events_;
  ControlFn control_;
  std::unique_ptr<httpserver::TransportStats> transport_stats_;
  std::unique_ptr<httpserver::GuardedServer> http_;
  std::thread thread_;
  std::uint16_t port_ = 0;
  bool started_ = false;
  std::vector<Endpoint> endpoints_;  // routes(); httplib's handlers point into it

  mutable std::mutex limit_mutex_;
  RateLimiter read_limiter_;
  RateLimiter write_limiter_;

  mutable std::mutex stats_mutex_;
  std::map<int, std::uint64_t> responses_;         // by status code
  std::map<std::string, std::uint64_t> rejected_;  // by reason
};

}  // namespace pathpilot::api
