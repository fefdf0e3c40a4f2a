// Fuzz target for the config loader: any byte string must give a report (valid or not),
// never a crash, a hang, an exception or unbounded memory. Under the fuzz preset this is a
// libFuzzer binary; under GCC the replay main runs the seed corpus in ctest (label fuzz).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  pathpilot::config::LoadReport report = pathpilot::config::checkString(text, "fuzz.yaml");
  // Invariants that hold for every input.
  if (report.ok() != (report.errors == 0)) {
    std::abort();
  }
  if (!report.ok() && report.diagnostics.empty()) {
    std::abort();
  }
  for (const pathpilot::config::Diagnostic& d : report.diagnostics) {
    if (d.message.empty() || d.where.line < 0 || d.where.column < 0) {
      std::abort();
    }
  }
  return 0;
}
