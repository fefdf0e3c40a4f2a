// A raw HTTP exchange over a TCP socket, for what httplib's client cannot send: partial
// requests, pipelined or never-read requests, dot segments, garbage, other source addresses.
// Used by the HTTP server tests (httpserver, api).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace pathpilot::testing {

// A client socket connected to 127.0.0.1:port, from `source` (another loopback address such
// as "127.0.0.2" acts as another client) with a receive buffer of `rcvbuf` bytes (0: default).
class RawClient {
 public:
  explicit RawClient(int port, const char* source = nullptr, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (rcvbuf > 0) {
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    }
    if (source != nullptr) {
      sockaddr_in s{};
      s.sin_family = AF_INET;
      ::inet_pton(AF_INET, source, &s.sin_addr);
      ::bind(fd_, reinterpret_cast<sockaddr*>(&s), sizeof s);
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~RawClient() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  bool connected() const { return connected_; }
  bool send(const std::string& data) {
    return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  // True when a byte (or the close) has arrived, without waiting.
  bool readableNow() {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
  }
  // Reads until the server closes the connection or `timeout_ms` passes without data.
  std::string readAll(int timeout_ms = 5000) {
    std::string out;
    char buf[4096];
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) <= 0) {
        timed_out_ = true;
        break;
      }
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        break;
      }
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }
  // Reads one response whose headers and Content-Length body have arrived, and returns it
  // alone: bytes of a next (pipelined) response stay for the next call. A response without
  // Content-Length is read until the connection closes or the timeout.
  std::string readResponse(int timeout_ms = 5000) {
    std::string out = std::move(pending_);
    pending_.clear();
    char buf[4096];
    for (;;) {
      auto end = out.find("\r\n\r\n");
      if (end != std::string::npos) {
        auto cl = out.find("Content-Length: ");
        if (cl != std::string::npos && cl < end) {
          std::size_t len = std::stoul(out.substr(cl + 16));
          if (out.size() >= end + 4 + len) {
            pending_ = out.substr(end + 4 + len);
            out.resize(end + 4 + len);
            return out;
          }
        }
      }
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) <= 0) {
        timed_out_ = true;
        return out;
      }
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        return out;
      }
      out.append(buf, static_cast<std::size_t>(n));
    }
  }
  bool timedOut() const { return timed_out_; }
  // Waits, without reading anything, until the server closes or resets the connection. False
  // when it is still open after `timeout_ms`.
  bool waitClosedWithoutReading(int timeout_ms = 5000) {
    pollfd p{fd_, POLLRDHUP, 0};
    return ::poll(&p, 1, timeout_ms) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
  }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool timed_out_ = false;
  std::string pending_;  // read past the last response readResponse() returned
};

// The status code of a raw HTTP response ("HTTP/1.1 404 Not Found" → 404), or 0.
inline int statusOf(const std::string& response) {
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) {
    return 0;
  }
  return std::atoi(response.c_str() + 9);
}

inline std::string bodyOf(const std::string& response) {
  auto end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

}  // namespace pathpilot::testing
