#include "daemon/systemd.h"

#include <systemd/sd-daemon.h>

#include <cstdint>
#include <string>

namespace pathpilot::daemon {

SystemdNotifier::SystemdNotifier(asio::io_context& io) : timer_(io) {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(/*unset_environment=*/0, &usec) > 0) {
    interval_ = std::chrono::microseconds(usec);
  }
}

void SystemdNotifier::send(std::string_view state) {
  // sd_notify returns 0 when NOTIFY_SOCKET is unset: nothing to do outside systemd.
  std::string s(state);
  (void)sd_notify(/*unset_environment=*/0, s.c_str());
}

void SystemdNotifier::ready() { send("READY=1"); }
void SystemdNotifier::reloading() { send("RELOADING=1"); }
void SystemdNotifier::stopping() { send("STOPPING=1"); }
void SystemdNotifier::status(std::string_view text) { send("STATUS=" + std::string(text)); }

void SystemdNotifier::startWatchdog() {
  if (interval_.count() > 0) {
    arm();
  }
}

void SystemdNotifier::arm() {
  // Ping at half the interval: the ping comes from the loop itself, so it proves the loop runs.
  timer_.expires_after(interval_ / 2);
  timer_.async_wait([this](const asio::error_code& ec) {
    if (ec) {
      return;
    }
    send("WATCHDOG=1");
    arm();
  });
}

}  // namespace pathpilot::daemon
