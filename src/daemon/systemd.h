// daemon/systemd.h — systemd Type=notify integration (READY, RELOADING, STOPPING, WATCHDOG).
//
// Purpose: tell systemd when the daemon is ready and, while the engine loop is alive, pet the
// watchdog. Without NOTIFY_SOCKET (not started by systemd) every call is a no-op.
// Threading: the watchdog timer runs on the engine's io_context, so a stuck loop stops the
// pings and systemd restarts the daemon.
// Metrics: none.
#pragma once

#include <string_view>

#include <asio.hpp>

#include "base/time.h"

namespace pathpilot::daemon {

class SystemdNotifier {
 public:
  explicit SystemdNotifier(asio::io_context& io);

  void ready();
  void reloading();
  void stopping();
  // Free-form status line shown by `systemctl status`.
  void status(std::string_view text);

  // Starts pinging WATCHDOG=1 at half the configured WatchdogSec, if systemd asked for it.
  void startWatchdog();
  // The watchdog interval systemd requested, or zero.
  Duration watchdogInterval() const { return interval_; }

 private:
  void arm();
  void send(std::string_view state);

  asio::steady_timer timer_;
  Duration interval_{};
};

}  // namespace pathpilot::daemon
