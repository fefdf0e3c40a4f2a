#include "journal/sqlite_store.h"

#include <sqlite3.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>
#include <utility>

namespace pathpilot::journal {
namespace {

using detail::Database;
using detail::errorCodeFor;
using detail::Statement;

// The events table and its indexes. `time` is a virtual generated column: it costs nothing on
// insert and lets people read the file with the sqlite3 shell. Every index implicitly ends
// with the rowid (seq), so "X = ? ORDER BY seq DESC LIMIT n" walks one index backwards and
// stops after n rows. Composite (X, time_ms) indexes were measured and rejected: they would
// force a sort of every row matching X before the limit applies.
constexpr const char* kCreateEvents = R"sql(
CREATE TABLE events (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  time_ms     INTEGER NOT NULL,
  time        TEXT GENERATED ALWAYS AS
                (strftime('%Y-%m-%dT%H:%M:%fZ', time_ms / 1000.0, 'unixepoch')) VIRTUAL,
  site        TEXT NOT NULL,
  kind        TEXT NOT NULL,
  severity    TEXT NOT NULL,
  path        TEXT NOT NULL,
  link        TEXT NOT NULL,
  route_table TEXT NOT NULL,
  destination TEXT NOT NULL,
  "from"      TEXT NOT NULL,
  "to"        TEXT NOT NULL,
  reason      TEXT NOT NULL,
  message     TEXT NOT NULL
);
CREATE INDEX events_by_time ON events(time_ms);
CREATE INDEX events_by_site ON events(site);
CREATE INDEX events_by_kind ON events(kind);
CREATE INDEX events_by_path ON events(path);
CREATE INDEX events_by_link ON events(link);
CREATE INDEX events_by_route_table ON events(route_table);
)sql";

constexpr const char* kCreateFtsExternal =
    "CREATE VIRTUAL TABLE events_fts USING fts5(message, reason, content='events', "
    "content_rowid='seq', tokenize='unicode61');";
constexpr const char* kCreateFtsContentless =
    "CREATE VIRTUAL TABLE events_fts USING fts5(message, reason, content='', "
    "tokenize='unicode61');";

// Qualified: message and reason also exist in events_fts, which text searches join.
constexpr const char* kColumns =
    "e.seq, e.time_ms, e.site, e.kind, e.severity, e.path, e.link, e.route_table, "
    "e.destination, e.\"from\", e.\"to\", e.reason, e.message";

// Only events with some text get a full-text entry; the same condition must hold when rows
// are deleted from an external-content index (deleting a row never inserted corrupts it).
bool hasText(const Event& e) { return !e.message.empty() || !e.reason.empty(); }

std::string contextFor(const std::string& path) { return "journal " + path; }

}  // namespace

SqliteStore::SqliteStore(std::string path, bool read_only, Database db)
    : path_(std::move(path)), read_only_(read_only), db_(std::move(db)) {}

SqliteStore::~SqliteStore() = default;

