// daemon/control_server.h — the local control socket of a running daemon.
//
// Purpose: `pathpilot status`, `drain` and `undrain` talk to the daemon over a Unix stream
// socket. Access control is the socket file's permissions: whoever may open the file may
// operate the daemon, as with the Docker or FRR vtysh sockets. The file is created with mode
// 0660 (owner and group of the daemon) without touching the process umask, which other
// threads rely on while they create files: the socket is bound inside a fresh private
// directory (mkdtemp, 0700) next to the final path, chmod'ed there, and renamed into place,
// so it is never reachable with any other mode. (fchmod on a socket descriptor would change
// the socket's own inode, not the file.) A missing parent directory is created 0750.
//
// Protocol: one request per connection. The client sends one JSON object on one line
// (at most kMaxRequestBytes), the server answers one JSON object on one line and closes:
//   {"cmd":"status"}                    → {"ok":true,"status":{...}}
//   {"cmd":"ping"}                      → {"ok":true}
//   {"cmd":"drain","path":"dx"}         → {"ok":true} | {"ok":false,"error":"unknown path \"x\""}
// Garbage, oversized or unterminated requests get {"ok":false,"error":...}; a client that sends
// nothing for idle_timeout is disconnected. Beyond max_connections open connections, a new
// one gets {"ok":false,"error":"too many control connections ..."} and is closed at once.
//
// Who asked: the peer's uid, gid and pid (SO_PEERCRED, filled in by the kernel, so they cannot
// be forged) come with every request to the handler; the daemon logs them with each drain and
// undrain and writes them into the event.
//
// The engine is never held up by clients: connections, parsing and answers run on the
// server's own thread. Only the work itself runs on the engine thread, posted to its
// io_context: a command (the handler) and the status document (the status source). Status
// requests are coalesced: at most one status build is in flight, and builds are at least
// max(status_min_gap, status_cost_factor × the previous build's cost) apart, so a flood of
// clients costs the engine a bounded share of its time whatever their number; every client
// gets a document built after its request arrived. A request the engine does not answer
// within engine_timeout gets an error (a drain may still take effect).
//
// Threading: construct, start and stop from one thread (the engine's, or before it runs);
// the handler and the status source run on the engine's io_context thread.
// Metrics (ControlStats): connections accepted and refused, requests, status builds.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <asio.hpp>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/time.h"

namespace pathpilot::daemon {

// The process at the other end of a connection (SO_PEERCRED).
struct ControlPeer {
  bool known = false;  // false if SO_PEERCRED failed (then uid/gid/pid are meaningless)
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string user;  // the uid's user name, when it has one

  // "uid 1000 (alice), pid 4242", or "an unknown peer".
  std::string describe() const;
};

struct ControlOptions {
  // Open connections at once; more are refused with an error line.
  std::size_t max_connections = 32;
  // A client must send its request within this.
  Duration idle_timeout = std::chrono::seconds(5);
  // The engine must answer a command or a status build within this.
  Duration engine_timeout = std::chrono::seconds(10);
  // Status builds on the engine thread are at least this far apart ...
  Duration status_min_gap = std::chrono::milliseconds(20);
  // ... and at least this many times the previous build's cost.
  double status_cost_factor = 10;
};

struct ControlStats {
  std::uint64_t accepted = 0;
  std::uint64_t refused = 0;   // over max_connections
  std::uint64_t requests = 0;  // well-formed requests
  std::uint64_t status_requests = 0;
  std::uint64_t status_builds = 0;  // status documents built on the engine thread
};

// One request of the control protocol: a JSON object on one line with a string field "cmd"
// ("ping", "status", "drain", "undrain"); drain and undrain also need a string field "path".
struct ControlRequest {
  enum class Cmd : std::uint8_t { Ping, Status, Drain, Undrain };
  Cmd cmd = Cmd::Ping;
  std::string path;  // drain, undrain: the path's name as the client sent it
};

// Parses one request line (without the newline). Pure; never throws. Errors (InvalidArgument)
// are the text the client gets back: "request is not a JSON object", "request has no string
// field \"cmd\"", "unknown command \"x\"", "drain needs a string field \"path\"". Fuzzed
// (fuzz/control_request_fuzz.cc).
[[nodiscard]] Result<ControlRequest> parseControlRequest(std::string_view line);

class ControlServer {
 public:
  static constexpr std::size_t kMaxRequestBytes = 64 * 1024;

  // Handles one parsed request other than status and ping (drain, undrain), on the engine
  // thread; returns the response object (must contain "ok").
  using Handler =
      std::function<nlohmann::json(const ControlRequest& request, const ControlPeer& peer)>;
  // The status document, on the engine thread.
  using StatusSource = std::function<nlohmann::json()>;

  // `engine` is the io_context whose thread may touch engine state.
  ControlServer(asio::io_context& engine, std::string socket_path, StatusSource status,
                Handler handler, ControlOptions options = {});
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Creates the socket file (replacing a stale one left by a crashed daemon, but refusing to
  // take over a socket that a live daemon still answers) with mode 0660, and starts the
  // server's thread.
  [[nodiscard]] Result<void> start();
  // Stops accepting, closes open connections, joins the server's thread and removes the
  // socket file. Idempotent.
  void stop();

  const std::string& path() const { return path_; }
  ControlStats stats() const;

 private:
  class Session;
  struct Shared;

  Result<void> bindSocket();
  void accept();
  void requestStatus(const std::shared_ptr<Session>& session);
  void maybeBuildStatus();
  void onStatusBuilt(nlohmann::json status, Duration cost);

  asio::io_context& engine_;
  std::string path_;
  ControlOptions options_;
  std::shared_ptr<Shared> shared_;
  asio::io_context io_;  // the server's own loop
  asio::local::stream_protocol::acceptor acceptor_;
  asio::steady_timer status_timer_;
  // After an accept error (EMFILE, ENFILE, ENOBUFS): the next accept waits a moment instead of
  // retrying at once (the pending connection stays in the backlog, so an immediate retry
  // would spin the server thread).
  asio::steady_timer accept_retry_;
  std::uint64_t accept_errors_ = 0;
  std::thread thread_;
  bool started_ = false;

  // Server thread only.
  std::vector<std::weak_ptr<Session>> sessions_;
  std::vector<std::weak_ptr<Session>> status_waiting_;  // not covered by a build yet
  std::vector<std::weak_ptr<Session>> status_covered_;  // answered by the build in flight
  bool status_in_flight_ = false;
  bool status_timer_armed_ = false;
  MonoTime last_status_start_{};
  Duration last_status_cost_{0};
};

// Client side: sends one request and waits for the answer (blocking, with a timeout).
// Used by the CLI, never by the daemon.
[[nodiscard]] Result<nlohmann::json> controlRequest(const std::string& socket_path,
                                                    const nlohmann::json& request,
                                                    std::chrono::milliseconds timeout =
                                                        std::chrono::milliseconds(5000));

}  // namespace pathpilot::daemon
