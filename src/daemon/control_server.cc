#include "daemon/control_server.h"

#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>

namespace pathpilot::daemon {

using asio::local::stream_protocol;

namespace {

// The user name of `uid`, or "" (getpwuid_r: reentrant; called on the server's thread, so a
// slow NSS lookup never holds up the engine).
std::string userName(uid_t uid) {
  long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(static_cast<std::size_t>(size > 0 ? size : 16384));
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
    return "";
  }
  return found->pw_name;
}

ControlPeer peerOf(int fd) {
  ControlPeer peer;
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && len == sizeof cred) {
    peer.known = true;
    peer.pid = cred.pid;
    peer.uid = cred.uid;
    peer.gid = cred.gid;
  }
  return peer;
}

// Creates the missing directories of `dir`, each 0750 (chmod: the umask does not decide).
Result<void> makePrivateDirs(const std::filesystem::path& dir) {
  if (dir.empty()) {
    return ok();
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return fail(ErrorCode::InvalidArgument,
                  "control socket directory " + dir.string() + " is not a directory");
    }
    return ok();
  }
  if (auto parent = makePrivateDirs(dir.parent_path()); !parent) {
    return parent;
  }
  if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
    return fail(Error::fromErrno("cannot create control socket directory " + dir.string(), errno));
  }
  if (::chmod(dir.c_str(), 0750) != 0) {
    return fail(Error::fromErrno("cannot set mode 0750 on " + dir.string(), errno));
  }
  return ok();
}

}  // namespace

std::string ControlPeer::describe() const {
  if (!known) {
    return "an unknown peer";
  }
  return "uid " + std::to_string(uid) + (user.empty() ? "" : " (" + user + ")") + ", pid " +
         std::to_string(pid);
}

// What engine-thread work shares with the server: the handlers, the counters, and the way
// back to the server's loop (null once the server stopped, so late answers are dropped).
struct ControlServer::Shared {
  StatusSource status;
  Handler handler;
  std::mutex mu;
  asio::io_context* io = nullptr;  // guarded by mu
  std::atomic<std::size_t> open{0};
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> refused{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> status_requests{0};
  std::atomic<std::uint64_t> status_builds{0};

  // Runs `fn` on the server's loop, unless it stopped.
  template <class F>
  void back(F&& fn) {
    // Checked under mu: once stop() has cleared `io`, nothing more is posted to the server's
    // loop, which may be gone by then.
    std::lock_guard lock(mu);
    if (io != nullptr) {
      asio::post(*io, std::forward<F>(fn));
    }
  }
};

// One accepted connection: read one line, answer, close. Lives on the server's thread; work
// on the engine thread refers to it only through a weak_ptr.
class ControlServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(stream_protocol::socket socket, ControlServer& server)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        server_(server),
        shared_(server.shared_),
        peer_(peerOf(socket_.native_handle())) {
    shared_->open.fetch_add(1);
  }
  ~Session() { shared_->open.fetch_sub(1); }

  void start() {
    armTimer(server_.options_.idle_timeout, "");
    read();
  }

  // Sends `text` (one JSON line) and closes.
  void replyRaw(std::shared_ptr<const std::string> text) {
    // The engine's answer and the timeout's error may both come (both on the server's thread);
    // only the first is sent.
    if (replied_) {
      return;
    }
    replied_ = true;
    // A client that does not read its answer loses the connection (and its slot) after this.
    armTimer(server_.options_.engine_timeout, "");
    // Held until the write completes: asio does not copy the buffer, and one status text is
    // shared by every client it answers.
    out_ = std::move(text);
    asio::async_write(
        socket_, asio::buffer(*out_),
        [self = shared_from_this()](const asio::error_code&, std::size_t) { self->close(); });
  }

