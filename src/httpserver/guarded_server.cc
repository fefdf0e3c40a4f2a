#include "httpserver/guarded_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace pathpilot::httpserver {
namespace {

thread_local BoundedTaskQueue* t_admitting = nullptr;
thread_local const ConnectionStream* t_stream = nullptr;
thread_local bool t_close_after = false;

// Slice of every wait, so that stop() is noticed within this time.
constexpr Duration kPollSlice = std::chrono::milliseconds(50);

// Answers sent without reading the request.
std::string cannedBusy(const std::string& message) {
  std::string body = "{\"error\":\"" + message + "\",\"code\":\"unavailable\"}";
  return "HTTP/1.1 503 Service Unavailable\r\n"
         "Content-Type: application/json\r\n"
         "Cache-Control: no-store\r\n"
         "Retry-After: 1\r\n"
         "Connection: close\r\n"
         "Content-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// The server is saturated (every worker busy, the queue full).
const std::string& busyResponse() {
  static const std::string response = cannedBusy("the API is saturated; retry in a second");
  return response;
}

// The client address has max_connections_per_client connections open.
const std::string& clientLimitResponse() {
  static const std::string response = cannedBusy(
      "too many open connections from this client address; close one or retry in a second");
  return response;
}

std::string numericHost(const sockaddr_storage& ss, socklen_t len, int* port) {
  char host[NI_MAXHOST];
  char serv[NI_MAXSERV];
  if (::getnameinfo(reinterpret_cast<const sockaddr*>(&ss), len, host, sizeof host, serv,
                    sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return "";
  }
  if (port != nullptr) {
    *port = std::atoi(serv);
  }
  return host;
}

void closeSocket(int fd) {
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

// Writes the canned 503 without blocking, then discards what the client already sent (at
// most `drain_bytes`, so a client that keeps sending cannot keep this thread reading), so that
// close() sends FIN rather than RST (which could destroy the response in flight).
void answerBusy(int fd, const std::string& busy, std::size_t drain_bytes) {
  (void)::send(fd, busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  char sink[4096];
  std::size_t drained = 0;
  while (drained < drain_bytes) {
    ssize_t n = ::recv(fd, sink, std::min(sizeof sink, drain_bytes - drained), MSG_DONTWAIT);
    if (n <= 0) {
      break;
    }
    drained += static_cast<std::size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  ::close(fd);
}

// Closes with an RST (SO_LINGER 0): the descriptor and the kernel's socket are freed at once,
// with no TIME_WAIT and nothing to answer. For connections even the 503 queue has no room for.
void resetSocket(int fd) {
  linger l{1, 0};
  (void)::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

int toPollTimeout(Duration d) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  return static_cast<int>(std::clamp<std::int64_t>(ms, 0, 1000000));
}

}  // namespace

std::string peerAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return "";
  }
  return numericHost(ss, len, nullptr);
}

std::string clientKey(std::string_view address) {
  if (address.find(':') == std::string_view::npos) {
    return std::string(address);
  }
  std::string text(address.substr(0, address.find('%')));  // no zone index
  in6_addr a{};
  if (::inet_pton(AF_INET6, text.c_str(), &a) != 1 || IN6_IS_ADDR_V4MAPPED(&a) ||
      IN6_IS_ADDR_LOOPBACK(&a)) {
    return text;
  }
  std::memset(a.s6_addr + 8, 0, 8);
  char out[INET6_ADDRSTRLEN];
  if (::inet_ntop(AF_INET6, &a, out, sizeof out) == nullptr) {
    return text;
  }
  return std::string(out) + "/64";
}

std::size_t effectiveClientCap(const TransportOptions& options) {
  const std::size_t below_workers = std::max<std::size_t>(options.threads, 2) - 1;
  const std::size_t wanted =
      options.max_connections_per_client == 0 ? below_workers : options.max_connections_per_client;
  return std::min(wanted, below_workers);
}

std::size_t clientOpenLimit(const TransportOptions& options) {
  return effectiveClientCap(options) + options.max_queued_per_client;
}

TransportOptions fitToFdLimit(TransportOptions options, std::uint64_t fd_limit) {
  const std::uint64_t budget = fd_limit / 4;
  const std::uint64_t fixed = options.threads + 1;  // workers' sockets and the listener
  std::uint64_t queues = options.max_queued + options.max_shed_queued;
  if (fixed + queues <= budget) {
    return options;
  }
  const std::uint64_t room = budget > fixed + 2 ? budget - fixed : 2;
  // Share what is left in proportion, each queue keeping at least one slot.
  const std::uint64_t queued = std::max<std::uint64_t>(1, room * options.max_queued / queues);
  options.max_queued = static_cast<std::size_t>(queued);
  options.max_shed_queued = static_cast<std::size_t>(std::max<std::uint64_t>(1, room - queued));
  return options;
}

// ---------------------------------------------------------------------------------------------
// HeaderBudget

void HeaderBudget::reset() {
  bytes_ = 0;
  lines_ = 0;
  line_bytes_ = 0;
  complete_ = false;
  exceeded_ = false;
}

bool HeaderBudget::feed(const char* data, std::size_t size) {
  for (std::size_t i = 0; i < size && !complete_ && !exceeded_; ++i) {
    ++bytes_;
    const char c = data[i];
    if (c == '\n') {
      if (line_bytes_ == 0) {
        complete_ = true;  // the empty line that ends the header block
        break;
      }
      ++lines_;
      line_bytes_ = 0;
    } else if (c != '\r') {
      ++line_bytes_;
    }
    // lines_ counts the request line too: fields = lines_ - 1, plus the line being read.
    const std::size_t fields = lines_ + (line_bytes_ > 0 ? 1 : 0);
    if (bytes_ > max_bytes_ || (fields > 0 && fields - 1 > max_fields_)) {
      exceeded_ = true;
    }
  }
  return !exceeded_;
}

// ---------------------------------------------------------------------------------------------
// BoundedTaskQueue

BoundedTaskQueue::BoundedTaskQueue(std::size_t threads, std::size_t max_queued,
                                   std::size_t max_shed_queued, int nice, std::size_t per_client)
    : threads_(std::max<std::size_t>(threads, 1)),
      max_queued_(max_queued),
      max_shed_queued_(max_shed_queued),
      nice_(nice),
      per_client_(per_client) {
  for (std::size_t i = 0; i < threads_; ++i) {
    workers_.emplace_back([this] { work(); });
  }
  shedder_ = std::thread([this] { respond(); });
}

BoundedTaskQueue::~BoundedTaskQueue() { shutdown(); }

BoundedTaskQueue* BoundedTaskQueue::admitting() { return t_admitting; }

void BoundedTaskQueue::enqueue(std::function<void()> fn) {
  // httplib's listener passes one job per accepted socket; it calls the server's
  // process_and_close_socket, which (seeing admitting()) only decides where the socket goes
  // and returns at once: no read, no blocking call.
  t_admitting = this;
  fn();
  t_admitting = nullptr;
}

bool BoundedTaskQueue::submit(const std::string& client, std::function<void()> job,
                              std::function<void()> evicted) {
  std::function<void()> evict;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (shutdown_) {
      return false;
    }
    if (jobs_.size() >= max_queued_) {
      // Full: the client with the most waiting gives up its newest place, if it has at least
      // two more than this one (one more would only swap who is refused).
      auto mine = queued_by_client_.find(client);
      const std::size_t have = mine == queued_by_client_.end() ? 0 : mine->second;
      auto most =
          std::max_element(queued_by_client_.begin(), queued_by_client_.end(),
                           [](const auto& a, const auto& b) { return a.second < b.second; });
      if (most == queued_by_client_.end() || most->second < have + 2) {
        return false;
      }
      const std::string victim = most->first;
      for (auto it = jobs_.rbegin(); it != jobs_.rend(); ++it) {
        if (it->client == victim) {
          evict = std::move(it->evicted);
          jobs_.erase(std::next(it).base());
          break;
        }
      }
      if (--queued_by_client_[victim] == 0) {
        queued_by_client_.erase(victim);
      }
    }
    jobs_.push_back(Job{client, std::move(job), std::move(evicted)});
    ++queued_by_client_[client];
    waiting_.store(jobs_.size(), std::memory_order_relaxed);
  }
  cv_.notify_one();
  if (evict) {
    evict();
  }
  return true;
}

bool BoundedTaskQueue::shed(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (shutdown_ || shed_jobs_.size() >= max_shed_queued_) {
      return false;
    }
    shed_jobs_.push_back(std::move(job));
  }
  shed_cv_.notify_one();
  return true;
}

void BoundedTaskQueue::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (shutdown_ && workers_.empty()) {
      return;
    }
    shutdown_ = true;
  }
  cv_.notify_all();
  shed_cv_.notify_all();
  for (auto& t : workers_) {
    t.join();
  }
  workers_.clear();
  if (shedder_.joinable()) {
    shedder_.join();
  }
}

