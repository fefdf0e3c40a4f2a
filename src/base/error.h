// base/error.h — the one error type of pathpilot and the Result alias.
//
// Purpose: every fallible operation returns Result<T> = tl::expected<T, Error>. Error carries
// a code that callers branch on (retry or not), a human message that names what and where,
// and the errno when a system call failed. Exceptions are used only at boundaries (docs/development.md).
// Threading: value types, no shared state.
// Metrics: none.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace pathpilot {

enum class ErrorCode {
  Timeout,           // the operation did not finish in time; usually retried
  Unavailable,       // the peer or resource is not reachable right now; retried
  Throttled,         // the peer asked us to slow down; retried with backoff
  NotFound,          // the named thing does not exist
  InvalidArgument,   // the input is wrong; retrying will not help
  PermissionDenied,  // credentials or file permissions forbid it
  AlreadyExists,     // created twice
  Internal,          // a bug or an unexpected state
};

// Returns the stable lowercase name of `code`, e.g. "timeout".
std::string_view errorCodeName(ErrorCode code);

class Error {
 public:
  Error(ErrorCode code, std::string message, int sys_errno = 0)
      : code_(code), message_(std::move(message)), errno_(sys_errno) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // The errno of the failed system call, or 0.
  int sysErrno() const { return errno_; }

  // True for codes that a caller may retry (Timeout, Unavailable, Throttled).
  bool retryable() const;

  // "<message>" plus ": <strerror>" when errno is set.
  std::string toString() const;

  // Returns a copy whose message is "<context>: <message>".
  Error withContext(std::string_view context) const;

  // Builds an error from the current errno, naming the failed call.
  static Error fromErrno(std::string_view what, int sys_errno);

 private:
  ErrorCode code_;
  std::string message_;
  int errno_;
};

template <class T>
using Result = tl::expected<T, Error>;

// Shorthand for returning an error: `return fail(ErrorCode::NotFound, "no such path");`
inline tl::unexpected<Error> fail(ErrorCode code, std::string message, int sys_errno = 0) {
  return tl::unexpected<Error>(Error(code, std::move(message), sys_errno));
}
inline tl::unexpected<Error> fail(Error error) { return tl::unexpected<Error>(std::move(error)); }

// Result<void> success value: `return ok();`
inline Result<void> ok() { return {}; }

}  // namespace pathpilot
