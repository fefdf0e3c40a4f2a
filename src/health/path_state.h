// health/path_state.h — the state of one path as the health module sees it.
//
// Shared vocabulary between health (which computes it), policy (which consumes it), the
// journal and the API. Kept tiny so that every module can include it.
// health::LinkHealth (health/link_health.h) documents how each state is reached; policy
// (policy/policy.h) treats Up and Degraded as usable, Unknown and Down as not usable.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace pathpilot::health {

enum class PathState : std::uint8_t {
  Unknown,   // not enough probe results yet (start-up, or just added)
  Up,        // within loss and latency limits
  Degraded,  // usable but over the degraded thresholds (loss or RTT); policy prefers an Up
             // candidate to a Degraded one, and a Degraded one to none
  Down,      // not usable: too many consecutive misses or loss over the down threshold,
             // or suppressed by flap damping
};

// "unknown", "up", "degraded", "down".
constexpr std::string_view pathStateName(PathState s) {
  switch (s) {
    case PathState::Unknown:
      return "unknown";
    case PathState::Up:
      return "up";
    case PathState::Degraded:
      return "degraded";
    case PathState::Down:
      return "down";
  }
  return "unknown";
}

// The inverse of pathStateName: "up" -> Up. Exact lowercase names only; nullopt otherwise.
std::optional<PathState> parsePathState(std::string_view name);

// True for the states in which a path may carry traffic (Up and Degraded).
constexpr bool isUsable(PathState s) { return s == PathState::Up || s == PathState::Degraded; }

}  // namespace pathpilot::health
