// httpserver/guarded_server.h — how pathpilot's HTTP servers accept connections and read requests.
//
// cpp-httplib parses HTTP and routes requests; its own connection loop, though, only has a
// per-read timeout, so a client that trickles one header byte every few seconds (slowloris)
// could hold a worker thread forever, and its thread pool queues connections without bound.
// GuardedServer keeps httplib's parsing and routing (Server::process_request) but admits
// connections and runs its own connection loop on its own stream:
//   - admission happens on the listener thread, before any byte is read: a client address
//     (an IPv6 client is its /64) may have max_connections_per_client connections served at
//     once, a cap below the number of workers, so one client can never hold every worker, and
//     max_queued_per_client more waiting behind them (a browser opens up to six connections
//     to one host: they wait, they are not refused); at most `threads` connections are served
//     at once and max_queued wait, shared fairly between addresses when full (submit()); any
//     further connection is answered 503 by a separate thread
//     that reads at most shed_drain_bytes from it, and when max_shed_queued connections
//     already wait for that answer, it is reset at once. So the API never holds more than
//     threads + max_queued + max_shed_queued descriptors, whatever a flood does
//     (fitToFdLimit() lowers the queues when RLIMIT_NOFILE is small);
//   - a request (request line, headers and body) must arrive within request_timeout in
//     total; this is a budget per connection, not per read: the time spent waiting for the
//     bytes of requests is summed over the connection (a slowloris that sends a byte just
//     before each read times out gains nothing, nor one that sends slow request after slow
//     request on a keep-alive connection). No read waits longer than read_timeout. A late
//     request gets 408 and the connection is closed;
//   - the request line and headers are at most max_header_bytes and max_header_fields
//     fields (httplib 0.11 buffers any number of header lines): more gets 431 and a close;
//   - responses get the same kind of budget: the time spent waiting for the client to make
//     room in the send buffer (a slow reader, or one that pipelines requests and never reads)
//     is summed over the connection and capped by response_timeout; past it the connection
//     is closed. No single write waits longer than write_timeout;
//   - an idle keep-alive connection is closed after idle_timeout, and after
//     max_requests_per_connection requests; at once when a connection of the same client
//     waits (held back by the client's cap), or when every worker is busy and a connection
//     the cap does not hold back waits (BoundedTaskQueue::shouldYield).
// Used by the daemon's API (api/server.h) and the gateway agent's /metrics (agent/agent.h).
//
// How it hooks into httplib (checked at build time for the 0.11 series; see
// kHttplibHookChecked below): httplib's listener thread accepts a socket and calls
// TaskQueue::enqueue with a job that calls the private virtual
// Server::process_and_close_socket(sock). BoundedTaskQueue::enqueue runs that job at once, on
// the listener thread, and GuardedServer's override then admits (or sheds) the socket and
// hands it to a worker itself. TransportStats::hook_calls counts the override's calls; a
// unit test checks it runs once per connection.
//
// Threading: httplib's listener thread accepts and admits; BoundedTaskQueue's workers serve;
// one shedding thread answers 503.
// Metrics: TransportStats (exported as pathpilot_api_rejected_total{reason} and
// pathpilot_api_connections_*).
#pragma once

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/time.h"

