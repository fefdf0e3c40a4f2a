// health/path_state.cc — names of path states.
#include "health/path_state.h"

namespace pathpilot::health {

std::optional<PathState> parsePathState(std::string_view name) {
  for (PathState s : {PathState::Unknown, PathState::Up, PathState::Degraded, PathState::Down}) {
    if (pathStateName(s) == name) {
      return s;
    }
  }
  return std::nullopt;
}

}  // namespace pathpilot::health
