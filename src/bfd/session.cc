// bfd/session.cc — the RFC 5880 §6.8 procedures for one session.
#include "bfd/session.h"

#include <algorithm>
#include <limits>
#include <string>
#include <utility>

#include "base/check.h"

namespace pathpilot::bfd {
namespace {

constexpr std::int64_t kMaxIntervalUs = std::numeric_limits<std::uint32_t>::max();

std::uint32_t toUs(Duration d) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return static_cast<std::uint32_t>(std::clamp<std::int64_t>(us, 0, kMaxIntervalUs));
}

Duration fromUs(std::uint32_t us) { return std::chrono::microseconds(us); }

Duration wholeUs(Duration d) { return std::chrono::duration_cast<std::chrono::microseconds>(d); }

Result<void> validateTimers(const Timers& t) {
  const auto bad = [](const std::string& msg) {
    return fail(ErrorCode::InvalidArgument, "BFD session: " + msg);
  };
  const auto in_range = [](Duration d) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
    return us >= 1 && us <= kMaxIntervalUs;
  };
  if (!in_range(t.desired_min_tx)) {
    return bad("desired_min_tx must be between 1us and 4294967295us, got " +
               formatDuration(t.desired_min_tx));
  }
  if (!in_range(t.required_min_rx)) {
    return bad("required_min_rx must be between 1us and 4294967295us, got " +
               formatDuration(t.required_min_rx));
  }
  if (t.detect_mult == 0) {
    return bad("detect_mult must be at least 1, got 0");
  }
  return ok();
}

// Contents that make a packet worth sending between periodic ones (§6.8.7, "SHOULD be
// transmitted ... when the contents ... would differ"). Intervals and Detect Mult are left
// out: their changes travel on the periodic packets (§6.5, §6.8.12).
bool urgentDifference(const ControlPacket& a, const ControlPacket& b) {
  return a.state != b.state || a.diag != b.diag || a.your_discriminator != b.your_discriminator;
}

// Everything but P, F and the authentication section (Keyed MD5/SHA1 sequence rule).
bool contentDiffers(const ControlPacket& a, const ControlPacket& b) {
  ControlPacket x = a;
  ControlPacket y = b;
  x.poll = y.poll = false;
  x.final = y.final = false;
  x.auth.reset();
  y.auth.reset();
  return x != y;
}

}  // namespace

std::uint64_t SessionStats::droppedTotal() const {
  std::uint64_t sum = 0;
  for (auto n : drops) {
    sum += n;
  }
  return sum;
}

Result<void> validateSessionConfig(const SessionConfig& config) {
  if (config.local_discriminator == 0) {
    return fail(ErrorCode::InvalidArgument, "BFD session: local_discriminator must be nonzero");
  }
  if (auto t = validateTimers(config.timers); !t) {
    return t;
  }
  if (config.auth) {
    if (auto a = validateAuthKey(*config.auth); !a) {
      return a;
    }
  }
  return ok();
}

Result<Session> Session::create(const SessionConfig& config, RandomSource random, MonoTime now) {
  if (auto v = validateSessionConfig(config); !v) {
    return fail(v.error());
  }
  if (!random) {
    return fail(ErrorCode::InvalidArgument, "BFD session: no random source");
  }
  return Session(config, std::move(random), now);
}

Session::Session(const SessionConfig& config, RandomSource random, MonoTime now)
    : config_(config), random_(std::move(random)), latest_(now) {
  config_.timers.desired_min_tx = wholeUs(config_.timers.desired_min_tx);
  config_.timers.required_min_rx = wholeUs(config_.timers.required_min_rx);
  if (config_.admin_down) {
    state_ = State::AdminDown;
    diag_ = Diag::AdministrativelyDown;
  }
  // Nothing has been advertised yet, so the first values need no Poll Sequence.
  tx_in_use_ = acked_tx_ = advertisedMinTx();
  rx_in_use_ = acked_rx_ = advertisedMinRx();
  // §6.8.1: bfd.XmitAuthSeq starts at a random value.
  xmit_auth_seq_ = random_();
  next_tx_ = now;
  scheduled_interval_ = transmitInterval();
}

Duration Session::advertisedMinTx() const {
  // §6.8.3: at least one second while not Up.
  return state_ == State::Up ? config_.timers.desired_min_tx
                             : std::max(kSlowTxInterval, config_.timers.desired_min_tx);
}

Duration Session::transmitInterval() const { return std::max(tx_in_use_, remote_min_rx_); }

