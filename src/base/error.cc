#include "base/error.h"

#include <cstring>

namespace pathpilot {

std::string_view errorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::Timeout:
      return "timeout";
    case ErrorCode::Unavailable:
      return "unavailable";
    case ErrorCode::Throttled:
      return "throttled";
    case ErrorCode::NotFound:
      return "not_found";
    case ErrorCode::InvalidArgument:
      return "invalid_argument";
    case ErrorCode::PermissionDenied:
      return "permission_denied";
    case ErrorCode::AlreadyExists:
      return "already_exists";
    case ErrorCode::Internal:
      return "internal";
  }
  return "internal";
}

bool Error::retryable() const {
  return code_ == ErrorCode::Timeout || code_ == ErrorCode::Unavailable ||
         code_ == ErrorCode::Throttled;
}

std::string Error::toString() const {
  if (errno_ == 0) {
    return message_;
  }
  return message_ + ": " + std::strerror(errno_);
}

Error Error::withContext(std::string_view context) const {
  return Error(code_, std::string(context) + ": " + message_, errno_);
}

Error Error::fromErrno(std::string_view what, int sys_errno) {
  ErrorCode code = ErrorCode::Internal;
  switch (sys_errno) {
    case ENOENT:
    case ESRCH:
    case ENODEV:
      code = ErrorCode::NotFound;
      break;
    case EACCES:
    case EPERM:
      code = ErrorCode::PermissionDenied;
      break;
    case EEXIST:
      code = ErrorCode::AlreadyExists;
      break;
    case ETIMEDOUT:
      code = ErrorCode::Timeout;
      break;
    case EAGAIN:
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ECONNREFUSED:
    case ECONNRESET:
    case ENETDOWN:
    case EBUSY:
      code = ErrorCode::Unavailable;
      break;
    case EINVAL:
      code = ErrorCode::InvalidArgument;
      break;
    default:
      break;
  }
  return Error(code, std::string(what), sys_errno);
}

}  // namespace pathpilot
