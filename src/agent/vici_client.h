// agent/vici_client.h — talks to strongSwan's charon over its VICI socket.
//
// Purpose: the agent's view of the IKE daemon. ViciConnection is the side-effect interface
// (docs/development.md): one call, one command. ViciClient is the real one over a Unix socket
// (default unix:///var/run/charon.vici); FakeVici in tests replays scripted answers.
//
// Streamed commands: list-sas and list-conns answer with a series of EVENT packets (list-sa,
// list-conn) followed by the CMD_RESPONSE. call() with `stream_event` registers for that event
// first (EVENT_REGISTER → EVENT_CONFIRM), collects the events until the response, and
// unregisters again, as the VICI README describes.
//
// Failure model: charon may be absent, restarting or stuck. Every call is bounded by
// `timeout` end to end (connect, write, every read); any transport error closes the socket and
// the next call reconnects, so a restarted charon is picked up without restarting the agent.
// Errors name the socket and what failed: "vici unix:///run/charon.vici: connect: No such
// file or directory (is charon running?)", "…: no answer to list-sas within 2s".
//
// Threading: one caller at a time (the agent's poll loop). Blocking, with the timeout above.
// Metrics: ViciStats (calls, errors, reconnects) for the agent's /metrics.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/vici_message.h"
#include "base/error.h"
#include "base/time.h"

namespace pathpilot::agent {

struct ViciStats {
  std::uint64_t calls = 0;
  std::uint64_t errors = 0;
  std::uint64_t connects = 0;  // successful connects (the first one, then reconnects)
};

class ViciConnection {
 public:
  virtual ~ViciConnection() = default;
  // Sends `command` with `args` and returns the response message. When `stream_event` is not
  // empty, the events of that name received before the response are appended to `events`.
  // Errors: Unavailable (socket missing, refused, closed), Timeout, NotFound (charon does not
  // know the command: CMD_UNKNOWN / EVENT_UNKNOWN), InvalidArgument (a malformed packet).
  [[nodiscard]] virtual Result<ViciSection> call(std::string_view command,
                                                 const ViciSection& args,
                                                 std::string_view stream_event,
                                                 std::vector<ViciSection>* events) = 0;
  // Drops the connection (the next call reconnects).
  virtual void close() = 0;
  // Call statistics (zero for implementations that keep none).
  virtual ViciStats stats() const { return {}; }
};

class ViciClient final : public ViciConnection {
 public:
  // `uri`: "unix:///path" or a plain absolute path.
  ViciClient(std::string uri, Duration timeout);
  ~ViciClient() override;
  ViciClient(const ViciClient&) = delete;
  ViciClient& operator=(const ViciClient&) = delete;

  // agent::ViciConnection
  [[nodiscard]] Result<ViciSection> call(std::string_view command, const ViciSection& args,
                                         std::string_view stream_event,
                                         std::vector<ViciSection>* events) override;
  void close() override;
  ViciStats stats() const override { return stats_; }

  bool connected() const { return fd_ >= 0; }
  const std::string& uri() const { return uri_; }

 private:
  Result<void> connect(MonoTime deadline);
  Result<void> send(const ViciPacket& packet, MonoTime deadline);
  Result<ViciPacket> receive(MonoTime deadline, std::string_view waiting_for);
  Result<void> readExactly(char* out, std::size_t n, MonoTime deadline,
                           std::string_view waiting_for);
  Error failure(std::string what) const;

  std::string uri_;
  std::string path_;
  Duration timeout_;
  int fd_ = -1;
  ViciStats stats_;
};

}  // namespace pathpilot::agent