std::optional<Duration> Session::detectionTime() const {
  if (remote_detect_mult_ == 0) {
    return std::nullopt;
  }
  // §6.8.4, Asynchronous mode.
  return remote_detect_mult_ * std::max(rx_in_use_, remote_desired_tx_);
}

std::optional<MonoTime> Session::nextDeadline() const {
  std::optional<MonoTime> next = detect_deadline_;
  if (next_tx_ && periodicAllowed()) {
    next = next ? std::min(*next, *next_tx_) : *next_tx_;
  }
  return next;
}

MonoTime Session::clampNow(MonoTime now) {
  latest_ = std::max(latest_, now);
  return latest_;
}

Step Session::finish(Step step, MonoTime now) {
  service(step, now);
  step.next_deadline = nextDeadline();
  return step;
}

void Session::drop(Step& step, DropReason reason) {
  step.dropped = reason;
  ++stats_.drops[static_cast<std::size_t>(reason)];
}

void Session::setState(Step& step, State to, Diag diag) {
  if (to == state_) {
    return;
  }
  const State from = state_;
  state_ = to;
  diag_ = diag;
  ++stats_.state_changes;
  // A second change in one call (it does not happen in §6.8.6, but keep the first origin).
  step.change = StateChange{step.change ? step.change->from : from, to, diag};
  applyAdvertised();
}

void Session::applyAdvertised() {
  const Duration tx = advertisedMinTx();
  const Duration rx = advertisedMinRx();
  if (state_ != State::Up) {
    // §6.8.3 holds changes back only while Up.
    tx_in_use_ = tx;
    rx_in_use_ = rx;
  } else {
    // §6.8.3: an increased DesiredMinTx waits for the Final, a reduced RequiredMinRx is not
    // used for the Detection Time before it; the opposite changes apply at once.
    if (tx < tx_in_use_) {
      tx_in_use_ = tx;
    }
    if (rx > rx_in_use_) {
      rx_in_use_ = rx;
    }
  }
  reschedule();
  if (last_rx_) {
    if (auto dt = detectionTime(); dt && detect_deadline_) {
      detect_deadline_ = *last_rx_ + *dt;
    }
  }
}

// The transmit interval changed (or may have): the next periodic packet is due one jittered
// new interval after the last one. For a shorter interval this is §6.8.3's "cannot wait
// longer than the new interval"; for a longer one §6.8.7's minimum spacing.
void Session::reschedule() {
  const Duration interval = transmitInterval();
  if (interval == scheduled_interval_) {
    return;
  }
  scheduled_interval_ = interval;
  if (last_tx_) {
    next_tx_ = *last_tx_ + jittered(interval);
  }
}

Duration Session::jittered(Duration interval) {
  // §6.8.7: reduce by a random 0–25%; with bfd.DetectMult 1, by 10–25% (at most 90%).
  const double unit = static_cast<double>(random_()) / 4294967296.0;  // [0, 1)
  const double cut = config_.timers.detect_mult == 1 ? 0.10 + 0.15 * unit : 0.25 * unit;
  const auto reduce = static_cast<std::int64_t>(static_cast<double>(interval.count()) * cut);
  return interval - Duration(reduce);
}

bool Session::remoteDemandActive() const {
  return remote_demand_ && state_ == State::Up && remote_state_ == State::Up;
}

bool Session::mayTransmit() const {
  // §6.8.7: a Passive system stays silent until it knows the peer's discriminator.
  return !(config_.role == Role::Passive && remote_discr_ == 0);
}

bool Session::periodicAllowed() const {
  if (!mayTransmit()) {
    return false;
  }
  // §6.8.7: no periodic packets when the peer wants none, nor while its Demand mode is active
  // unless a Poll Sequence is being sent.
  if (remote_min_rx_.count() == 0) {
    return false;
  }
  return !remoteDemandActive() || wantPoll();
}

bool Session::wantPoll() const {
  if (poll_active_) {
    return true;
  }
  if (await_plain_) {
    return false;
  }
  return advertisedMinTx() != acked_tx_ || advertisedMinRx() != acked_rx_;
}

