// route/route_table.h — the interface every route backend implements (docs/development.md).
//
// Purpose: a RouteTable is one route table in one place (a Linux policy-routing table in a
// network namespace, an AWS VPC route table, a hook command). It can list its routes and
// replace/create/delete one route. A RouteBackend opens RouteTables by id; it is what the
// configuration names ("linux", "aws", "exec"). The reconciler (route/reconciler.h) is the only
// caller in the daemon; everything it knows about a table goes through these methods.
//
// Implementations: LinuxRouteTable (route/linux, netlink), ExecRouteTable (route/exec, hook
// command), Ec2RouteTable (aws, later), FakeRouteTable (tests/fakes, in memory, scripted).
//
// Threading: list() and apply() BLOCK (a netlink round trip, an HTTPS call, a child process),
// so the reconciler calls them on worker threads, never on the engine thread. Calls for one
// table are serialised by the reconciler (one at a time, possibly on different threads over
// time); calls for different tables run concurrently, so tables must not share unlocked state.
// id()/kind() are called from any thread and must be constant.
//
// Metrics: none here; the reconciler counts calls, failures and latency per table.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "route/route.h"

namespace pathpilot::route {

class RouteTable {
 public:
  virtual ~RouteTable() = default;

  // The table id as configured: "rtb-468f5222", "101". Constant for the table's life.
  virtual const std::string& id() const = 0;

  // Backend kind for logs and events: "linux", "exec", "aws", "fake".
  virtual std::string_view kind() const = 0;

  // Every route of this table that the backend can see, at most one per destination: when the
  // table holds several routes for one prefix (e.g. different Linux metrics) the one that wins
  // is reported. Routes carry table == id().
  // Errors: Unavailable/Timeout (retry), PermissionDenied, NotFound (table or namespace gone).
  [[nodiscard]] virtual Result<std::vector<Route>> list() = 0;

  // Replaces or creates the route for delta.destination so that it points at
  // *delta.new_next_hop; deletes it when new_next_hop is nullopt (deleting a route that is not
  // there succeeds). Idempotent: applying the same delta twice leaves one route.
  // Requires: delta.new_next_hop (if set) passes validateNextHop for this backend's form.
  // Errors name the table, destination and next hop; NotFound when a device is gone.
  [[nodiscard]] virtual Result<void> apply(const RouteDelta& delta) = 0;
};

// Opens tables of one backend kind (one configured backend: a Linux netns, an AWS account and
// region, a hook command).
class RouteBackend {
 public:
  virtual ~RouteBackend() = default;

  virtual std::string_view kind() const = 0;

  // Opens table `id`. Cheap and non-blocking: it validates the id (InvalidArgument naming it)
  // but does no I/O; the first list()/apply() connects.
  [[nodiscard]] virtual Result<std::unique_ptr<RouteTable>> openTable(std::string_view id) = 0;
};

// A change in a table that someone else made, or the echo of our own change, as seen by a
// backend that can watch (LinuxRouteMonitor). The reconciler decides whether it is drift.
struct RouteNotice {
  enum class Kind { Added, Removed, Overrun };
  // Added: `route` now exists (created or replaced). Removed: `route` was deleted.
  // Overrun: notifications were lost (socket buffer overflow); `route.table` names the table
  // to re-check, or is empty for "all tables".
  Kind kind = Kind::Added;
  Route route;
};

}  // namespace pathpilot::route
