#include "api/http_transport.h"

#include <netdb.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace pathpilot::api {
namespace {

thread_local bool t_shedding = false;
thread_local const ConnectionStream* t_stream = nullptr;
thread_local bool t_close_after = false;

// Slice of every wait, so that stop() is noticed within this time.
constexpr Duration kPollSlice = std::chrono::milliseconds(50);

// Answer sent without reading the request: the server is saturated.
const std::string& busyResponse() {
  static const std::string response = [] {
    std::string body =
        "{\"error\":\"the API is saturated; retry in a second\",\"code\":\"unavailable\"}";
    return "HTTP/1.1 503 Service Unavailable\r\n"
           "Content-Type: application/json\r\n"
           "Cache-Control: no-store\r\n"
           "Retry-After: 1\r\n"
           "Connection: close\r\n"
           "Content-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  }();
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

// Writes the canned 503 without blocking, then discards whatever the client already sent, so
// that close() sends FIN rather than RST (which could destroy the response in flight).
void answerBusy(int fd) {
  const std::string& busy = busyResponse();
  (void)::send(fd, busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  char sink[4096];
  while (::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0) {
  }
  ::shutdown(fd, SHUT_WR);
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

// ---------------------------------------------------------------------------------------------
// BoundedTaskQueue

BoundedTaskQueue::BoundedTaskQueue(std::size_t threads, std::size_t max_queued, int nice)
    : max_queued_(max_queued), nice_(nice) {
  for (std::size_t i = 0; i < std::max<std::size_t>(threads, 1); ++i) {
    workers_.emplace_back([this] { work(); });
  }
  shedder_ = std::thread([this] { shed(); });
}

BoundedTaskQueue::~BoundedTaskQueue() { shutdown(); }

bool BoundedTaskQueue::sheddingThread() { return t_shedding; }

void BoundedTaskQueue::enqueue(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (jobs_.size() < max_queued_) {
      jobs_.push_back(std::move(fn));
      cv_.notify_one();
      return;
    }
    shed_jobs_.push_back(std::move(fn));
  }
  shed_cv_.notify_one();
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

void BoundedTaskQueue::work() {
  lowerPriority();
  for (;;) {
    std::function<void()> fn;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] { return shutdown_ || !jobs_.empty(); });
      if (jobs_.empty()) {
        return;  // shutting down and nothing left
      }
      fn = std::move(jobs_.front());
      jobs_.pop_front();
    }
    fn();
  }
}

void BoundedTaskQueue::shed() {
  t_shedding = true;
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
    fn();  // process_and_close_socket sees t_shedding and answers 503 without reading
  }
}

// ---------------------------------------------------------------------------------------------
// ConnectionStream

ConnectionStream::ConnectionStream(int fd, const TransportOptions& options,
                                   std::function<bool()> stopping)
    : fd_(fd), options_(options), stopping_(std::move(stopping)), buffer_(8192) {}

bool ConnectionStream::pollFor(short events, Duration max) const {
  auto until = std::chrono::steady_clock::now() + max;
  for (;;) {
    if (stopping_ && stopping_()) {
      return false;
    }
    auto left = until - std::chrono::steady_clock::now();
    if (left <= Duration::zero()) {
      return false;
    }
    pollfd p{fd_, events, 0};
    int n = ::poll(&p, 1, toPollTimeout(std::min<Duration>(left, kPollSlice)));
    if (n > 0) {
      return true;  // readable/writable, or an error/hang-up the next call will report
    }
    if (n < 0 && errno != EINTR) {
      return false;
    }
  }
}

bool ConnectionStream::waitForRequest() {
  if (buffer_begin_ < buffer_end_) {
    return true;  // a pipelined request is already buffered
  }
  return pollFor(POLLIN, options_.idle_timeout);
}

void ConnectionStream::beginRequest() {
  deadline_ = std::chrono::steady_clock::now() + options_.request_timeout;
}

bool ConnectionStream::is_readable() const {
  if (buffer_begin_ < buffer_end_) {
    return true;
  }
  Duration wait = options_.read_timeout;
  if (deadline_ != MonoTime::max()) {
    wait = std::min<Duration>(wait, deadline_ - std::chrono::steady_clock::now());
  }
  if (wait <= Duration::zero() || !pollFor(POLLIN, wait)) {
    if (deadline_ != MonoTime::max() && std::chrono::steady_clock::now() >= deadline_) {
      timed_out_ = true;
    }
    return false;
  }
  return true;
}

bool ConnectionStream::is_writable() const { return pollFor(POLLOUT, options_.write_timeout); }

ssize_t ConnectionStream::read(char* ptr, size_t size) {
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
  std::memcpy(ptr, buffer_.data() + buffer_begin_, count);
  buffer_begin_ += count;
  return static_cast<ssize_t>(count);
}

ssize_t ConnectionStream::write(const char* ptr, size_t size) {
  if (!is_writable()) {
    return -1;
  }
  ssize_t n;
  do {
    n = ::send(fd_, ptr, size, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n;
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

GuardedServer::GuardedServer(TransportOptions options, TransportStats& stats)
    : options_(options), stats_(stats) {
  new_task_queue = [this] {
    return new BoundedTaskQueue(options_.threads, options_.max_queued, options_.nice);
  };
}

const ConnectionStream* GuardedServer::currentStream() { return t_stream; }

void GuardedServer::closeAfterResponse() { t_close_after = true; }

bool GuardedServer::process_and_close_socket(socket_t sock) {
  ++stats_.connections;
  if (BoundedTaskQueue::sheddingThread()) {
    ++stats_.shed;
    answerBusy(sock);
    return true;
  }
  std::string client = peerAddress(sock);
  {
    std::lock_guard<std::mutex> lock(clients_mutex_);
    if (clients_[client] >= options_.max_connections_per_client) {
      ++stats_.client_limit;
      answerBusy(sock);
      return true;
    }
    ++clients_[client];
  }
  // stop() invalidates the listening socket first; workers notice it within kPollSlice.
  ConnectionStream stream(sock, options_, [this] { return svr_sock_ == INVALID_SOCKET; });
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
    if (!ok || closed || t_close_after) {
      break;
    }
  }
  closeSocket(sock);
  {
    std::lock_guard<std::mutex> lock(clients_mutex_);
    if (--clients_[client] == 0) {
      clients_.erase(client);
    }
  }
  return true;
}

}  // namespace pathpilot::api