Result<std::unique_ptr<SqliteStore>> SqliteStore::openReadOnly(const std::string& path) {
  StoreOptions options;
  options.read_only = true;
  return open(path, options);
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path,
                                                       const StoreOptions& options) {
  namespace fs = std::filesystem;
  const std::string context = contextFor(path);
  if (path.empty()) {
    return fail(ErrorCode::InvalidArgument, "journal: empty file name");
  }
  // Check the obvious mistakes first: SQLite reports all of them as "unable to open database
  // file", which does not tell an operator what to fix.
  std::error_code ec;
  fs::file_status status = fs::status(path, ec);
  if (fs::exists(status)) {
    if (fs::is_directory(status)) {
      return fail(ErrorCode::InvalidArgument, context + ": is a directory, not a file");
    }
  } else if (options.read_only) {
    return fail(ErrorCode::NotFound, context + ": no such file");
  } else {
    fs::path parent = fs::path(path).parent_path();
    if (parent.empty()) {
      parent = ".";
    }
    fs::file_status parent_status = fs::status(parent, ec);
    if (!fs::exists(parent_status)) {
      return fail(ErrorCode::NotFound,
                  context + ": directory " + parent.string() + " does not exist");
    }
    if (!fs::is_directory(parent_status)) {
      return fail(ErrorCode::NotFound, context + ": " + parent.string() + " is not a directory");
    }
    // Create the file ourselves: the errno of a failed open(2) is precise (SQLite retries
    // read-only and reports that attempt's ENOENT instead), and the mode is ours: events name
    // internal hosts and addresses, so 0640 rather than SQLite's 0644. SQLite gives its -wal
    // and -shm files the same mode. An empty file is a new database to SQLite.
    // fchmod: exactly 0640 whatever the umask (SQLite itself would fchmod a file it creates to
    // 0644 whatever the umask).
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
      int err = errno;
      return fail(Error::fromErrno(context + ": cannot create", err));
    }
    if (::fchmod(fd, 0640) != 0) {
      int err = errno;
      ::close(fd);
      return fail(Error::fromErrno(context + ": cannot set mode 0640", err));
    }
    ::close(fd);
  }

  // NOMUTEX: one thread uses a connection at a time (documented in the header).
  int flags = SQLITE_OPEN_NOMUTEX;
  flags |= options.read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  auto db = Database::open(path, flags, context);
  if (!db) {
    return fail(db.error());
  }
  // SQLITE_OPEN_READWRITE silently falls back to read-only when the OS denies writing.
  if (!options.read_only && sqlite3_db_readonly(db->handle(), "main") == 1) {
    return fail(ErrorCode::PermissionDenied, context + ": not writable (permission denied)");
  }
  sqlite3_busy_timeout(
      db->handle(),
      static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(options.busy_timeout)
                           .count()));

  std::unique_ptr<SqliteStore> store(new SqliteStore(path, options.read_only, std::move(*db)));
  if (auto r = store->prepareSchema(options); !r) {
    return fail(r.error());
  }
  if (!options.read_only) {
    if (auto r = store->prepareWriter(); !r) {
      return fail(r.error());
    }
  }
  return store;
}

