// The outbox on the sqlite3 C API. Statements are prepared per call: alerts are rare (a few a
// minute at worst), and this keeps the connection state trivial.
#include "alert/outbox.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <nlohmann/json.hpp>

namespace pathpilot::alert {
namespace {

ErrorCode codeFor(int rc) {
  // Extended result codes (SQLITE_IOERR_FSYNC, SQLITE_BUSY_SNAPSHOT ...) keep the primary
  // code in their low byte.
  switch (rc & 0xFF) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
      return ErrorCode::Unavailable;
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      return ErrorCode::PermissionDenied;
    case SQLITE_CANTOPEN:
      return ErrorCode::NotFound;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return ErrorCode::InvalidArgument;
    default:
      return ErrorCode::Internal;
  }
}

// A prepared statement that finalizes itself.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  int prepared() const { return rc_; }
  // SQLITE_TRANSIENT: SQLite copies the bytes, since callers pass temporaries
  // (toJsonText(...), jsonList(...)) that are gone before step().
  void text(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void int64(int i, std::int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  int step() { return sqlite3_step(stmt_); }
  std::int64_t colInt(int c) const { return sqlite3_column_int64(stmt_, c); }
  std::string colText(int c) const {
    // column_bytes after column_text, the order SQLite documents: the length is then that of
    // the UTF-8 text returned, embedded NULs included.
    const auto* p = sqlite3_column_text(stmt_, c);
    return p == nullptr ? std::string()
                        : std::string(reinterpret_cast<const char*>(p),
                                      static_cast<std::size_t>(sqlite3_column_bytes(stmt_, c)));
  }
  bool colNull(int c) const { return sqlite3_column_type(stmt_, c) == SQLITE_NULL; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
};

constexpr const char* kColumns =
    "id, channel, fingerprint, created_ms, next_ms, attempts, state, payload, last_error, "
    "done_ms";

OutboxRow readRow(const Stmt& s) {
  OutboxRow r;
  r.id = s.colInt(0);
  r.channel = s.colText(1);
  r.fingerprint = s.colText(2);
  r.created = journal::fromUnixMillis(s.colInt(3));
  r.next_attempt = journal::fromUnixMillis(s.colInt(4));
  r.attempts = static_cast<int>(s.colInt(5));
  r.state = static_cast<RowState>(s.colInt(6));
  r.payload = s.colText(7);
  r.last_error = s.colText(8);
  if (!s.colNull(9)) {
    r.done = journal::fromUnixMillis(s.colInt(9));
  }
  return r;
}

constexpr int kSchemaVersion = 2;

std::string jsonList(const std::vector<std::string>& items) {
  return nlohmann::json(items).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<std::vector<std::string>> parseList(const std::string& text, const char* what) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_array()) {
    return fail(ErrorCode::InvalidArgument, std::string(what) + " is not a JSON list");
  }
  std::vector<std::string> out;
  for (const auto& item : j) {
    if (!item.is_string()) {
      return fail(ErrorCode::InvalidArgument, std::string(what) + " holds a non-string");
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

}  // namespace

Outbox::Outbox(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

Outbox::~Outbox() { sqlite3_close_v2(db_); }

Error Outbox::error(int rc, const std::string& what) const {
  return Error(codeFor(rc),
               "alert outbox " + path_ + ": " + what + ": " + sqlite3_errmsg(db_));
}

Result<void> Outbox::exec(const char* sql) {
  char* msg = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &msg);
  std::string text = msg != nullptr ? msg : "";
  sqlite3_free(msg);
  if (rc != SQLITE_OK) {
    return fail(codeFor(rc), "alert outbox " + path_ + ": " + text);
  }
  return ok();
}

Result<std::unique_ptr<Outbox>> Outbox::open(const std::string& path) {
  // A new outbox is created here with exactly 0600: it holds every alert text (internal hosts,
  // addresses, hook errors). SQLite would create it 0644 whatever the umask, and gives its
  // -wal and -shm files the mode of the database file.
  int fd = path.empty() || path == ":memory:"
               ? -1
               : ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  // O_EXCL leaves an existing file and its mode alone; fchmod restores what the umask took
  // from 0600. SQLite takes the empty file as a new database.
  if (fd >= 0) {
    int rc = ::fchmod(fd, 0600);
    int err = errno;
    ::close(fd);
    if (rc != 0) {
      return fail(Error::fromErrno("alert outbox " + path + ": cannot set mode 0600", err));
    }
  } else if (!path.empty() && path != ":memory:" && errno != EEXIST) {
    return fail(Error::fromErrno("alert outbox " + path + ": cannot create", errno));
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return fail(codeFor(rc), "alert outbox " + path + ": cannot open: " + msg);
  }
  std::unique_ptr<Outbox> box(new Outbox(db, path));
  // `pathpilot alerts` opens the same file while the daemon runs, and open() writes (schema,
  // user_version): a locked file is waited for up to 5 s instead of failing with SQLITE_BUSY.
  sqlite3_busy_timeout(db, 5000);
  // WAL: readers (`pathpilot alerts`) never block the writer; FULL: a committed alert
  // survives a power cut, which is the point of the outbox.
  // The index serves head(): a channel's oldest pending row is its first entry.
  const char* setup =
      "PRAGMA journal_mode=WAL;"
      "PRAGMA synchronous=FULL;"
      "CREATE TABLE IF NOT EXISTS outbox("
      "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
      "  channel TEXT NOT NULL,"
      "  fingerprint TEXT NOT NULL,"
      "  created_ms INTEGER NOT NULL,"
      "  next_ms INTEGER NOT NULL,"
      "  attempts INTEGER NOT NULL DEFAULT 0,"
      "  state INTEGER NOT NULL DEFAULT 0,"
      "  payload TEXT NOT NULL,"
      "  last_error TEXT NOT NULL DEFAULT '',"
      "  done_ms INTEGER);"
      "CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(channel, state, id);";
  if (auto r = box->exec(setup); !r) {
    return fail(r.error());
  }
  // A file of a newer build may hold tables or meanings this one does not know: refuse it
  // rather than half-use it. Older files are migrated below (each step idempotent).
  Stmt version(db, "PRAGMA user_version");
  if (version.prepared() != SQLITE_OK || version.step() != SQLITE_ROW) {
    return fail(box->error(sqlite3_errcode(db), "read schema version"));
  }
  if (auto v = version.colInt(0); v > kSchemaVersion) {
    return fail(ErrorCode::InvalidArgument,
                "alert outbox " + path + ": schema version " + std::to_string(v) +
                    " is newer than this build's " + std::to_string(kSchemaVersion) +
                    " (written by a newer pathpilot?)");
  }
  // Version 1 → 2: the open incidents (so that a RESOLVED follows its FIRING across a
  // restart).
  const char* v2 =
      "CREATE TABLE IF NOT EXISTS incidents("
      "  key TEXT PRIMARY KEY,"
      "  site TEXT NOT NULL,"
      "  opening TEXT NOT NULL,"
      "  severity TEXT NOT NULL,"
      "  started_ms INTEGER NOT NULL,"
      "  announced_ms INTEGER NOT NULL,"
      "  tables TEXT NOT NULL DEFAULT '[]',"
      "  channels TEXT NOT NULL DEFAULT '[]',"
      "  summary TEXT NOT NULL DEFAULT '',"
      "  updated_ms INTEGER NOT NULL);"
      "PRAGMA user_version=2;";
  if (auto r = box->exec(v2); !r) {
    return fail(r.error());
  }
  // Rows the previous run left pending are due again; the depth starts from them.
  Stmt count(db, "SELECT COUNT(*) FROM outbox WHERE state = 0");
  if (count.prepared() != SQLITE_OK || count.step() != SQLITE_ROW) {
    return fail(box->error(sqlite3_errcode(db), "count pending"));
  }
  box->pending_ = static_cast<std::size_t>(count.colInt(0));
  return box;
}

Result<std::int64_t> Outbox::enqueue(const Notification& n, WallTime now) {
  std::lock_guard lock(mu_);
  if (auto r = insertLocked(n, now); !r) {
    return fail(r.error());
  }
  ++pending_;
  // The last rowid is per connection, so it is read before the mutex is released.
  return sqlite3_last_insert_rowid(db_);
}

Result<void> Outbox::insertLocked(const Notification& n, WallTime now) {
  Stmt s(db_,
         "INSERT INTO outbox(channel, fingerprint, created_ms, next_ms, payload) "
         "VALUES(?, ?, ?, ?, ?)");
  if (s.prepared() != SQLITE_OK) {
    return fail(error(s.prepared(), "prepare insert"));
  }
  // The payload carries created_at (makeNotification leaves it unset); next_ms = now makes
  // the row due at once.
  Notification stored = n;
  stored.created_at = now;
  s.text(1, n.channel);
  s.text(2, n.fingerprint);
  s.int64(3, journal::toUnixMillis(now));
  s.int64(4, journal::toUnixMillis(now));
  s.text(5, toJsonText(stored));
  if (int rc = s.step(); rc != SQLITE_DONE) {
    return fail(error(rc, "insert"));
  }
  return ok();
}

Result<void> Outbox::enqueueAll(const std::vector<Notification>& rows,
                                const std::optional<IncidentRecord>& upsert,
                                const std::string& remove_key, WallTime now) {
  std::lock_guard lock(mu_);
  // IMMEDIATE: take the write lock up front, so a busy file fails here, not at COMMIT.
  if (auto r = exec("BEGIN IMMEDIATE"); !r) {
    return fail(r.error());
  }
  auto body = [&]() -> Result<void> {
    for (const auto& n : rows) {
      if (auto r = insertLocked(n, now); !r) {
        return r;
      }
    }
    if (upsert) {
      Stmt s(db_,
             "INSERT OR REPLACE INTO incidents(key, site, opening, severity, started_ms, "
             "announced_ms, tables, channels, summary, updated_ms) "
             "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
      if (s.prepared() != SQLITE_OK) {
        return fail(error(s.prepared(), "prepare incident"));
      }
      s.text(1, upsert->key);
      s.text(2, upsert->opening.site);
      s.text(3, journal::toJsonLine(upsert->opening));
      s.text(4, std::string(journal::severityName(upsert->severity)));
      s.int64(5, journal::toUnixMillis(upsert->started));
      s.int64(6, journal::toUnixMillis(upsert->last_announced));
      s.text(7, jsonList(upsert->fail_static_tables));
      s.text(8, jsonList(upsert->channels));
      s.text(9, upsert->summary);
      s.int64(10, journal::toUnixMillis(now));
      if (int rc = s.step(); rc != SQLITE_DONE) {
        return fail(error(rc, "save incident " + upsert->key));
      }
    }
    if (!remove_key.empty()) {
      Stmt s(db_, "DELETE FROM incidents WHERE key = ?");
      s.text(1, remove_key);
      if (int rc = s.step(); rc != SQLITE_DONE) {
        return fail(error(rc, "delete incident " + remove_key));
      }
    }
    return ok();
  };
  if (auto r = body(); !r) {
    (void)exec("ROLLBACK");
    return r;
  }
  // A failed COMMIT can leave the transaction open (SQLITE_BUSY does); the ROLLBACK ends it
  // so that the connection's next BEGIN does not fail.
  if (auto r = exec("COMMIT"); !r) {
    (void)exec("ROLLBACK");
    return r;
  }
  // Counted only once committed: a rolled-back batch left no rows.
  pending_ += rows.size();
  return ok();
}

Result<std::vector<IncidentRecord>> Outbox::incidents(std::vector<std::string>* bad) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "SELECT key, opening, severity, started_ms, announced_ms, tables, channels, summary "
         "FROM incidents ORDER BY started_ms, key");
  if (s.prepared() != SQLITE_OK) {
    return fail(error(s.prepared(), "prepare incidents"));
  }
  std::vector<IncidentRecord> out;
  int rc = SQLITE_ROW;
  while ((rc = s.step()) == SQLITE_ROW) {
    IncidentRecord r;
    r.key = s.colText(0);
    auto opening = journal::parseJsonLine(s.colText(1));
    auto severity = journal::parseSeverity(s.colText(2));
    auto tables = parseList(s.colText(5), "tables");
    auto channels = parseList(s.colText(6), "channels");
    std::string why = !opening    ? opening.error().message()
                      : !severity ? severity.error().message()
                      : !tables   ? tables.error().message()
                      : !channels ? channels.error().message()
                                  : std::string();
    // An unreadable row is reported and left in the table; the other incidents are still
    // restored.
    if (!why.empty()) {
      if (bad != nullptr) {
        bad->push_back("incident " + r.key + ": " + why);
      }
      continue;
    }
    r.opening = std::move(*opening);
    r.severity = *severity;
    r.started = journal::fromUnixMillis(s.colInt(3));
    r.last_announced = journal::fromUnixMillis(s.colInt(4));
    r.fail_static_tables = std::move(*tables);
    r.channels = std::move(*channels);
    r.summary = s.colText(7);
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) {
    return fail(error(rc, "read incidents"));
  }
  return out;
}

Result<std::optional<OutboxRow>> Outbox::head(const std::string& channel) {
  std::lock_guard lock(mu_);
  std::string sql = std::string("SELECT ") + kColumns +
                    " FROM outbox WHERE channel = ? AND state = 0 ORDER BY id LIMIT 1";
  Stmt s(db_, sql.c_str());
  if (s.prepared() != SQLITE_OK) {
    return fail(error(s.prepared(), "prepare head"));
  }
  s.text(1, channel);
  int rc = s.step();
  if (rc == SQLITE_DONE) {
    return std::optional<OutboxRow>();
  }
  if (rc != SQLITE_ROW) {
    return fail(error(rc, "read head"));
  }
  return std::optional<OutboxRow>(readRow(s));
}

Result<void> Outbox::markSent(std::int64_t id, WallTime now) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "UPDATE outbox SET state = 1, attempts = attempts + 1, done_ms = ?, last_error = '' "
         "WHERE id = ? AND state = 0");
  s.int64(1, journal::toUnixMillis(now));
  s.int64(2, id);
  if (int rc = s.step(); rc != SQLITE_DONE) {
    return fail(error(rc, "mark sent"));
  }
  // `state = 0` in the WHERE and the change count keep the depth exact when a row is marked
  // twice; `pending_ > 0` keeps the unsigned counter from wrapping.
  if (sqlite3_changes(db_) > 0 && pending_ > 0) {
    --pending_;
  }
  return ok();
}

Result<void> Outbox::markRetry(std::int64_t id, int attempts, WallTime next_attempt,
                               const std::string& err) {
  std::lock_guard lock(mu_);
  // The row stays pending (state 0), so the depth does not change.
  Stmt s(db_, "UPDATE outbox SET attempts = ?, next_ms = ?, last_error = ? WHERE id = ?");
  s.int64(1, attempts);
  s.int64(2, journal::toUnixMillis(next_attempt));
  s.text(3, err);
  s.int64(4, id);
  if (int rc = s.step(); rc != SQLITE_DONE) {
    return fail(error(rc, "mark retry"));
  }
  return ok();
}

Result<void> Outbox::markFailed(std::int64_t id, int attempts, WallTime now,
                                const std::string& err) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "UPDATE outbox SET state = 2, attempts = ?, done_ms = ?, last_error = ? "
         "WHERE id = ? AND state = 0");
  s.int64(1, attempts);
  s.int64(2, journal::toUnixMillis(now));
  s.text(3, err);
  s.int64(4, id);
  if (int rc = s.step(); rc != SQLITE_DONE) {
    return fail(error(rc, "mark failed"));
  }
  if (sqlite3_changes(db_) > 0 && pending_ > 0) {
    --pending_;
  }
  return ok();
}

