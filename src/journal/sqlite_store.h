// journal/sqlite_store.h — the journal's SQLite database: schema, insert, search.
//
// Purpose: durable, searchable storage of Events in one SQLite file (default
// /var/lib/pathpilot/journal.db). The daemon's Journal owns one writable SqliteStore on its
// writer thread; `pathpilot events`, the HTTP API and tests open the same file read-only, at
// the same time, from other threads or processes.
//
// Database layout (schema version 1, stored in PRAGMA user_version; PRAGMA application_id is
// kApplicationId so that a foreign file is never mistaken for a journal):
//   events(seq INTEGER PRIMARY KEY AUTOINCREMENT, time_ms INTEGER  -- Unix ms, UTC
//          time TEXT GENERATED (RFC 3339, for people using the sqlite3 shell),
//          site, kind, severity, path, link, route_table, destination, "from", "to",
//          reason, message TEXT NOT NULL  -- '' when empty; names as in journal/event.h)
//   indexes: one per column time_ms, site, kind, path, link, route_table; each implicitly
//            ends with seq, so a filter reads newest-first (seq DESC) without sorting
//   events_fts: FTS5 (unicode61 tokenizer) over message and reason, rowid = seq; by default an
//            external-content table (content=events), see FtsMode.
// The file runs in WAL mode with synchronous=NORMAL: a committed transaction survives a crash
// of the process; after a power loss the last transactions since the latest checkpoint may be
// lost unless sync() ran after them (Journal::flush() calls it). Readers never block the writer and vice versa.
//
// Threading: one SqliteStore is used by one thread at a time (not internally locked). Any
// number of SqliteStores, in any processes, may open the same file; at most one should write.
// Metrics: none itself; the Journal counts batches and failures.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/time.h"
#include "journal/detail/sqlite.h"
#include "journal/event.h"
#include "journal/query.h"

namespace pathpilot::journal {

// PRAGMA application_id of a pathpilot journal ("PPJ1").
inline constexpr std::int32_t kApplicationId = 0x50504A31;
// The schema version this build writes and reads (PRAGMA user_version).
inline constexpr int kSchemaVersion = 1;

// How the full-text index stores its text. Decided when the file is created; an existing
// file keeps its mode. Both index message and reason identically and give the same results.
// Measured on 1M events (bench/journal_bench.cc): insert rate and search times equal within
// noise (~100k inserts per CPU second; 2.4 ms for site+kind+word), so the default is the one
// that can delete.
enum class FtsMode : std::uint8_t {
  // content=events: the index refers back to the events table for the text. Supports
  // deleting rows (retention). The default.
  ExternalContent,
  // content='': the index keeps only the postings. Rows cannot be deleted from it with the
  // SQLite of Debian 12 (3.40). Kept for the benchmark that compares the two.
  Contentless,
};

struct StoreOptions {
  // Open without write access. The file must exist and be a journal.
  bool read_only = false;
  // Used only when the file is created.
  FtsMode fts_mode = FtsMode::ExternalContent;
  // How long a statement waits for a lock held by another connection before failing with
  // Unavailable (SQLITE_BUSY). Readers in WAL mode normally never wait.
  Duration busy_timeout = std::chrono::seconds(5);
};

class SqliteStore {
 public:
  // Opens (creating if needed, unless read_only) the journal at `path` and checks or creates
  // its schema. A new file is created with mode 0640 (events name internal hosts). Errors
  // name the file (Error::toString() adds the errno text where there is one), e.g.
  //   NotFound          "journal /x/j.db: directory /x does not exist"
  //   NotFound          "journal /x/j.db: no such file" (read_only)
  //   InvalidArgument   "journal /x: is a directory, not a file"
  //   PermissionDenied  "journal /x/j.db: cannot create" (+ EACCES), or
  //                     "journal /x/j.db: not writable (permission denied)"
  //   InvalidArgument   "journal /x/j.db: not a pathpilot journal (file is not a database or
  //                     is corrupt)", "... (an SQLite database of something else)"
  //   InvalidArgument   "journal /x/j.db: schema version 3 is newer than this pathpilot
  //                     supports (1); upgrade pathpilot"
  // Damage beyond the first pages shows later, as an error from search() or insert().
  [[nodiscard]] static Result<std::unique_ptr<SqliteStore>> open(const std::string& path,
                                                                 const StoreOptions& options = {});
  // Shorthand for open(path, {.read_only = true}).
  [[nodiscard]] static Result<std::unique_ptr<SqliteStore>> openReadOnly(const std::string& path);

  ~SqliteStore();
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  // Inserts `events` in one transaction and assigns each its seq (increasing, in order).
  // All or nothing: on error no event is stored and the seqs are left unchanged.
  // Requires: not read-only.
  [[nodiscard]] Result<void> insert(std::span<Event> events);

  // Events matching `query`, newest first (see journal/query.h).
  [[nodiscard]] Result<std::vector<Event>> search(const Query& query);

  // Like search, but hands each event to `visit` as it is read, without collecting them;
  // `visit` returns false to stop early. Returns how many events were visited.
  [[nodiscard]] Result<std::size_t> forEach(const Query& query,
                                            const std::function<bool(const Event&)>& visit);

  // The highest seq stored, 0 for an empty journal.
  [[nodiscard]] Result<std::uint64_t> lastSeq();
  // How many events are stored.
  [[nodiscard]] Result<std::uint64_t> count();

  // Deletes events older than `before` (time_ms < before) with their full-text entries, in
  // one transaction. Returns how many were deleted. Errors: InvalidArgument for a
  // Contentless file. Requires: not read-only.
  [[nodiscard]] Result<std::uint64_t> pruneBefore(WallTime before);

  // Makes every committed transaction durable across power loss: one fsync of the WAL file
  // (what synchronous=FULL would do at every commit). Cheap when nothing was written since
  // the last call. Requires: not read-only.
  [[nodiscard]] Result<void> sync();

  // Copies the WAL into the database file and syncs both (PRAGMA wal_checkpoint(PASSIVE)).
  // SQLite also does this by itself whenever the WAL passes wal_autocheckpoint pages; a
  // reader holding an old snapshot may keep the last frames in the WAL (still committed).
  // Requires: not read-only.
  [[nodiscard]] Result<void> checkpoint();

  // Refreshes the query planner's statistics cheaply (ANALYZE with a row limit). The writer
  // calls it when the file is opened and now and then as it grows.
  [[nodiscard]] Result<void> analyze();

  const std::string& path() const { return path_; }
  FtsMode ftsMode() const { return fts_mode_; }
  bool readOnly() const { return read_only_; }

 private:
  SqliteStore(std::string path, bool read_only, detail::Database db);
  Result<void> prepareSchema(const StoreOptions& options);
  Result<void> createSchema(FtsMode mode);
  Result<void> prepareWriter();
  Result<Event> readRow(const detail::Statement& stmt) const;

  std::string path_;
  bool read_only_;
  FtsMode fts_mode_ = FtsMode::ExternalContent;
  detail::Database db_;
  // Prepared once for the writer.
  detail::Statement insert_event_;
  detail::Statement insert_fts_;
  detail::Statement begin_;
  detail::Statement commit_;
  detail::Statement rollback_;
};

}  // namespace pathpilot::journal
