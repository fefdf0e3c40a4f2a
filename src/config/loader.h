// config/loader.h — read, parse and validate a pathpilot config file.
//
// Purpose: the one entry point from YAML to config::Config. The loader
//   - reads at most kMaxFileBytes, rejects binary input (NUL, control bytes, invalid UTF-8);
//   - parses YAML with yaml-cpp's event parser into its own tree that keeps every position,
//     so that duplicate keys (which yaml-cpp accepts silently) are caught, alias expansion is
//     bounded (no "billion laughs"), and nesting depth is capped;
//   - decodes the schema, rejecting unknown keys with a "did you mean" suggestion and values of
//     the wrong type;
//   - cross-checks the whole file (dangling references, impossible timings, address families);
// and reports ALL problems found, each as FILE:LINE:COL with the key path. yaml-cpp throws;
// nothing escapes these functions (they are noexcept in effect: every exception becomes a
// diagnostic).
//
// Threading: the functions are reentrant; they share no state.
// Metrics: none (the daemon counts config loads and emits a config_loaded event).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "config/config.h"
#include "config/diagnostic.h"

namespace pathpilot::config {

// Hard limits against hostile or broken input. A real config is a few KiB, a few hundred nodes
// and at most ~6 levels deep.
inline constexpr std::size_t kMaxFileBytes = 4 * 1024 * 1024;
inline constexpr int kMaxDepth = 32;
// Maximum number of YAML nodes, counted after alias expansion.
inline constexpr std::size_t kMaxNodes = 100'000;

// Everything a load found: the config if there were no errors, and every diagnostic (errors and
// warnings) ordered by position.
struct LoadReport {
  std::optional<Config> config;
  std::vector<Diagnostic> diagnostics;
  std::size_t errors = 0;
  std::size_t warnings = 0;

  bool ok() const { return config.has_value(); }
  // All diagnostics, one per line (empty when there are none).
  std::string format() const { return formatDiagnostics(diagnostics); }
};

// Reads and validates the file at `path`. A missing or unreadable file is an error diagnostic
// without a line ("FILE: error: cannot open: No such file or directory").
LoadReport checkFile(const std::string& path);

// Validates `text` as if it had been read from a file called `name` (used in diagnostics).
LoadReport checkString(std::string_view text, std::string_view name = "<string>");

// Result-style wrappers. On failure the Error (code InvalidArgument, NotFound for a missing file,
// PermissionDenied for an unreadable one) carries every diagnostic in its message, one per line.
// On success, warnings are in Config::warnings.
[[nodiscard]] Result<Config> loadFile(const std::string& path);
[[nodiscard]] Result<Config> loadString(std::string_view text, std::string_view name = "<string>");

}  // namespace pathpilot::config
