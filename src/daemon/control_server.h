// daemon/control_server.h — the local control socket of a running daemon.
//
// Purpose: `pathpilot status`, `drain` and `undrain` talk to the daemon over a Unix stream
// socket. Access control is the socket file's permissions (created 0660, owner root): whoever
// may open the file may operate the daemon, as with the Docker or FRR vtysh sockets.
//
// Protocol: one request per connection. The client sends one JSON object on one line
// (at most kMaxRequestBytes), the server answers one JSON object on one line and closes:
//   {"cmd":"status"}                    → {"ok":true,"status":{...}}
//   {"cmd":"drain","path":"dx"}         → {"ok":true} | {"ok":false,"error":"unknown path \"x\""}
// Garbage, oversized or unterminated requests get {"ok":false,"error":...}; a client that sends
// nothing for kIdleTimeout is disconnected. Nothing a client does can block the loop.
//
// Threading: lives on the engine's io_context; the handler runs on the engine thread.
// Metrics: none of its own (the daemon counts requests by command).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <asio.hpp>
#include <nlohmann/json.hpp>

#include "base/error.h"

namespace pathpilot::daemon {

class ControlServer {
 public:
  static constexpr std::size_t kMaxRequestBytes = 64 * 1024;
  static constexpr std::chrono::seconds kIdleTimeout{5};

  // Handles one parsed request and returns the response object (must contain "ok").
  using Handler = std::function<nlohmann::json(const nlohmann::json& request)>;

  ControlServer(asio::io_context& io, std::string socket_path, Handler handler);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Creates the socket file (replacing a stale one left by a crashed daemon, but refusing to
  // take over a socket that a live daemon still answers) with mode 0660, and starts accepting.
  [[nodiscard]] Result<void> start();
  // Stops accepting, closes open connections and removes the socket file.
  void stop();

  const std::string& path() const { return path_; }

 private:
  class Session;
  void accept();

  asio::io_context& io_;
  std::string path_;
  Handler handler_;
  asio::local::stream_protocol::acceptor acceptor_;
  bool started_ = false;
};

// Client side: sends one request and waits for the answer (blocking, with a timeout).
// Used by the CLI, never by the daemon.
[[nodiscard]] Result<nlohmann::json> controlRequest(const std::string& socket_path,
                                                    const nlohmann::json& request,
                                                    std::chrono::milliseconds timeout =
                                                        std::chrono::milliseconds(5000));

}  // namespace pathpilot::daemon