// Order matters: everything that only reads (application_id, user_version, the list of
// objects) runs first, so that a foreign database is refused before we switch it to WAL or
// add tables to it.
Result<void> SqliteStore::prepareSchema(const StoreOptions& options) {
  const std::string context = contextFor(path_);
  // The first read of the header is where a file that is not SQLite shows up.
  auto app_id = db_.queryInt("PRAGMA application_id");
  if (!app_id) {
    if (app_id.error().code() == ErrorCode::InvalidArgument) {
      return fail(ErrorCode::InvalidArgument,
                  context + ": not a pathpilot journal (file is not a database or is corrupt)");
    }
    return fail(app_id.error());
  }
  auto version = db_.queryInt("PRAGMA user_version");
  if (!version) {
    return fail(version.error());
  }
  auto objects = db_.queryInt("SELECT count(*) FROM sqlite_master");
  if (!objects) {
    return fail(objects.error());
  }

  auto validate = [&](std::int64_t id, std::int64_t ver, std::int64_t n) -> Result<bool> {
    if (id == 0 && ver == 0) {
      if (n != 0) {
        return fail(ErrorCode::InvalidArgument,
                    context + ": not a pathpilot journal (an SQLite database of something else)");
      }
      return true;  // empty: needs creating
    }
    if (id != kApplicationId) {
      return fail(ErrorCode::InvalidArgument,
                  context + ": not a pathpilot journal (application_id " + std::to_string(id) +
                      ")");
    }
    if (ver > kSchemaVersion) {
      return fail(ErrorCode::InvalidArgument,
                  context + ": schema version " + std::to_string(ver) +
                      " is newer than this pathpilot supports (" +
                      std::to_string(kSchemaVersion) + "); upgrade pathpilot");
    }
    if (ver < 1) {
      return fail(ErrorCode::InvalidArgument,
                  context + ": invalid schema version " + std::to_string(ver));
    }
    return false;
  };

  auto needs_create = validate(*app_id, *version, *objects);
  if (!needs_create) {
    return fail(needs_create.error());
  }
  if (read_only_) {
    if (*needs_create) {
      return fail(ErrorCode::InvalidArgument,
                  context + ": not a pathpilot journal (empty database)");
    }
  } else {
    // WAL: readers (CLI, API) never block the writer. Must be set outside a transaction.
    auto mode = db_.queryText("PRAGMA journal_mode=WAL");
    if (!mode) {
      return fail(mode.error());
    }
    if (*mode != "wal") {
      return fail(ErrorCode::Unavailable,
                  context + ": cannot enable WAL mode (journal_mode is \"" + *mode +
                      "\"; is the file on a network file system?)");
    }
    // NORMAL in WAL mode: commits survive a process crash; fsync happens at checkpoints.
    if (auto r = db_.exec("PRAGMA synchronous=NORMAL"); !r) {
      return r;
    }
    // A larger page cache for the writer (16 MiB instead of 2) and a checkpoint every 16 MiB
    // of WAL instead of 4: measured ~10% more inserts per CPU second (bench/journal_bench.cc,
    // BM_StoreBuild), and fewer fsyncs under bursts. Readers keep the defaults.
    if (auto r = db_.exec("PRAGMA cache_size=-16384; PRAGMA wal_autocheckpoint=4096"); !r) {
      return r;
    }
    if (*needs_create) {
      // IMMEDIATE takes the write lock now; re-check inside, in case another process created
      // the schema between our read and this point.
      if (auto r = db_.exec("BEGIN IMMEDIATE"); !r) {
        return r;
      }
      auto recheck = db_.queryInt("PRAGMA user_version");
      Result<void> created = ok();
      if (!recheck) {
        created = fail(recheck.error());
      } else if (*recheck == 0) {
        created = createSchema(options.fts_mode);
      }
      if (!created) {
        (void)db_.exec("ROLLBACK");
        return created;
      }
      if (auto r = db_.exec("COMMIT"); !r) {
        (void)db_.exec("ROLLBACK");
        return r;
      }
    }
    // Migrations from older schema versions go here (none yet: version 1 is the first).
  }

  auto fts_sql = db_.queryText("SELECT sql FROM sqlite_master WHERE name = 'events_fts'");
  if (!fts_sql) {
    return fail(fts_sql.error());
  }
  if (fts_sql->empty()) {
    return fail(ErrorCode::InvalidArgument, context + ": damaged journal (no events_fts table)");
  }
  fts_mode_ = fts_sql->find("content=''") != std::string::npos ? FtsMode::Contentless
                                                                : FtsMode::ExternalContent;
  return ok();
}

Result<void> SqliteStore::createSchema(FtsMode mode) {
  if (auto r = db_.exec(kCreateEvents); !r) {
    return r;
  }
  if (auto r = db_.exec(mode == FtsMode::Contentless ? kCreateFtsContentless : kCreateFtsExternal);
      !r) {
    return r;
  }
  if (auto r = db_.exec("PRAGMA application_id=" + std::to_string(kApplicationId)); !r) {
    return r;
  }
  return db_.exec("PRAGMA user_version=" + std::to_string(kSchemaVersion));
}

Result<void> SqliteStore::prepareWriter() {
  auto insert_event = db_.prepare(
      "INSERT INTO events(time_ms, site, kind, severity, path, link, route_table, destination, "
      "\"from\", \"to\", reason, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
      "?12)");
  if (!insert_event) {
    return fail(insert_event.error());
  }
  auto insert_fts =
      db_.prepare("INSERT INTO events_fts(rowid, message, reason) VALUES (?1, ?2, ?3)");
  if (!insert_fts) {
    return fail(insert_fts.error());
  }
  auto begin = db_.prepare("BEGIN IMMEDIATE");
  auto commit = db_.prepare("COMMIT");
  auto rollback = db_.prepare("ROLLBACK");
  if (!begin || !commit || !rollback) {
    return fail(!begin ? begin.error() : !commit ? commit.error() : rollback.error());
  }
  insert_event_ = std::move(*insert_event);
  insert_fts_ = std::move(*insert_fts);
  begin_ = std::move(*begin);
  commit_ = std::move(*commit);
  rollback_ = std::move(*rollback);
  return ok();
}

