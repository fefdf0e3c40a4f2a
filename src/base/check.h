// base/check.h — PP_CHECK for broken invariants (docs/development.md).
//
// A failed check prints the condition, file and line to stderr and aborts: systemd restarts
// the daemon and the reconciler re-syncs. Use it only for programming errors, never for bad
// input or environment failures (those return a Result).
#pragma once

namespace pathpilot::detail {
[[noreturn]] void checkFailed(const char* condition, const char* file, int line, const char* msg);
}  // namespace pathpilot::detail

#define PP_CHECK(cond)                                                    \
  do {                                                                    \
    if (!(cond)) [[unlikely]] {                                           \
      ::pathpilot::detail::checkFailed(#cond, __FILE__, __LINE__, "");    \
    }                                                                     \
  } while (0)

#define PP_CHECK_MSG(cond, msg)                                           \
  do {                                                                    \
    if (!(cond)) [[unlikely]] {                                           \
      ::pathpilot::detail::checkFailed(#cond, __FILE__, __LINE__, (msg)); \
    }                                                                     \
  } while (0)