void BoundedTaskQueue::lowerPriority() const {
  if (nice_ == 0) {
    return;
  }
  // Per-thread on Linux (NPTL threads have their own nice value); failures are harmless.
  auto tid = static_cast<id_t>(::gettid());
  errno = 0;
  int current = ::getpriority(PRIO_PROCESS, tid);
  if (errno == 0) {
    (void)::setpriority(PRIO_PROCESS, tid, std::min(19, current + nice_));
  }
}

bool BoundedTaskQueue::runnable(const std::string& client) const {
  if (per_client_ == 0) {
    return true;
  }
  auto it = served_by_client_.find(client);
  return it == served_by_client_.end() || it->second < per_client_;
}

std::deque<BoundedTaskQueue::Job>::iterator BoundedTaskQueue::nextRunnable() {
  return std::find_if(jobs_.begin(), jobs_.end(),
                      [&](const Job& job) { return runnable(job.client); });
}

bool BoundedTaskQueue::shouldYield(const std::string& client) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (jobs_.empty()) {
    return false;
  }
  if (queued_by_client_.contains(client)) {
    return true;
  }
  if (busy_.load(std::memory_order_relaxed) < threads_) {
    return false;
  }
  return std::any_of(jobs_.begin(), jobs_.end(),
                     [&](const Job& job) { return runnable(job.client); });
}