// One IMMEDIATE transaction per call: the write lock is taken up front (no upgrade deadlock
// with another connection), every row and its full-text entry commit together, and a failure
// rolls everything back so that seqs are only handed out for rows that exist.
Result<void> SqliteStore::insert(std::span<Event> events) {
  if (read_only_) {
    return fail(ErrorCode::PermissionDenied, contextFor(path_) + ": opened read-only");
  }
  if (events.empty()) {
    return ok();
  }
  if (auto r = begin_.run(); !r) {
    return r;
  }
  std::vector<std::uint64_t> seqs;
  seqs.reserve(events.size());
  auto insert_all = [&]() -> Result<void> {
    for (const Event& e : events) {
      insert_event_.bindInt64(1, toUnixMillis(e.time));
      insert_event_.bindText(2, e.site);
      insert_event_.bindText(3, eventKindName(e.kind));
      insert_event_.bindText(4, severityName(e.severity));
      insert_event_.bindText(5, e.path);
      insert_event_.bindText(6, linkName(e.link));
      insert_event_.bindText(7, e.route_table);
      insert_event_.bindText(8, e.destination);
      insert_event_.bindText(9, e.from);
      insert_event_.bindText(10, e.to);
      insert_event_.bindText(11, e.reason);
      insert_event_.bindText(12, e.message);
      if (auto r = insert_event_.run(); !r) {
        return r;
      }
      std::int64_t seq = db_.lastInsertRowid();
      seqs.push_back(static_cast<std::uint64_t>(seq));
      if (hasText(e)) {
        insert_fts_.bindInt64(1, seq);
        insert_fts_.bindText(2, e.message);
        insert_fts_.bindText(3, e.reason);
        if (auto r = insert_fts_.run(); !r) {
          return r;
        }
      }
    }
    return commit_.run();
  };
  if (auto r = insert_all(); !r) {
    (void)rollback_.run();
    return r;
  }
  for (std::size_t i = 0; i < events.size(); ++i) {
    events[i].seq = seqs[i];
  }
  return ok();
}

// Column order is kColumns. Names are parsed back strictly: a kind or severity this build does
// not know (written by a newer pathpilot, or edited by hand) is an error naming the seq
// rather than a silently wrong event.
Result<Event> SqliteStore::readRow(const Statement& stmt) const {
  Event e;
  e.seq = static_cast<std::uint64_t>(stmt.columnInt64(0));
  e.time = fromUnixMillis(stmt.columnInt64(1));
  e.site = stmt.columnText(2);
  auto where = [&](const Error& err) {
    return fail(err.withContext(contextFor(path_) + ": event seq " + std::to_string(e.seq)));
  };
  auto kind = parseEventKind(stmt.columnText(3));
  if (!kind) {
    // A newer pathpilot may have written a kind this build does not know.
    return where(kind.error());
  }
  e.kind = *kind;
  auto severity = parseSeverity(stmt.columnText(4));
  if (!severity) {
    return where(severity.error());
  }
  e.severity = *severity;
  e.path = stmt.columnText(5);
  auto link = parseLink(stmt.columnText(6));
  if (!link) {
    return where(link.error());
  }
  e.link = *link;
  e.route_table = stmt.columnText(7);
  e.destination = stmt.columnText(8);
  e.from = stmt.columnText(9);
  e.to = stmt.columnText(10);
  e.reason = stmt.columnText(11);
  e.message = stmt.columnText(12);
  return e;
}