namespace pathpilot::httpserver {

// "0.11.4" → {0, 11}; {-1, -1} when it is not "MAJOR.MINOR...". For the build-time check.
struct LibraryVersion {
  int major = -1;
  int minor = -1;
};
constexpr LibraryVersion parseLibraryVersion(std::string_view v) {
  LibraryVersion out;
  int* field = &out.major;
  int value = -1;
  for (char c : v) {
    if (c >= '0' && c <= '9') {
      value = (value < 0 ? 0 : value * 10) + (c - '0');
    } else if (c == '.' && value >= 0 && field == &out.major) {
      out.major = value;
      field = &out.minor;
      value = -1;
    } else {
      break;
    }
  }
  if (field == &out.minor && value >= 0) {
    out.minor = value;
  } else {
    out = LibraryVersion{};
  }
  return out;
}

// GuardedServer overrides a PRIVATE virtual of httplib::Server (process_and_close_socket) and
// relies on how Server::listen_internal hands accepted sockets to TaskQueue::enqueue. Neither
// is an API: a new httplib may still compile and silently stop calling the override, which
// would leave the API without its slowloris, per-client and overload guards. So the build
// accepts only the series this was checked against; src/api/CMakeLists.txt checks the same.
inline constexpr LibraryVersion kHttplibHookChecked{0, 11};
inline constexpr LibraryVersion kHttplibVersion = parseLibraryVersion(CPPHTTPLIB_VERSION);
static_assert(
    kHttplibVersion.major == kHttplibHookChecked.major &&
        kHttplibVersion.minor == kHttplibHookChecked.minor,
    "cpp-httplib is not 0.11.x: api::GuardedServer (httpserver/guarded_server.cc) overrides "
    "httplib's private virtual Server::process_and_close_socket and runs the job "
    "Server::listen_internal passes to TaskQueue::enqueue on the listener thread. "
    "Read listen_internal and process_and_close_socket of this version, adapt "
    "GuardedServer if needed, run `httpserver_test` (the "
    "hook must run once per connection), then update kHttplibHookChecked here and "
    "the version range in src/api/CMakeLists.txt.");

struct TransportOptions {
  std::size_t threads = 4;      // connections served at once
  std::size_t max_queued = 64;  // admitted, waiting for a worker; more → 503
  // Connections of one client address served at once; its further connections wait.
  // 0: threads - 1. Always capped at threads - 1 (at least 1), so that one client cannot hold
  // every worker.
  std::size_t max_connections_per_client = 0;
  // Connections of one client address waiting behind its served ones; more → 503 without
  // reading (TransportStats::client_limit).
  std::size_t max_queued_per_client = 12;
  std::size_t max_requests_per_connection = 100;  // keep-alive requests, then close
  // Summed time a connection may wait for request bytes (line + headers + body); late → 408.
  Duration request_timeout = std::chrono::seconds(10);
  Duration read_timeout = std::chrono::seconds(5);  // longest silence inside a request
  // Summed time a connection may wait for its client to read responses; past it: closed.
  Duration response_timeout = std::chrono::seconds(10);
  Duration write_timeout = std::chrono::seconds(10);  // longest wait for send buffer space
  Duration idle_timeout = std::chrono::seconds(5);    // keep-alive wait for the next request
  std::size_t max_header_bytes = 16 * 1024;           // request line + header lines; more → 431
  std::size_t max_header_fields = 64;                 // header lines; more → 431
  // SO_SNDBUF of a served connection: what a client that stops reading can pin in kernel
  // memory (Linux autotunes up to 4 MiB per socket otherwise, so a slow reader of a response
  // under that size costs no worker time but pins the memory). 0: the kernel's default.
  int send_buffer_bytes = 256 * 1024;
  // Connections waiting for their 503; more are reset (RST) at once by the listener.
  std::size_t max_shed_queued = 64;
  // Bytes read and discarded from a shed connection before it is closed (so that the 503 is
  // not destroyed by an RST), however fast the client sends.
  std::size_t shed_drain_bytes = 16 * 1024;
  // Added to the nice value of the worker threads, so that on a small monitor a flood of API
  // requests yields the CPU to the engine thread (0: same priority). Linux nice is per thread.
  int nice = 5;
};

// The per-client cap on connections served at once in force for `options` (see
// TransportOptions::max_connections_per_client).
std::size_t effectiveClientCap(const TransportOptions& options);
// Connections one client address may have open, served or waiting, under `options`.
std::size_t clientOpenLimit(const TransportOptions& options);

// `options` with max_queued and max_shed_queued lowered so that the descriptors the server
// can hold (threads + max_queued + max_shed_queued + the listener) stay within a quarter of
// `fd_limit` (RLIMIT_NOFILE); each queue keeps at least 1. The daemon's other sockets, files
// and pipes keep the rest.
TransportOptions fitToFdLimit(TransportOptions options, std::uint64_t fd_limit);

struct TransportStats {
  std::atomic<std::uint64_t> connections{0};       // accepted
  std::atomic<std::uint64_t> hook_calls{0};        // process_and_close_socket calls
  std::atomic<std::uint64_t> unadmitted{0};        // ... of them not from BoundedTaskQueue::enqueue
  std::atomic<std::uint64_t> shed{0};              // answered 503: too many queued
  std::atomic<std::uint64_t> fair_evictions{0};    // ... of them taken out for a fairer share
  std::atomic<std::uint64_t> client_limit{0};      // answered 503: too many open from one client
  std::atomic<std::uint64_t> reset{0};             // reset at once: the shed queue was full
  std::atomic<std::uint64_t> request_timeouts{0};  // closed: request not received in time
  std::atomic<std::uint64_t> response_timeouts{0};  // closed: client did not read in time
  std::atomic<std::uint64_t> header_limit{0};       // 431: too many or too large headers
  std::atomic<std::uint64_t> open{0};               // admitted connections open now (gauge)
};

// Counts the request line and header lines of one request as they are delivered to httplib,
// and says when they exceed the limits. Not a parser: it only counts bytes and line feeds up
// to the first empty line (CRLF CRLF, or LF LF as httplib also accepts).
class HeaderBudget {
 public:
  HeaderBudget(std::size_t max_bytes, std::size_t max_fields)
      : max_bytes_(max_bytes), max_fields_(max_fields) {}

