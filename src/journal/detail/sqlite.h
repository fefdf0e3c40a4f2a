// journal/detail/sqlite.h — minimal RAII wrappers over the sqlite3 C API (module-private).
//
// Purpose: own sqlite3* and sqlite3_stmt* handles, turn SQLite result codes into pathpilot
// Errors that name the database file, and keep the store's code free of manual cleanup.
// Only what the journal needs is wrapped; this is not a general SQLite library.
// Threading: a Database and its Statements are used by one thread at a time (the caller
// serialises); handles may move between threads (SQLite is built THREADSAFE=1).
// Metrics: none.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "base/error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace pathpilot::journal::detail {

// Maps an SQLite (extended) result code to an ErrorCode: BUSY/LOCKED/FULL/IOERR →
// Unavailable (may clear), PERM/READONLY/AUTH → PermissionDenied, CANTOPEN → NotFound,
// NOTADB/CORRUPT/MISMATCH/CONSTRAINT → InvalidArgument, everything else → Internal.
ErrorCode errorCodeFor(int sqlite_rc);

class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, sqlite3_stmt* stmt, std::string context)
      : db_(db), stmt_(stmt), context_(std::move(context)) {}
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Binds parameter `index` (1-based). Text is bound SQLITE_STATIC: Requires: the bytes stay
  // alive until the statement is stepped to completion or reset.
  void bindText(int index, std::string_view text);
  void bindInt64(int index, std::int64_t value);

  // Runs one step. Returns true when a row is available, false when done.
  [[nodiscard]] Result<bool> step();
  // Steps until done (for statements that return no rows), then resets.
  [[nodiscard]] Result<void> run();
  // Resets the statement and clears its bindings so it can be reused.
  void reset();

  std::int64_t columnInt64(int column) const;
  // The column as text ("" for NULL); embedded NULs are preserved.
  std::string columnText(int column) const;

  bool valid() const { return stmt_ != nullptr; }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  std::string context_;  // "journal /var/lib/pathpilot/journal.db", for error messages
};

class Database {
 public:
  Database() = default;
  ~Database();
  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Opens `path` with sqlite3_open_v2 `flags` (SQLITE_OPEN_*). `context` prefixes every error
  // message, e.g. "journal /var/lib/pathpilot/journal.db".
  [[nodiscard]] static Result<Database> open(const std::string& path, int flags,
                                             std::string context);

  // Runs one or more statements that return no rows.
  [[nodiscard]] Result<void> exec(const std::string& sql);
  [[nodiscard]] Result<Statement> prepare(std::string_view sql);
  // Runs a query returning one integer (e.g. "PRAGMA user_version").
  [[nodiscard]] Result<std::int64_t> queryInt(std::string_view sql);
  // Runs a query returning one text value ("" if no row).
  [[nodiscard]] Result<std::string> queryText(std::string_view sql);

  // An Error for result code `rc` from the last call on this connection, prefixed with the
  // context and `what` ("insert event").
  Error error(int rc, std::string_view what) const;

  // The rowid of the last successful INSERT on this connection.
  std::int64_t lastInsertRowid() const;

  sqlite3* handle() const { return db_; }
  const std::string& context() const { return context_; }

 private:
  sqlite3* db_ = nullptr;
  std::string context_;
};

}  // namespace pathpilot::journal::detail
