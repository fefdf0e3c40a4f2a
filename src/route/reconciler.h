// route/reconciler.h — makes route tables match the policy's decisions, and keeps them so.
//
// Purpose: the policy says, per (route table, destination), which next hop traffic should use
// ("desired"). The reconciler remembers what each table actually holds ("programmed", learnt
// from the backend's list() and from its own successful apply() calls), keeps a dirty set of
// routes where the two differ, and programs them through the table's RouteTable with
// exponential backoff and jitter on failure. [openr `openr/fib/Fib.h`: desired vs programmed,
// dirty set, RouteState AWAITING -> SYNCING -> SYNCED]
//
// Per table the sync state moves:
//   Awaiting  the initial list() has not succeeded yet; nothing is programmed in this table.
//   Syncing   the table was listed; some routes differ from the desired ones or are in flight.
//   Synced    every decided route is programmed as desired.
// Start-up (and so restart after a crash or kill -9) is a full re-sync: every table is listed
// first; routes that already point where the policy wants are ADOPTED without a backend call,
// only those that differ are changed. A desired route set before its table was listed waits
// for the list. Destinations the policy has not decided yet are left as they are (fail static).
//
// Drift: a route changed or deleted behind our back. It is found by a verify (a list() of the
// table, compared with what we programmed), triggered by a backend notification
// (noteExternalChange, e.g. from LinuxRouteMonitor) or by the periodic full check. Each drift is
// reported through route_drift and repaired like any other dirty route.
//
// Foreign routes: a backend that can tell owners apart (the Linux one, by routing protocol)
// lists a destination held by someone else's route as NextHop::foreign(owner). It never
// equals a desired next hop, so the reconciler tries to program the destination; the backend
// refuses (it never overwrites or deletes another owner's route) and the refusal is a
// route_error like any other, retried with backoff until the other route is gone. A foreign
// route replacing one of ours is drift (reported, and the repair is refused the same way); a
// foreign route changing or going away is not drift, but the retry then happens at once. A
// withdrawal never deletes a foreign route.
//
// Parallelism: every backend call runs on the Executor, at most one call per table at a time
// (so a table sees its changes in order), any number of tables at once: a slow or failing table
// never delays another one.
//
// Leadership: setWriteAllowed(false) (a follower monitor) stops every apply() and drift report;
// lists and bookkeeping continue. setWriteAllowed(true) (a promotion) starts like a restart:
// every table is listed again and what it holds is adopted (tableState goes back to Awaiting
// until then) before any route is written, so a takeover moves nothing by itself.
//
// Threading: everything here runs on the engine thread. Backend calls run on executor workers
// and their completions come back to the engine thread. Decision points take `now`;
// completions read the injected Clock (a FakeClock in tests).
//
// Metrics (stats()): applies and apply failures, lists and list failures, adopted routes,
// drifts; per table the sync state; per route (snapshot()) failures and last error.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/time.h"
#include "metrics/family.h"
#include "route/route.h"
#include "route/route_table.h"
#include "runtime/backoff.h"
#include "runtime/executor.h"

