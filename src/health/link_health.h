// health/link_health.h — the health state machine of one path.
//
// Purpose: turns the stream of probe results of one path (DX or one VPN tunnel) into the
// path's state (Unknown / Up / Degraded / Down, see path_state.h) and tells the caller when and
// why that state changes. Every transition carries a human reason that quotes the measured
// values ("3 consecutive probes lost (loss 15% over 20, last error: timeout)") together with
// the values themselves, so the journal, alerts and the dashboard all show the same numbers.
//
// How a state is reached (defaults in HealthParams):
//   * Each probe target of the path keeps its own sliding window of the last `window` results:
//     loss ratio, RTT percentiles (p50/p95/p99, nearest-rank) and consecutive hit/miss counts.
//   * A target goes Down after `fall` consecutive misses, or when its loss ratio is above
//     `down_loss` once the window holds at least `min_samples` results.
//   * A Down target comes back after `rise` consecutive answered probes. Its window then
//     restarts from those `rise` results: the outage that is now over says nothing about the
//     link after it, and the flap is remembered by the damping penalty instead. (Without the
//     restart, 17 lost + 3 answered probes would read as 85% loss and send it straight back
//     Down.) A target starting in Unknown becomes usable after `rise` consecutive answers or
//     once `min_samples` results show loss at or below `down_loss`.
//   * A usable target becomes Degraded when its loss is above `degraded_loss`, its mean RTT
//     above `degraded_rtt_mean` or its RTT p95 above `degraded_rtt_p95` (each when set), judged
//     once `min_samples` results (answered results, for RTT) are in the window; else it is Up.
//   * Hysteresis: a Degraded target is Up again only once its loss has been at or below
//     `degraded_clear_loss` (default: half of degraded_loss) and its RTT mean and p95 at or
//     below their clear thresholds (default: 80% of the degraded ones) for `window` results in
//     a row (a whole window of clean measurements). A link that loses 30% of its probes
//     measures 25% over one window of 20 and 35% over the next, and now and then 15%; with one
//     threshold it would flip between Up and Degraded every second or two, and the policy (Up
//     beats Degraded, failback after an Up hold-down) would move routes back and forth with it.
//     Simulated over an hour of 10 probes/s at 30% random loss, window 20 (see the unit tests):
//     one threshold gives ~1,400 Up/Degraded flips, the gap alone ~330, the gap held for a
//     window ~35, and none of those Up periods lasts a 5 s hold-down more than a few times an
//     hour; with window 50, none at all. A target that goes Down from Degraded (a lossy link
//     also loses `fall` probes in a row now and then) comes back Degraded after `rise` answers,
//     not Up, for the same reason.
//   * The path is Up when at least `quorum` targets are Up, Degraded when at least `quorum`
//     are Up or Degraded, Down when so many targets are Down — and have lost their latest
//     probe — that the quorum cannot be met, and Unknown otherwise (start-up). A Down target
//     that answered its latest probe (earning its `rise`) is no evidence against the path: while
//     the quorum is out of reach only with such targets counted, the path keeps its state
//     (staggered miss runs of two targets under random loss must not take it down).
//   * Flap damping as BGP route-flap damping (RFC 2439 §4): each time the path goes from usable
//     to Down it earns `penalty`; the penalty halves every `half_life`. When it rises above
//     `suppress` the path is held Down (suppressed) even if probes succeed, until the penalty
//     decays to `reuse`. The penalty is capped at reuse * 2^(max_suppress / half_life)
//     (RFC 2439 §4.2's ceiling), so a path is never held more than `max_suppress` after its
//     last flap. Release happens in onProbeResult() or tick(); reuseTime() says when to tick.
//
// Cost: onProbeResult() is O(window) memmove work on one small sorted array (≈ constant for the
// window sizes used, 20 by default) and does not allocate, except to build a reason string
// when the state actually changes or to grow the stored error text the first time a longer
// one is seen.
//
// Threading: a plain value type owned by the engine thread; pure (takes `now`, reads no clock,
// does no I/O, does not log).
// Metrics: none itself; the engine exports stats() (state, loss, rtt, penalty, suppressed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/time.h"
#include "health/path_state.h"

namespace pathpilot::health {

// Tunables of one path's health. The defaults suit probes every 1 s.
struct HealthParams {
  // Sliding window of results kept per target. Requires: 1 <= window <= 4096.
  std::size_t window = 20;
  // Consecutive answered probes that bring a Down or Unknown target up. Requires: 1 <= rise
  // <= window.
  int rise = 3;
  // Consecutive lost probes that take a target down. Requires: fall >= 1.
  int fall = 3;
  // Loss and RTT thresholds are judged only once the window holds this many results (capped
  // at `window`), so that one lost probe out of two does not read as 50% loss.
  std::size_t min_samples = 10;
  // Degraded while the window's loss ratio is above this (0.05 = 5%).
  double degraded_loss = 0.05;
  // Down while the window's loss ratio is above this (0.50 = 50%).
  // Requires: 0 <= degraded_loss <= down_loss <= 1.
  double down_loss = 0.50;
  // Degraded while the mean RTT of the answered probes in the window is above this (the
  // average latency that dpinger and pfSense gateway groups compare). Unset: not checked.
  std::optional<Duration> degraded_rtt_mean;
  // Degraded while the RTT p95 (nearest rank) of the answered probes in the window is above
  // this: a tail of slow replies that the mean hides. With fewer than 20 answered probes in
  // the window the p95 is the slowest of them. Unset: not checked. With neither RTT threshold
  // set, latency never degrades a path.
  std::optional<Duration> degraded_rtt_p95;
  // Hysteresis (see above): a Degraded target is Up again only at or below these. Unset:
  // degraded_loss / 2 and 80% of the RTT thresholds. Requires: clear <= the degraded threshold.
  std::optional<double> degraded_clear_loss;
  std::optional<Duration> degraded_clear_rtt_mean;
  std::optional<Duration> degraded_clear_rtt_p95;

