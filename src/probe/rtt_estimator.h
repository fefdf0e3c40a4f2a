// probe/rtt_estimator.h — RTT-adaptive probe timeouts (RFC 6298-style SRTT / RTTVAR).
//
// Purpose: a path whose round trip is 0.6 ms does not need an 80 ms probe timeout. Count-based
// detection at interval I with timeout T takes about 2·I + T after the first lost probe, so T
// is the one term of the detection time that the RTT, not the operator's patience, should set.
// Each target keeps a smoothed RTT and its mean deviation from the valid replies it gets, and
// its next probe waits
//
//   timeout = clamp(SRTT + max(margin, K · RTTVAR), min, ceiling)
//
// where the ceiling is the configured `probe.timeout`. Until the first valid reply the
// configured timeout is used unchanged.
//
// False positives under load: a loaded host or a busy userspace IPsec gateway delays replies.
//   * Variance: RTTVAR follows |SRTT − sample| with gain 1/4, so a jittery path's timeout grows
//     within a few samples (K = 4 covers ~4 mean deviations, as TCP's RTO does).
//   * Steps: a reply that arrives after its probe timed out ("late") proves the timeout was too
//     short. It is not an RTT sample (it would be the biggest outlier, and RFC 6298's Karn rule
//     keeps ambiguous samples out too), but it raises the timeout at once to the ceiling: a
//     step in RTT below the configured timeout then costs one lost probe, never `fall` of them.
//     The boost halves with each valid reply, while SRTT/RTTVAR learn the new RTT.
//   * Real outages send no replies, late or otherwise, so they are detected at the short
//     timeout: timeouts alone never lengthen the timeout (unlike RFC 6298 §5.5's backoff,
//     which would slow detection exactly when it matters).
//   * The floor `min` keeps timeouts above the scale of host scheduling noise.
//
// Threading: a plain value, owned by the engine thread. Pure: no clock, no I/O.
// Metrics: none (the engine exports the current timeout per target through its sink).
#pragma once

#include <cstdint>
#include <optional>

#include "base/error.h"
#include "base/time.h"

namespace pathpilot::probe {

// How a target's timeout adapts. The ceiling is the target's configured timeout.
struct AdaptiveTimeoutParams {
  // The shortest timeout ever used. Requires: 0 < min <= ceiling.
  Duration min = std::chrono::milliseconds(10);
  // K: how many mean deviations above SRTT a reply may arrive. Requires: 1 <= K <= 16.
  double rttvar_factor = 4.0;
  // Smallest allowance above SRTT (RFC 6298's clock granularity G), so that a perfectly steady
  // path does not get a timeout equal to its RTT. Requires: 0 <= margin <= ceiling.
  Duration margin = std::chrono::milliseconds(2);

  bool operator==(const AdaptiveTimeoutParams&) const = default;
};

// Checks the ranges above for a target whose configured timeout is `ceiling`. InvalidArgument
// names the field ("adaptive timeout min 90ms is above the timeout 80ms").
[[nodiscard]] Result<void> validateAdaptiveTimeout(const AdaptiveTimeoutParams& params,
                                                   Duration ceiling);

class RttEstimator {
 public:
  // Requires: validateAdaptiveTimeout(params, ceiling) passed.
  RttEstimator(AdaptiveTimeoutParams params, Duration ceiling);

  // A valid reply (in time, cookie and source checked) with round-trip time `rtt`.
  // RFC 6298 §2.2 for the first sample, §2.3 after: RTTVAR is updated with the old SRTT.
  void onReply(Duration rtt);

  // A valid reply that came after its probe had timed out: not a sample; raises the timeout
  // to the ceiling until valid replies have brought it down again.
  void onLate();

  // The timeout for the next probe.
  Duration timeout() const;

  bool hasSamples() const { return srtt_.has_value(); }
  // Requires: hasSamples().
  Duration srtt() const { return *srtt_; }
  Duration rttvar() const { return rttvar_; }
  Duration ceiling() const { return ceiling_; }

 private:
  AdaptiveTimeoutParams params_;
  Duration ceiling_;
  std::optional<Duration> srtt_;
  Duration rttvar_{0};
  // Lower bound of the timeout after a late reply; halves with each valid reply.
  Duration boost_{0};
};

}  // namespace pathpilot::probe
