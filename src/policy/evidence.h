// policy/evidence.h — what a decision may believe, and which tables it may touch.
//
// Purpose: health says what each path's state is; before Policy::decide() uses it, two rules
// decide how much of it is evidence, and after it one rule decides which tables the result may
// reach. They are policy, so they live here, pure and tested, and the engine only applies them:
//
//   * Fresh evidence: a usable path (Up or Degraded) whose latest probe failed (`suspect`)
//     counts as Unknown for this decision. The current path is then kept rather than left, and
//     nothing fails over to it, until it answers again or goes Down. When every path fails at
//     once (the monitor itself is cut off), routes stay where they are instead of hopping from
//     path to path as each crosses its threshold; in a real failure of one path the others
//     have answered since its first miss, so this costs no time.
//   * Group agreement (HA, docs/ha.md): a path seen failing (Down or Degraded) here but
//     disputed by the other monitors' views, or not yet confirmed by them when confirmation is
//     required, is no evidence either way: Unknown.
//   * Unlisted tables: a route table whose content is not known yet (not listed since start or
//     since it was added) keeps its previous decision, unchanged, so that nothing is sent to it
//     before its starting point has been adopted.
//
// Threading: pure functions (no clock, no I/O).
// Metrics: none.
#pragma once

#include <vector>

#include "policy/policy.h"

namespace pathpilot::policy {

// What the engine knows about one path beyond its health state.
struct PathEvidence {
  bool suspect = false;      // its latest probe failed (health has not concluded yet)
  bool disputed = false;     // HA: failing here, seen usable by the group
  bool unconfirmed = false;  // HA: failing here, not (yet) confirmed by the group
};

// `statuses` with the evidence rules applied, into `out` (resized; reused by the engine to
// avoid allocating per decision). Requires: evidence.size() == statuses.size().
void decisionInput(const std::vector<PathStatus>& statuses,
                   const std::vector<PathEvidence>& evidence, std::vector<PathStatus>& out);

// Routes of `next` whose table is not listed (listed[i] false for next.routes[i]) take their
// previous decision, marked unchanged. Routes past the end of `listed` or of `previous` (a
// table added by a reload) are left as decided.
void holdUnlisted(const std::vector<bool>& listed, const DecisionSet& previous, DecisionSet& next);

}  // namespace pathpilot::policy