  // The thresholds in effect (defaults applied).
  double clearLoss() const { return degraded_clear_loss.value_or(degraded_loss / 2); }
  std::optional<Duration> clearRttMean() const {
    return clearOf(degraded_clear_rtt_mean, degraded_rtt_mean);
  }
  std::optional<Duration> clearRttP95() const {
    return clearOf(degraded_clear_rtt_p95, degraded_rtt_p95);
  }
  static std::optional<Duration> clearOf(const std::optional<Duration>& clear,
                                         const std::optional<Duration>& degraded) {
    if (clear) {
      return clear;
    }
    if (degraded) {
      return std::chrono::duration_cast<Duration>(*degraded * 4 / 5);
    }
    return std::nullopt;
  }
  // Targets that must be Up (or usable, for Degraded) for the path to be. Requires:
  // 1 <= quorum <= number of targets.
  std::size_t quorum = 1;

  // Flap damping (RFC 2439). Off: a path is never suppressed.
  bool damping = true;
  // Time for the penalty to halve. Requires: > 0.
  Duration half_life = std::chrono::seconds(30);
  // Penalty added on each transition from usable (Up/Degraded) to Down. Requires: > 0.
  double penalty = 1000;
  // Suppress (hold Down) when the penalty rises above this.
  double suppress = 2000;
  // Release a suppressed path once the penalty has decayed to this. Requires: 0 < reuse <
  // suppress.
  double reuse = 750;
  // Longest a path stays suppressed after its last flap; sets the penalty ceiling
  // reuse * 2^(max_suppress / half_life), which must exceed `suppress`.
  Duration max_suppress = std::chrono::minutes(5);
};

// Checks `params` for a path with `targets` probe targets. InvalidArgument names the field.
[[nodiscard]] Result<void> validateHealthParams(const HealthParams& params, std::size_t targets);

// One probe result, as a probe driver reports it.
struct ProbeSample {
  std::size_t target = 0;  // index into the path's targets. Requires: < number of targets.
  bool ok = false;         // answered in time
  Duration rtt{0};         // round-trip time; meaningful only when ok
  std::string_view error;  // why it failed ("timeout", "host unreachable"); only when !ok
};

// Measured values over one target's window, or aggregated over the path's targets.
struct Measurement {
  std::size_t samples = 0;      // results in the window
  std::size_t lost = 0;         // lost results in the window
  double loss = 0;              // lost / samples (0 when empty)
  std::size_t rtt_samples = 0;  // answered results in the window
  Duration rtt_mean{0};         // mean RTT of the answered results (0 if none)
  Duration rtt_p50{0};          // nearest-rank percentiles of the answered results' RTT (0 if none)
  Duration rtt_p95{0};
  Duration rtt_p99{0};
  int consecutive_misses = 0;     // aggregated: the largest over targets
  int consecutive_successes = 0;  // aggregated: the smallest over targets
  std::string last_error;         // last probe error seen ("" if none); aggregated: any target's
};

// What one call changed. `changed` is true only when the reported path state changed; the
// damping flags report suppression starting or ending (which may happen without a state change,
// e.g. a path suppressed while already Down).
struct Transition {
  bool changed = false;
  PathState from = PathState::Unknown;
  PathState to = PathState::Unknown;
  // Human reason with measured values; set when `changed` or `suppression_changed`.
  std::string reason;
  // The values behind the reason: the target whose result caused the change, or the path's
  // aggregate for changes made by tick(). Set when `changed` or `suppression_changed`.
  Measurement measured;
  double penalty = 0;                // damping penalty at `now`
  bool suppressed = false;           // held Down by damping after this call
  bool suppression_changed = false;  // suppression started or ended in this call
  bool clean_changed = false;        // Stats::clean_since was set or cleared in this call

