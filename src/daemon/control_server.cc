#include "daemon/control_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pathpilot::daemon {

using asio::local::stream_protocol;

// One accepted connection: read one line, answer, close.
class ControlServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(stream_protocol::socket socket, Handler& handler)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), handler_(handler) {}

  void start() {
    timer_.expires_after(kIdleTimeout);
    timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      if (!ec) {
        self->socket_.close();
      }
    });
    read();
  }

 private:
  void read() {
    asio::async_read_until(
        socket_, asio::dynamic_buffer(buffer_, kMaxRequestBytes + 1), '\n',
        [self = shared_from_this()](const asio::error_code& ec, std::size_t n) {
          self->onRead(ec, n);
        });
  }

  void onRead(const asio::error_code& ec, std::size_t n) {
    if (ec == asio::error::not_found || (!ec && n > kMaxRequestBytes)) {
      reply({{"ok", false},
             {"error", "request too large (max " + std::to_string(kMaxRequestBytes) + " bytes)"}});
      return;
    }
    if (ec) {
      // EOF before a newline, reset or timeout: nothing to answer.
      timer_.cancel();
      return;
    }
    std::string line = buffer_.substr(0, n);
    nlohmann::json request = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (request.is_discarded() || !request.is_object()) {
      reply({{"ok", false}, {"error", "request is not a JSON object"}});
      return;
    }
    if (!request.contains("cmd") || !request["cmd"].is_string()) {
      reply({{"ok", false}, {"error", "request has no string field \"cmd\""}});
      return;
    }
    nlohmann::json response;
    try {
      response = handler_(request);
    } catch (const std::exception& e) {
      // The handler is ours; an exception here is a bug, but a client must still get an answer.
      response = {{"ok", false}, {"error", std::string("internal error: ") + e.what()}};
    }
    reply(response);
  }

  void reply(const nlohmann::json& response) {
    out_ = response.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    asio::async_write(socket_, asio::buffer(out_),
                      [self = shared_from_this()](const asio::error_code&, std::size_t) {
                        asio::error_code ignored;
                        self->socket_.shutdown(stream_protocol::socket::shutdown_both, ignored);
                        self->socket_.close(ignored);
                        self->timer_.cancel();
                      });
  }

  stream_protocol::socket socket_;
  asio::steady_timer timer_;
  Handler& handler_;
  std::string buffer_;
  std::string out_;
};

ControlServer::ControlServer(asio::io_context& io, std::string socket_path, Handler handler)
    : io_(io), path_(std::move(socket_path)), handler_(std::move(handler)), acceptor_(io) {}

ControlServer::~ControlServer() { stop(); }

Result<void> ControlServer::start() {
  if (path_.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return fail(ErrorCode::InvalidArgument, "control socket path too long: " + path_);
  }
  struct stat st{};
  if (lstat(path_.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return fail(ErrorCode::AlreadyExists,
                  "control socket path " + path_ + " exists and is not a socket");
    }
    // A live daemon answers; a stale file from a crash does not.
    auto probe = controlRequest(path_, {{"cmd", "ping"}}, std::chrono::milliseconds(500));
    if (probe) {
      return fail(ErrorCode::AlreadyExists,
                  "another pathpilot daemon is running on control socket " + path_);
    }
    ::unlink(path_.c_str());
  }
  asio::error_code ec;
  stream_protocol::endpoint endpoint(path_);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) {
    mode_t old = ::umask(0117);  // socket file 0660
    acceptor_.bind(endpoint, ec);
    ::umask(old);
  }
  if (!ec) {
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    return fail(Error::fromErrno("control socket " + path_, ec.value()));
  }
  started_ = true;
  accept();
  return ok();
}

void ControlServer::stop() {
  if (!started_) {
    return;
  }
  started_ = false;
  asio::error_code ignored;
  acceptor_.close(ignored);
  ::unlink(path_.c_str());
}

void ControlServer::accept() {
  acceptor_.async_accept([this](const asio::error_code& ec, stream_protocol::socket socket) {
    if (ec == asio::error::operation_aborted || !started_) {
      return;
    }
    if (!ec) {
      std::make_shared<Session>(std::move(socket), handler_)->start();
    }
    accept();
  });
}

Result<nlohmann::json> controlRequest(const std::string& socket_path,
                                      const nlohmann::json& request,
                                      std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) {
    return fail(ErrorCode::InvalidArgument, "control socket path too long: " + socket_path);
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return fail(Error::fromErrno("socket", errno));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    std::string hint = (err == ENOENT || err == ECONNREFUSED)
                           ? " (is the daemon running? start it with `pathpilot run -c FILE`)"
                           : "";
    return fail(Error::fromErrno("connect to control socket " + socket_path + hint, err));
  }
  std::string out = request.dump() + "\n";
  std::size_t sent = 0;
  while (sent < out.size()) {
    ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail(Error::fromErrno("write to control socket " + socket_path, errno));
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string in;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  while (in.find('\n') == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return fail(ErrorCode::Timeout, "no answer from control socket " + socket_path);
    }
    pollfd p{fd, POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(left.count()));
    if (rc < 0 && errno == EINTR) {
      continue;
    }
    if (rc <= 0) {
      continue;
    }
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail(Error::fromErrno("read from control socket " + socket_path, errno));
    }
    if (n == 0) {
      break;
    }
    in.append(buf, static_cast<std::size_t>(n));
    if (in.size() > (64u << 20)) {
      return fail(ErrorCode::Internal, "control answer too large");
    }
  }
  auto response = nlohmann::json::parse(in, nullptr, false);
  if (response.is_discarded() || !response.is_object()) {
    return fail(ErrorCode::Internal, "malformed answer from control socket " + socket_path);
  }
  return response;
}

}  // namespace pathpilot::daemon
