// base/version.h — the version string printed by --version and exported as build info.
#pragma once

#include <string_view>

namespace pathpilot {
inline constexpr std::string_view kVersion = "0.1.0";
}  // namespace pathpilot
