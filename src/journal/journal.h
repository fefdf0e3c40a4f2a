// journal/journal.h — the daemon's event journal: a bounded queue and a writer thread.
//
// Purpose: the real EventLog. append() is called on the engine's loop thread (and by any other
// thread) and must never wait for a disk: it moves the event into a bounded in-memory queue
// and returns. The journal's own writer thread drains the queue in batches and writes each
// batch to the enabled sinks, in this order:
//   1. the SQLite store (journal/sqlite_store.h): one transaction per batch of at most
//      max_batch events; the store assigns each event its seq;
//   2. the JSON Lines file (journal/jsonl_sink.h): one write(2) per batch.
// Either sink may be disabled (empty path). Without SQLite, seq is counted by the journal
// itself from 1 at every start. An event that one sink fails to take is still given to the
// other; failures are counted and kept in lastError().
//
// Durability: every event is fsync'ed within options.sync_interval (1 s) of being written, and
// a batch that holds a route_changed or a critical event is synced at once, so a kill -9 or a
// power cut loses at most the last second of routine events. (A process crash alone loses
// nothing that was written: SQLite WAL commits and write(2) survive it.)
//
// Trouble never stops the daemon, and nothing is dropped silently:
//   - A file at the SQLite path that is not a usable pathpilot journal (garbage, corrupt,
//     another application's database, a newer schema) is renamed to "<path>.bad-<UTC time>"
//     (with its -wal/-shm) and a new journal is started; a sink that cannot be opened at all
//     (permissions, missing directory) is retried every sync_interval meanwhile.
//   - While a sink cannot be written (disk full, I/O error, not open), its events are kept in
//     memory, up to options.retry_capacity per sink (the oldest are dropped beyond that and
//     counted as lost), and written, in order, as soon as it works again.
//   - Each such episode is one journal_failed event (critical) when it starts and one
//     journal_recovered event (events written late, events lost) when it ends, both journaled
//     and handed to options.on_problem (the daemon logs them and raises the alert).
//
// When the queue is full append() drops the event and counts it (stats().overflowed). As soon
// as the writer has made room it records one `journal_overflow` event (severity warning,
// site = options.site, time = that of the first dropped event, message "journal queue full:
// N events dropped") so that the gap is visible in the journal itself.
//
// Shutdown: close() (or the destructor) stops accepting, writes everything still queued,
// syncs and joins the writer. No accepted event is lost on a clean shutdown.
//
// Size limits: string fields longer than kMaxFieldBytes are cut (at a UTF-8 boundary, with
// "…" appended) before they are written, so a runaway error text cannot bloat the journal.
//
// Threading: every public method is thread-safe. append() takes one mutex for O(1) work and
// never does I/O. flush(), close() and search() block.
// Metrics (stats()): accepted, written, overflowed, rejected_closed, store_failures,
// jsonl_failures, errors, batches, queue_depth, queue_capacity, last_seq, syncs, held, lost,
// moved_aside; all monotonic counters except queue_depth and held. Suggested Prometheus names:
// pathpilot_journal_events_total{result=...}, pathpilot_journal_queue_depth,
// pathpilot_journal_queue_capacity.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "base/time.h"
#include "journal/event_log.h"
#include "journal/sqlite_store.h"
#include "metrics/family.h"