Transmit Session::build(bool final) {
  ControlPacket p;
  p.diag = diag_;
  p.state = state_;
  // §6.5: never P and F together; a Final goes out with P clear.
  p.poll = !final && wantPoll();
  p.final = final;
  p.detect_mult = config_.timers.detect_mult;
  p.my_discriminator = config_.local_discriminator;
  p.your_discriminator = remote_discr_;
  p.desired_min_tx_us = toUs(advertisedMinTx());
  p.required_min_rx_us = toUs(advertisedMinRx());
  p.required_min_echo_rx_us = 0;  // no Echo function
  if (p.poll && !poll_active_) {
    poll_active_ = true;
    poll_tx_ = advertisedMinTx();
    poll_rx_ = advertisedMinRx();
    ++stats_.polls_started;
  }
  if (config_.auth) {
    const AuthKey& key = *config_.auth;
    if (isKeyed(key.type) && last_sent_ &&
        (isMeticulous(key.type) || contentDiffers(p, *last_sent_))) {
      // §6.7.3/§6.7.4: Meticulous increments on every packet; Keyed when the contents change.
      ++xmit_auth_seq_;
    }
    p.auth = authSectionFor(key, xmit_auth_seq_);
  }
  Transmit t;
  t.size = encode(p, t.bytes);
  if (config_.auth) {
    sign(std::span<std::uint8_t>(t.bytes.data(), t.size), *config_.auth);
  }
  t.packet = p;
  return t;
}

void Session::service(Step& step, MonoTime now) {
  if (!mayTransmit()) {
    final_owed_ = false;
    return;
  }
  bool final = false;
  bool send = false;
  if (final_owed_) {
    // §6.8.7: answer a Poll at once, whatever the timers.
    final = true;
    send = true;
  } else if (!last_sent_) {
    send = next_tx_ && now >= *next_tx_;
  } else {
    ControlPacket now_packet = *last_sent_;
    now_packet.state = state_;
    now_packet.diag = diag_;
    now_packet.your_discriminator = remote_discr_;
    send = urgentDifference(now_packet, *last_sent_) ||
           (periodicAllowed() && next_tx_ && now >= *next_tx_);
  }
  if (!send) {
    return;
  }
  final_owed_ = false;
  Transmit t = build(final);
  ++stats_.tx_packets;
  if (final) {
    ++stats_.tx_finals;
  }
  last_sent_ = t.packet;
  last_tx_ = now;
  scheduled_interval_ = transmitInterval();
  next_tx_ = now + jittered(scheduled_interval_);
  step.transmit = std::move(t);
}

std::optional<DropReason> Session::checkAuth(const ControlPacket& packet,
                                             std::span<const std::uint8_t> payload, MonoTime now) {
  // §6.8.6: the A bit must match whether authentication is in use.
  if (!config_.auth) {
    return packet.auth ? std::optional(DropReason::AuthUnexpected) : std::nullopt;
  }
  if (!packet.auth) {
    return DropReason::AuthMissing;
  }
  const AuthKey& key = *config_.auth;
  const AuthSection& a = *packet.auth;
  if (a.type != key.type) {
    return DropReason::AuthType;
  }
  if (a.key_id != key.key_id) {
    return DropReason::AuthKeyId;
  }
  if (isKeyed(key.type)) {
    // §6.8.1: bfd.AuthSeqKnown is forgotten after twice the Detection Time without packets,
    // so a restarted peer (new random sequence) can come back.
    if (auth_seq_known_ && last_rx_) {
      const auto dt = detectionTime();
      if (dt && now - *last_rx_ >= 2 * *dt) {
        auth_seq_known_ = false;
      }
    }
    if (auth_seq_known_ &&
        !sequenceInWindow(key.type, rcv_auth_seq_, a.sequence, packet.detect_mult)) {
      return DropReason::AuthSequence;
    }
  }
  if (auto bad = verify(payload, packet, key)) {
    return bad;
  }
  if (isKeyed(key.type)) {
    auth_seq_known_ = true;
    rcv_auth_seq_ = a.sequence;
  }
  return std::nullopt;
}

Step Session::onPacket(std::span<const std::uint8_t> payload, MonoTime now,
                       std::optional<std::uint8_t> ttl) {
  auto packet = decode(payload);
  if (!packet) {
    now = clampNow(now);
    ++stats_.rx_packets;
    Step step;
    drop(step, packet.error().reason);
    return finish(std::move(step), now);
  }
  return onDecoded(*packet, payload, now, ttl);
}