  // Starts a new request.
  void reset();
  // Accounts bytes delivered while the header block is incomplete; bytes after its end are
  // the body and are not looked at. False once a limit is exceeded (and from then on).
  bool feed(const char* data, std::size_t size);
  bool complete() const { return complete_; }
  bool exceeded() const { return exceeded_; }

 private:
  std::size_t max_bytes_;
  std::size_t max_fields_;
  std::size_t bytes_ = 0;
  std::size_t lines_ = 0;       // complete lines, request line included
  std::size_t line_bytes_ = 0;  // bytes of the current line before its LF (CR excluded)
  bool complete_ = false;
  bool exceeded_ = false;
};

// Time a connection may still spend waiting, summed over its waits.
class WaitBudget {
 public:
  explicit WaitBudget(Duration total) : total_(total) {}
  Duration left() const { return used_ >= total_ ? Duration::zero() : total_ - used_; }
  void charge(Duration waited) { used_ += std::max(waited, Duration::zero()); }
  bool exhausted() const { return used_ >= total_; }

 private:
  Duration total_;
  Duration used_ = Duration::zero();
};

// A fixed pool of workers plus one thread that answers overflow connections with 503.
// enqueue() runs httplib's per-connection job at once on the calling (listener) thread: with
// GuardedServer, that job only admits the connection and submit()s or shed()s it.
// Workers take queued connections in order, skipping those of a client that already has
// `per_client` served (0: no such cap); they wait for one of its connections to end.
class BoundedTaskQueue final : public httplib::TaskQueue {
 public:
  BoundedTaskQueue(std::size_t threads, std::size_t max_queued, std::size_t max_shed_queued,
                   int nice = 0, std::size_t per_client = 0);
  ~BoundedTaskQueue() override;

  // httplib::TaskQueue
  void enqueue(std::function<void()> fn) override;
  void shutdown() override;

  // Queues a connection of `client` for a worker. When max_queued already wait, the queue is
  // shared fairly between client addresses: if some client has at least two more connections
  // waiting than `client`, the newest of them is taken out of the queue (its `evicted` runs,
  // after the queue's lock is released: answer it 503) and this one queued; else false
  // (nothing queued). So a flood from many addresses cannot keep a client that sends one
  // request at a time out of the queue while a flooder holds more than one place.
  bool submit(const std::string& client, std::function<void()> job,
              std::function<void()> evicted = {});
  // Queues a connection for the 503 responder. False: max_shed_queued already wait.
  bool shed(std::function<void()> job);
  // Connections waiting for a worker now.
  std::size_t waiting() const { return waiting_.load(std::memory_order_relaxed); }
  // True when an idle connection of `client` should give its worker up: a connection of the
  // same client waits (the per-client cap holds it back until one of its own ends), or every
  // worker is serving (one that has not started yet, or is between two connections, is not)
  // and a connection that the cap does not hold back waits.
  bool shouldYield(const std::string& client) const;

  // The queue whose enqueue() is running on this thread (the listener admitting), or nullptr.
  static BoundedTaskQueue* admitting();

 private:
  void work();                 // worker thread: runs queued connections
  void respond();              // overload thread: answers 503 without reading much
  void lowerPriority() const;  // applies `nice` to the calling thread

