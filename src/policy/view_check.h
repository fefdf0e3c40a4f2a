// policy/view_check.h — does the monitor trust its own view of the paths?
//
// Purpose: when every path of a site goes down within a few seconds, three links did not fail
// at once: the monitor itself (its subnet, its security group, its instance) or the whole
// on-prem side is cut off. Routes stay where they are then (fail static, policy.h), and the
// gateways must not be "healed" either: an EC2 stop/start of both strongSwan instances would
// turn a monitor problem into a real outage. ViewCheck turns path states (and the optional
// reference targets of the monitor itself) into one verdict, Trusted or Suspect, with the
// reason an operator reads in events, status and alerts.
//
// The rules:
//   * Correlated loss: with at least two paths, when every path is Down and the first and the
//     last of them went Down within `correlation_window`, the view is Suspect. Paths failing
//     one after the other over a longer time are believed (the gateways may well be dead).
//   * Reference targets (config `monitor.targets`, e.g. the VPC router or another host the
//     monitor must always reach): while they are Down the view is Suspect, whatever the paths
//     say; they are probed like a path but never carry traffic.
//   * The view is Trusted again as soon as any path is usable and the reference targets (if
//     any) are not Down.
//
// Threading: a value type of the engine thread; pure (takes `now`, no clock, no I/O).
// Metrics: none itself; the engine reports suspect() in status and metrics.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "base/time.h"
#include "health/path_state.h"

namespace pathpilot::policy {

struct ViewCheckParams {
  // Every path going Down within this window reads as the monitor's problem. Requires: >= 0.
  Duration correlation_window = std::chrono::seconds(5);
};

// One change of the verdict.
struct ViewChange {
  bool changed = false;
  bool suspect = false;  // the verdict after the change
  std::string reason;    // why, quoting the paths and times ("" when Trusted)

  explicit operator bool() const { return changed; }
};

class ViewCheck {
 public:
  // `paths`: the names of the site's paths, in the engine's order.
  ViewCheck(ViewCheckParams params, std::vector<std::string> paths);

  // Path `index` entered `state` at `now`. Requires: index < paths.size().
  ViewChange onPathState(std::size_t index, health::PathState state, MonoTime now);
  // The monitor's reference targets entered `state` (Down: not answering); `detail` is
  // health's reason, quoted in the verdict.
  ViewChange onReferenceState(health::PathState state, const std::string& detail, MonoTime now);

  bool suspect() const { return suspect_; }
  const std::string& reason() const { return reason_; }
  // When the current verdict began (MonoTime{} before any change).
  MonoTime since() const { return since_; }

 private:
  ViewChange reevaluate(MonoTime now);

  ViewCheckParams params_;
  std::vector<std::string> names_;
  std::vector<health::PathState> states_;
  std::vector<std::optional<MonoTime>> down_at_;  // when each path last went Down
  health::PathState reference_ = health::PathState::Unknown;
  std::string reference_detail_;
  // The correlated-loss verdict holds until a path is usable again, even if a path goes Down
  // again later (its new time must not "uncorrelate" the outage).
  bool correlated_ = false;
  std::string correlated_reason_;
  bool suspect_ = false;
  std::string reason_;
  MonoTime since_{};
};

}  // namespace pathpilot::policy