  explicit operator bool() const { return changed; }
};

struct TargetStats {
  std::string name;
  PathState state = PathState::Unknown;
  MonoTime since{};
  std::string reason;  // why the target is in `state`
  Measurement measured;
};

// A snapshot of the path's health for the API, metrics and the policy.
struct Stats {
  PathState state = PathState::Unknown;      // reported state (Down while suppressed)
  PathState raw_state = PathState::Unknown;  // state from the probes alone, before damping
  MonoTime since{};                          // when `state` was entered
  // Start of the current uninterrupted usable (Up or Degraded) period; unset while not usable.
  std::optional<MonoTime> usable_since;
  // While Up: since when the path has been proven clean — `quorum` targets with a full window
  // (`window` results) at or below the clear thresholds (degraded_clear_loss and the clear RTT
  // thresholds, the same hysteresis a Degraded target must pass) — without a break. Unset
  // while not Up, right after a target came back from Down with a fresh window (`rise` answers
  // say the link is there, not that it is clean), and while an Up target measures between the
  // clear and the degraded thresholds. The policy's failback hold-down counts from here.
  std::optional<MonoTime> clean_since;
  std::string reason;    // why the path is in `state`
  Measurement measured;  // aggregate over targets
  double penalty = 0;    // damping penalty decayed to `now`
  bool suppressed = false;
  std::optional<MonoTime> reuse_at;  // when a suppressed path will be released
  std::vector<TargetStats> targets;
};

class LinkHealth {
 public:
  // A path probed through the given targets (names as shown in reasons, e.g. "10.10.3.100").
  // Starts Unknown at `now`. Fails with InvalidArgument on bad params or no targets.
  [[nodiscard]] static Result<LinkHealth> create(const HealthParams& params,
                                                 std::vector<std::string> targets, MonoTime now);

  // Feeds one probe result. Requires: sample.target < number of targets; `now` not earlier
  // than previous calls (an earlier `now` is treated as the latest one seen).
  Transition onProbeResult(const ProbeSample& sample, MonoTime now);

  // Advances time without a result: releases a suppressed path whose penalty has decayed to
  // `reuse`. Call it at reuseTime().
  Transition tick(MonoTime now);

  // The reported state (Down while suppressed).
  PathState state() const { return state_; }
  bool suppressed() const { return suppressed_; }
  // The damping penalty decayed to `now`.
  double penaltyAt(MonoTime now) const;
  // When a suppressed path's penalty reaches `reuse`; unset when not suppressed.
  std::optional<MonoTime> reuseTime() const;

  // A snapshot; the penalty is decayed to `now`. Allocates (for the API, not the hot path).
  Stats stats(MonoTime now) const;
  // The same, as of the latest time passed to onProbeResult() or tick().
  Stats stats() const { return stats(latest_); }

  const HealthParams& params() const { return params_; }

 private:
  struct Target {
    std::string name;
    // Ring of the last `window` results: RTT in ns, or -1 for a lost probe.
    std::vector<std::int64_t> ring;
    std::size_t head = 0;   // next slot to write
    std::size_t count = 0;  // results in the ring
    std::size_t lost = 0;
    std::vector<std::int64_t> sorted_rtt;  // answered RTTs in the window, ascending
    std::int64_t rtt_sum = 0;              // their sum in ns (the mean without a pass)
    int consecutive_misses = 0;
    int consecutive_successes = 0;
    // While Degraded: results in a row with the window at or below the clear thresholds.
    std::size_t clean_run = 0;
    // While Up with a full window: since when (see Stats::clean_since).
    std::optional<MonoTime> clean_since;
    // It went Down from Degraded: it comes back Degraded and must earn Up like any degraded
    // target (a lossy link's runs of lost probes must not turn it into a clean one).
    bool down_from_degraded = false;
    PathState state = PathState::Unknown;
    MonoTime since{};
    std::string last_error;
    std::string reason;
  };

  LinkHealth(const HealthParams& params, std::vector<std::string> targets, MonoTime now);

  void push(Target& t, const ProbeSample& s);
  void restartWindow(Target& t);
  // Evaluates `t` after a result; returns true and sets its reason when its state changed.
  bool evaluate(Target& t, MonoTime now);
  PathState classifyUsable(const Target& t, std::string* why) const;
  bool withinClear(const Target& t) const;
  Measurement measure(const Target& t) const;
  Measurement aggregate() const;
  // Keeps the target's and the path's clean_since current; true if the path's one changed.
  bool updateClean(Target& t, MonoTime now);
  bool refreshPathClean();
  PathState derivePathState() const;
  std::string pathReason(const Target* trigger) const;
  double decayed(MonoTime now) const;
  // Applies damping release at `now` and recomputes the reported state; fills `tr`.
  void settle(MonoTime now, const Target* trigger, bool raw_changed, Transition& tr);
  MonoTime clampNow(MonoTime now);

  HealthParams params_;
  std::size_t min_samples_;
  double penalty_ceiling_;
  std::vector<Target> targets_;
  std::size_t count_up_ = 0, count_degraded_ = 0, count_down_ = 0;

  PathState raw_state_ = PathState::Unknown;
  std::string raw_reason_;
  PathState state_ = PathState::Unknown;
  MonoTime since_{};
  std::optional<MonoTime> usable_since_;
  std::optional<MonoTime> clean_since_;  // Stats::clean_since, kept current by updateClean()
  std::string reason_;
  MonoTime latest_{};

  double penalty_ = 0;  // penalty as of penalty_time_
  MonoTime penalty_time_{};
  bool suppressed_ = false;
};

}  // namespace pathpilot::health