namespace pathpilot::route {

enum class SyncState : std::uint8_t { Awaiting, Syncing, Synced };

// "awaiting", "syncing", "synced".
std::string_view syncStateName(SyncState state);

// What the policy wants for one (table, destination).
struct DesiredRoute {
  NextHop next_hop;
  std::string path;  // the path name behind next_hop ("dx", "vpn-a"), for events and hooks
};

// A route was programmed (or deleted) successfully.
struct RouteChangedEvent {
  RouteKey key;
  std::optional<NextHop> from;  // what was there before (nullopt: nothing or unknown)
  std::string from_path;        // "" when unknown (e.g. a route adopted at start-up)
  std::optional<NextHop> to;    // nullopt: the route was deleted
  std::string to_path;
  Duration latency{};       // from the decision (or drift detection) to completion
  Duration call_latency{};  // the successful backend call alone
  int attempts = 1;         // 1 + failures before this success
};

// A backend call failed; it will be retried after `retry_in`.
struct RouteErrorEvent {
  RouteKey key;               // destination is meaningless when table_level
  bool table_level = false;   // a list() failed, not one route
  std::string operation;      // "list" or "apply"
  Error error;
  int attempt = 1;            // consecutive failures so far
  Duration retry_in{};
};

// A route differs from what we programmed (changed or deleted by someone else).
struct RouteDriftEvent {
  RouteKey key;
  std::optional<NextHop> expected;  // what we had programmed (nullopt: no route)
  std::optional<NextHop> actual;    // what the table holds now (nullopt: deleted)
  std::string detected_by;          // "notification", "periodic check", "request"
};

// Wired by the daemon (docs/development.md). All run on the engine thread, after the reconciler's own
// state is consistent, so they may call back into the reconciler. Any may be empty.
struct ReconcilerCallbacks {
  std::function<void(const RouteChangedEvent&)> route_changed;
  std::function<void(const RouteErrorEvent&)> route_error;
  std::function<void(const RouteDriftEvent&)> route_drift;
  std::function<void(const std::string& table, SyncState state)> table_state;
  // Call poll() again at this time (MonoTime::max(): nothing scheduled). Connect to a
  // WakeupTimer. Called after every operation that may have changed the schedule.
  std::function<void(MonoTime when)> wakeup;
};

struct ReconcilerOptions {
  // Retry schedule of failed apply() and list() calls. Validated by the constructor.
  runtime::BackoffPolicy retry;
  // Seed of the jitter (0: random). Tests set it for reproducible delays.
  std::uint64_t seed = 0;
  // Interval of the periodic full check of a table (list + compare); zero disables it. The
  // default of every table; setFullCheckInterval() changes it for one table.
  Duration full_check_interval = std::chrono::seconds(60);
};

struct ReconcilerStats {
  std::uint64_t applies = 0;
  std::uint64_t apply_failures = 0;
  std::uint64_t lists = 0;
  std::uint64_t list_failures = 0;
  std::uint64_t adopted = 0;
  std::uint64_t drifts = 0;
};

// The Prometheus families of `s` (pathpilot_reconciler_*; metrics/family.h).
std::vector<metrics::MetricFamily> metricFamilies(const ReconcilerStats& s);

// One managed route as the status API shows it.
struct RouteStatus {
  RouteKey key;
  std::optional<DesiredRoute> desired;  // nullopt: not decided yet
  bool withdraw = false;                // the policy wants the route deleted
  bool known = false;                   // the table's content for this prefix is known
  std::optional<NextHop> programmed;
  std::string programmed_path;
  bool dirty = false;
  bool in_flight = false;
  int failures = 0;
  std::optional<Error> last_error;
};

class Reconciler {
 public:
  // Requires: executor and clock outlive the reconciler; options.retry is valid (PP_CHECK).
  // The destructor blocks until backend calls already running on workers have returned
  // (bounded by the backends' own timeouts).
  Reconciler(runtime::Executor& executor, const Clock& clock, ReconcilerCallbacks callbacks,
             ReconcilerOptions options = {});
  ~Reconciler();

  Reconciler(const Reconciler&) = delete;
  Reconciler& operator=(const Reconciler&) = delete;

  // Registers a table. Requires: table.id() not registered yet; `table` outlives the reconciler
  // (the destructor waits for calls in flight, so tables may go right after it). Tables added
  // after start() are listed at once.
  void addTable(RouteTable& table, MonoTime now);

  // Begins the initial full sync: every table is listed (Awaiting) before anything is changed.
  void start(MonoTime now);

  // The policy's decision for `key`. A no-op when unchanged. Errors: NotFound (table not
  // registered), InvalidArgument (malformed next hop or family mismatch).
  [[nodiscard]] Result<void> setDesired(const RouteKey& key, DesiredRoute desired, MonoTime now);