namespace pathpilot::journal {

class JsonlSink;

// Longest string field the journal keeps, in bytes.
inline constexpr std::size_t kMaxFieldBytes = 4096;

struct JournalOptions {
  // SQLite journal file; "" disables the store (and search()).
  std::string sqlite_path;
  // JSON Lines file; "" disables it.
  std::string jsonl_path;
  // Site name put on the journal's own events (journal_overflow).
  std::string site;
  // Most events waiting for the writer. Requires: > 0.
  std::size_t queue_capacity = 65536;
  // Most events per SQLite transaction. Requires: > 0.
  std::size_t max_batch = 4096;
  // Events older than this are deleted from the SQLite store at start (relative to the clock)
  // and then whenever the events written have advanced an hour (relative to the newest event
  // time); zero keeps everything.
  Duration retention = Duration::zero();
  // Full-text mode of a newly created store (see FtsMode).
  FtsMode fts_mode = FtsMode::ExternalContent;
  // Longest time an event written stays unsynced; also the retry period of a failing sink.
  // Batches with a route_changed or a critical event are synced at once. Requires: > 0.
  Duration sync_interval = std::chrono::seconds(1);
  // Most events kept in memory per sink while it cannot be written. Requires: > 0.
  std::size_t retry_capacity = 65536;
  // Receives each journal_failed / journal_recovered event the journal makes about itself
  // (it is journaled as well). Called from open() and from the writer thread: it must be
  // thread-safe, quick, and must not call into this Journal. May be empty.
  std::function<void(const Event&)> on_problem;
};

struct JournalStats {
  std::uint64_t accepted = 0;         // events queued by append()
  std::uint64_t written = 0;          // accepted events the writer has handled (stored or failed)
  std::uint64_t overflowed = 0;       // events dropped because the queue was full
  std::uint64_t rejected_closed = 0;  // events dropped because the journal was closed
  std::uint64_t store_failures = 0;   // events the SQLite store failed to take
  std::uint64_t jsonl_failures = 0;   // events the JSON Lines file failed to take
  std::uint64_t errors = 0;           // failed operations (insert, write, reopen, sync, prune)
  std::uint64_t batches = 0;          // batches written
  std::uint64_t last_seq = 0;         // seq of the last event written
  std::size_t queue_depth = 0;        // events waiting now
  std::size_t queue_capacity = 0;
  std::uint64_t syncs = 0;        // fsync rounds of the sinks
  std::size_t held = 0;           // events kept in memory for a failing sink, now
  std::uint64_t lost = 0;         // events a failing sink dropped beyond retry_capacity
  std::uint64_t moved_aside = 0;  // unusable journal files renamed to <path>.bad-<time>
};

// The Prometheus families of `s` (pathpilot_journal_*; metrics/family.h).
std::vector<metrics::MetricFamily> metricFamilies(const JournalStats& s);

class Journal final : public EventLog {
 public:
  // Opens the enabled sinks on the calling thread, applies the retention, then starts the
  // writer. A sink that cannot be opened does not fail open(): see "Trouble" above (an
  // unusable SQLite file is moved aside; a sink that cannot be opened is retried), and the
  // journal_failed events are the first ones queued. `clock` stamps events appended without a
  // time (on the appending thread); the writer reads it only to date the journal's events
  // about itself, so it must be thread-safe (RealClock and the tests' FakeClock are). It must
  // outlive the Journal. Errors: InvalidArgument for a zero
  // queue_capacity, max_batch, retry_capacity or sync_interval.
  [[nodiscard]] static Result<std::unique_ptr<Journal>> open(JournalOptions options,
                                                             const Clock& clock);

  // close().
  ~Journal() override;
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // journal::EventLog
  // Queues `event`; false if dropped (queue full: counted in overflowed; after close():
  // counted in rejected_closed). O(1), no I/O, never blocks on the writer.
  bool append(Event event) override;
  // append(), then waits up to `timeout` for the writer to have written it (write(2) and the
  // SQLite commit, not the fsync, which follows at once for a route change). For the events
  // an operator must find after a kill -9 that lands right after them: the caller does not
  // show the change as done before its event is in the files. True if written in time (or
  // held for a failing file, which is reported separately).
  bool appendAndWait(Event event, std::chrono::milliseconds timeout);
  // Searches the SQLite store through a separate read-only connection (opened on first use,
  // guarded by its own mutex), so it never waits for the writer. Errors: Unavailable when the
  // store is disabled.
  [[nodiscard]] Result<std::vector<Event>> search(const Query& query) override;

  // Waits until every event accepted before the call has been written and synced to disk
  // (fsync of the SQLite WAL, fdatasync of the JSON Lines file). Returns the most recent error
  // if any operation of the writer (insert, write, reopen, sync, prune) failed since the
  // previous flush() returned; failed events stay counted in stats().
  // Requires: the writer is not paused (it would wait for resumeWriterForTest()).
  [[nodiscard]] Result<void> flush();

  // Stops accepting events, writes all queued ones, syncs and joins the writer. Idempotent.
  void close();

  // Asks the writer to reopen the JSON Lines file (log rotation; call on SIGHUP). Returns at
  // once; events appended after this call go to the new file. A failure to reopen keeps the
  // old file and is reported through lastError() and the next flush().
  void reopen();

  JournalStats stats() const;
  // The most recent write or reopen error, if any ever happened.
  std::optional<Error> lastError() const;

  // Test hooks: while paused the writer takes nothing from the queue, so a test can fill it
  // deterministically. resume lets it continue. close() resumes implicitly.
  void pauseWriterForTest();
  void resumeWriterForTest();
  // Waits (up to `timeout`) until at least `events` accepted events are synced without any
  // flush() asking for it; true if they are. For tests of the sync policy.
  bool waitSyncedForTest(std::uint64_t events, std::chrono::milliseconds timeout);

 private:
  Journal(JournalOptions options, const Clock& clock);