void BoundedTaskQueue::work() {
  lowerPriority();
  for (;;) {
    std::function<void()> fn;
    std::string client;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      auto next = jobs_.end();
      cv_.wait(lock, [&] {
        next = nextRunnable();
        return next != jobs_.end() || (shutdown_ && jobs_.empty());
      });
      if (next == jobs_.end()) {
        return;  // shutting down and nothing left
      }
      fn = std::move(next->run);
      client = std::move(next->client);
      if (auto q = queued_by_client_.find(client);
          q != queued_by_client_.end() && --q->second == 0) {
        queued_by_client_.erase(q);
      }
      jobs_.erase(next);
      waiting_.store(jobs_.size(), std::memory_order_relaxed);
      ++served_by_client_[client];
      ++busy_;
    }
    fn();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (auto it = served_by_client_.find(client);
          it != served_by_client_.end() && --it->second == 0) {
        served_by_client_.erase(it);
      }
      --busy_;
    }
    // A job held back by this client's cap may run now: wake every worker (a single wake-up
    // could reach one whose next runnable job is the same as before).
    cv_.notify_all();
  }
}

void BoundedTaskQueue::respond() {
  lowerPriority();
  for (;;) {
    std::function<void()> fn;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      shed_cv_.wait(lock, [&] { return shutdown_ || !shed_jobs_.empty(); });
      if (shed_jobs_.empty()) {
        return;
      }
      fn = std::move(shed_jobs_.front());
      shed_jobs_.pop_front();
    }
    fn();
  }
}

// ---------------------------------------------------------------------------------------------
// ConnectionStream

ConnectionStream::ConnectionStream(int fd, const TransportOptions& options,
                                   std::function<bool()> stopping, std::function<bool()> pressure)
    : fd_(fd),
      options_(options),
      stopping_(std::move(stopping)),
      pressure_(std::move(pressure)),
      request_budget_(options.request_timeout),
      response_budget_(options.response_timeout),
      headers_(options.max_header_bytes, options.max_header_fields),
      buffer_(8192) {}

bool ConnectionStream::pollFor(short events, Duration max, Duration* waited) const {
  const auto start = std::chrono::steady_clock::now();
  const auto until = start + max;
  bool ready = false;
  for (;;) {
    if (stopping_ && stopping_()) {
      break;
    }
    auto left = until - std::chrono::steady_clock::now();
    if (left <= Duration::zero()) {
      break;
    }
    pollfd p{fd_, events, 0};
    int n = ::poll(&p, 1, toPollTimeout(std::min<Duration>(left, kPollSlice)));
    if (n > 0) {
      ready = true;  // readable/writable, or an error/hang-up the next call will report
      break;
    }
    if (n < 0 && errno != EINTR) {
      break;
    }
  }
  if (waited != nullptr) {
    *waited += std::chrono::steady_clock::now() - start;
  }
  return ready;
}

