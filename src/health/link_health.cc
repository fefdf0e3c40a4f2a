// health/link_health.cc — per-path health: windows, rise/fall, quorum, RFC 2439 damping.
//
// Layout of the work per probe result (onProbeResult):
//   push()      O(1) ring update plus one insert/erase in the sorted RTT array (a memmove of
//               at most `window` int64s; no allocation because capacity is reserved up front);
//   evaluate()  the target's state machine on counters only; text is rendered only on change;
//   settle()    the path state from per-state target counts (O(1)), damping, and the reported
//               state. Everything that allocates (reasons, Measurement copies) sits behind a
//               "did something change" test.
#include "health/link_health.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <utility>

#include <fmt/format.h>

#include "base/check.h"

namespace pathpilot::health {
namespace {

constexpr std::size_t kMaxWindow = 4096;
// Floating-point slack for "has the penalty decayed to reuse": reuseTime() is rounded up to
// the next nanosecond, and exp2() may land a hair above the threshold at that instant.
constexpr double kReuseSlack = 1e-9;

// Loss as people read it: "15%", "33.3%" (one decimal only when it is not a whole number).
std::string percent(double ratio) {
  const double tenths = std::round(ratio * 1000.0) / 10.0;
  if (tenths == std::floor(tenths)) {
    return fmt::format("{:.0f}%", tenths);
  }
  return fmt::format("{:.1f}%", tenths);
}

// RTT in milliseconds, "12.3ms"; two decimals below 1 ms where tenths would read as 0.
std::string millis(Duration d) {
  const double ms = toMillis(d);
  return ms < 1.0 ? fmt::format("{:.2f}ms", ms) : fmt::format("{:.1f}ms", ms);
}

std::string secondsText(Duration d) {
  return fmt::format("{:.1f}s", std::chrono::duration<double>(d).count());
}

// Nearest-rank percentile (the smallest value with at least pct% of values at or below it).
std::int64_t percentile(const std::vector<std::int64_t>& sorted, std::size_t pct) {
  const std::size_t n = sorted.size();
  if (n == 0) {
    return 0;
  }
  std::size_t rank = (pct * n + 99) / 100;
  rank = std::clamp<std::size_t>(rank, 1, n);
  return sorted[rank - 1];
}

// The mean of `n` RTTs summing to `sum` ns (0 when none).
Duration meanOf(std::int64_t sum, std::size_t n) {
  return n == 0 ? Duration(0) : Duration(sum / static_cast<std::int64_t>(n));
}

double ratio(std::size_t part, std::size_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

// Consecutive counters run for as long as a target is stable; never let them wrap.
int saturatingIncrement(int v) { return v == INT_MAX ? v : v + 1; }

// Which measured values a reason quotes. Each reason picks the ones that explain it: a Down by
// consecutive misses quotes the loss and the last error, an Up quotes loss and RTT only.
enum class Part : unsigned { Loss = 1, Rtt = 2, Error = 4, Misses = 8 };
constexpr unsigned operator|(Part a, Part b) {
  return static_cast<unsigned>(a) | static_cast<unsigned>(b);
}
constexpr unsigned operator|(unsigned a, Part b) { return a | static_cast<unsigned>(b); }
constexpr bool has(unsigned set, Part p) { return (set & static_cast<unsigned>(p)) != 0; }

// "loss 15% over 20, rtt p50 1.2ms p95 3.4ms, last error: timeout", choosing the parts.
std::string describe(const Measurement& m, unsigned parts) {
  std::string out;
  const auto sep = [&out] {
    if (!out.empty()) {
      out += ", ";
    }
  };
  if (has(parts, Part::Misses) && m.consecutive_misses > 0) {
    sep();
    out += fmt::format("{} consecutive lost", m.consecutive_misses);
  }
  if (has(parts, Part::Loss)) {
    sep();
    out += fmt::format("loss {} over {}", percent(m.loss), m.samples);
  }
  if (has(parts, Part::Rtt) && m.rtt_samples > 0) {
    sep();
    out += fmt::format("rtt p50 {} p95 {}", millis(m.rtt_p50), millis(m.rtt_p95));
  }
  if (has(parts, Part::Error) && !m.last_error.empty()) {
    sep();
    out += "last error: " + m.last_error;
  }
  return out;
}

// Why evaluate() picked a target's new state; reasons are only rendered on a change.
enum class Cause : std::uint8_t { Stay, Misses, Loss, Rise, Healthy };

}  // namespace

// Parameters come from the config file; reject what would make the state machine meaningless
// (a rise longer than the window could never be satisfied after restartWindow(), a reuse above
// suppress would release a path in the same instant it is suppressed).
Result<void> validateHealthParams(const HealthParams& p, std::size_t targets) {
  const auto bad = [](std::string msg) {
    return fail(ErrorCode::InvalidArgument, "health parameters: " + std::move(msg));
  };
  if (p.window < 1 || p.window > kMaxWindow) {
    return bad(fmt::format("window must be between 1 and {}, got {}", kMaxWindow, p.window));
  }
  if (p.rise < 1 || static_cast<std::size_t>(p.rise) > p.window) {
    return bad(fmt::format("rise must be between 1 and the window ({}), got {}", p.window, p.rise));
  }
  if (p.fall < 1) {
    return bad(fmt::format("fall must be at least 1, got {}", p.fall));
  }
  if (p.min_samples < 1) {
    return bad("min_samples must be at least 1, got 0");
  }
  if (!(p.degraded_loss >= 0.0 && p.degraded_loss <= p.down_loss && p.down_loss <= 1.0)) {
    return bad(fmt::format(
        "loss thresholds must satisfy 0 <= degraded_loss <= down_loss <= 1, got {} and {}",
        p.degraded_loss, p.down_loss));
  }
  if (p.degraded_clear_loss &&
      !(*p.degraded_clear_loss >= 0.0 && *p.degraded_clear_loss <= p.degraded_loss)) {
    return bad(fmt::format("degraded_clear_loss must satisfy 0 <= it <= degraded_loss, got {}",
                           *p.degraded_clear_loss));
  }
  if (p.degraded_clear_rtt_p95 && (p.degraded_clear_rtt_p95->count() <= 0 || !p.degraded_rtt_p95 ||
                                   *p.degraded_clear_rtt_p95 > *p.degraded_rtt_p95)) {
    return bad(
        "degraded_clear_rtt_p95 needs degraded_rtt_p95 and must be positive and not "
        "above it");
  }
  if (p.degraded_clear_rtt_mean &&
      (p.degraded_clear_rtt_mean->count() <= 0 || !p.degraded_rtt_mean ||
       *p.degraded_clear_rtt_mean > *p.degraded_rtt_mean)) {
    return bad("degraded_clear_rtt_mean needs degraded_rtt_mean and must be positive and not "
               "above it");
  }
  if (p.degraded_rtt_mean && p.degraded_rtt_mean->count() <= 0) {
    return bad("degraded_rtt_mean must be positive");
  }
  if (p.degraded_rtt_p95 && p.degraded_rtt_p95->count() <= 0) {
    return bad("degraded_rtt_p95 must be positive");
  }
  if (targets == 0) {
    return bad("a path needs at least one probe target");
  }
  if (p.quorum < 1 || p.quorum > targets) {
    return bad(fmt::format("quorum must be between 1 and the number of targets ({}), got {}",
                           targets, p.quorum));
  }
  if (!p.damping) {
    return ok();
  }
  if (p.half_life.count() <= 0) {
    return bad("damping half_life must be positive");
  }
  if (!(p.penalty > 0.0) || !(p.reuse > 0.0) || !(p.reuse < p.suppress)) {
    return bad(fmt::format(
        "damping needs penalty > 0 and 0 < reuse < suppress, got penalty {} reuse {} suppress {}",
        p.penalty, p.reuse, p.suppress));
  }
  // RFC 2439 §4.2: with the ceiling reuse * 2^(max_suppress / half_life) below `suppress`,
  // the path could never be suppressed at all, which is surely not what was meant.
  const double halvings = std::chrono::duration<double>(p.max_suppress).count() /
                          std::chrono::duration<double>(p.half_life).count();
  const double ceiling = p.reuse * std::exp2(halvings);
  if (!(ceiling > p.suppress)) {
    return bad(fmt::format(
        "damping max_suppress {} is too short: the penalty ceiling reuse*2^(max_suppress/"
        "half_life) = {:.0f} never exceeds suppress {}",
        formatDuration(p.max_suppress), ceiling, p.suppress));
  }
  return ok();
}

Result<LinkHealth> LinkHealth::create(const HealthParams& params, std::vector<std::string> targets,
                                      MonoTime now) {
  if (auto v = validateHealthParams(params, targets.size()); !v) {
    return fail(v.error());
  }
  return LinkHealth(params, std::move(targets), now);
}

LinkHealth::LinkHealth(const HealthParams& params, std::vector<std::string> targets, MonoTime now)
    : params_(params),
      min_samples_(std::min(params.min_samples, params.window)),
      penalty_ceiling_(0),
      since_(now),
      latest_(now),
      penalty_time_(now) {
  if (params_.damping) {
    // RFC 2439 §4.2: the ceiling that bounds suppression to max_suppress after the last flap.
    penalty_ceiling_ =
        params_.reuse * std::exp2(std::chrono::duration<double>(params_.max_suppress).count() /
                                  std::chrono::duration<double>(params_.half_life).count());
  }
  targets_.resize(targets.size());
  for (std::size_t i = 0; i < targets.size(); ++i) {
    Target& t = targets_[i];
    t.name = targets[i].empty() ? fmt::format("target #{}", i) : std::move(targets[i]);
    t.ring.assign(params_.window, 0);
    t.sorted_rtt.reserve(params_.window);
    t.last_error.reserve(64);
    t.since = now;
    t.reason = "no probe results yet";
  }
  raw_reason_ = "no probe results yet";
  reason_ = raw_reason_;
}

MonoTime LinkHealth::clampNow(MonoTime now) {
  if (now < latest_) {
    return latest_;
  }
  latest_ = now;
  return now;
}

// Records one result in the target's window. Lost probes are stored as -1 so that one ring
// holds both the loss pattern and the RTTs; the sorted copy of the answered RTTs makes every
// percentile an index lookup instead of a sort per result.
void LinkHealth::push(Target& t, const ProbeSample& s) {
  const std::int64_t value = s.ok ? std::max<std::int64_t>(0, s.rtt.count()) : -1;
  if (t.count == params_.window) {
    // Evict the oldest result, which sits in the slot about to be overwritten.
    const std::int64_t old = t.ring[t.head];
    if (old < 0) {
      --t.lost;
    } else {
      const auto it = std::lower_bound(t.sorted_rtt.begin(), t.sorted_rtt.end(), old);
      t.sorted_rtt.erase(it);
      t.rtt_sum -= old;
    }
    --t.count;
  }
  t.ring[t.head] = value;
  t.head = (t.head + 1) % params_.window;
  ++t.count;
  // The error text is copied into a buffer whose capacity is kept, so a steady stream of
  // "timeout" does not allocate.
  if (value < 0) {
    ++t.lost;
    t.consecutive_misses = saturatingIncrement(t.consecutive_misses);
    t.consecutive_successes = 0;
    t.last_error.assign(s.error.empty() ? std::string_view("no reply") : s.error);
  } else {
    t.sorted_rtt.insert(std::upper_bound(t.sorted_rtt.begin(), t.sorted_rtt.end(), value),
                        value);
    t.rtt_sum += value;
    t.consecutive_successes = saturatingIncrement(t.consecutive_successes);
    t.consecutive_misses = 0;
  }
}

// Keeps only the newest `rise` results (the answers that just brought the target back). See
// the header: the outage that just ended must not count as loss against the recovered link;
// flap memory lives in the damping penalty.
void LinkHealth::restartWindow(Target& t) {
  const std::size_t keep = std::min(t.count, static_cast<std::size_t>(params_.rise));
  t.count = keep;
  t.lost = 0;
  t.sorted_rtt.clear();
  t.rtt_sum = 0;
  for (std::size_t i = 0; i < keep; ++i) {
    const std::int64_t v = t.ring[(t.head + params_.window - 1 - i) % params_.window];
    if (v < 0) {
      ++t.lost;
    } else {
      t.sorted_rtt.push_back(v);
      t.rtt_sum += v;
    }
  }
  std::sort(t.sorted_rtt.begin(), t.sorted_rtt.end());
}

Measurement LinkHealth::measure(const Target& t) const {
  Measurement m;
  m.samples = t.count;
  m.lost = t.lost;
  m.loss = ratio(t.lost, t.count);
  m.rtt_samples = t.sorted_rtt.size();
  m.rtt_mean = meanOf(t.rtt_sum, t.sorted_rtt.size());
  m.rtt_p50 = Duration(percentile(t.sorted_rtt, 50));
  m.rtt_p95 = Duration(percentile(t.sorted_rtt, 95));
  m.rtt_p99 = Duration(percentile(t.sorted_rtt, 99));
  m.consecutive_misses = t.consecutive_misses;
  m.consecutive_successes = t.consecutive_successes;
  m.last_error = t.last_error;
  return m;
}

// The path-wide view for stats() and tick() transitions: loss over all targets' results and
// RTT percentiles over the union of their answers. Allocates; never on the per-result path
// unless the state changed.
Measurement LinkHealth::aggregate() const {
  if (targets_.size() == 1) {
    return measure(targets_[0]);
  }
  Measurement m;
  std::vector<std::int64_t> all;
  std::int64_t sum = 0;
  m.consecutive_successes = INT_MAX;
  for (const Target& t : targets_) {
    m.samples += t.count;
    m.lost += t.lost;
    all.insert(all.end(), t.sorted_rtt.begin(), t.sorted_rtt.end());
    sum += t.rtt_sum;
    m.consecutive_misses = std::max(m.consecutive_misses, t.consecutive_misses);
    m.consecutive_successes = std::min(m.consecutive_successes, t.consecutive_successes);
    if (!t.last_error.empty()) {
      m.last_error = t.last_error;
    }
  }
  std::sort(all.begin(), all.end());
  m.loss = ratio(m.lost, m.samples);
  m.rtt_samples = all.size();
  m.rtt_mean = meanOf(sum, all.size());
  m.rtt_p50 = Duration(percentile(all, 50));
  m.rtt_p95 = Duration(percentile(all, 95));
  m.rtt_p99 = Duration(percentile(all, 99));
  return m;
}

namespace {

struct Verdict {
  PathState state;
  Cause cause;
};

}  // namespace

// Up or Degraded for a target that is usable (not Down by misses or loss). Loss is checked
// before latency because it is the stronger signal: a lossy link is degraded whatever its RTT.
PathState LinkHealth::classifyUsable(const Target& t, std::string* why) const {
  // `why` non-null: render the reason for the verdict (only on a change).
  const bool enough = t.count >= min_samples_;
  const double loss = ratio(t.lost, t.count);
  // A Degraded target is held to the (lower) clear thresholds: see the header, hysteresis.
  const bool degraded = t.state == PathState::Degraded;
  const double loss_limit = degraded ? params_.clearLoss() : params_.degraded_loss;
  if ((enough && loss > loss_limit) || (degraded && t.clean_run < params_.window)) {
    if (why != nullptr) {
      *why = fmt::format("loss {} over {} probes above the degraded threshold {} ({})",
                         percent(loss), t.count, percent(params_.degraded_loss),
                         describe(measure(t), Part::Rtt | Part::Error));
    }
    return PathState::Degraded;
  }
  const bool enough_rtt = t.sorted_rtt.size() >= min_samples_;
  const std::optional<Duration> mean_limit =
      degraded ? params_.clearRttMean() : params_.degraded_rtt_mean;
  if (mean_limit && enough_rtt) {
    const Duration mean = meanOf(t.rtt_sum, t.sorted_rtt.size());
    if (mean > *mean_limit) {
      if (why != nullptr) {
        const Measurement m = measure(t);
        *why = fmt::format(
            "rtt mean {} above the degraded threshold {} (loss {} over {}, rtt "
            "p50 {} p95 {})",
            millis(mean), millis(*params_.degraded_rtt_mean), percent(m.loss), m.samples,
            millis(m.rtt_p50), millis(m.rtt_p95));
      }
      return PathState::Degraded;
    }
  }
  const std::optional<Duration> rtt_limit =
      degraded ? params_.clearRttP95() : params_.degraded_rtt_p95;
  if (rtt_limit && enough_rtt) {
    const Duration p95(percentile(t.sorted_rtt, 95));
    if (p95 > *rtt_limit || (degraded && t.clean_run < params_.window)) {
      if (why != nullptr) {
        const Measurement m = measure(t);
        *why = fmt::format(
            "rtt p95 {} above the degraded threshold {} (loss {} over {}, rtt "
            "p50 {} p99 {})",
            millis(p95), millis(*params_.degraded_rtt_p95), percent(m.loss), m.samples,
            millis(m.rtt_p50), millis(m.rtt_p99));
      }
      return PathState::Degraded;
    }
  }
  return PathState::Up;
}

// Loss, RTT mean and RTT p95 of the window at or below the clear (hysteresis) thresholds.
// The RTT checks apply once min_samples answered results are in.
bool LinkHealth::withinClear(const Target& t) const {
  if (ratio(t.lost, t.count) > params_.clearLoss()) {
    return false;
  }
  const bool enough_rtt = t.sorted_rtt.size() >= min_samples_;
  if (enough_rtt && params_.clearRttMean() &&
      meanOf(t.rtt_sum, t.sorted_rtt.size()) > *params_.clearRttMean()) {
    return false;
  }
  if (enough_rtt && params_.clearRttP95() &&
      Duration(percentile(t.sorted_rtt, 95)) > *params_.clearRttP95()) {
    return false;
  }
  return true;
}

// The per-target state machine (see the header for the rules). Only counters are read here;
// the reason text is rendered after the state is known to have changed.
bool LinkHealth::evaluate(Target& t, MonoTime now) {
  const bool enough = t.count >= min_samples_;
  const double loss = ratio(t.lost, t.count);
  if (t.state == PathState::Degraded) {
    // Hysteresis: count the results in a row whose window is clean (see the header).
    t.clean_run = enough && withinClear(t) ? t.clean_run + 1 : 0;
  } else {
    t.clean_run = 0;
  }
  Verdict v{t.state, Cause::Stay};
  const auto usable = [&](Cause up_cause) {
    const PathState s = classifyUsable(t, nullptr);
    if (s == PathState::Degraded) {
      return Verdict{s, Cause::Healthy};
    }
    return Verdict{s, up_cause};
  };
  switch (t.state) {
    case PathState::Unknown:
      // Start-up: decide as soon as there is evidence either way, and at the latest once
      // min_samples results are in, so that an alternating hit/miss pattern cannot keep the
      // target Unknown for ever.
      if (t.consecutive_misses >= params_.fall) {
        v = {PathState::Down, Cause::Misses};
      } else if (enough && loss > params_.down_loss) {
        v = {PathState::Down, Cause::Loss};
      } else if (t.consecutive_successes >= params_.rise) {
        v = usable(Cause::Rise);
      } else if (enough) {
        v = usable(Cause::Healthy);
      }
      break;
    case PathState::Down:
      // Only `rise` consecutive answers bring a Down target back; loss figures are not
      // consulted, since the window is full of the outage.
      if (t.consecutive_successes >= params_.rise) {
        restartWindow(t);
        v = t.down_from_degraded ? Verdict{PathState::Degraded, Cause::Rise} : usable(Cause::Rise);
      }
      break;
    case PathState::Up:
    case PathState::Degraded:
      if (t.consecutive_misses >= params_.fall) {
        v = {PathState::Down, Cause::Misses};
      } else if (enough && loss > params_.down_loss) {
        v = {PathState::Down, Cause::Loss};
      } else {
        v = usable(Cause::Healthy);
      }
      break;
  }
  if (v.state == t.state) {
    return false;
  }

  // A change: render its reason from the measured values.
  const Measurement m = measure(t);
  switch (v.state) {
    case PathState::Down:
      if (v.cause == Cause::Misses) {
        t.reason = fmt::format("{} consecutive probes lost ({})", m.consecutive_misses,
                               describe(m, Part::Loss | Part::Rtt | Part::Error));
      } else {
        t.reason = fmt::format("loss {} over {} probes above the down threshold {} ({})",
                               percent(m.loss), m.samples, percent(params_.down_loss),
                               describe(m, Part::Misses | Part::Rtt | Part::Error));
      }
      break;
    case PathState::Degraded:
      if (t.state == PathState::Down && t.down_from_degraded && v.cause == Cause::Rise) {
        t.reason = fmt::format(
            "{} consecutive probes answered, but it was degraded before it "
            "went down: degraded until its loss stays at or below {} for a "
            "whole window ({})",
            m.consecutive_successes, percent(params_.clearLoss()),
            describe(m, Part::Loss | Part::Rtt));
      } else {
        classifyUsable(t, &t.reason);
      }
      break;
    case PathState::Up:
      if (v.cause == Cause::Rise) {
        t.reason = fmt::format("{} consecutive probes answered ({})", m.consecutive_successes,
                               describe(m, Part::Loss | Part::Rtt));
      } else {
        if (t.state == PathState::Degraded) {
          t.reason = fmt::format(
              "{} clean again (at or below loss {}{}{}; degraded above {})",
              describe(m, Part::Loss | Part::Rtt), percent(params_.clearLoss()),
              params_.clearRttMean() ? " and rtt mean " + millis(*params_.clearRttMean())
                                     : std::string(),
              params_.clearRttP95() ? " and rtt p95 " + millis(*params_.clearRttP95())
                                    : std::string(),
              percent(params_.degraded_loss));
        } else {
          t.reason = fmt::format(
              "{} within limits (degraded above loss {}{}{})", describe(m, Part::Loss | Part::Rtt),
              percent(params_.degraded_loss),
              params_.degraded_rtt_mean ? " or rtt mean " + millis(*params_.degraded_rtt_mean)
                                        : std::string(),
              params_.degraded_rtt_p95 ? " or rtt p95 " + millis(*params_.degraded_rtt_p95)
                                       : std::string());
        }
      }
      break;
    case PathState::Unknown:
      break;  // never re-entered
  }

  // Keep the per-state target counts current so that derivePathState() is O(1).
  const auto bucket = [this](PathState s) -> std::size_t* {
    switch (s) {
      case PathState::Up:
        return &count_up_;
      case PathState::Degraded:
        return &count_degraded_;
      case PathState::Down:
        return &count_down_;
      case PathState::Unknown:
        break;
    }
    return nullptr;
  };
  if (std::size_t* b = bucket(t.state)) {
    --*b;
  }
  if (std::size_t* b = bucket(v.state)) {
    ++*b;
  }
  if (v.state == PathState::Down) {
    t.down_from_degraded = t.state == PathState::Degraded;
  }
  t.state = v.state;
  t.since = now;
  return true;
}

// Quorum: the path is as good as its quorum-th best target. Down only once the quorum is out
// of reach (more than n - q targets Down); until then, with targets still Unknown, the path
// stays Unknown rather than guessing.
// A Down target whose latest probe was answered (it is earning its `rise`) is no evidence that
// the path is down: with two targets and random loss, A's run of misses and then B's, starting
// before A has answered `rise` times, would otherwise take the path down though every round
// had an answer. While the quorum is out of reach only with such targets counted, the path
// keeps its state; it goes Down once enough Down targets have lost their latest probe (a real
// outage: all of them at once), and Up/Degraded once enough targets are usable again.
PathState LinkHealth::derivePathState() const {
  const std::size_t n = targets_.size();
  const std::size_t q = params_.quorum;
  if (count_up_ >= q) {
    return PathState::Up;
  }
  if (count_up_ + count_degraded_ >= q) {
    return PathState::Degraded;
  }
  if (count_down_ > n - q) {
    const auto failing = static_cast<std::size_t>(std::count_if(
        targets_.begin(), targets_.end(),
        [](const Target& t) { return t.state == PathState::Down && t.consecutive_misses > 0; }));
    return failing > n - q ? PathState::Down : raw_state_;
  }
  return PathState::Unknown;
}

std::string LinkHealth::pathReason(const Target* trigger) const {
  if (targets_.size() == 1) {
    return targets_[0].reason;
  }
  const std::size_t n = targets_.size();
  const std::size_t q = params_.quorum;
  std::string head;
  switch (raw_state_) {
    case PathState::Up:
      head = fmt::format("{} of {} targets up (quorum {})", count_up_, n, q);
      break;
    case PathState::Degraded:
      head = fmt::format("{} of {} targets usable, {} up (quorum {})", count_up_ + count_degraded_,
                         n, count_up_, q);
      break;
    case PathState::Down:
      head = fmt::format("{} of {} targets down, quorum {} cannot be met", count_down_, n, q);
      break;
    case PathState::Unknown:
      head = fmt::format("waiting for probe results ({} of {} targets known, quorum {})",
                         count_up_ + count_degraded_ + count_down_, n, q);
      break;
  }
  if (trigger != nullptr && trigger->state != PathState::Unknown) {
    head +=
        fmt::format("; {} {}: {}", trigger->name, pathStateName(trigger->state), trigger->reason);
  }
  return head;
}

double LinkHealth::decayed(MonoTime now) const {
  if (penalty_ <= 0.0) {
    return 0.0;
  }
  const double elapsed =
      std::chrono::duration<double>(std::max(Duration(0), now - penalty_time_)).count();
  // RFC 2439 §4.1: exponential decay, the penalty halving every half-life.
  return penalty_ * std::exp2(-elapsed / std::chrono::duration<double>(params_.half_life).count());
}

double LinkHealth::penaltyAt(MonoTime now) const { return decayed(now); }

std::optional<MonoTime> LinkHealth::reuseTime() const {
  if (!suppressed_) {
    return std::nullopt;
  }
  // penalty * 2^(-t/half_life) = reuse  =>  t = half_life * log2(penalty / reuse).
  const double t = std::chrono::duration<double>(params_.half_life).count() *
                   std::log2(penalty_ / params_.reuse);
  return penalty_time_ +
         std::chrono::ceil<Duration>(std::chrono::duration<double>(std::max(0.0, t)));
}

// Folds a (possible) target change into the path: raw state from the quorum, damping penalty
// on usable -> Down, suppression and release, then the reported state and its reason.
void LinkHealth::settle(MonoTime now, const Target* trigger, bool target_changed, Transition& tr) {
  const PathState old_state = state_;
  const bool was_suppressed = suppressed_;
  bool raw_changed = false;
  bool newly_suppressed = false;

  if (target_changed) {
    const PathState raw = derivePathState();
    raw_changed = raw != raw_state_;
    const PathState old_raw = raw_state_;
    raw_state_ = raw;
    raw_reason_ = pathReason(trigger);
    if (raw_changed && params_.damping && isUsable(old_raw) && raw == PathState::Down) {
      // RFC 2439 §4.2: each withdrawal (here: usable -> Down) adds a fixed penalty to the
      // decayed figure, bounded by the ceiling.
      penalty_ = std::min(decayed(now) + params_.penalty, penalty_ceiling_);
      penalty_time_ = now;
      if (!suppressed_ && penalty_ > params_.suppress) {
        suppressed_ = true;
        newly_suppressed = true;
      }
    }
  }
  // RFC 2439 §4.3: a suppressed route is reused once its decayed penalty falls to the reuse
  // threshold. Checked on every call, so a steady probe stream releases the path on time even
  // if the engine's tick() timer fires late.
  const double penalty_now = decayed(now);
  const bool released =
      suppressed_ && !newly_suppressed && penalty_now <= params_.reuse * (1.0 + kReuseSlack);
  if (released) {
    suppressed_ = false;
  }
  state_ = suppressed_ ? PathState::Down : raw_state_;

  tr.from = old_state;
  tr.to = state_;
  tr.changed = state_ != old_state;
  tr.suppressed = suppressed_;
  tr.suppression_changed = suppressed_ != was_suppressed;
  tr.penalty = penalty_now;

  const bool reason_changed = tr.changed || tr.suppression_changed || raw_changed;
  if (reason_changed) {
    if (newly_suppressed) {
      reason_ = fmt::format(
          "{}; suppressed by flap damping: penalty {:.0f} above the suppress threshold {:.0f}, "
          "released when it decays to {:.0f} (in {})",
          raw_reason_, penalty_now, params_.suppress, params_.reuse,
          secondsText(*reuseTime() - now));
    } else if (suppressed_) {
      reason_ = fmt::format(
          "{}; held down by flap damping: penalty {:.0f}, released when it decays to {:.0f} "
          "(in {})",
          raw_reason_, penalty_now, params_.reuse, secondsText(*reuseTime() - now));
    } else if (released) {
      reason_ = fmt::format(
          "flap damping released: penalty {:.0f} decayed to the reuse "
          "threshold {:.0f}; {}",
          penalty_now, params_.reuse, raw_reason_);
    } else {
      reason_ = raw_reason_;
    }
  }
  if (tr.changed) {
    since_ = now;
    if (!isUsable(state_)) {
      usable_since_.reset();
    } else if (!isUsable(old_state)) {
      usable_since_ = now;
    }
  }
  if (tr.changed || tr.suppression_changed) {
    tr.reason = reason_;
    tr.measured = trigger != nullptr ? measure(*trigger) : aggregate();
  }
}

Transition LinkHealth::onProbeResult(const ProbeSample& sample, MonoTime now) {
  PP_CHECK_MSG(sample.target < targets_.size(), "probe sample for a target the path lacks");
  now = clampNow(now);
  Target& t = targets_[sample.target];
  push(t, sample);
  const bool target_changed = evaluate(t, now);
  // A Down target's latest result also counts for the path while the quorum is out of reach
  // (derivePathState): re-derive then, not only when a target changes state.
  const bool rederive = target_changed || (t.state == PathState::Down &&
                                           count_down_ > targets_.size() - params_.quorum);
  Transition tr;
  settle(now, &t, rederive, tr);
  tr.clean_changed = updateClean(t, now);
  return tr;
}

// A target is clean from the first result at which it is Up with a full window at or below
// the clear (hysteresis) thresholds, until a result breaks that; the path is clean once
// `quorum` targets are, from the latest of those, and never before it entered Up. Up alone is
// not enough: a target that went Down from Up comes back Up with a fresh window, and on a link
// losing ~30% that window fills at 26-30% (Up, under the 30% degraded threshold) often enough
// that a failback hold-down would pass now and then (found in the lab with two targets and
// quorum 1: a table moved off a lossy DX, back and off again within a minute).
bool LinkHealth::updateClean(Target& t, MonoTime now) {
  if (t.state == PathState::Up && t.count >= params_.window && withinClear(t)) {
    if (!t.clean_since) {
      t.clean_since = now;
    }
  } else {
    t.clean_since.reset();
  }
  return refreshPathClean();
}

bool LinkHealth::refreshPathClean() {
  std::optional<MonoTime> path;
  if (state_ == PathState::Up) {
    // The quorum-th earliest clean target, without allocating (this runs per result).
    std::optional<MonoTime> q;
    std::size_t n = 0;
    for (const Target& x : targets_) {
      n += x.state == PathState::Up && x.clean_since ? 1 : 0;
    }
    if (n >= params_.quorum) {
      // Smallest time T such that at least `quorum` targets are clean since T or earlier.
      for (const Target& x : targets_) {
        if (x.state != PathState::Up || !x.clean_since) {
          continue;
        }
        std::size_t at_or_before = 0;
        for (const Target& y : targets_) {
          at_or_before +=
              y.state == PathState::Up && y.clean_since && *y.clean_since <= *x.clean_since;
        }
        if (at_or_before >= params_.quorum && (!q || *x.clean_since < *q)) {
          q = x.clean_since;
        }
      }
      path = std::max(*q, since_);
    }
  }
  const bool changed = path.has_value() != clean_since_.has_value();
  clean_since_ = path;
  return changed;
}

Transition LinkHealth::tick(MonoTime now) {
  now = clampNow(now);
  Transition tr;
  settle(now, nullptr, false, tr);
  tr.clean_changed = refreshPathClean();
  return tr;
}

Stats LinkHealth::stats(MonoTime now) const {
  Stats s;
  s.state = state_;
  s.raw_state = raw_state_;
  s.since = since_;
  s.usable_since = usable_since_;
  s.clean_since = clean_since_;
  s.reason = reason_;
  s.measured = aggregate();
  s.penalty = decayed(std::max(now, latest_));
  s.suppressed = suppressed_;
  s.reuse_at = reuseTime();
  s.targets.reserve(targets_.size());
  for (const Target& t : targets_) {
    s.targets.push_back({t.name, t.state, t.since, t.reason, measure(t)});
  }
  return s;
}

}  // namespace pathpilot::health
