// route/linux/route_monitor.h — watches Linux routing tables for changes (drift detection).
//
// Purpose: an operator who runs `ip route replace 10.10.0.0/16 via ... table 101` or
// `ip route del ...` by hand moves traffic behind pathpilot's back. The monitor subscribes to
// the rtnetlink route groups (RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE) of one namespace and
// turns every change in the watched tables into a RouteNotice for Reconciler::
// noteExternalChange, which ignores the echoes of its own changes and verifies the table for
// anything else (then reports route_drift and puts the route back). It also follows links
// (RTNLGRP_LINK plus one dump at start) so that notices carry device names, not indexes.
// Lost notifications (ENOBUFS: the socket buffer overflowed) become one Overrun notice per
// watched table, which makes the reconciler re-check those tables; the periodic full check
// covers everything else.
//
// Threading: engine thread. The socket is non-blocking and read through Asio
// (posix::stream_descriptor::async_wait), so the monitor never blocks the loop; `on_notice`
// runs on the engine thread.
// Metrics: notices() delivered, overruns() seen.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "base/error.h"
#include "route/route_table.h"

namespace asio {
class io_context;
}  // namespace asio

struct nlmsghdr;

namespace pathpilot::route {

struct LinuxMonitorOptions {
  // Namespace to watch (see route/linux/netns.h).
  std::string netns;
  // Kernel table number -> the table id the reconciler knows it by ("101" -> "101", or
  // 101 -> "vpc-a"). Changes in other tables are ignored.
  std::map<std::uint32_t, std::string> tables;
};

class LinuxRouteMonitor {
 public:
  // Requires: io outlives the monitor.
  LinuxRouteMonitor(asio::io_context& io, LinuxMonitorOptions options,
                    std::function<void(const RouteNotice&)> on_notice);
  ~LinuxRouteMonitor();

  LinuxRouteMonitor(const LinuxRouteMonitor&) = delete;
  LinuxRouteMonitor& operator=(const LinuxRouteMonitor&) = delete;

  // Opens the socket inside the namespace, joins the groups, asks for the link list and starts
  // reading. Errors: NotFound (namespace), PermissionDenied, or the socket error.
  [[nodiscard]] Result<void> start();
  // Stops reading and closes the socket. Safe to call twice.
  void stop();

  std::uint64_t notices() const { return notices_; }
  std::uint64_t overruns() const { return overruns_; }

 private:
  struct Impl;
  void arm();
  void onReadable();
  void handleMessage(const nlmsghdr* nlh);

  asio::io_context& io_;
  LinuxMonitorOptions options_;
  std::function<void(const RouteNotice&)> on_notice_;
  // Shared only with pending Asio handlers, as a weak liveness token.
  std::shared_ptr<Impl> impl_;
  std::unordered_map<std::uint32_t, std::string> links_;  // ifindex -> name
  std::uint64_t notices_ = 0;
  std::uint64_t overruns_ = 0;
};

}  // namespace pathpilot::route
