#include "config/diagnostic.h"

#include <algorithm>

namespace pathpilot::config {

std::string_view severityName(Severity s) { return s == Severity::Error ? "error" : "warning"; }

std::string Diagnostic::toString() const {
  std::string out = file;
  if (where.known()) {
    out += ":" + std::to_string(where.line) + ":" + std::to_string(where.column);
  }
  out += ": ";
  out += severityName(severity);
  out += ": ";
  out += message;
  return out;
}

void Diagnostics::error(Location where, std::string message) {
  add(Severity::Error, where, std::move(message));
}

void Diagnostics::warning(Location where, std::string message) {
  add(Severity::Warning, where, std::move(message));
}

void Diagnostics::add(Severity severity, Location where, std::string message) {
  if (severity == Severity::Error) {
    if (saturated()) {
      ++suppressed_;
      ++errors_;
      return;
    }
    ++errors_;
  } else {
    if (warnings_ >= kMaxErrors) {
      ++suppressed_;
      return;
    }
    ++warnings_;
  }
  diagnostics_.push_back(Diagnostic{severity, file_, where, std::move(message)});
}

std::vector<Diagnostic> Diagnostics::sorted() const {
  std::vector<Diagnostic> out = diagnostics_;
  std::stable_sort(out.begin(), out.end(), [](const Diagnostic& a, const Diagnostic& b) {
    if (a.where.line != b.where.line) {
      return a.where.line < b.where.line;
    }
    return a.where.column < b.where.column;
  });
  // A node reached twice through an alias yields the same diagnostic twice: keep the first.
  std::vector<Diagnostic> unique;
  for (Diagnostic& d : out) {
    bool seen = std::any_of(unique.begin(), unique.end(), [&](const Diagnostic& u) {
      return u.severity == d.severity && u.where == d.where && u.message == d.message;
    });
    if (!seen) {
      unique.push_back(std::move(d));
    }
  }
  out = std::move(unique);
  if (suppressed_ > 0) {
    out.push_back(Diagnostic{Severity::Error, file_, {},
                             std::to_string(suppressed_) +
                                 " more problems not shown (fix the ones above first)"});
  }
  return out;
}

std::string formatDiagnostics(const std::vector<Diagnostic>& diagnostics) {
  std::string out;
  for (const Diagnostic& d : diagnostics) {
    if (!out.empty()) {
      out += '\n';
    }
    out += d.toString();
  }
  return out;
}

}  // namespace pathpilot::config