Result<std::size_t> SqliteStore::forEach(const Query& query,
                                         const std::function<bool(const Event&)>& visit) {
  // Build "... WHERE a = ?1 AND b = ?2 ..." with every user value bound, never spliced in.
  std::string sql = std::string("SELECT ") + kColumns + " FROM events e";
  std::vector<std::string> text_params;  // stable storage: bound SQLITE_STATIC
  text_params.reserve(8);
  struct Param {
    bool is_text;
    std::size_t text_index;
    std::int64_t value;
  };
  std::vector<Param> params;
  std::string where;
  auto add = [&](const std::string& condition) {
    where += where.empty() ? " WHERE " : " AND ";
    where += condition;
  };
  auto text_param = [&](std::string value) {
    text_params.push_back(std::move(value));
    params.push_back({true, text_params.size() - 1, 0});
    return "?" + std::to_string(params.size());
  };
  auto int_param = [&](std::int64_t value) {
    params.push_back({false, 0, value});
    return "?" + std::to_string(params.size());
  };

  std::string match = ftsMatchExpression(query.text);
  // With text, the full-text index drives the query: it yields matching seqs newest first
  // (rowid DESC), each row is fetched by primary key and filtered, and the walk stops at the
  // limit. Without text, SQLite walks the most selective single-column index backwards. Either
  // way seq bounds are given on the driving side so that they prune the walk.
  const std::string seq_ref = match.empty() ? "e.seq" : "events_fts.rowid";
  if (!match.empty()) {
    // CROSS JOIN pins events_fts as the outer loop. The other order (walk an index of events,
    // probe the full-text index per row) costs ~50 us per row, measured at minutes on 1M.
    sql = std::string("SELECT ") + kColumns +
          " FROM events_fts CROSS JOIN events e ON e.seq = events_fts.rowid";
    add("events_fts MATCH " + text_param(match));
  }
  if (query.site) {
    add("e.site = " + text_param(*query.site));
  }
  if (query.path) {
    add("e.path = " + text_param(*query.path));
  }
  if (query.link) {
    add("e.link = " + text_param(std::string(linkName(*query.link))));
  }
  if (query.kind) {
    add("e.kind = " + text_param(std::string(eventKindName(*query.kind))));
  }
  if (query.route_table) {
    add("e.route_table = " + text_param(*query.route_table));
  }
  if (query.min_severity == Severity::Warning) {
    add("e.severity IN ('warning', 'critical')");
  } else if (query.min_severity == Severity::Critical) {
    add("e.severity = 'critical'");
  }
  if (query.since || query.until) {
    std::string window;
    if (query.since) {
      std::string p = int_param(toUnixMillis(*query.since));
      add("e.time_ms >= " + p);
      window += "time_ms >= " + p;
    }
    if (query.until) {
      std::string p = int_param(toUnixMillis(*query.until));
      add("e.time_ms < " + p);
      window += std::string(window.empty() ? "" : " AND ") + "time_ms < " + p;
    }
    // Results are in seq order, times may not be: turn the time window into an exact seq
    // bound — the lowest seq of any event inside the window — read from the time index
    // (cost: one index entry per event inside the window). Only worth it with a lower time
    // bound; "until" alone would scan everything before it to prune what comes after.
    if (query.since) {
      add(seq_ref + " >= (SELECT min(seq) FROM events INDEXED BY events_by_time WHERE " +
          window + ")");
    }
  }
  if (query.after_seq) {
    add(seq_ref + " > " +
        int_param(static_cast<std::int64_t>(std::min<std::uint64_t>(*query.after_seq, INT64_MAX))));
  }
  if (query.before_seq) {
    add(seq_ref + " < " + int_param(static_cast<std::int64_t>(
                              std::min<std::uint64_t>(*query.before_seq, INT64_MAX))));
  }
  sql += where;
  sql += " ORDER BY " + seq_ref + " DESC";
  if (query.limit > 0) {
    sql += " LIMIT " + int_param(static_cast<std::int64_t>(
                           std::min<std::size_t>(query.limit, INT64_MAX)));
  }

  auto stmt = db_.prepare(sql);
  if (!stmt) {
    return fail(stmt.error());
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    int index = static_cast<int>(i + 1);
    if (params[i].is_text) {
      stmt->bindText(index, text_params[params[i].text_index]);
    } else {
      stmt->bindInt64(index, params[i].value);
    }
  }
  std::size_t visited = 0;
  while (true) {
    auto row = stmt->step();
    if (!row) {
      return fail(row.error());
    }
    if (!*row) {
      break;
    }
    auto event = readRow(*stmt);
    if (!event) {
      return fail(event.error());
    }
    ++visited;
    if (!visit(*event)) {
      break;
    }
  }
  return visited;
}