  // The policy wants no route for `key`: it is deleted. Errors as setDesired.
  [[nodiscard]] Result<void> withdraw(const RouteKey& key, MonoTime now);

  // Starts tracking `key` without deciding it: the next list() of its table records what the
  // table holds there (snapshot() shows it), and nothing is changed until setDesired() or
  // withdraw(). The engine tracks every configured destination before start(), so that a
  // restart can adopt the programmed path. NotFound for an unknown table.
  [[nodiscard]] Result<void> track(const RouteKey& key, MonoTime now);

  // Stops managing `key` and leaves the table as it is.
  void forget(const RouteKey& key, MonoTime now);

  // A backend saw a change in a table. Our own changes and changes to unmanaged destinations
  // are ignored; anything else schedules a verify of the table. Returns true if it did.
  bool noteExternalChange(const RouteNotice& notice, MonoTime now);

  // Schedules a verify (list and compare) of `table`, or of every table when empty.
  void requestVerify(std::string_view table, MonoTime now);

  // The periodic full check of `table` runs every `interval` from now on (zero: never),
  // instead of options.full_check_interval (e.g. backends.linux.drift_check_interval for a
  // Linux table). Setting the interval a table already has changes nothing, so a config
  // reload does not postpone the next check. Unknown tables are ignored.
  void setFullCheckInterval(std::string_view table, Duration interval, MonoTime now);

  // The leadership gate: when false, nothing is written and no drift is reported.
  void setWriteAllowed(bool allowed, MonoTime now);
  bool writeAllowed() const { return write_allowed_; }

  // Starts every backend call that is due and returns when to poll next (MonoTime::max():
  // only completions or new input can create work). Also reported through callbacks.wakeup.
  MonoTime poll(MonoTime now);

  // Sync state of `table` (Awaiting for an unknown table).
  SyncState tableState(std::string_view table) const;
  // True when every table is Synced.
  bool allSynced() const;
  // Every managed route, ordered by table and destination.
  std::vector<RouteStatus> snapshot() const;
  const ReconcilerStats& stats() const { return stats_; }

 private:
  struct Entry;
  struct Table;
  enum class ListPurpose : std::uint8_t { Initial, Verify, Periodic };

  Table* findTable(std::string_view id);
  const Table* findTable(std::string_view id) const;
  Result<Table*> tableFor(const RouteKey& key);
  bool needsWork(const Entry& entry) const;
  void refresh(Entry& entry, MonoTime now);
  void updateState(Table& table);
  MonoTime pollTable(Table& table, MonoTime now);
  void startList(Table& table, ListPurpose purpose, MonoTime now);
  void startApply(Table& table, const IpPrefix& destination, Entry& entry, MonoTime now);
  void onListDone(const std::string& table_id, const std::string& detected_by,
                  Result<std::vector<Route>> result);
  void onApplyDone(const std::string& table_id, const RouteDelta& delta, MonoTime started,
                   Result<void> result);
  void kick(MonoTime now);
  // After a change to `table` only: polls that table, reports the earliest wake-up of all.
  void kickTable(Table& table, MonoTime now);
  void setNextPoll(Table& table, MonoTime next);

  runtime::Executor& executor_;
  const Clock& clock_;
  ReconcilerCallbacks callbacks_;
  ReconcilerOptions options_;
  runtime::Backoff backoff_;
  std::map<std::string, std::unique_ptr<Table>, std::less<>> tables_;
  std::multiset<MonoTime> next_polls_;  // every table's next_poll: the earliest is begin()
  bool started_ = false;
  bool write_allowed_ = true;
  ReconcilerStats stats_;
  // Shared with every job: the destructor closes it, waiting for backend calls that are
  // running, so that no worker touches a RouteTable after the reconciler is gone; queued jobs
  // and late completions then do nothing.
  std::shared_ptr<runtime::JobGuard> guard_ = std::make_shared<runtime::JobGuard>();
};

}  // namespace pathpilot::route