  // A sink's trouble: while `failing`, the events it has not taken wait in `held`.
  struct SinkState {
    std::string what;  // "SQLite journal /x" or "events file /x"
    bool failing = false;
    WallTime failing_since{};
    std::string failure;      // the error that started the episode
    std::vector<Event> held;  // events not yet taken, oldest first (<= retry_capacity)
    std::uint64_t late = 0;   // events of this episode written late
    std::uint64_t lost = 0;   // events of this episode dropped beyond retry_capacity
  };

  void writerLoop();
  // Writes `batch` (moved-from afterwards) to both sinks; called on the writer thread only.
  void writeBatch(std::vector<Event>& batch);
  void syncSinks();
  // Opens the SQLite store (moving an unusable file aside) / the JSON Lines file; nullptr
  // and the reason when it cannot. Any thread before the writer starts, then the writer.
  std::unique_ptr<SqliteStore> openStore(std::string& problem);
  std::unique_ptr<JsonlSink> openJsonl(std::string& problem);
  // Keeps `events` for a failing sink (bounded by retry_capacity; the oldest go first).
  void hold(SinkState& sink, std::span<const Event> events);
  // A sink failed with `error`: starts an episode (one journal_failed) unless one runs.
  void startFailing(SinkState& sink, const std::string& error, WallTime when);
  // Tries a failing sink again: opens it if needed and writes what it holds; ends the episode
  // (one journal_recovered) when everything went in. Writer thread.
  void retry(SinkState& sink, bool is_store);
  // A journal event about the journal itself: journaled in the next round and passed to
  // options_.on_problem.
  void selfEvent(EventKind kind, WallTime when, std::string message, std::string reason);
  // Hourly (in event time, capped by the wall clock) retention and statistics refresh.
  void maintain(WallTime plausible_now);
  // Deletes events older than now - retention (if retention is set).
  void prune(WallTime now);
  void recordError(const Error& error);

  const JournalOptions options_;
  const Clock& clock_;
  // Owned by the writer thread after open().
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<JsonlSink> jsonl_;
  SinkState store_state_;
  SinkState jsonl_state_;
  std::vector<Event> self_events_;  // journal_failed/recovered for the next round
  std::optional<std::chrono::steady_clock::time_point> unsynced_since_;  // writer thread only
  std::uint64_t local_seq_ = 0;               // seq source without a store
  std::optional<WallTime> last_maintenance_;  // writer thread only (set before it starts)

  // Queue state, guarded by mutex_.
  mutable std::mutex mutex_;
  std::condition_variable writer_cv_;  // wakes the writer
  std::condition_variable done_cv_;    // wakes flush() waiters
  std::vector<Event> queue_;
  bool closing_ = false;
  bool paused_ = false;
  bool writer_waiting_ = false;
  bool writer_exited_ = false;
  bool reopen_requested_ = false;
  std::uint64_t overflow_reported_ = 0;      // overflowed count already turned into an event
  std::optional<WallTime> first_drop_time_;  // time of the first event dropped since then
  // Newest event time accepted, each capped at the clock's wall time when it was appended:
  // the retention clock. An event dated in the future (a peer's clock, an NTP step back)
  // cannot make retention delete history.
  WallTime newest_plausible_{};
  std::uint64_t processed_ = 0;        // accepted events fully handled by the writer
  std::uint64_t sync_requested_ = 0;   // flush target: sync once processed_ reaches it
  std::uint64_t synced_ = 0;           // processed_ at the last sync
  std::uint64_t error_count_ = 0;      // recordError() calls
  std::uint64_t errors_at_flush_ = 0;  // error_count_ already reported by flush()
  std::optional<Error> last_error_;

  // Counters readable without the mutex (metrics scrapes).
  std::atomic<std::uint64_t> accepted_{0};
  std::atomic<std::uint64_t> overflowed_{0};
  std::atomic<std::uint64_t> rejected_closed_{0};
  std::atomic<std::uint64_t> written_{0};
  std::atomic<std::uint64_t> store_failures_{0};
  std::atomic<std::uint64_t> jsonl_failures_{0};
  std::atomic<std::uint64_t> errors_{0};
  std::atomic<std::uint64_t> batches_{0};
  std::atomic<std::uint64_t> last_seq_{0};
  std::atomic<std::size_t> queue_depth_{0};
  std::atomic<std::uint64_t> syncs_{0};
  std::atomic<std::size_t> held_{0};
  std::atomic<std::uint64_t> lost_{0};
  std::atomic<std::uint64_t> moved_aside_{0};

  // search(): a read-only connection of its own.
  std::mutex search_mutex_;
  std::unique_ptr<SqliteStore> reader_;

  std::mutex close_mutex_;  // serialises close()
  std::thread writer_;
};

}  // namespace pathpilot::journal
