// alert/outbox.h — the durable queue between "alert accepted" and "alert delivered".
//
// Purpose: an accepted alert is never lost. Every Notification is written to an SQLite
// database of its own (not the journal's file; WAL mode, synchronous=FULL, so a committed row
// survives a power cut) before anything is sent. Delivery works on the rows: the worker of a
// channel always takes that channel's OLDEST pending row (per-channel order is preserved:
// a later alert never overtakes an earlier one), and marks it sent, failed (given up), or
// pending again with a later next attempt. After a restart the pending rows are simply there
// and are retried in order. Sent and failed rows are kept for `keep` (default 7 days) for
// `pathpilot alerts` and then pruned.
// Delivery is at-least-once: a crash between the receiver's answer and markSent() re-sends
// that one message after the restart.
//
// The same file keeps the OPEN INCIDENTS (alert/incident.h IncidentRecord): an incident whose
// FIRING went out is written in the same transaction as its FIRING rows, and deleted in the
// same transaction as its RESOLVED rows, so after any crash either both or neither are there:
// a restarted manager resolves exactly the incidents that fired and were not yet resolved.
//
// Schema (PRAGMA user_version; open() migrates older files in place and refuses newer ones):
//   version 1:
//   outbox(id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT, fingerprint TEXT,
//          created_ms INTEGER, next_ms INTEGER, attempts INTEGER, state INTEGER
//          (0 pending, 1 sent, 2 failed), payload TEXT (Notification JSON),
//          last_error TEXT, done_ms INTEGER)
//   version 2 adds:
//   incidents(key TEXT PRIMARY KEY, site TEXT, opening TEXT (journal event JSON line),
//             severity TEXT, started_ms INTEGER, announced_ms INTEGER, tables TEXT (JSON
//             list), channels TEXT (JSON list), summary TEXT, updated_ms INTEGER)
//
// Threading: every method is thread-safe (one connection behind a mutex); they block on
// SQLite I/O, so call them from the alert threads, never the engine loop.
// Metrics: pending() (the outbox depth) — an atomic counter, cheap to read from anywhere.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "alert/alert.h"
#include "alert/incident.h"
#include "base/error.h"
#include "base/time.h"

struct sqlite3;

namespace pathpilot::alert {

enum class RowState : std::uint8_t { Pending = 0, Sent = 1, Failed = 2 };

struct OutboxRow {
  std::int64_t id = 0;
  std::string channel;
  std::string fingerprint;
  WallTime created{};
  WallTime next_attempt{};
  int attempts = 0;
  RowState state = RowState::Pending;
  std::string payload;     // Notification JSON
  std::string last_error;  // redacted
  std::optional<WallTime> done;
};

class Outbox {
 public:
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // Opens (creating if needed) the database at `path`; ":memory:" for tests. Errors name
  // the file: "alert outbox /var/lib/pathpilot/alerts.db: ...".
  [[nodiscard]] static Result<std::unique_ptr<Outbox>> open(const std::string& path);

  // Stores a notification; returns its row id. It is due at once.
  [[nodiscard]] Result<std::int64_t> enqueue(const Notification& n, WallTime now);

  // Stores `rows` (due at once) and, in the same transaction, saves `upsert` (an incident
  // that fired) or deletes incident `remove_key` (one that resolved; "" for none). Either
  // everything is stored or nothing (the error says why).
  [[nodiscard]] Result<void> enqueueAll(const std::vector<Notification>& rows,
                                        const std::optional<IncidentRecord>& upsert,
                                        const std::string& remove_key, WallTime now);

  // The open incidents saved by enqueueAll, by key. A row this build cannot read is skipped
  // with its error in `bad` (one line each, naming the key).
  [[nodiscard]] Result<std::vector<IncidentRecord>> incidents(std::vector<std::string>* bad);

  // The oldest pending row of `channel`, or nullopt.
  [[nodiscard]] Result<std::optional<OutboxRow>> head(const std::string& channel);

  [[nodiscard]] Result<void> markSent(std::int64_t id, WallTime now);
  [[nodiscard]] Result<void> markRetry(std::int64_t id, int attempts, WallTime next_attempt,
                                       const std::string& error);
  [[nodiscard]] Result<void> markFailed(std::int64_t id, int attempts, WallTime now,
                                        const std::string& error);

  // Rows of any state, newest first, at most `limit` (for `pathpilot alerts` and tests).
  [[nodiscard]] Result<std::vector<OutboxRow>> list(std::size_t limit);
  // Removes sent/failed rows finished before `before`; returns how many.
  [[nodiscard]] Result<std::int64_t> prune(WallTime before);

  // Pending rows (all channels). Thread-safe, no I/O.
  std::size_t pending() const { return pending_.load(); }
  // Pending rows of channels not in `known` (a channel removed from the config): they stay
  // in the file but nobody sends them. Counted at open.
  [[nodiscard]] Result<std::vector<std::string>> pendingChannels();

  const std::string& path() const { return path_; }

 private:
  Outbox(sqlite3* db, std::string path);
  Error error(int rc, const std::string& what) const;
  Result<void> exec(const char* sql);
  // Requires: mu_ held, inside a transaction.
  Result<void> insertLocked(const Notification& n, WallTime now);

  sqlite3* db_;
  std::string path_;
  mutable std::mutex mu_;
  std::atomic<std::size_t> pending_{0};
};

}  // namespace pathpilot::alert
