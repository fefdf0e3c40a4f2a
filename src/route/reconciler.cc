#include "route/reconciler.h"

#include <algorithm>
#include <utility>

#include "base/check.h"

namespace pathpilot::route {

std::string_view syncStateName(SyncState state) {
  switch (state) {
    case SyncState::Awaiting:
      return "awaiting";
    case SyncState::Syncing:
      return "syncing";
    case SyncState::Synced:
      return "synced";
  }
  return "awaiting";
}

struct Reconciler::Entry {
  // Desired (from the policy).
  bool has_desired = false;  // false: undecided, leave the table as it is
  bool withdraw = false;     // decided: no route
  DesiredRoute desired;
  // Latency origin of the next route_changed: when the decision changed or drift was seen.
  MonoTime pending_since{};

  // Programmed (what the table holds, as far as we know).
  bool known = false;
  std::optional<NextHop> programmed;
  std::string programmed_path;

  // Work.
  bool dirty = false;
  bool in_flight = false;
  std::optional<NextHop> in_flight_to;  // the new next hop of the call in flight
  int failures = 0;
  MonoTime next_attempt{};
  std::optional<Error> last_error;
};

struct Reconciler::Table {
  RouteTable* backend = nullptr;
  std::string id;
  std::string lane;
  std::map<IpPrefix, Entry> entries;
  SyncState state = SyncState::Awaiting;
  bool listed = false;  // the initial list succeeded
  bool busy = false;    // a backend call is in flight
  int list_failures = 0;
  MonoTime list_at{};  // earliest time of the next list (initial, or a verify after a failure)
  bool verify_requested = false;
  std::string verify_reason;
  MonoTime next_full_check = MonoTime::max();
  Duration full_check_interval{};  // of this table (options' default unless set)
  // What pollTable() last returned for this table: when it needs polling next. Mirrored in
  // Reconciler::next_polls_ (see setNextPoll).
  MonoTime next_poll = MonoTime::max();
};

Reconciler::Reconciler(runtime::Executor& executor, const Clock& clock,
                       ReconcilerCallbacks callbacks, ReconcilerOptions options)
    : executor_(executor),
      clock_(clock),
      callbacks_(std::move(callbacks)),
      options_(options),
      backoff_(options.retry, options.seed) {
  PP_CHECK_MSG(options_.retry.validate().has_value(), "invalid reconciler retry policy");
}

Reconciler::~Reconciler() { guard_->close(); }

Reconciler::Table* Reconciler::findTable(std::string_view id) {
  auto it = tables_.find(id);
  return it == tables_.end() ? nullptr : it->second.get();
}

const Reconciler::Table* Reconciler::findTable(std::string_view id) const {
  auto it = tables_.find(id);
  return it == tables_.end() ? nullptr : it->second.get();
}

Result<Reconciler::Table*> Reconciler::tableFor(const RouteKey& key) {
  Table* table = findTable(key.table);
  if (table == nullptr) {
    return fail(ErrorCode::NotFound,
                "route table \"" + key.table + "\" is not managed by the reconciler");
  }
  return table;
}

void Reconciler::addTable(RouteTable& backend, MonoTime now) {
  PP_CHECK_MSG(findTable(backend.id()) == nullptr, "route table registered twice");
  auto table = std::make_unique<Table>();
  table->backend = &backend;
  table->id = backend.id();
  table->lane = "table " + backend.id();
  table->list_at = now;
  table->full_check_interval = options_.full_check_interval;
  next_polls_.insert(table->next_poll);
  tables_.emplace(table->id, std::move(table));
  if (started_) {
    kick(now);
  }
}

void Reconciler::start(MonoTime now) {
  started_ = true;
  for (auto& [id, table] : tables_) {
    table->list_at = std::min(table->list_at, now);
  }
  kick(now);
}

// A route needs a backend call only when the policy has decided AND we know what the table
// holds: an unknown entry is listed first, so that a restart never rewrites a route that is
// already right (adoption), and an undecided one is never touched (fail static).
bool Reconciler::needsWork(const Entry& entry) const {
  if (!entry.has_desired || !entry.known) {
    return false;
  }
  if (entry.withdraw) {
    // Another owner's route is not ours to delete: a withdrawal leaves it alone.
    return entry.programmed.has_value() && !entry.programmed->isForeign();
  }
  return entry.programmed != entry.desired.next_hop;
}

// Re-evaluates the dirty flag. A newly dirty entry is due at once unless it is backing off;
// a clean one forgets its failures (the next failure starts the backoff from the beginning).
void Reconciler::refresh(Entry& entry, MonoTime now) {
  bool was_dirty = entry.dirty;
  entry.dirty = needsWork(entry);
  if (entry.dirty && !was_dirty && entry.failures == 0) {
    entry.next_attempt = now;
  }
  if (!entry.dirty) {
    entry.failures = 0;
    entry.last_error.reset();
  }
}

void Reconciler::updateState(Table& table) {
  SyncState state = SyncState::Synced;
  if (!table.listed) {
    state = SyncState::Awaiting;
  } else {
    for (const auto& [prefix, entry] : table.entries) {
      if (entry.dirty || entry.in_flight || (entry.has_desired && !entry.known)) {
        state = SyncState::Syncing;
        break;
      }
    }
  }
  if (state != table.state) {
    table.state = state;
    if (callbacks_.table_state) {
      callbacks_.table_state(table.id, state);
    }
  }
}

Result<void> Reconciler::setDesired(const RouteKey& key, DesiredRoute desired, MonoTime now) {
  auto table = tableFor(key);
  if (!table) {
    return fail(table.error());
  }
  if (auto valid = validateNextHop(desired.next_hop, key.destination.family()); !valid) {
    return fail(valid.error().withContext("route " + key.toString()));
  }
  Table& t = **table;
  // New decisions keep the entry's failure count: a decision that flips while the backend is
  // failing (throttling, EPERM) is tried at once, but further failures keep backing off.
  auto [it, created] = t.entries.try_emplace(key.destination);
  Entry& entry = it->second;
  bool same_hop = entry.has_desired && !entry.withdraw &&
                  entry.desired.next_hop == desired.next_hop;
  if (same_hop && entry.desired.path == desired.path) {
    return ok();
  }
  if (same_hop) {
    // Only the path's name changed: nothing to program.
    if (entry.programmed == desired.next_hop) {
      entry.programmed_path = desired.path;
    }
    entry.desired = std::move(desired);
    return ok();
  }
  entry.has_desired = true;
  entry.withdraw = false;
  entry.desired = std::move(desired);
  entry.pending_since = now;
  if (entry.known && entry.programmed == entry.desired.next_hop) {
    entry.programmed_path = entry.desired.path;
  }
  if (!entry.known && t.listed) {
    // A destination we have not seen in a list yet: look before we write, so that a route that
    // is already right is adopted rather than rewritten.
    t.verify_requested = true;
    t.verify_reason = "new destination";
  }
  refresh(entry, now);
  if (entry.dirty) {
    entry.next_attempt = now;
  }
  updateState(t);
  kickTable(t, now);
  return ok();
}

Result<void> Reconciler::withdraw(const RouteKey& key, MonoTime now) {
  auto table = tableFor(key);
  if (!table) {
    return fail(table.error());
  }
  Table& t = **table;
  Entry& entry = t.entries[key.destination];
  if (entry.has_desired && entry.withdraw) {
    return ok();
  }
  entry.has_desired = true;
  entry.withdraw = true;
  entry.desired = {};
  entry.pending_since = now;
  if (!entry.known && t.listed) {
    t.verify_requested = true;
    t.verify_reason = "new destination";
  }
  refresh(entry, now);
  if (entry.dirty) {
    entry.next_attempt = now;
  }
  updateState(t);
  kickTable(t, now);
  return ok();
}

Result<void> Reconciler::track(const RouteKey& key, MonoTime now) {
  auto table = tableFor(key);
  if (!table) {
    return fail(table.error());
  }
  auto [it, inserted] = (*table)->entries.try_emplace(key.destination);
  (void)it;
  if (inserted && (*table)->listed) {
    requestVerify(key.table, now);
  }
  return ok();
}

void Reconciler::forget(const RouteKey& key, MonoTime now) {
  Table* table = findTable(key.table);
  if (table == nullptr) {
    return;
  }
  // A call in flight for this destination still completes; its completion finds no entry.
  table->entries.erase(key.destination);
  updateState(*table);
  kickTable(*table, now);
}

bool Reconciler::noteExternalChange(const RouteNotice& notice, MonoTime now) {
  if (notice.kind == RouteNotice::Kind::Overrun) {
    requestVerify(notice.route.table, now);
    return true;
  }
  Table* table = findTable(notice.route.table);
  if (table == nullptr) {
    return false;
  }
  auto it = table->entries.find(notice.route.destination);
  if (it == table->entries.end()) {
    return false;
  }
  // The fast path keeps our own changes from costing a list each: the kernel echoes every
  // route we write, possibly before the completion of the call that wrote it reaches us.
  // Anything else is checked against a fresh list() rather than trusted: a notification can be
  // for a losing route (another metric) or be stale by the time we see it.
  const Entry& entry = it->second;
  if (notice.kind == RouteNotice::Kind::Added) {
    // The echo of our own change (completed, or still in flight), or a no-op rewrite.
    if (entry.known && entry.programmed == notice.route.next_hop) {
      return false;
    }
    if (entry.in_flight && entry.in_flight_to == notice.route.next_hop) {
      return false;
    }
  } else {
    if (entry.known && !entry.programmed) {
      return false;
    }
    if (entry.in_flight && !entry.in_flight_to) {
      return false;
    }
  }
  table->verify_requested = true;
  table->verify_reason = "notification";
  kickTable(*table, now);
  return true;
}

void Reconciler::requestVerify(std::string_view table_id, MonoTime now) {
  for (auto& [id, table] : tables_) {
    if (table_id.empty() || id == table_id) {
      table->verify_requested = true;
      table->verify_reason = "request";
    }
  }
  kick(now);
}

void Reconciler::setFullCheckInterval(std::string_view table_id, Duration interval, MonoTime now) {
  Table* table = findTable(table_id);
  if (table == nullptr || table->full_check_interval == interval) {
    return;
  }
  table->full_check_interval = interval;
  // Counted from now: the next check of a listed table comes one new interval later (an
  // unlisted one schedules it after its first list).
  if (table->listed) {
    table->next_full_check = interval > Duration::zero() ? now + interval : MonoTime::max();
  }
  kickTable(*table, now);
}

void Reconciler::setWriteAllowed(bool allowed, MonoTime now) {
  if (allowed == write_allowed_) {
    return;
  }
  write_allowed_ = allowed;
  if (allowed) {
    // A new leader trusts nothing it learnt as a follower: like a restart, every table is
    // listed again before anything is written, and what it holds is adopted as programmed
    // (not reported as drift: the previous leader's changes are not drift). An entry
    // whose decision differs from the table is changed only after that list.
    for (auto& [id, table] : tables_) {
      if (!started_) {
        break;
      }
      table->listed = false;
      table->list_at = now;
      for (auto& [prefix, entry] : table->entries) {
        entry.known = false;
        entry.dirty = false;
      }
      updateState(*table);
    }
  }
  kick(now);
}

MonoTime Reconciler::poll(MonoTime now) {
  MonoTime next = MonoTime::max();
  if (started_) {
    for (auto& [id, table] : tables_) {
      setNextPoll(*table, pollTable(*table, now));
    }
    next = next_polls_.empty() ? MonoTime::max() : *next_polls_.begin();
  }
  if (callbacks_.wakeup) {
    callbacks_.wakeup(next);
  }
  return next;
}

void Reconciler::kick(MonoTime now) { poll(now); }

// A change to one table can only give that table new work: poll it alone and take the others'
// next times from their last poll. Polling every table on each change made a decision that
// touches all N tables cost N² table scans (a failover at 1,000 tables spent ~10 ms in them
// before the first route change could even start). The wake-up reported stays the earliest
// over all tables, as after poll().
void Reconciler::kickTable(Table& table, MonoTime now) {
  MonoTime next = MonoTime::max();
  if (started_) {
    setNextPoll(table, pollTable(table, now));
    next = *next_polls_.begin();
  }
  if (callbacks_.wakeup) {
    callbacks_.wakeup(next);
  }
}

// The multiset holds every table's next_poll, so the earliest is O(1) and an update O(log n).
void Reconciler::setNextPoll(Table& table, MonoTime next) {
  if (next == table.next_poll) {
    return;
  }
  next_polls_.erase(next_polls_.find(table.next_poll));
  table.next_poll = next;
  next_polls_.insert(next);
}

// One backend call per table at a time keeps a table's changes in order and its backend
// single-threaded; tables are independent, so a table that is slow or failing only delays
// itself. Order of work inside a table: the initial list, then due writes, then verifies
// (a write is what the policy is waiting for; a verify only looks), then the periodic check.
MonoTime Reconciler::pollTable(Table& table, MonoTime now) {
  if (table.busy) {
    return MonoTime::max();  // the completion polls again
  }
  if (!table.listed) {
    if (now >= table.list_at) {
      startList(table, ListPurpose::Initial, now);
      return MonoTime::max();
    }
    return table.list_at;
  }
  // The earliest dirty route that is due wins; ties go to the lowest prefix (map order).
  Entry* due = nullptr;
  const IpPrefix* due_prefix = nullptr;
  MonoTime next = MonoTime::max();
  if (write_allowed_) {
    for (auto& [prefix, entry] : table.entries) {
      if (!entry.dirty) {
        continue;
      }
      if (entry.next_attempt <= now) {
        if (due == nullptr || entry.next_attempt < due->next_attempt) {
          due = &entry;
          due_prefix = &prefix;
        }
      } else {
        next = std::min(next, entry.next_attempt);
      }
    }
  }
  if (due != nullptr) {
    startApply(table, *due_prefix, *due, now);
    return MonoTime::max();
  }
  if (table.verify_requested) {
    if (now >= table.list_at) {
      startList(table, ListPurpose::Verify, now);
      return MonoTime::max();
    }
    next = std::min(next, table.list_at);
  }
  if (table.full_check_interval > Duration::zero()) {
    if (now >= table.next_full_check) {
      startList(table, ListPurpose::Periodic, now);
      return MonoTime::max();
    }
    next = std::min(next, table.next_full_check);
  }
  return next;
}

void Reconciler::startList(Table& table, ListPurpose purpose, MonoTime /*now*/) {
  table.busy = true;
  table.verify_requested = false;
  std::string detected_by = purpose == ListPurpose::Periodic ? std::string("periodic check")
                            : purpose == ListPurpose::Initial ? std::string("start-up")
                            : table.verify_reason.empty()     ? std::string("verify")
                                                              : table.verify_reason;
  table.verify_reason.clear();
  RouteTable* backend = table.backend;
  std::string id = table.id;
  executor_.run(
      table.lane,
      runtime::guardedBody(guard_, [this, backend, id, detected_by]() -> runtime::Completion {
        Result<std::vector<Route>> result = backend->list();
        return [this, id, detected_by, result = std::move(result)]() mutable {
          onListDone(id, detected_by, std::move(result));
        };
      }));
}

void Reconciler::startApply(Table& table, const IpPrefix& destination, Entry& entry,
                            MonoTime now) {
  RouteDelta delta;
  delta.destination = destination;
  delta.old_next_hop = entry.programmed;
  delta.old_path = entry.programmed_path;
  if (!entry.withdraw) {
    delta.new_next_hop = entry.desired.next_hop;
    delta.new_path = entry.desired.path;
  }
  table.busy = true;
  entry.in_flight = true;
  entry.in_flight_to = delta.new_next_hop;
  updateState(table);
  RouteTable* backend = table.backend;
  std::string id = table.id;
  executor_.run(
      table.lane,
      runtime::guardedBody(guard_, [this, backend, id, delta = std::move(delta), now]() {
        Result<void> result = backend->apply(delta);
        return runtime::Completion([this, id, delta, now, result = std::move(result)]() mutable {
          onApplyDone(id, delta, now, std::move(result));
        });
      }));
}

void Reconciler::onApplyDone(const std::string& table_id, const RouteDelta& delta,
                             MonoTime started, Result<void> result) {
  MonoTime now = clock_.now();
  Table* table = findTable(table_id);
  PP_CHECK(table != nullptr);  // tables are never removed
  table->busy = false;
  auto it = table->entries.find(delta.destination);
  std::optional<RouteChangedEvent> changed;
  std::optional<RouteErrorEvent> error;
  if (result) {
    ++stats_.applies;
  } else {
    ++stats_.apply_failures;
  }
  if (it != table->entries.end()) {
    Entry& entry = it->second;
    entry.in_flight = false;
    entry.in_flight_to.reset();
    if (result) {
      changed = RouteChangedEvent{};
      changed->key = {table_id, delta.destination};
      changed->from = delta.old_next_hop;
      changed->from_path = delta.old_path;
      changed->to = delta.new_next_hop;
      changed->to_path = delta.new_path;
      changed->latency = now - entry.pending_since;
      changed->call_latency = now - started;
      changed->attempts = entry.failures + 1;
      entry.known = true;
      entry.programmed = delta.new_next_hop;
      entry.programmed_path = delta.new_path;
      entry.failures = 0;
      entry.last_error.reset();
      // If the decision changed while the call was in flight, the entry is dirty again.
      entry.dirty = false;
      refresh(entry, now);
      if (entry.dirty) {
        entry.next_attempt = now;
      }
    } else {
      // `programmed` stays as it was: the call may or may not have landed (a timeout after
      // the kernel or EC2 acted). Backends replace idempotently, so the retry is safe, and a
      // verify would see the truth either way.
      ++entry.failures;
      Duration delay = backoff_.delay(entry.failures);
      entry.next_attempt = now + delay;
      entry.last_error = result.error();
      error = RouteErrorEvent{RouteKey{table_id, delta.destination}, false, "apply",
                              result.error(), entry.failures, delay};
    }
  }
  // Callbacks last, once the state is consistent: they may call back into the reconciler.
  updateState(*table);
  kickTable(*table, now);
  if (changed && callbacks_.route_changed) {
    callbacks_.route_changed(*changed);
  }
  if (error && callbacks_.route_error) {
    callbacks_.route_error(*error);
  }
}

void Reconciler::onListDone(const std::string& table_id, const std::string& detected_by,
                            Result<std::vector<Route>> result) {
  MonoTime now = clock_.now();
  Table* table = findTable(table_id);
  PP_CHECK(table != nullptr);
  table->busy = false;
  std::optional<RouteErrorEvent> error;
  std::vector<RouteDriftEvent> drifts;
  if (!result) {
    ++stats_.list_failures;
    ++table->list_failures;
    Duration delay = backoff_.delay(table->list_failures);
    table->list_at = now + delay;
    if (table->listed) {
      // A failed verify is retried; the periodic check waits for it.
      table->verify_requested = true;
      if (table->verify_reason.empty()) {
        table->verify_reason = detected_by;
      }
    }
    error = RouteErrorEvent{RouteKey{table_id, IpPrefix()}, true, "list", result.error(),
                            table->list_failures, delay};
  } else {
    ++stats_.lists;
    table->list_failures = 0;
    table->list_at = now;
    // Compare the table with what we believe it holds. Unknown entries are adopted as they are
    // (no backend call; needsWork decides later whether they must change). Known entries that
    // differ were changed behind our back: drift. Drift on a destination the policy has not
    // decided is not ours to report, and a follower (write gate closed) only updates its view.
    std::map<IpPrefix, NextHop> actual;
    for (Route& route : *result) {
      actual.try_emplace(route.destination, std::move(route.next_hop));
    }
    for (auto& [prefix, entry] : table->entries) {
      std::optional<NextHop> seen;
      if (auto found = actual.find(prefix); found != actual.end()) {
        seen = found->second;
      }
      bool matches_desired = entry.has_desired && !entry.withdraw && seen == entry.desired.next_hop;
      if (!entry.known) {
        entry.known = true;
        entry.programmed = seen;
        entry.programmed_path = matches_desired ? entry.desired.path : std::string();
        if (matches_desired) {
          ++stats_.adopted;
        }
      } else if (entry.programmed != seen) {
        // Drift is a change to what we programmed. When another owner's route held the
        // destination, its owner changed or removed it: news for the retry (now, not after
        // the backoff the refused writes built up), not drift. Nor is another owner's route
        // appearing where we want no route of ours.
        bool was_foreign = entry.programmed && entry.programmed->isForeign();
        bool foreign_where_none_wanted = entry.withdraw && seen && seen->isForeign();
        if (was_foreign) {
          entry.failures = 0;
        }
        if (entry.has_desired && write_allowed_ && !was_foreign && !foreign_where_none_wanted) {
          drifts.push_back(RouteDriftEvent{RouteKey{table_id, prefix}, entry.programmed, seen,
                                           detected_by});
          ++stats_.drifts;
          entry.pending_since = now;
          entry.failures = 0;
        }
        entry.programmed = seen;
        entry.programmed_path = matches_desired ? entry.desired.path : std::string();
        entry.dirty = false;  // refresh() below re-evaluates and schedules the repair now
      }
      refresh(entry, now);
    }
    table->listed = true;
    if (table->full_check_interval > Duration::zero()) {
      table->next_full_check = now + table->full_check_interval;
    }
  }
  updateState(*table);
  kickTable(*table, now);
  for (const RouteDriftEvent& drift : drifts) {
    if (callbacks_.route_drift) {
      callbacks_.route_drift(drift);
    }
  }
  if (error && callbacks_.route_error) {
    callbacks_.route_error(*error);
  }
}

SyncState Reconciler::tableState(std::string_view table_id) const {
  const Table* table = findTable(table_id);
  return table == nullptr ? SyncState::Awaiting : table->state;
}

bool Reconciler::allSynced() const {
  return std::all_of(tables_.begin(), tables_.end(),
                     [](const auto& t) { return t.second->state == SyncState::Synced; });
}

std::vector<RouteStatus> Reconciler::snapshot() const {
  std::vector<RouteStatus> out;
  for (const auto& [id, table] : tables_) {
    for (const auto& [prefix, entry] : table->entries) {
      RouteStatus status;
      status.key = {id, prefix};
      if (entry.has_desired && !entry.withdraw) {
        status.desired = entry.desired;
      }
      status.withdraw = entry.has_desired && entry.withdraw;
      status.known = entry.known;
      status.programmed = entry.programmed;
      status.programmed_path = entry.programmed_path;
      status.dirty = entry.dirty;
      status.in_flight = entry.in_flight;
      status.failures = entry.failures;
      status.last_error = entry.last_error;
      out.push_back(std::move(status));
    }
  }
  return out;
}

std::vector<metrics::MetricFamily> metricFamilies(const ReconcilerStats& s) {
  using metrics::counterFamily;
  return {
      counterFamily("pathpilot_reconciler_applies_total", "Route changes sent to a backend.",
                    s.applies),
      counterFamily("pathpilot_reconciler_apply_failures_total",
                    "Route changes a backend failed to apply.", s.apply_failures),
      counterFamily("pathpilot_reconciler_lists_total", "Route table reads.", s.lists),
      counterFamily("pathpilot_reconciler_list_failures_total", "Route table reads that failed.",
                    s.list_failures),
      counterFamily("pathpilot_reconciler_adopted_routes_total",
                    "Routes found programmed at start and adopted.", s.adopted),
      counterFamily("pathpilot_reconciler_drifts_total",
                    "Routes found changed outside pathpilot (repaired).", s.drifts),
  };
}

}  // namespace pathpilot::route
