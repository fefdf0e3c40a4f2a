#include "agent/vici_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace pathpilot::agent {
namespace {

int pollTimeout(MonoTime deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  deadline - std::chrono::steady_clock::now())
                  .count();
  return static_cast<int>(std::clamp<std::int64_t>(left, 0, 60000));
}

std::string seconds(Duration d) {
  return formatDuration(std::chrono::duration_cast<std::chrono::milliseconds>(d));
}

}  // namespace

ViciClient::ViciClient(std::string uri, Duration timeout)
    : uri_(std::move(uri)), timeout_(timeout) {
  constexpr std::string_view kScheme = "unix://";
  path_ = uri_.rfind(kScheme, 0) == 0 ? uri_.substr(kScheme.size()) : uri_;
}

ViciClient::~ViciClient() { close(); }

void ViciClient::close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

Error ViciClient::failure(std::string what) const {
  return Error(ErrorCode::Unavailable, "vici " + uri_ + ": " + what);
}

Result<void> ViciClient::connect(MonoTime deadline) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.empty() || path_.size() >= sizeof addr.sun_path) {
    return fail(ErrorCode::InvalidArgument,
                "vici " + uri_ + ": the socket path is empty or longer than " +
                    std::to_string(sizeof addr.sun_path - 1) + " bytes");
  }
  std::memcpy(addr.sun_path, path_.data(), path_.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return fail(Error::fromErrno("vici " + uri_ + ": socket", errno));
  }
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    rc = ::poll(&p, 1, pollTimeout(deadline)) > 0 ? 0 : -1;
    if (rc == 0) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      errno = err;
      rc = err == 0 ? 0 : -1;
    } else {
      errno = ETIMEDOUT;
    }
  }
  if (rc != 0) {
    int err = errno;
    ::close(fd);
    std::string hint = (err == ENOENT || err == ECONNREFUSED) ? " (is charon running with the "
                                                                "vici plugin?)"
                                                              : "";
    return fail(ErrorCode::Unavailable,
                "vici " + uri_ + ": connect: " + std::strerror(err) + hint, err);
  }
  fd_ = fd;
  ++stats_.connects;
  return ok();
}

Result<void> ViciClient::send(const ViciPacket& packet, MonoTime deadline) {
  auto bytes = encodePacket(packet);
  if (!bytes) {
    return fail(bytes.error());
  }
  std::size_t sent = 0;
  while (sent < bytes->size()) {
    ssize_t n = ::send(fd_, bytes->data() + sent, bytes->size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, pollTimeout(deadline)) <= 0) {
        return fail(ErrorCode::Timeout, "vici " + uri_ + ": cannot send " + packet.name +
                                            " within " + seconds(timeout_));
      }
      continue;
    }
    return fail(failure(std::string("send: ") + std::strerror(errno)));
  }
  return ok();
}

Result<void> ViciClient::readExactly(char* out, std::size_t n, MonoTime deadline,
                                     std::string_view waiting_for) {
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = ::recv(fd_, out + got, n - got, 0);
    if (r > 0) {
      got += static_cast<std::size_t>(r);
      continue;
    }
    if (r == 0) {
      return fail(failure("charon closed the connection (restarting?)"));
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      pollfd p{fd_, POLLIN, 0};
      int pr = ::poll(&p, 1, pollTimeout(deadline));
      if (pr == 0) {
        return fail(ErrorCode::Timeout, "vici " + uri_ + ": no answer to " +
                                            std::string(waiting_for) + " within " +
                                            seconds(timeout_));
      }
      if (pr < 0 && errno != EINTR) {
        return fail(failure(std::string("poll: ") + std::strerror(errno)));
      }
      continue;
    }
    return fail(failure(std::string("recv: ") + std::strerror(errno)));
  }
  return ok();
}

Result<ViciPacket> ViciClient::receive(MonoTime deadline, std::string_view waiting_for) {
  unsigned char header[4];
  if (auto r = readExactly(reinterpret_cast<char*>(header), 4, deadline, waiting_for); !r) {
    return fail(r.error());
  }
  std::size_t length = (static_cast<std::size_t>(header[0]) << 24) |
                       (static_cast<std::size_t>(header[1]) << 16) |
                       (static_cast<std::size_t>(header[2]) << 8) | header[3];
  if (length == 0 || length > kMaxSegment) {
    return fail(ErrorCode::InvalidArgument,
                "vici " + uri_ + ": bad segment length " + std::to_string(length));
  }
  std::string body(length, '\0');
  if (auto r = readExactly(body.data(), length, deadline, waiting_for); !r) {
    return fail(r.error());
  }
  auto packet = decodePacket(body);
  if (!packet) {
    return fail(packet.error().withContext("vici " + uri_));
  }
  return packet;
}

Result<ViciSection> ViciClient::call(std::string_view command, const ViciSection& args,
                                     std::string_view stream_event,
                                     std::vector<ViciSection>* events) {
  ++stats_.calls;
  MonoTime deadline = std::chrono::steady_clock::now() + timeout_;
  auto result = [&]() -> Result<ViciSection> {
    if (fd_ < 0) {
      if (auto c = connect(deadline); !c) {
        return fail(c.error());
      }
    }
    auto exchange = [&](PacketType type, std::string_view name,
                        const ViciSection& message) -> Result<ViciPacket> {
      if (auto s = send(ViciPacket{type, std::string(name), message}, deadline); !s) {
        return fail(s.error());
      }
      for (;;) {
        auto p = receive(deadline, name);
        if (!p) {
          return p;
        }
        if (p->type == PacketType::Event) {
          // Events of other registrations never happen on our connection; the streamed one
          // is collected.
          if (events != nullptr && p->name == stream_event) {
            events->push_back(std::move(p->message));
          }
          continue;
        }
        return p;
      }
    };
    if (!stream_event.empty()) {
      auto reg = exchange(PacketType::EventRegister, stream_event, {});
      if (!reg) {
        return fail(reg.error());
      }
      if (reg->type != PacketType::EventConfirm) {
        return fail(ErrorCode::NotFound, "vici " + uri_ + ": charon refused event \"" +
                                             std::string(stream_event) + "\" (" +
                                             std::string(packetTypeName(reg->type)) + ")");
      }
    }
    auto response = exchange(PacketType::CmdRequest, command, args);
    if (!response) {
      return fail(response.error());
    }
    if (!stream_event.empty()) {
      auto unreg = exchange(PacketType::EventUnregister, stream_event, {});
      if (!unreg) {
        return fail(unreg.error());
      }
    }
    if (response->type == PacketType::CmdUnknown) {
      return fail(ErrorCode::NotFound,
                  "vici " + uri_ + ": charon does not know the command \"" +
                      std::string(command) + "\"");
    }
    if (response->type != PacketType::CmdResponse) {
      return fail(ErrorCode::InvalidArgument,
                  "vici " + uri_ + ": unexpected " + std::string(packetTypeName(response->type)) +
                      " in answer to " + std::string(command));
    }
    return std::move(response->message);
  }();
  if (!result) {
    ++stats_.errors;
    // The stream may be out of step now (a half-read packet): start afresh next time.
    if (result.error().code() != ErrorCode::NotFound) {
      close();
    }
  }
  return result;
}

}  // namespace pathpilot::agent
