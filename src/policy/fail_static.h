// policy/fail_static.h — when a table enters and leaves fail static, said once each.
//
// Purpose: Policy::decide() marks each route with nothing usable as fail static (routes are
// kept as they are, a critical alert). An operator needs one event per table when that starts,
// naming the destinations and the reason, and one when it ends, not one per decision.
// FailStaticReport keeps which tables are in fail static and turns each decision into the
// transitions, with the message text the events carry.
//
// Threading: a value type of the engine thread; pure.
// Metrics: none (the engine counts fail-static routes from the decision).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "policy/policy.h"

namespace pathpilot::policy {

struct FailStaticChange {
  std::string table;
  bool started = false;                   // false: ended
  std::vector<std::string> destinations;  // started: the fail-static destinations, in order
  std::string reason;                     // started: the first such route's reason
  std::string message;                    // what the event says
};

class FailStaticReport {
 public:
  // The tables (in `tables` order) whose fail-static state changed with `decisions`. A table
  // not seen before starts outside fail static. Tables no longer in `tables` are forgotten.
  std::vector<FailStaticChange> update(const DecisionSet& decisions,
                                       const std::vector<std::string>& tables);
  bool inFailStatic(const std::string& table) const;

 private:
  std::map<std::string, bool, std::less<>> static_;
};

}  // namespace pathpilot::policy