  void reply(const nlohmann::json& response) {
    replyRaw(std::make_shared<const std::string>(
        response.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"));
  }

  void close() {
    asio::error_code ignored;
    // With the timer cancelled and the socket closed, the pending handlers complete and drop
    // their references, which frees the session.
    timer_.cancel();
    socket_.shutdown(stream_protocol::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

 private:
  // Closes the connection after `d`; with `error` set, answers it first.
  void armTimer(Duration d, std::string error) {
    // Re-arming cancels the previous wait (its handler gets operation_aborted and returns): a
    // session has one deadline at a time.
    timer_.expires_after(d);
    timer_.async_wait(
        [self = shared_from_this(), error = std::move(error)](const asio::error_code& ec) {
          if (ec) {
            return;
          }
          if (error.empty() || self->replied_) {
            self->close();
          } else {
            self->reply({{"ok", false}, {"error", error}});
          }
        });
  }

  void read() {
    // One byte over the limit: a line of exactly kMaxRequestBytes, newline included, is read;
    // a longer one ends in not_found or in n > kMaxRequestBytes (onRead).
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
      close();
      return;
    }
    auto parsed = parseControlRequest(std::string_view(buffer_).substr(0, n));
    if (!parsed) {
      reply({{"ok", false}, {"error", parsed.error().message()}});
      return;
    }
    ControlRequest request = std::move(*parsed);
    shared_->requests.fetch_add(1);
    std::string late = "the engine did not answer within " +
                       formatDuration(std::chrono::duration_cast<std::chrono::milliseconds>(
                           server_.options_.engine_timeout)) +
                       " (busy or stopping)";
    // ping never reaches the engine: it shows that the server's loop answers, which is all that
    // start() asks of a socket file it finds in place.
    if (request.cmd == ControlRequest::Cmd::Ping) {
      reply({{"ok", true}});
      return;
    }
    if (request.cmd == ControlRequest::Cmd::Status) {
      shared_->status_requests.fetch_add(1);
      armTimer(server_.options_.engine_timeout, late);
      server_.requestStatus(shared_from_this());
      return;
    }
    // A command for the engine: who asked goes with it (the name is looked up here, never on
    // the engine thread).
    if (peer_.known) {
      peer_.user = userName(peer_.uid);
    }
    armTimer(server_.options_.engine_timeout, late + "; the request may still take effect");
    std::weak_ptr<Session> weak = shared_from_this();
    // The work holds `shared`, not the server, and the session only weakly: the engine may run
    // it after the client left or the server stopped.
    asio::post(
        server_.engine_, [shared = shared_, weak, request = std::move(request), peer = peer_]() {
          nlohmann::json response;
          try {
            response = shared->handler(request, peer);
          } catch (const std::exception& e) {
            // The handler is ours; an exception here is a bug, but the client still gets an answer.
            response = {{"ok", false}, {"error", std::string("internal error: ") + e.what()}};
          }
          shared->back([weak, response = std::move(response)]() {
            if (auto self = weak.lock()) {
              self->reply(response);
            }
          });
        });
  }

  stream_protocol::socket socket_;
  asio::steady_timer timer_;
  ControlServer& server_;
  std::shared_ptr<Shared> shared_;
  ControlPeer peer_;
  std::string buffer_;
  std::shared_ptr<const std::string> out_;
  bool replied_ = false;
};

Result<ControlRequest> parseControlRequest(std::string_view line) {
  nlohmann::json request = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (request.is_discarded() || !request.is_object()) {
    return fail(ErrorCode::InvalidArgument, "request is not a JSON object");
  }
  auto cmd = request.find("cmd");
  if (cmd == request.end() || !cmd->is_string()) {
    return fail(ErrorCode::InvalidArgument, "request has no string field \"cmd\"");
  }
  const auto& name = cmd->get_ref<const std::string&>();
  ControlRequest out;
  if (name == "ping") {
    out.cmd = ControlRequest::Cmd::Ping;
  } else if (name == "status") {
    out.cmd = ControlRequest::Cmd::Status;
  } else if (name == "drain" || name == "undrain") {
    out.cmd = name == "drain" ? ControlRequest::Cmd::Drain : ControlRequest::Cmd::Undrain;
    auto path = request.find("path");
    if (path == request.end() || !path->is_string()) {
      return fail(ErrorCode::InvalidArgument, name + " needs a string field \"path\"");
    }
    out.path = path->get<std::string>();
  } else {
    // The client's text, quoted and cut: the reply must stay one short line.
    std::string shown = name.size() > 64 ? name.substr(0, 64) + "..." : name;
    return fail(ErrorCode::InvalidArgument,
                "unknown command " + nlohmann::json(shown).dump(
                                         -1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  return out;
}

ControlServer::ControlServer(asio::io_context& engine, std::string socket_path, StatusSource status,
                             Handler handler, ControlOptions options)
    : engine_(engine),
      path_(std::move(socket_path)),
      options_(options),
      shared_(std::make_shared<Shared>()),
      acceptor_(io_),
      status_timer_(io_),
      accept_retry_(io_) {
  shared_->status = std::move(status);
  shared_->handler = std::move(handler);
}

ControlServer::~ControlServer() { stop(); }

ControlStats ControlServer::stats() const {
  ControlStats s;
  s.accepted = shared_->accepted.load();
  s.refused = shared_->refused.load();
  s.requests = shared_->requests.load();
  s.status_requests = shared_->status_requests.load();
  s.status_builds = shared_->status_builds.load();
  return s;
}

Result<void> ControlServer::bindSocket() {
  namespace fs = std::filesystem;
  fs::path parent = fs::path(path_).parent_path();
  if (auto dirs = makePrivateDirs(parent); !dirs) {
    return dirs;
  }
  // Bound in a private directory (mkdtemp: 0700), given its mode there, then renamed into
  // place: no moment where the socket exists at `path_` with another mode, and no umask.
  std::string tmpl = (parent.empty() ? std::string(".") : parent.string()) + "/.ppctl-XXXXXX";
  std::string temp_socket = tmpl + "/s";
  // mkdtemp() keeps the template's length, so the length is checked before anything exists.
  if (temp_socket.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return fail(ErrorCode::InvalidArgument,
                "control socket directory path too long: " + parent.string());
  }
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return fail(Error::fromErrno(
        "cannot create a private directory in " + parent.string() + " for the control socket",
        errno));
  }
  temp_socket = tmpl + "/s";
  // After a successful rename the socket is no longer in the directory: the cleanup then only
  // removes the empty directory.
  struct Cleanup {
    std::string dir, socket;
    ~Cleanup() {
      ::unlink(socket.c_str());
      ::rmdir(dir.c_str());
    }
  } cleanup{tmpl, temp_socket};

  asio::error_code ec;
  stream_protocol::endpoint endpoint(temp_socket);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) {
    acceptor_.bind(endpoint, ec);
  }
  if (ec) {
    return fail(Error::fromErrno("control socket " + path_, ec.value()));
  }
  if (::chmod(temp_socket.c_str(), 0660) != 0) {
    return fail(Error::fromErrno("cannot set mode 0660 on control socket " + path_, errno));
  }
  // Listening before the rename: a client that finds the file can connect at once.
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return fail(Error::fromErrno("control socket " + path_, ec.value()));
  }
  // rename() replaces a stale socket file atomically.
  if (::rename(temp_socket.c_str(), path_.c_str()) != 0) {
    return fail(Error::fromErrno("cannot move the control socket to " + path_, errno));
  }
  return ok();
}

Result<void> ControlServer::start() {
  if (started_) {
    return ok();
  }
  if (path_.empty() || path_.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return fail(ErrorCode::InvalidArgument, "control socket path too long or empty: " + path_);
  }
  struct stat st {};
  // lstat: a symlink at the path is refused (it is not a socket) rather than followed.
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
  }
  if (auto bound = bindSocket(); !bound) {
    asio::error_code ignored;
    acceptor_.close(ignored);
    return bound;
  }
  {
    std::lock_guard lock(shared_->mu);
    shared_->io = &io_;
  }
  started_ = true;
  // A loop stopped by an earlier stop() needs this, or run() returns at once.
  io_.restart();
  accept();
  thread_ = std::thread([this] { io_.run(); });
  return ok();
}

void ControlServer::stop() {
  if (!started_) {
    return;
  }
  started_ = false;
  {
    // Answers still coming from the engine are dropped from now on.
    std::lock_guard lock(shared_->mu);
    shared_->io = nullptr;
  }
  // The acceptor, the status timer and the sessions belong to the server's thread: they are
  // closed there.
  asio::post(io_, [this] {
    asio::error_code ignored;
    acceptor_.close(ignored);
    status_timer_.cancel();
    accept_retry_.cancel();
    for (auto& weak : sessions_) {
      if (auto s = weak.lock()) {
        s->close();
      }
    }
    io_.stop();
  });
  if (thread_.joinable()) {
    thread_.join();
  }
  ::unlink(path_.c_str());
}

void ControlServer::accept() {
  acceptor_.async_accept([this](const asio::error_code& ec, stream_protocol::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) {
      return;
    }
    if (!ec) {
      if (shared_->open.load() >= options_.max_connections) {
        // Refused at once, with a line the client can show; a non-blocking send of a short
        // line into a fresh socket's empty buffer does not fail short.
        shared_->refused.fetch_add(1);
        std::string line = "{\"ok\":false,\"error\":\"too many control connections (" +
                           std::to_string(options_.max_connections) +
                           " open); try again shortly\"}\n";
        (void)::send(socket.native_handle(), line.data(), line.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        asio::error_code ignored;
        socket.close(ignored);
      } else {
        shared_->accepted.fetch_add(1);
        auto session = std::make_shared<Session>(std::move(socket), *this);
        std::erase_if(sessions_, [](const std::weak_ptr<Session>& w) { return w.expired(); });
        sessions_.push_back(session);
        session->start();
      }
    } else {
      // Out of descriptors or buffers: say so (the first time and every 100th), and try again
      // in 100 ms; the client waits in the backlog meanwhile.
      if (accept_errors_++ % 100 == 0) {
        spdlog::warn("control socket {}: accept failed ({}); retrying", path_, ec.message());
      }
      accept_retry_.expires_after(std::chrono::milliseconds(100));
      accept_retry_.async_wait([this](const asio::error_code& wait_ec) {
        if (!wait_ec && acceptor_.is_open()) {
          accept();
        }
      });
      return;
    }
    accept();
  });
}

void ControlServer::requestStatus(const std::shared_ptr<Session>& session) {
  status_waiting_.push_back(session);
  maybeBuildStatus();
}

void ControlServer::maybeBuildStatus() {
  if (status_in_flight_ || status_timer_armed_ || status_waiting_.empty()) {
    return;
  }
  auto gap = std::max<Duration>(
      options_.status_min_gap,
      std::chrono::duration_cast<Duration>(last_status_cost_ * options_.status_cost_factor));
  MonoTime now = std::chrono::steady_clock::now();
  MonoTime earliest = last_status_start_ + gap;
  if (now < earliest) {
    status_timer_armed_ = true;
    status_timer_.expires_at(earliest);
    status_timer_.async_wait([this](const asio::error_code& ec) {
      status_timer_armed_ = false;
      if (!ec) {
        maybeBuildStatus();
      }
    });
    return;
  }
  status_in_flight_ = true;
  last_status_start_ = now;
  // Requests arriving from now on wait for the next build: this one may already be running on
  // the engine, and so could predate them.
  status_covered_ = std::move(status_waiting_);
  status_waiting_.clear();
  asio::post(engine_, [shared = shared_, this]() {
    auto t0 = std::chrono::steady_clock::now();
    nlohmann::json status;
    try {
      status = shared->status();
    } catch (const std::exception&) {
      status = nullptr;  // a bug in the source; the clients get an error, the engine goes on
    }
    Duration cost = std::chrono::steady_clock::now() - t0;
    shared->status_builds.fetch_add(1);
    // `this` is only used on the server's loop, which back() reaches only while it runs.
    shared->back([this, status = std::move(status), cost]() mutable {
      onStatusBuilt(std::move(status), cost);
    });
  });
}

void ControlServer::onStatusBuilt(nlohmann::json status, Duration cost) {
  status_in_flight_ = false;
  last_status_cost_ = cost;
  nlohmann::json response =
      status.is_null()
          ? nlohmann::json{{"ok", false}, {"error", "internal error: no status document"}}
          : nlohmann::json{{"ok", true}, {"status", std::move(status)}};
  // Serialized once for every client it answers.
  auto text = std::make_shared<const std::string>(
      response.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  for (auto& weak : status_covered_) {
    if (auto s = weak.lock()) {
      s->replyRaw(text);
    }
  }
  status_covered_.clear();
  // Requests that came in during this build get the next one, paced as usual.
  maybeBuildStatus();
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
  std::optional<Error> send_error;
  while (sent < out.size()) {
    ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      // A server that refused the connection (too many open) may have answered and closed
      // before our request went out: read its answer before reporting the write error.
      send_error = Error::fromErrno("write to control socket " + socket_path, errno);
      if (errno != EPIPE && errno != ECONNRESET) {
        return fail(*send_error);
      }
      break;
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
  if (in.empty() && send_error) {
    return fail(*send_error);
  }
  auto response = nlohmann::json::parse(in, nullptr, false);
  if (response.is_discarded() || !response.is_object()) {
    return fail(ErrorCode::Internal, "malformed answer from control socket " + socket_path);
  }
  return response;
}

}  // namespace pathpilot::daemon
