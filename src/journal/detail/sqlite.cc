#include "journal/detail/sqlite.h"

#include <sqlite3.h>

#include <algorithm>
#include <cerrno>
#include <limits>

namespace pathpilot::journal::detail {

ErrorCode errorCodeFor(int sqlite_rc) {
  // The low byte of an extended code (SQLITE_IOERR_FSYNC, SQLITE_BUSY_SNAPSHOT, ...) is its
  // primary code. PROTOCOL means WAL lock races kept being lost, which a later attempt can win;
  // TOOBIG is a value over SQLite's size limit, a fault of the input.
  switch (sqlite_rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_PROTOCOL:
      return ErrorCode::Unavailable;
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      return ErrorCode::PermissionDenied;
    case SQLITE_CANTOPEN:
      return ErrorCode::NotFound;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
    case SQLITE_MISMATCH:
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
      return ErrorCode::InvalidArgument;
    default:
      return ErrorCode::Internal;
  }
}

namespace {

Error makeError(sqlite3* db, int rc, std::string_view context, std::string_view what) {
  std::string message(context);
  message += ": ";
  message += what;
  message += ": ";
  // sqlite3_errmsg describes the last failure on this connection; sqlite3_errstr only the code.
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  // sqlite3_system_errno is set by CANTOPEN and IOERR failures only and otherwise keeps the
  // value of an earlier one: for any other code it would misclassify the error.
  const int primary = rc & 0xff;
  const bool os_error = primary == SQLITE_CANTOPEN || primary == SQLITE_IOERR;
  int sys_errno = db != nullptr && os_error ? sqlite3_system_errno(db) : 0;
  ErrorCode code = errorCodeFor(rc);
  // The errno behind CANTOPEN/IOERR says more than SQLite's code ("unable to open database
  // file" is the same for a missing directory and a permission problem).
  if (sys_errno == EACCES || sys_errno == EPERM || sys_errno == EROFS) {
    code = ErrorCode::PermissionDenied;
  } else if (primary == SQLITE_CANTOPEN && sys_errno == ENOENT) {
    code = ErrorCode::NotFound;
  }
  return Error(code, std::move(message), sys_errno);
}

}  // namespace

// Statement ---------------------------------------------------------------------------------

Statement::~Statement() {
  if (stmt_ != nullptr) {
    sqlite3_finalize(stmt_);
  }
}

Statement::Statement(Statement&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      stmt_(std::exchange(other.stmt_, nullptr)),
      context_(std::move(other.context_)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    if (stmt_ != nullptr) {
      sqlite3_finalize(stmt_);
    }
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
    context_ = std::move(other.context_);
  }
  return *this;
}

void Statement::bindText(int index, std::string_view text) {
  // Field sizes are capped far below INT_MAX by the journal; clamp defensively anyway.
  auto size = static_cast<int>(std::min<std::size_t>(text.size(),
                                                     std::numeric_limits<int>::max()));
  // A non-null pointer even for "" so that the column is '' rather than NULL.
  sqlite3_bind_text(stmt_, index, text.empty() ? "" : text.data(), size, SQLITE_STATIC);
}

void Statement::bindInt64(int index, std::int64_t value) {
  sqlite3_bind_int64(stmt_, index, static_cast<sqlite3_int64>(value));
}

Result<bool> Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  // The error is built first: sqlite3_errmsg describes the connection's most recent call,
  // and sqlite3_reset is one.
  Error e = makeError(db_, rc, context_, "query failed");
  sqlite3_reset(stmt_);
  return fail(std::move(e));
}

Result<void> Statement::run() {
  while (true) {
    auto row = step();
    if (!row) {
      reset();
      return fail(row.error());
    }
    if (!*row) {
      break;
    }
  }
  reset();
  return ok();
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t Statement::columnInt64(int column) const {
  return static_cast<std::int64_t>(sqlite3_column_int64(stmt_, column));
}

std::string Statement::columnText(int column) const {
  // sqlite3_column_text before sqlite3_column_bytes, the order SQLite documents as safe: the
  // text conversion can change the value's size.
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) {
    return {};
  }
  int size = sqlite3_column_bytes(stmt_, column);
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

// Database ----------------------------------------------------------------------------------

Database::~Database() {
  if (db_ != nullptr) {
    // _v2 defers the close if a statement is still alive instead of failing with BUSY.
    sqlite3_close_v2(db_);
  }
}

Database::Database(Database&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), context_(std::move(other.context_)) {}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    if (db_ != nullptr) {
      sqlite3_close_v2(db_);
    }
    db_ = std::exchange(other.db_, nullptr);
    context_ = std::move(other.context_);
  }
  return *this;
}

Result<Database> Database::open(const std::string& path, int flags, std::string context) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_EXRESCODE, nullptr);
  Database db;
  db.db_ = raw;  // owned even on failure: sqlite3_open_v2 allocates a handle to report errors
  db.context_ = std::move(context);
  if (rc != SQLITE_OK) {
    return fail(db.error(rc, "cannot open"));
  }
  return db;
}

Result<void> Database::exec(const std::string& sql) {
  char* message = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string text = message != nullptr ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    return fail(errorCodeFor(rc), context_ + ": " + text, sqlite3_system_errno(db_));
  }
  return ok();
}

Result<Statement> Database::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  // The length is passed, so a string_view that is not NUL-terminated is read correctly.
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    return fail(error(rc, "prepare"));
  }
  return Statement(db_, stmt, context_);
}

Result<std::int64_t> Database::queryInt(std::string_view sql) {
  auto stmt = prepare(sql);
  if (!stmt) {
    return fail(stmt.error());
  }
  auto row = stmt->step();
  if (!row) {
    return fail(row.error());
  }
  return *row ? stmt->columnInt64(0) : 0;
}

Result<std::string> Database::queryText(std::string_view sql) {
  auto stmt = prepare(sql);
  if (!stmt) {
    return fail(stmt.error());
  }
  auto row = stmt->step();
  if (!row) {
    return fail(row.error());
  }
  return *row ? stmt->columnText(0) : std::string();
}

std::int64_t Database::lastInsertRowid() const {
  return static_cast<std::int64_t>(sqlite3_last_insert_rowid(db_));
}

Error Database::error(int rc, std::string_view what) const {
  return makeError(db_, rc, context_, what);
}

}  // namespace pathpilot::journal::detail