Step Session::onDecoded(const ControlPacket& packet, std::span<const std::uint8_t> payload,
                        MonoTime now, std::optional<std::uint8_t> ttl) {
  now = clampNow(now);
  ++stats_.rx_packets;
  Step step;
  // RFC 5881 §5 / RFC 5883 §5: TTL / Hop Limit.
  if (ttl) {
    const bool ttl_ok =
        config_.hop == Hop::Single ? *ttl == kSingleHopTtl : *ttl >= config_.min_ttl;
    if (!ttl_ok) {
      drop(step, DropReason::Ttl);
      return finish(std::move(step), now);
    }
  }
  // §6.8.6: a nonzero Your Discriminator selects the session; it must be ours.
  if (packet.your_discriminator != 0 && packet.your_discriminator != config_.local_discriminator) {
    drop(step, DropReason::WrongSession);
    return finish(std::move(step), now);
  }
  if (auto bad = checkAuth(packet, payload, now)) {
    drop(step, *bad);
    return finish(std::move(step), now);
  }

  // §6.8.6: the packet is authentic; take the peer's variables.
  if (remote_discr_ != 0 && remote_discr_ != packet.my_discriminator) {
    step.remote_discriminator_changed = true;
  }
  remote_discr_ = packet.my_discriminator;
  remote_state_ = packet.state;
  remote_diag_ = packet.diag;
  remote_demand_ = packet.demand;
  remote_min_rx_ = fromUs(packet.required_min_rx_us);
  remote_desired_tx_ = fromUs(packet.desired_min_tx_us);
  remote_detect_mult_ = packet.detect_mult;

  if (packet.final && poll_active_) {
    // §6.5: the Poll Sequence ends; the timers it carried are in force (§6.8.3). If they
    // changed again during the sequence, the newer ones wait for a new sequence.
    poll_active_ = false;
    acked_tx_ = poll_tx_;
    acked_rx_ = poll_rx_;
    if (poll_tx_ == advertisedMinTx()) {
      tx_in_use_ = poll_tx_;
    }
    if (poll_rx_ == advertisedMinRx()) {
      rx_in_use_ = poll_rx_;
    }
    await_plain_ = true;
    ++stats_.polls_completed;
    step.poll_completed = true;
  } else if (!packet.final) {
    await_plain_ = false;
  }
  // Update the transmit interval (§6.8.2) and the Detection Time (§6.8.4).
  reschedule();

  if (state_ == State::AdminDown) {
    drop(step, DropReason::AdminDown);
    return finish(std::move(step), now);
  }
  ++stats_.rx_accepted;

  if (packet.state == State::AdminDown) {
    if (state_ != State::Down) {
      setState(step, State::Down, Diag::NeighborSignaledDown);
    }
  } else if (state_ == State::Down) {
    if (packet.state == State::Down) {
      setState(step, State::Init, diag_);
    } else if (packet.state == State::Init) {
      setState(step, State::Up, Diag::None);
    }
  } else if (state_ == State::Init) {
    if (packet.state == State::Init || packet.state == State::Up) {
      setState(step, State::Up, Diag::None);
    }
  } else if (packet.state == State::Down) {  // Up
    setState(step, State::Down, Diag::NeighborSignaledDown);
  }

  if (packet.poll) {
    final_owed_ = true;
  }
  // The packet counts for the Detection Time (§6.8.6, last rule).
  last_rx_ = now;
  if (auto dt = detectionTime()) {
    detect_deadline_ = now + *dt;
  }
  return finish(std::move(step), now);
}

Step Session::tick(MonoTime now) {
  now = clampNow(now);
  Step step;
  if (detect_deadline_ && now >= *detect_deadline_) {
    // §6.8.4 and §6.8.1: the peer is gone; forget its discriminator.
    detect_deadline_.reset();
    remote_discr_ = 0;
    remote_state_ = State::Down;
    remote_demand_ = false;
    if (state_ == State::Init || state_ == State::Up) {
      ++stats_.detection_timeouts;
      setState(step, State::Down, Diag::ControlDetectionTimeExpired);
    }
  }
  return finish(std::move(step), now);
}

Step Session::setAdminDown(bool down, MonoTime now, Diag diag) {
  now = clampNow(now);
  Step step;
  if (down && state_ != State::AdminDown) {
    setState(step, State::AdminDown, diag);
  } else if (!down && state_ == State::AdminDown) {
    setState(step, State::Down, Diag::None);
  }
  return finish(std::move(step), now);
}

Result<Step> Session::setTimers(const Timers& timers, MonoTime now) {
  if (auto v = validateTimers(timers); !v) {
    return fail(v.error());
  }
  now = clampNow(now);
  config_.timers.desired_min_tx = wholeUs(timers.desired_min_tx);
  config_.timers.required_min_rx = wholeUs(timers.required_min_rx);
  config_.timers.detect_mult = timers.detect_mult;
  applyAdvertised();
  return finish(Step{}, now);
}

}  // namespace pathpilot::bfd
