// api/http_transport.h — how pathpilot's HTTP servers accept connections and read requests.
//
// cpp-httplib parses HTTP and routes requests; its own connection loop, though, only has a
// per-read timeout, so a client that trickles one header byte every few seconds (slowloris)
// could hold a worker thread forever, and its thread pool queues connections without bound.
// GuardedServer keeps httplib's parsing and routing (Server::process_request) but runs its own
// connection loop on its own stream:
//   - a whole request (request line, headers and body) must arrive within request_timeout,
//     and no read may wait longer than read_timeout; a late request gets 408 and is closed;
//   - an idle keep-alive connection is closed after idle_timeout, and after
//     max_requests_per_connection requests;
//   - at most max_connections_per_client connections per client address at once (503);
//   - at most `threads` connections are served at once and max_queued wait; any further
//     connection is answered 503 at once by a separate thread that never reads from it.
// Used by the daemon's API (api/server.h) and the gateway agent's /metrics (agent/agent.h).
// Threading: httplib's listener thread accepts; BoundedTaskQueue's workers serve.
// Metrics: TransportStats (exported as pathpilot_api_rejected_total{reason}).
#pragma once

#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/time.h"

namespace pathpilot::api {

struct TransportOptions {
  std::size_t threads = 4;                        // connections served at once
  std::size_t max_queued = 64;                    // accepted, waiting for a worker; more → 503
  std::size_t max_connections_per_client = 16;    // per peer address; more → 503
  std::size_t max_requests_per_connection = 100;  // keep-alive requests, then close
  Duration request_timeout = std::chrono::seconds(10);  // line + headers + body; late → 408
  Duration read_timeout = std::chrono::seconds(5);      // longest silence inside a request
  Duration write_timeout = std::chrono::seconds(10);    // longest wait for send buffer space
  Duration idle_timeout = std::chrono::seconds(5);      // keep-alive wait for the next request
  // Added to the nice value of the worker threads, so that on a small monitor a flood of API
  // requests yields the CPU to the engine thread (0: same priority). Linux nice is per thread.
  int nice = 5;
};

struct TransportStats {
  std::atomic<std::uint64_t> connections{0};
  std::atomic<std::uint64_t> shed{0};             // answered 503: too many queued
  std::atomic<std::uint64_t> client_limit{0};     // answered 503: too many from one client
  std::atomic<std::uint64_t> request_timeouts{0};  // closed: request not received in time
};

// A fixed pool of workers plus one thread that answers overflow connections with 503.
class BoundedTaskQueue final : public httplib::TaskQueue {
 public:
  BoundedTaskQueue(std::size_t threads, std::size_t max_queued, int nice = 0);
  ~BoundedTaskQueue() override;

  // httplib::TaskQueue
  void enqueue(std::function<void()> fn) override;
  void shutdown() override;

  // True on the thread that answers overflow connections.
  static bool sheddingThread();

 private:
  void work();                 // worker thread: runs queued connections
  void shed();                 // overload thread: answers 503 without reading
  void lowerPriority() const;  // applies `nice` to the calling thread

  std::size_t max_queued_;
  int nice_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::condition_variable shed_cv_;
  std::deque<std::function<void()>> jobs_;
  std::deque<std::function<void()>> shed_jobs_;
  bool shutdown_ = false;
  std::vector<std::thread> workers_;
  std::thread shedder_;
};

// One client connection: buffered reads with a per-request deadline and per-read timeout.
class ConnectionStream final : public httplib::Stream {
 public:
  ConnectionStream(int fd, const TransportOptions& options, std::function<bool()> stopping);

  // Waits up to idle_timeout for the next request to start. False: idle, closed or stopping.
  bool waitForRequest();
  // Starts the request_timeout clock for the request about to be read.
  void beginRequest();
  // True once a read gave up because the request deadline passed.
  bool timedOut() const { return timed_out_; }

  // httplib::Stream
  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return fd_; }

 private:
  // Polls for `events` for at most `max`, in slices so that a stopping server is noticed.
  bool pollFor(short events, Duration max) const;

  int fd_;
  const TransportOptions& options_;
  std::function<bool()> stopping_;
  MonoTime deadline_ = MonoTime::max();
  mutable bool timed_out_ = false;
  std::vector<char> buffer_;
  std::size_t buffer_begin_ = 0;
  std::size_t buffer_end_ = 0;
};

// httplib::Server with the connection loop described above.
class GuardedServer final : public httplib::Server {
 public:
  GuardedServer(TransportOptions options, TransportStats& stats);

  // The stream of the request being handled on this thread (for the error handler: a request
  // that timed out gets 408), or nullptr.
  static const ConnectionStream* currentStream();
  // Closes the connection after the response being prepared on this thread (a handler that
  // answered without reading the request body calls it: the unread body must not be parsed
  // as the next request).
  static void closeAfterResponse();

 private:
  // httplib::Server (its private virtual hook: one call per accepted connection).
  bool process_and_close_socket(socket_t sock) override;

  TransportOptions options_;
  TransportStats& stats_;
  std::mutex clients_mutex_;
  std::map<std::string, std::size_t> clients_;  // open connections per client address
};

// The numeric address of the peer of `fd` ("127.0.0.1", "::1"), or "" if unknown.
std::string peerAddress(int fd);

}  // namespace pathpilot::api