Result<std::vector<Event>> SqliteStore::search(const Query& query) {
  std::vector<Event> out;
  auto n = forEach(query, [&out](const Event& e) {
    out.push_back(e);
    return true;
  });
  if (!n) {
    return fail(n.error());
  }
  return out;
}

Result<std::uint64_t> SqliteStore::lastSeq() {
  auto seq = db_.queryInt("SELECT coalesce(max(seq), 0) FROM events");
  if (!seq) {
    return fail(seq.error());
  }
  return static_cast<std::uint64_t>(*seq);
}

Result<std::uint64_t> SqliteStore::count() {
  auto n = db_.queryInt("SELECT count(*) FROM events");
  if (!n) {
    return fail(n.error());
  }
  return static_cast<std::uint64_t>(*n);
}

// External content: FTS5 does not see the events table change, so the old text must be
// removed from the index with the 'delete' command (and the exact old values) before the rows
// go, inside the same transaction.
Result<std::uint64_t> SqliteStore::pruneBefore(WallTime before) {
  const std::string context = contextFor(path_);
  if (read_only_) {
    return fail(ErrorCode::PermissionDenied, context + ": opened read-only");
  }
  if (fts_mode_ == FtsMode::Contentless) {
    return fail(ErrorCode::InvalidArgument,
                context + ": a contentless full-text index does not support deleting events");
  }
  auto delete_fts = db_.prepare(
      "INSERT INTO events_fts(events_fts, rowid, message, reason) "
      "SELECT 'delete', seq, message, reason FROM events "
      "WHERE time_ms < ?1 AND (message <> '' OR reason <> '')");
  if (!delete_fts) {
    return fail(delete_fts.error());
  }
  auto delete_events = db_.prepare("DELETE FROM events WHERE time_ms < ?1");
  if (!delete_events) {
    return fail(delete_events.error());
  }
  std::int64_t cutoff = toUnixMillis(before);
  delete_fts->bindInt64(1, cutoff);
  delete_events->bindInt64(1, cutoff);
  if (auto r = begin_.run(); !r) {
    return fail(r.error());
  }
  auto r = delete_fts->run().and_then([&] { return delete_events->run(); });
  if (!r) {
    (void)rollback_.run();
    return fail(r.error());
  }
  auto deleted = static_cast<std::uint64_t>(sqlite3_changes64(db_.handle()));
  if (auto c = commit_.run(); !c) {
    (void)rollback_.run();
    return fail(c.error());
  }
  return deleted;
}

Result<void> SqliteStore::sync() {
  if (read_only_) {
    return fail(ErrorCode::PermissionDenied, contextFor(path_) + ": opened read-only");
  }
  // In WAL mode the "journal" file is the WAL. Syncing it is exactly what synchronous=FULL
  // does at each commit: after a power loss, recovery replays every committed frame in it.
  sqlite3_file* wal = nullptr;
  int rc = sqlite3_file_control(db_.handle(), "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal);
  if (rc != SQLITE_OK) {
    return fail(db_.error(rc, "locate WAL file"));
  }
  if (wal == nullptr || wal->pMethods == nullptr) {
    return ok();  // no WAL open: nothing written through this connection yet
  }
  rc = wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL);
  if (rc != SQLITE_OK) {
    return fail(errorCodeFor(rc), contextFor(path_) + ": fsync of the WAL failed",
                sqlite3_system_errno(db_.handle()));
  }
  return ok();
}

Result<void> SqliteStore::checkpoint() {
  if (read_only_) {
    return fail(ErrorCode::PermissionDenied, contextFor(path_) + ": opened read-only");
  }
  int rc = sqlite3_wal_checkpoint_v2(db_.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                     nullptr);
  if (rc != SQLITE_OK) {
    return fail(db_.error(rc, "checkpoint"));
  }
  return ok();
}

Result<void> SqliteStore::analyze() {
  if (read_only_) {
    return ok();
  }
  // analysis_limit keeps ANALYZE to a few milliseconds even on millions of rows; approximate
  // statistics are all the planner needs to prefer the most selective index.
  return db_.exec("PRAGMA analysis_limit=1000; ANALYZE;");
}

}  // namespace pathpilot::journal