Result<std::vector<OutboxRow>> Outbox::list(std::size_t limit) {
  std::lock_guard lock(mu_);
  std::string sql = std::string("SELECT ") + kColumns + " FROM outbox ORDER BY id DESC LIMIT ?";
  Stmt s(db_, sql.c_str());
  if (s.prepared() != SQLITE_OK) {
    return fail(error(s.prepared(), "prepare list"));
  }
  s.int64(1, static_cast<std::int64_t>(limit));
  std::vector<OutboxRow> rows;
  int rc = SQLITE_ROW;
  while ((rc = s.step()) == SQLITE_ROW) {
    rows.push_back(readRow(s));
  }
  if (rc != SQLITE_DONE) {
    return fail(error(rc, "list"));
  }
  return rows;
}

Result<std::int64_t> Outbox::prune(WallTime before) {
  std::lock_guard lock(mu_);
  // Pending rows are never pruned, however old: an accepted alert stays until it is sent or
  // given up.
  Stmt s(db_, "DELETE FROM outbox WHERE state != 0 AND done_ms < ?");
  s.int64(1, journal::toUnixMillis(before));
  if (int rc = s.step(); rc != SQLITE_DONE) {
    return fail(error(rc, "prune"));
  }
  return static_cast<std::int64_t>(sqlite3_changes(db_));
}

Result<std::vector<std::string>> Outbox::pendingChannels() {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT DISTINCT channel FROM outbox WHERE state = 0 ORDER BY channel");
  std::vector<std::string> out;
  int rc = SQLITE_ROW;
  while ((rc = s.step()) == SQLITE_ROW) {
    out.push_back(s.colText(0));
  }
  if (rc != SQLITE_DONE) {
    return fail(error(rc, "pending channels"));
  }
  return out;
}

}  // namespace pathpilot::alert
