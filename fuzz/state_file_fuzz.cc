// Fuzz target for the daemon's state file (drains, recovery limits): any bytes are either a
// state or an error, never a crash; a decoded state encodes and decodes to itself (what a
// restart reads is what the previous run wrote).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "daemon/state_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto state = pathpilot::daemon::decodeState(text);
  if (!state) {
    if (state.error().message().empty()) {
      std::abort();
    }
    return 0;
  }
  auto again = pathpilot::daemon::decodeState(pathpilot::daemon::encodeState(*state, "fuzz"));
  if (!again) {
    std::abort();
  }
  // Times survive at the millisecond precision of RFC 3339 text; compare what the text keeps.
  if (again->drains != state->drains || again->recovery.size() != state->recovery.size()) {
    std::abort();
  }
  return 0;
}