  std::size_t threads_;
  std::size_t max_queued_;
  std::size_t max_shed_queued_;
  int nice_;
  std::size_t per_client_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::condition_variable shed_cv_;
  struct Job {
    std::string client;
    std::function<void()> run;
    std::function<void()> evicted;
  };
  std::deque<Job> jobs_;
  // The first queued job whose client is below the per-client cap, or jobs_.end(). Requires:
  // mutex_ held.
  std::deque<Job>::iterator nextRunnable();
  bool runnable(const std::string& client) const;  // below the cap; requires: mutex_ held
  std::map<std::string, std::size_t, std::less<>> queued_by_client_;
  std::map<std::string, std::size_t, std::less<>> served_by_client_;
  std::deque<std::function<void()>> shed_jobs_;
  std::atomic<std::size_t> waiting_{0};
  std::atomic<std::size_t> busy_{0};  // workers serving a connection
  bool shutdown_ = false;
  std::vector<std::thread> workers_;
  std::thread shedder_;
};

// One client connection: buffered reads with the request and response budgets above.
class ConnectionStream final : public httplib::Stream {
 public:
  // `stopping`: the server is stopping (every wait gives up). `pressure`: another connection
  // needs this worker (an idle keep-alive wait gives up; BoundedTaskQueue::shouldYield).
  ConnectionStream(int fd, const TransportOptions& options, std::function<bool()> stopping,
                   std::function<bool()> pressure = {});

  // Waits up to idle_timeout for the next request to start. False: idle, closed, stopping,
  // or other connections need the worker.
  bool waitForRequest();
  // Marks the start of the request about to be read.
  void beginRequest();
  // True once a read gave up because the request budget was spent.
  bool timedOut() const { return timed_out_; }
  // True once a write gave up because the response budget was spent.
  bool responseTimedOut() const { return response_timed_out_; }
  // True once the request line and headers exceeded max_header_bytes / max_header_fields.
  bool headerLimitExceeded() const { return headers_.exceeded(); }

  // httplib::Stream
  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return fd_; }

 private:
  // Polls for `events` for at most `max`, in slices so that a stopping server is noticed;
  // adds the time waited to `*waited` when given.
  bool pollFor(short events, Duration max, Duration* waited = nullptr) const;

  int fd_;
  const TransportOptions& options_;
  std::function<bool()> stopping_;
  std::function<bool()> pressure_;
  bool served_one_ = false;
  mutable WaitBudget request_budget_;
  mutable WaitBudget response_budget_;
  mutable bool timed_out_ = false;
  mutable bool response_timed_out_ = false;
  HeaderBudget headers_;
  std::vector<char> buffer_;
  std::size_t buffer_begin_ = 0;
  std::size_t buffer_end_ = 0;
};

// httplib::Server with the admission and connection loop described above.
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

  const TransportOptions& options() const { return options_; }

  // Raises the listen backlog of the bound socket (httplib 0.11 listens with 5, so a burst of
  // connections overflows it and well-behaved clients wait for SYN retransmits, 1 s and up).
  // The accept queue holds kernel sockets, not descriptors of this process. Requires: bound.
  bool setListenBacklog(int backlog);

 private:
  // httplib::Server (its private virtual hook: one call per accepted connection). Called on
  // the listener thread from BoundedTaskQueue::enqueue: admits, queues or sheds `sock`.
  bool process_and_close_socket(socket_t sock) override;
  // Runs on a worker: the connection loop, then closes `sock` and releases `client`'s slot.
  void serve(socket_t sock, const std::string& client);
  void release(const std::string& client);

  TransportOptions options_;
  TransportStats& stats_;
  std::size_t client_open_limit_;                  // served + waiting connections per client
  std::atomic<BoundedTaskQueue*> queue_{nullptr};  // made by new_task_queue; owned by httplib
  std::mutex clients_mutex_;
  std::map<std::string, std::size_t> clients_;  // open connections per client key
};

// The numeric address of the peer of `fd` ("127.0.0.1", "::1"), or "" if unknown.
std::string peerAddress(int fd);

// The key the per-client cap counts under: the address itself for IPv4 (and IPv4-mapped
// IPv6), the /64 for other IPv6 addresses (one host usually owns a whole /64).
std::string clientKey(std::string_view address);

}  // namespace pathpilot::httpserver
