#include "policy/view_check.h"

#include <algorithm>
#include <cstdio>

namespace pathpilot::policy {
namespace {

std::string secondsText(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", std::chrono::duration<double>(d).count());
  return buf;
}

}  // namespace

ViewCheck::ViewCheck(ViewCheckParams params, std::vector<std::string> paths)
    : params_(params),
      names_(std::move(paths)),
      states_(names_.size(), health::PathState::Unknown),
      down_at_(names_.size()) {}

ViewChange ViewCheck::onPathState(std::size_t index, health::PathState state, MonoTime now) {
  if (index >= states_.size()) {
    return {};
  }
  if (state == health::PathState::Down && states_[index] != health::PathState::Down) {
    down_at_[index] = now;
  } else if (state != health::PathState::Down) {
    down_at_[index].reset();
  }
  states_[index] = state;
  if (health::isUsable(state)) {
    correlated_ = false;
  } else if (!correlated_ && names_.size() >= 2 &&
             std::all_of(states_.begin(), states_.end(),
                         [](health::PathState s) { return s == health::PathState::Down; })) {
    // Every path is Down: was it one event? The spread between the first and the last Down
    // says so; a long spread is a chain of real failures.
    auto [first, last] =
        std::minmax_element(down_at_.begin(), down_at_.end(), [](const auto& a, const auto& b) {
          return a.value_or(MonoTime{}) < b.value_or(MonoTime{});
        });
    const Duration spread = first->has_value() && last->has_value() ? **last - **first : Duration{};
    if (spread <= params_.correlation_window) {
      correlated_ = true;
      std::string list;
      for (std::size_t i = 0; i < names_.size(); ++i) {
        list += (i == 0 ? "" : ", ") + names_[i];
      }
      correlated_reason_ = "every path (" + list + ") went down within " + secondsText(spread) +
                           ": the monitor's own network or the whole site is the likelier "
                           "cause, not " +
                           std::to_string(names_.size()) + " failed links";
    }
  }
  return reevaluate(now);
}

ViewChange ViewCheck::onReferenceState(health::PathState state, const std::string& detail,
                                       MonoTime now) {
  reference_ = state;
  reference_detail_ = detail;
  return reevaluate(now);
}

ViewChange ViewCheck::reevaluate(MonoTime now) {
  std::string reason;
  if (reference_ == health::PathState::Down) {
    reason = "the monitor's own reference targets do not answer";
    if (!reference_detail_.empty()) {
      reason += " (" + reference_detail_ + ")";
    }
  }
  if (correlated_) {
    reason += (reason.empty() ? "" : "; ") + correlated_reason_;
  }
  const bool suspect = !reason.empty();
  ViewChange change;
  if (suspect != suspect_ || (suspect && reason != reason_)) {
    change.changed = suspect != suspect_;
    if (change.changed) {
      since_ = now;
    }
    suspect_ = suspect;
    reason_ = reason;
    change.suspect = suspect;
    change.reason = reason;
  }
  return change;
}

}  // namespace pathpilot::policy
