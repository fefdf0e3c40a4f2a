// Helpers shared by the config tests: a small valid config to mutate, and diagnostics matchers.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "config/loader.h"

namespace pathpilot::config::testing {

// A minimal valid config. Line numbers matter: tests edit single lines and assert positions.
inline constexpr std::string_view kMinimal =
    "site: {name: Test, region: ap-southeast-1}\n"        // 1
    "paths:\n"                                            // 2
    "  - name: dx\n"                                      // 3
    "    kind: dx\n"                                      // 4
    "    probe: {targets: [10.10.3.100], fwmark: 100}\n"  // 5
    "    next_hop: {gateway_id: vgw-078bcc55}\n"          // 6
    "  - name: vpn-a\n"                                   // 7
    "    kind: vpn\n"                                     // 8
    "    az: ap-southeast-1a\n"                           // 9
    "    probe: {targets: [169.254.100.1], fwmark: 101}\n"  // 10
    "    next_hop: {instance_id: i-0e1466e8a5dd4892c}\n"  // 11
    "route_tables:\n"                                     // 12
    "  - id: rtb-468f5222\n"                              // 13
    "    az: ap-southeast-1a\n"                           // 14
    "    destinations: [10.10.0.0/16]\n";                 // 15

// `text` with line `line` (1-based) replaced by `replacement` (which may hold several lines).
inline std::string replaceLine(std::string_view text, int line, std::string_view replacement) {
  std::istringstream in{std::string(text)};
  std::string out;
  std::string current;
  for (int n = 1; std::getline(in, current); ++n) {
    out += n == line ? std::string(replacement) : current;
    out += '\n';
  }
  return out;
}

inline std::string withLine(int line, std::string_view replacement) {
  return replaceLine(kMinimal, line, replacement);
}

inline LoadReport check(std::string_view text) { return checkString(text, "t.yaml"); }

inline std::string readFileForTest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Whether `report` has a diagnostic that prints as "t.yaml:LINE:COL: SEVERITY: ..." and whose
// message contains `needle`.
inline ::testing::AssertionResult hasDiag(const LoadReport& report, int line, int column,
                                          Severity severity, std::string_view needle) {
  for (const Diagnostic& d : report.diagnostics) {
    if (d.where.line == line && d.where.column == column && d.severity == severity &&
        d.message.find(needle) != std::string::npos) {
      return ::testing::AssertionSuccess();
    }
  }
  return ::testing::AssertionFailure()
         << "no " << severityName(severity) << " at " << line << ":" << column
         << " containing \"" << needle << "\"; got:\n"
         << report.format();
}

inline ::testing::AssertionResult hasError(const LoadReport& report, int line, int column,
                                           std::string_view needle) {
  return hasDiag(report, line, column, Severity::Error, needle);
}

// A file-level error (no line) containing `needle`.
inline ::testing::AssertionResult hasFileError(const LoadReport& report, std::string_view needle) {
  return hasDiag(report, 0, 0, Severity::Error, needle);
}

}  // namespace pathpilot::config::testing
