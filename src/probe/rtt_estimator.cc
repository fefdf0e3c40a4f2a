#include "probe/rtt_estimator.h"

#include <algorithm>

#include "base/check.h"

namespace pathpilot::probe {
namespace {

// RFC 6298 §2.3 gains: alpha = 1/8 for SRTT, beta = 1/4 for RTTVAR. Integer nanoseconds are
// exact enough (a 1 µs RTT still has 1000 units), so the update is plain shifts of the error.
constexpr Duration::rep kAlphaDiv = 8;
constexpr Duration::rep kBetaDiv = 4;

}  // namespace

Result<void> validateAdaptiveTimeout(const AdaptiveTimeoutParams& p, Duration ceiling) {
  if (p.min <= Duration::zero()) {
    return fail(ErrorCode::InvalidArgument, "adaptive timeout min must be positive");
  }
  if (p.min > ceiling) {
    return fail(ErrorCode::InvalidArgument, "adaptive timeout min " + formatDuration(p.min) +
                                                " is above the timeout " + formatDuration(ceiling) +
                                                " (its ceiling)");
  }
  // The negated test also rejects NaN.
  if (!(p.rttvar_factor >= 1.0 && p.rttvar_factor <= 16.0)) {
    return fail(ErrorCode::InvalidArgument, "adaptive timeout rttvar_factor must be 1..16");
  }
  if (p.margin < Duration::zero() || p.margin > ceiling) {
    return fail(ErrorCode::InvalidArgument, "adaptive timeout margin " + formatDuration(p.margin) +
                                                " is outside 0.." + formatDuration(ceiling));
  }
  return ok();
}

RttEstimator::RttEstimator(AdaptiveTimeoutParams params, Duration ceiling)
    : params_(params), ceiling_(ceiling) {
  PP_CHECK(validateAdaptiveTimeout(params_, ceiling_).has_value());
}

void RttEstimator::onReply(Duration rtt) {
  // A negative RTT can only come from a broken timestamp; it must not pull SRTT below zero.
  rtt = std::max(rtt, Duration::zero());
  if (!srtt_) {
    // §2.2: SRTT = R, RTTVAR = R/2.
    srtt_ = rtt;
    rttvar_ = rtt / 2;
  } else {
    // §2.3: RTTVAR first, from the old SRTT.
    const Duration err = *srtt_ - rtt;
    const Duration abs_err = err < Duration::zero() ? -err : err;
    rttvar_ += (abs_err - rttvar_) / kBetaDiv;
    *srtt_ += (rtt - *srtt_) / kAlphaDiv;
  }
  // The path answers in time again: let the boost of a late reply fade over a few replies
  // rather than at once, so a load spike that produced one late reply does not produce a
  // second one as soon as one reply made it.
  boost_ /= 2;
  if (boost_ < params_.min) {
    boost_ = Duration::zero();
  }
}

void RttEstimator::onLate() { boost_ = ceiling_; }

Duration RttEstimator::timeout() const {
  if (!srtt_) {
    return ceiling_;
  }
  const auto spread_ns = params_.rttvar_factor * static_cast<double>(rttvar_.count());
  // Saturate before converting: a huge variance must give the ceiling, not an overflow.
  const Duration spread = spread_ns >= static_cast<double>(ceiling_.count())
                              ? ceiling_
                              : Duration(static_cast<Duration::rep>(spread_ns));
  const Duration rto = *srtt_ + std::max(params_.margin, spread);
  return std::clamp(std::max(rto, boost_), params_.min, ceiling_);
}

}  // namespace pathpilot::probe