bool ConnectionStream::waitForRequest() {
  if (buffer_begin_ < buffer_end_) {
    return true;  // a pipelined request is already buffered
  }
  // In slices, so that an idle keep-alive connection gives its worker up as soon as another
  // connection waits for one (after serving at least one request: a new connection always
  // gets its first request served).
  const auto until = std::chrono::steady_clock::now() + options_.idle_timeout;
  for (;;) {
    // A request that has begun to arrive is served: closing now would lose what the client
    // already sent.
    if (served_one_ && pressure_ && pressure_()) {
      pollfd p{fd_, POLLIN, 0};
      return ::poll(&p, 1, 0) > 0;
    }
    auto left = until - std::chrono::steady_clock::now();
    if (left <= Duration::zero()) {
      return false;
    }
    if (pollFor(POLLIN, std::min<Duration>(left, kPollSlice))) {
      return true;
    }
    if (stopping_ && stopping_()) {
      return false;
    }
  }
}

void ConnectionStream::beginRequest() {
  served_one_ = true;
  headers_.reset();
}

bool ConnectionStream::is_readable() const {
  if (buffer_begin_ < buffer_end_) {
    return true;
  }
  const Duration wait = std::min<Duration>(options_.read_timeout, request_budget_.left());
  Duration waited = Duration::zero();
  const bool ready = wait > Duration::zero() && pollFor(POLLIN, wait, &waited);
  request_budget_.charge(waited);
  if (!ready && request_budget_.exhausted()) {
    timed_out_ = true;
  }
  return ready;
}

bool ConnectionStream::is_writable() const {
  // A socket with room in its send buffer answers at once and costs no budget.
  pollfd p{fd_, POLLOUT, 0};
  if (::poll(&p, 1, 0) > 0) {
    return true;
  }
  const Duration wait = std::min<Duration>(options_.write_timeout, response_budget_.left());
  Duration waited = Duration::zero();
  const bool ready = wait > Duration::zero() && pollFor(POLLOUT, wait, &waited);
  response_budget_.charge(waited);
  if (!ready && response_budget_.exhausted()) {
    response_timed_out_ = true;
  }
  return ready;
}

ssize_t ConnectionStream::read(char* ptr, size_t size) {
  if (headers_.exceeded()) {
    return -1;
  }
  if (buffer_begin_ == buffer_end_) {
    // httplib reads headers one byte at a time: refill the buffer rather than recv(1).
    if (!is_readable()) {
      return -1;
    }
    ssize_t n;
    do {
      n = ::recv(fd_, buffer_.data(), buffer_.size(), 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
      return n;
    }
    buffer_begin_ = 0;
    buffer_end_ = static_cast<std::size_t>(n);
  }
  std::size_t count = std::min(size, buffer_end_ - buffer_begin_);
  if (!headers_.complete() && !headers_.feed(buffer_.data() + buffer_begin_, count)) {
    return -1;  // httplib answers 400, which the error handler turns into 431
  }
  std::memcpy(ptr, buffer_.data() + buffer_begin_, count);
  buffer_begin_ += count;
  return static_cast<ssize_t>(count);
}

ssize_t ConnectionStream::write(const char* ptr, size_t size) {
  // All or nothing: httplib writes the header block with one write() whose result it does not
  // check, so a partial write would corrupt the response. Each send is non-blocking, so a
  // client that stops reading costs this connection's response budget, never more.
  std::size_t done = 0;
  while (done < size) {
    if (!is_writable()) {
      return -1;
    }
    ssize_t n = ::send(fd_, ptr + done, size - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
        continue;
      }
      return -1;
    }
    done += static_cast<std::size_t>(n);
  }
  return static_cast<ssize_t>(size);
}

void ConnectionStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    ip = numericHost(ss, len, &port);
  }
}

void ConnectionStream::get_local_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    ip = numericHost(ss, len, &port);
  }
}

// ---------------------------------------------------------------------------------------------
// GuardedServer

namespace {

std::uint64_t openFileLimit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur == RLIM_INFINITY) {
    return 1u << 20;
  }
  return r.rlim_cur;
}

}  // namespace

GuardedServer::GuardedServer(TransportOptions options, TransportStats& stats)
    : options_(fitToFdLimit(options, openFileLimit())),
      stats_(stats),
      client_open_limit_(clientOpenLimit(options_)) {
  new_task_queue = [this] {
    auto* queue =
        new BoundedTaskQueue(options_.threads, options_.max_queued, options_.max_shed_queued,
                             options_.nice, effectiveClientCap(options_));
    queue_.store(queue, std::memory_order_release);
    return queue;
  };
}

