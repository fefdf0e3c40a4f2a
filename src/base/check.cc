#include "base/check.h"

#include <cstdio>
#include <cstdlib>

namespace pathpilot::detail {

void checkFailed(const char* condition, const char* file, int line, const char* msg) {
  std::fprintf(stderr, "pathpilot: check failed: %s at %s:%d %s\n", condition, file, line, msg);
  std::fflush(stderr);
  std::abort();
}

}  // namespace pathpilot::detail
