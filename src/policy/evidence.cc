#include "policy/evidence.h"

#include "base/check.h"

namespace pathpilot::policy {

using health::PathState;

void decisionInput(const std::vector<PathStatus>& statuses,
                   const std::vector<PathEvidence>& evidence, std::vector<PathStatus>& out) {
  PP_CHECK(evidence.size() == statuses.size());
  out = statuses;
  for (std::size_t i = 0; i < out.size(); ++i) {
    PathStatus& st = out[i];
    const PathEvidence& ev = evidence[i];
    const bool usable = st.state == PathState::Up || st.state == PathState::Degraded;
    const bool failing = st.state == PathState::Down || st.state == PathState::Degraded;
    if (ev.suspect && usable) {
      st.state = PathState::Unknown;
    }
    // Checked on the state as health gave it: a Degraded path that is also suspect is
    // already Unknown above.
    if (failing && (ev.disputed || ev.unconfirmed)) {
      st.state = PathState::Unknown;
    }
  }
}

void holdUnlisted(const std::vector<bool>& listed, const DecisionSet& previous, DecisionSet& next) {
  for (std::size_t i = 0; i < listed.size() && i < next.routes.size() && i < previous.routes.size();
       ++i) {
    if (!listed[i]) {
      next.routes[i] = previous.routes[i];
      next.routes[i].changed = false;
    }
  }
}

}  // namespace pathpilot::policy