bool GuardedServer::setListenBacklog(int backlog) {
  const socket_t sock = svr_sock_;
  // listen() again on a listening socket only changes its backlog (Linux).
  return sock != INVALID_SOCKET && ::listen(sock, backlog) == 0;
}

const ConnectionStream* GuardedServer::currentStream() { return t_stream; }

void GuardedServer::closeAfterResponse() { t_close_after = true; }

bool GuardedServer::process_and_close_socket(socket_t sock) {
  ++stats_.hook_calls;
  ++stats_.connections;
  BoundedTaskQueue* queue = BoundedTaskQueue::admitting();
  if (queue == nullptr) {
    // Not called from our queue's enqueue (httplib changed how it hands sockets over; the
    // build-time check should have caught it): serve on this thread rather than drop it.
    ++stats_.unadmitted;
    std::string client = clientKey(peerAddress(sock));
    {
      std::lock_guard<std::mutex> lock(clients_mutex_);
      ++clients_[client];
    }
    ++stats_.open;
    serve(sock, client);
    return true;
  }
  auto shedOrReset = [&](int fd, const std::string& answer) {
    const std::size_t drain = options_.shed_drain_bytes;
    const std::string* text = &answer;
    if (!queue->shed([fd, text, drain] { answerBusy(fd, *text, drain); })) {
      ++stats_.reset;
      resetSocket(fd);
    }
  };
  std::string client = clientKey(peerAddress(sock));
  {
    std::lock_guard<std::mutex> lock(clients_mutex_);
    std::size_t& open = clients_[client];
    if (open >= client_open_limit_) {
      if (open == 0) {
        clients_.erase(client);
      }
      ++stats_.client_limit;
      shedOrReset(sock, clientLimitResponse());
      return true;
    }
    ++open;
  }
  ++stats_.open;
  // A connection taken out of a full queue for a fairer share is answered like one refused.
  auto evicted = [this, queue, sock, client] {
    release(client);
    ++stats_.shed;
    ++stats_.fair_evictions;
    const std::size_t drain = options_.shed_drain_bytes;
    const std::string* text = &busyResponse();
    if (!queue->shed([sock, text, drain] { answerBusy(sock, *text, drain); })) {
      ++stats_.reset;
      resetSocket(sock);
    }
  };
  if (!queue->submit(
          client, [this, sock, client] { serve(sock, client); }, evicted)) {
    release(client);
    ++stats_.shed;
    shedOrReset(sock, busyResponse());
  }
  return true;
}

void GuardedServer::release(const std::string& client) {
  --stats_.open;
  std::lock_guard<std::mutex> lock(clients_mutex_);
  auto it = clients_.find(client);
  if (it != clients_.end() && --it->second == 0) {
    clients_.erase(it);
  }
}

void GuardedServer::serve(socket_t sock, const std::string& client) {
  if (options_.send_buffer_bytes > 0) {
    (void)::setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &options_.send_buffer_bytes,
                       sizeof options_.send_buffer_bytes);
  }
  // stop() invalidates the listening socket first; workers notice it within kPollSlice.
  ConnectionStream stream(
      sock, options_, [this] { return svr_sock_ == INVALID_SOCKET; },
      [this, &client] {
        BoundedTaskQueue* queue = queue_.load(std::memory_order_acquire);
        return queue != nullptr && queue->shouldYield(client);
      });
  for (std::size_t n = 0; n < options_.max_requests_per_connection; ++n) {
    if (!stream.waitForRequest()) {
      break;
    }
    stream.beginRequest();
    bool closed = false;
    t_stream = &stream;
    t_close_after = false;
    bool ok = process_request(stream, n + 1 == options_.max_requests_per_connection, closed,
                              [](httplib::Request&) {});
    t_stream = nullptr;
    if (stream.timedOut()) {
      ++stats_.request_timeouts;
      break;
    }
    if (stream.responseTimedOut()) {
      ++stats_.response_timeouts;
      break;
    }
    if (stream.headerLimitExceeded()) {
      ++stats_.header_limit;
      break;
    }
    if (!ok || closed || t_close_after) {
      break;
    }
  }
  if (stream.responseTimedOut()) {
    // A client that does not read is reset: a FIN would wait behind a send queue it never
    // reads, and the kernel would keep the orphaned socket and its buffers for minutes.
    resetSocket(sock);
  } else {
    closeSocket(sock);
  }
  release(client);
}

}  // namespace pathpilot::httpserver
