// config/diagnostic.h — one finding about a config file, printed the way GCC prints them.
//
// Purpose: the config loader never stops at the first problem. Every error and warning it finds
// becomes a Diagnostic that names the file, the 1-based line and column, and the key path in
// the document ("paths[2].probe.interval"), so that `pathpilot check` can print all of them at
// once in a form editors and CI logs already understand:
//
//   site.yaml:14:17: error: paths[2].probe.interval: invalid duration "5": missing unit ...
//   site.yaml:40:5: warning: paths[3]: path 'vpn-c' is not used by any route table
//
// Diagnostics never quote secrets: fields that hold secrets are reported by key only.
// Threading: value types.
// Metrics: none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pathpilot::config {

enum class Severity : std::uint8_t {
  Error,    // the file is rejected
  Warning,  // the file is accepted; something looks wrong or unsafe
};

// "error" or "warning".
std::string_view severityName(Severity s);

// A position in the config file. Lines and columns are 1-based; line 0 means "the file as a
// whole" (it cannot be read, it is too large, ...), and is printed without line and column.
struct Location {
  int line = 0;
  int column = 0;

  bool known() const { return line > 0; }
  friend bool operator==(const Location&, const Location&) = default;
};

struct Diagnostic {
  Severity severity = Severity::Error;
  std::string file;     // the name the loader was given (path, or e.g. "<string>")
  Location where;
  std::string message;  // starts with the key path when there is one: "paths[0].kind: ..."

  // "FILE:LINE:COL: error: MESSAGE", or "FILE: error: MESSAGE" when the line is unknown.
  std::string toString() const;
};

// Collects diagnostics for one file. Not thread-safe; one per load.
class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}

  const std::string& file() const { return file_; }

  void error(Location where, std::string message);
  void warning(Location where, std::string message);

  std::size_t errorCount() const { return errors_; }
  std::size_t warningCount() const { return warnings_; }
  bool hasErrors() const { return errors_ > 0; }
  // True once the number of errors reached kMaxErrors: further errors are counted in
  // suppressed() but not stored, so that a hostile file cannot make the report huge.
  bool saturated() const { return errors_ >= kMaxErrors; }
  std::size_t suppressed() const { return suppressed_; }

  // All diagnostics ordered by position (file-level ones first), exact duplicates removed
  // (a node reached twice through a YAML alias is reported once).
  std::vector<Diagnostic> sorted() const;

  static constexpr std::size_t kMaxErrors = 200;

 private:
  void add(Severity severity, Location where, std::string message);

  std::string file_;
  std::vector<Diagnostic> diagnostics_;
  std::size_t errors_ = 0;    // including suppressed ones
  std::size_t warnings_ = 0;  // stored ones
  std::size_t suppressed_ = 0;
};

// Joins diagnostics into one text, one per line, for Error messages and logs.
std::string formatDiagnostics(const std::vector<Diagnostic>& diagnostics);

}  // namespace pathpilot::config
