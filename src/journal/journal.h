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
// other; failures are counted and kept in lastError() — the daemon logs and alerts on them.
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
// jsonl_failures, errors, batches, queue_depth, queue_capacity, last_seq; all monotonic counters
// except queue_depth. Suggested Prometheus names: pathpilot_journal_events_total{result=...},
// pathpilot_journal_queue_depth, pathpilot_journal_queue_capacity.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
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
};

class Journal final : public EventLog {
 public:
  // Opens the enabled sinks on the calling thread, so that a bad path fails here with an
  // error naming the file (see SqliteStore::open, JsonlSink::open), applies the retention,
  // then starts the writer. `clock` stamps events appended without a time; it is read only
  // by open() and by append() on the appending thread, never by the writer, so a FakeClock
  // works. It must outlive the Journal. Errors: InvalidArgument for a zero queue_capacity or
  // max_batch.
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

 private:
  Journal(JournalOptions options, const Clock& clock, std::unique_ptr<SqliteStore> store,
          std::unique_ptr<JsonlSink> jsonl);

  void writerLoop();
  // Writes `batch` (moved-from afterwards) to both sinks; called on the writer thread only.
  void writeBatch(std::vector<Event>& batch);
  void syncSinks();
  // Hourly (in event time) retention and statistics refresh; writer thread.
  void maintain();
  // Deletes events older than now - retention (if retention is set).
  void prune(WallTime now);
  void recordError(const Error& error);

  const JournalOptions options_;
  const Clock& clock_;
  // Owned by the writer thread after open().
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<JsonlSink> jsonl_;
  std::uint64_t local_seq_ = 0;           // seq source without a store
  WallTime newest_time_{};                // newest event time written; writer thread only
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
  std::uint64_t overflow_reported_ = 0;  // overflowed count already turned into an event
  std::optional<WallTime> first_drop_time_;  // time of the first event dropped since then
  std::uint64_t processed_ = 0;          // accepted events fully handled by the writer
  std::uint64_t sync_requested_ = 0;     // flush target: sync once processed_ reaches it
  std::uint64_t synced_ = 0;             // processed_ at the last sync
  std::uint64_t error_count_ = 0;        // recordError() calls
  std::uint64_t errors_at_flush_ = 0;    // error_count_ already reported by flush()
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

  // search(): a read-only connection of its own.
  std::mutex search_mutex_;
  std::unique_ptr<SqliteStore> reader_;

  std::mutex close_mutex_;  // serialises close()
  std::thread writer_;
};

}  // namespace pathpilot::journal
