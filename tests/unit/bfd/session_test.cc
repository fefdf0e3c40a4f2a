// Tests for bfd::Session: two sessions on a simulated wire (injected time, fixed latency, no
// sleeps), and one session driven packet by packet by a scripted peer.
#include "bfd/session.h"

#include <deque>
#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pathpilot::bfd {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;

const MonoTime kT0 = MonoTime() + std::chrono::hours(1);

// Deterministic random numbers (a fixed-seed Mersenne Twister), or a constant.
RandomSource seeded(std::uint32_t seed) {
  auto engine = std::make_shared<std::mt19937>(seed);
  return [engine] { return static_cast<std::uint32_t>((*engine)()); };
}
RandomSource constant(std::uint32_t v) {
  return [v] { return v; };
}

SessionConfig config(std::uint32_t disc, Duration tx = milliseconds(50),
                     Duration rx = milliseconds(50), std::uint8_t mult = 3) {
  SessionConfig c;
  c.local_discriminator = disc;
  c.timers = {tx, rx, mult};
  return c;
}

Session make(const SessionConfig& c, MonoTime now = kT0, RandomSource r = seeded(1)) {
  auto s = Session::create(c, std::move(r), now);
  EXPECT_TRUE(s) << (s ? "" : s.error().message());
  return std::move(*s);
}

struct Sent {
  MonoTime at;
  ControlPacket packet;
};
struct Change {
  MonoTime at;
  StateChange change;
};

// Two sessions joined by a wire with a fixed one-way latency. Each direction can be cut.
class Wire {
 public:
  Wire(Session& a, Session& b, MonoTime now) : s_{&a, &b}, now_(now) {
    next_[0] = a.nextDeadline();
    next_[1] = b.nextDeadline();
  }

  void runUntil(MonoTime end) {
    for (int guard = 0; guard < 1000000; ++guard) {
      std::optional<MonoTime> t;
      int what = -1;  // 0/1: tick that side, 2: deliver
      for (int i = 0; i < 2; ++i) {
        if (next_[i] && (!t || *next_[i] < *t)) {
          t = next_[i];
          what = i;
        }
      }
      if (!flight_.empty() && (!t || flight_.front().at <= *t)) {
        t = flight_.front().at;
        what = 2;
      }
      if (!t || *t > end) {
        now_ = end;
        return;
      }
      now_ = std::max(now_, *t);
      if (what == 2) {
        InFlight f = flight_.front();
        flight_.pop_front();
        handle(f.to, s_[f.to]->onPacket(f.bytes, now_, ttl));
      } else {
        handle(what, s_[what]->tick(now_));
      }
    }
    FAIL() << "simulation did not settle";
  }
  void runFor(Duration d) { runUntil(now_ + d); }
  // Applies a call's Step made outside the wire (admin, timers).
  void apply(int side, const Step& step) { handle(side, step); }

  MonoTime now() const { return now_; }
  bool cut[2] = {false, false};  // cut[i]: packets from side i are lost
  std::uint8_t ttl = kSingleHopTtl;
  std::vector<Sent> sent[2];
  std::vector<Change> changes[2];
  std::vector<DropReason> drops[2];

 private:
  struct InFlight {
    MonoTime at;
    int to;
    std::vector<std::uint8_t> bytes;
  };

  void handle(int side, const Step& step) {
    if (step.change) {
      changes[side].push_back({now_, *step.change});
    }
    if (step.dropped) {
      drops[side].push_back(*step.dropped);
    }
    if (step.transmit) {
      sent[side].push_back({now_, step.transmit->packet});
      if (!cut[side]) {
        const auto d = step.transmit->data();
        flight_.push_back({now_ + latency_, 1 - side, {d.begin(), d.end()}});
      }
    }
    next_[side] = step.next_deadline;
  }

  Session* s_[2];
  MonoTime now_;
  std::optional<MonoTime> next_[2];
  std::deque<InFlight> flight_;
  Duration latency_ = milliseconds(1);
};

std::vector<State> path(const std::vector<Change>& changes) {
  std::vector<State> out;
  if (!changes.empty()) {
    out.push_back(changes.front().change.from);
  }
  for (const auto& c : changes) {
    out.push_back(c.change.to);
  }
  return out;
}

// Encoded bytes of a packet a scripted peer sends.
std::vector<std::uint8_t> wire(const ControlPacket& p) {
  std::vector<std::uint8_t> out(kMaxPacketSize);
  out.resize(encode(p, out));
  return out;
}

ControlPacket peer(State s, std::uint32_t my, std::uint32_t your, std::uint32_t tx_us = 50000,
                   std::uint32_t rx_us = 50000, std::uint8_t mult = 3) {
  ControlPacket p;
  p.state = s;
  p.my_discriminator = my;
  p.your_discriminator = your;
  p.desired_min_tx_us = tx_us;
  p.required_min_rx_us = rx_us;
  p.detect_mult = mult;
  return p;
}

// ---- handshake ---------------------------------------------------------------------------

TEST(BfdSessionTest, BothActiveComeUpThroughInit) {
  Session a = make(config(0xa));
  Session b = make(config(0xb), kT0, seeded(2));
  Wire w(a, b, kT0);
  w.runFor(seconds(3));
  EXPECT_EQ(a.state(), State::Up);
  EXPECT_EQ(b.state(), State::Up);
  // Each sent Down, heard Down (Init), heard Init (Up): RFC 5880 §6.2.
  EXPECT_EQ(path(w.changes[0]), (std::vector<State>{State::Down, State::Init, State::Up}));
  EXPECT_EQ(path(w.changes[1]), (std::vector<State>{State::Down, State::Init, State::Up}));
  EXPECT_EQ(a.remoteDiscriminator(), 0xbu);
  EXPECT_EQ(b.remoteDiscriminator(), 0xau);
  // The first packet said Down with Your Discriminator 0 and the slow 1 s DesiredMinTx.
  const ControlPacket& first = w.sent[0].front().packet;
  EXPECT_EQ(first.state, State::Down);
  EXPECT_EQ(first.your_discriminator, 0u);
  EXPECT_EQ(first.desired_min_tx_us, 1000000u);
  EXPECT_EQ(first.required_min_rx_us, 50000u);
  EXPECT_TRUE(w.drops[0].empty());
  EXPECT_TRUE(w.drops[1].empty());
  // Up within a few ms: state changes are sent at once, not on the 1 s timer.
  EXPECT_LT(w.changes[0].back().at - kT0, milliseconds(10));
}

TEST(BfdSessionTest, PassiveWaitsAndThenComesUp) {
  Session a = make(config(0xa), kT0 + seconds(2));  // Active, starts 2 s later
  SessionConfig pc = config(0xb);
  pc.role = Role::Passive;
  Session b = make(pc);
  EXPECT_EQ(b.nextDeadline(), std::nullopt);  // nothing to send, nothing to detect
  Wire w(a, b, kT0);
  w.runFor(seconds(1));
  EXPECT_TRUE(w.sent[1].empty()) << "a Passive session must not speak first (RFC 5880 §6.8.7)";
  w.runFor(seconds(3));
  EXPECT_EQ(a.state(), State::Up);
  EXPECT_EQ(b.state(), State::Up);
  // The passive side heard Down (Init); the active side heard Init and went straight Up.
  EXPECT_EQ(path(w.changes[1]), (std::vector<State>{State::Down, State::Init, State::Up}));
  EXPECT_EQ(path(w.changes[0]), (std::vector<State>{State::Down, State::Up}));
}

TEST(BfdSessionTest, ScriptedHandshakeStepByStep) {
  Session s = make(config(7));
  Step st = s.tick(kT0);
  ASSERT_TRUE(st.transmit);
  EXPECT_EQ(st.transmit->packet.state, State::Down);
  // Peer says Down: we go Init and tell it at once, with its discriminator.
  st = s.onPacket(wire(peer(State::Down, 99, 0)), kT0 + milliseconds(5));
  ASSERT_TRUE(st.change);
  EXPECT_EQ(st.change->to, State::Init);
  ASSERT_TRUE(st.transmit);
  EXPECT_EQ(st.transmit->packet.state, State::Init);
  EXPECT_EQ(st.transmit->packet.your_discriminator, 99u);
  // Init is not Up: still the slow DesiredMinTx (§6.8.3).
  EXPECT_EQ(st.transmit->packet.desired_min_tx_us, 1000000u);
  // Peer says Up: we are Up, and announce the configured 50 ms with a Poll (§6.8.3).
  st = s.onPacket(wire(peer(State::Up, 99, 7)), kT0 + milliseconds(6));
  ASSERT_TRUE(st.change);
  EXPECT_EQ(st.change->to, State::Up);
  EXPECT_EQ(st.change->diag, Diag::None);
  ASSERT_TRUE(st.transmit);
  EXPECT_EQ(st.transmit->packet.state, State::Up);
  EXPECT_TRUE(st.transmit->packet.poll);
  EXPECT_EQ(st.transmit->packet.desired_min_tx_us, 50000u);
  EXPECT_TRUE(s.pollActive());
  // A smaller DesiredMinTx takes effect at once (§6.8.3, last rule).
  EXPECT_EQ(s.transmitInterval(), milliseconds(50));
  // The Final ends the sequence.
  ControlPacket fin = peer(State::Up, 99, 7);
  fin.final = true;
  st = s.onPacket(wire(fin), kT0 + milliseconds(7));
  EXPECT_TRUE(st.poll_completed);
  EXPECT_FALSE(s.pollActive());
  EXPECT_FALSE(st.transmit);
  EXPECT_EQ(s.stats().polls_started, 1u);
  EXPECT_EQ(s.stats().polls_completed, 1u);
}

// ---- timers ------------------------------------------------------------------------------

TEST(BfdSessionTest, NegotiatesIntervalsAndDetectionTimes) {
  // A: tx 50 ms, rx 50 ms. B: tx 100 ms, rx 200 ms, multiplier 5.
  Session a = make(config(0xa, milliseconds(50), milliseconds(50), 3));
  Session b = make(config(0xb, milliseconds(100), milliseconds(200), 5), kT0, seeded(9));
  Wire w(a, b, kT0);
  w.runFor(seconds(3));
  ASSERT_EQ(a.state(), State::Up);
  ASSERT_EQ(b.state(), State::Up);
  // §6.8.7: the interval is the larger of own DesiredMinTx and the peer's RequiredMinRx.
  EXPECT_EQ(a.transmitInterval(), milliseconds(200));
  EXPECT_EQ(b.transmitInterval(), milliseconds(100));
  // §6.8.4: remote Detect Mult x max(own RequiredMinRx, remote DesiredMinTx).
  EXPECT_EQ(a.detectionTime(), 5 * milliseconds(100));
  EXPECT_EQ(b.detectionTime(), 3 * milliseconds(200));
  // Measured gaps between A's periodic packets over the last second: 75–100% of 200 ms.
  const MonoTime from = w.now() - seconds(1);
  std::optional<MonoTime> prev;
  int gaps = 0;
  for (const auto& s : w.sent[0]) {
    if (s.at < from || s.packet.final) {
      continue;
    }
    if (prev) {
      EXPECT_GE(s.at - *prev, milliseconds(150));
      EXPECT_LE(s.at - *prev, milliseconds(200));
      ++gaps;
    }
    prev = s.at;
  }
  EXPECT_GE(gaps, 4);
}

TEST(BfdSessionTest, SlowTimersWhileNotUp) {
  Session a = make(config(0xa, milliseconds(50), milliseconds(50)));
  Step st = a.tick(kT0);
  ASSERT_TRUE(st.transmit);
  // Nobody answers: Down packets every 0.75–1 s, advertising 1 s.
  MonoTime prev = kT0;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(st.next_deadline);
    const MonoTime at = *st.next_deadline;
    EXPECT_GE(at - prev, milliseconds(750));
    EXPECT_LE(at - prev, seconds(1));
    st = a.tick(at);
    ASSERT_TRUE(st.transmit);
    EXPECT_EQ(st.transmit->packet.desired_min_tx_us, 1000000u);
    EXPECT_FALSE(st.transmit->packet.poll);
    prev = at;
  }
}

TEST(BfdSessionTest, JitterBounds) {
  // Random 0 -> no reduction; random max -> 25% (10..25% with multiplier 1, RFC 5880 §6.8.7).
  for (auto [mult, r, lo, hi] :
       std::vector<std::tuple<std::uint8_t, std::uint32_t, Duration, Duration>>{
           {3, 0, milliseconds(1000), milliseconds(1000)},
           {3, 0xffffffff, milliseconds(750), milliseconds(751)},
           {1, 0, milliseconds(900), milliseconds(900)},
           {1, 0xffffffff, milliseconds(750), milliseconds(751)}}) {
    Session s = make(config(1, seconds(1), seconds(1), mult), kT0, constant(r));
    Step st = s.tick(kT0);
    ASSERT_TRUE(st.next_deadline);
    EXPECT_GE(*st.next_deadline - kT0, lo) << int(mult) << " " << r;
    EXPECT_LE(*st.next_deadline - kT0, hi) << int(mult) << " " << r;
  }
}

// Brings a scripted session Up with peer discriminator 99 (tx/rx 50 ms) and completes the
// Up Poll Sequence. Returns the time reached.
MonoTime bringUp(Session& s, MonoTime t = kT0) {
  (void)s.tick(t);
  (void)s.onPacket(wire(peer(State::Down, 99, 0)), t += milliseconds(1));
  (void)s.onPacket(wire(peer(State::Up, 99, s.localDiscriminator())), t += milliseconds(1));
  ControlPacket fin = peer(State::Up, 99, s.localDiscriminator());
  fin.final = true;
  (void)s.onPacket(wire(fin), t += milliseconds(1));
  (void)s.onPacket(wire(peer(State::Up, 99, s.localDiscriminator())), t += milliseconds(1));
  EXPECT_EQ(s.state(), State::Up);
  EXPECT_FALSE(s.pollActive());
  return t;
}

TEST(BfdSessionTest, IncreasedTxWaitsForFinal) {
  Session s = make(config(7));
  MonoTime t = bringUp(s);
  ASSERT_EQ(s.transmitInterval(), milliseconds(50));
  auto st = s.setTimers({milliseconds(300), milliseconds(50), 3}, t);
  ASSERT_TRUE(st);
  // No extra packet: the Poll rides on the next periodic one (§6.5).
  EXPECT_FALSE(st->transmit);
  EXPECT_EQ(s.advertisedMinTx(), milliseconds(300));
  EXPECT_EQ(s.transmitInterval(), milliseconds(50)) << "§6.8.3: not before the Final";
  Step p = s.tick(*st->next_deadline);
  ASSERT_TRUE(p.transmit);
  EXPECT_TRUE(p.transmit->packet.poll);
  EXPECT_EQ(p.transmit->packet.desired_min_tx_us, 300000u);
  // Still polling at the old rate until the Final.
  ASSERT_TRUE(p.next_deadline);
  EXPECT_LE(*p.next_deadline - *st->next_deadline, milliseconds(50));
  Step again = s.tick(*p.next_deadline);
  ASSERT_TRUE(again.transmit);
  EXPECT_TRUE(again.transmit->packet.poll);
  ControlPacket fin = peer(State::Up, 99, 7);
  fin.final = true;
  Step done = s.onPacket(wire(fin), *p.next_deadline + milliseconds(1));
  EXPECT_TRUE(done.poll_completed);
  EXPECT_EQ(s.transmitInterval(), milliseconds(300));
  // Next packets: no Poll, 225–300 ms apart.
  Step n = s.tick(*done.next_deadline);
  ASSERT_TRUE(n.transmit);
  EXPECT_FALSE(n.transmit->packet.poll);
  EXPECT_GE(*n.next_deadline - *done.next_deadline, milliseconds(225));
}

TEST(BfdSessionTest, ReducedRxKeepsDetectionTimeUntilFinal) {
  SessionConfig c = config(7, milliseconds(50), milliseconds(500));
  Session s = make(c);
  MonoTime t = bringUp(s);
  EXPECT_EQ(s.detectionTime(), 3 * milliseconds(500));
  auto st = s.setTimers({milliseconds(50), milliseconds(50), 3}, t);
  ASSERT_TRUE(st);
  EXPECT_EQ(s.detectionTime(), 3 * milliseconds(500)) << "§6.8.3: old RequiredMinRx until Final";
  ControlPacket fin = peer(State::Up, 99, 7);
  fin.final = true;
  Step p = s.tick(*st->next_deadline);
  ASSERT_TRUE(p.transmit && p.transmit->packet.poll);
  EXPECT_EQ(p.transmit->packet.required_min_rx_us, 50000u);
  (void)s.onPacket(wire(fin), *st->next_deadline + milliseconds(1));
  EXPECT_EQ(s.detectionTime(), 3 * milliseconds(50));
  // An increase of RequiredMinRx lengthens the Detection Time at once.
  st = s.setTimers({milliseconds(50), milliseconds(900), 3}, *st->next_deadline + milliseconds(2));
  ASSERT_TRUE(st);
  EXPECT_EQ(s.detectionTime(), 3 * milliseconds(900));
}

TEST(BfdSessionTest, AnswersPollWithFinalAtOnce) {
  Session s = make(config(7));
  MonoTime t = bringUp(s);
  ControlPacket poll = peer(State::Up, 99, 7, 50000, 200000);
  poll.poll = true;
  Step st = s.onPacket(wire(poll), t + milliseconds(3));
  ASSERT_TRUE(st.transmit);
  EXPECT_TRUE(st.transmit->packet.final);
  EXPECT_FALSE(st.transmit->packet.poll);
  EXPECT_EQ(s.stats().tx_finals, 1u);
  // The peer's new RequiredMinRx sets our rate: 200 ms.
  EXPECT_EQ(s.transmitInterval(), milliseconds(200));
  ASSERT_TRUE(st.next_deadline);
  EXPECT_GE(*st.next_deadline - (t + milliseconds(3)), milliseconds(150));
}

TEST(BfdSessionTest, StrayFinalIsIgnoredAndPollWithFinalIsAnswered) {
  Session s = make(config(7));
  MonoTime t = bringUp(s);
  ControlPacket fin = peer(State::Up, 99, 7);
  fin.final = true;
  Step st = s.onPacket(wire(fin), t + milliseconds(1));
  EXPECT_FALSE(st.poll_completed);
  EXPECT_FALSE(st.dropped);
  // P and F together (a peer must not send it, §6.5): the F is taken, the P still answered.
  ControlPacket both = fin;
  both.poll = true;
  st = s.onPacket(wire(both), t + milliseconds(2));
  ASSERT_TRUE(st.transmit);
  EXPECT_TRUE(st.transmit->packet.final);
  EXPECT_FALSE(st.transmit->packet.poll);
}

TEST(BfdSessionTest, TimerChangeThroughThePeerEndToEnd) {
  Session a = make(config(0xa));
  Session b = make(config(0xb), kT0, seeded(5));
  Wire w(a, b, kT0);
  w.runFor(seconds(2));
  ASSERT_EQ(a.state(), State::Up);
  const auto polls = a.stats().polls_completed;
  auto st = a.setTimers({milliseconds(100), milliseconds(50), 3}, w.now());
  ASSERT_TRUE(st);
  w.apply(0, *st);
  w.runFor(milliseconds(500));
  EXPECT_EQ(a.stats().polls_completed, polls + 1);
  EXPECT_EQ(a.transmitInterval(), milliseconds(100));
  EXPECT_EQ(b.detectionTime(), 3 * milliseconds(100));
  EXPECT_EQ(a.state(), State::Up);
  EXPECT_EQ(b.state(), State::Up);
}

// ---- detection and failures -------------------------------------------------------------

TEST(BfdSessionTest, DetectionTimeExpiresExactly) {
  Session s = make(config(7));
  MonoTime t = bringUp(s);
  const Duration dt = *s.detectionTime();
  EXPECT_EQ(dt, milliseconds(150));
  Step st = s.tick(t + dt - Duration(1));
  EXPECT_FALSE(st.change);
  st = s.tick(t + dt);
  ASSERT_TRUE(st.change);
  EXPECT_EQ(st.change->to, State::Down);
  EXPECT_EQ(st.change->diag, Diag::ControlDetectionTimeExpired);
  ASSERT_TRUE(st.transmit);
  EXPECT_EQ(st.transmit->packet.state, State::Down);
  EXPECT_EQ(st.transmit->packet.diag, Diag::ControlDetectionTimeExpired);
  EXPECT_EQ(st.transmit->packet.your_discriminator, 0u) << "§6.8.1: RemoteDiscr zeroed";
  EXPECT_EQ(s.remoteDiscriminator(), 0u);
  EXPECT_EQ(s.stats().detection_timeouts, 1u);
}

TEST(BfdSessionTest, DetectionOnTheWire) {
  Session a = make(config(0xa));
  Session b = make(config(0xb), kT0, seeded(3));
  Wire w(a, b, kT0);
  w.runFor(seconds(2));
  ASSERT_EQ(a.state(), State::Up);
  w.cut[1] = true;  // B's packets to A are lost
  const MonoTime cut_at = w.now();
  w.runFor(seconds(1));
  ASSERT_EQ(a.state(), State::Down);
  ASSERT_FALSE(w.changes[0].empty());
  const Change& down = w.changes[0].back();
  EXPECT_EQ(down.change.diag, Diag::ControlDetectionTimeExpired);
  // 3 x 50 ms after the last packet heard, which came at most one interval before the cut.
  EXPECT_GT(down.at - cut_at, milliseconds(150) - milliseconds(50));
  EXPECT_LE(down.at - cut_at, milliseconds(150) + milliseconds(1));
  // B then hears A's Down and goes Down too (diag 3).
  EXPECT_EQ(b.state(), State::Down);
  EXPECT_EQ(b.localDiag(), Diag::NeighborSignaledDown);
  // Healed: both come back.
  w.cut[1] = false;
  w.runFor(seconds(3));
  EXPECT_EQ(a.state(), State::Up);
  EXPECT_EQ(b.state(), State::Up);
}

TEST(BfdSessionTest, PeerAdminDownTakesUsDownWithDiag3) {
  Session a = make(config(0xa));
  Session b = make(config(0xb), kT0, seeded(4));
  Wire w(a, b, kT0);
  w.runFor(seconds(2));
  ASSERT_EQ(a.state(), State::Up);
  Step st = b.setAdminDown(true, w.now());
  ASSERT_TRUE(st.change);
  EXPECT_EQ(st.change->to, State::AdminDown);
  EXPECT_EQ(st.change->diag, Diag::AdministrativelyDown);
  ASSERT_TRUE(st.transmit);
  EXPECT_EQ(st.transmit->packet.state, State::AdminDown);
  w.apply(1, st);
  w.runFor(seconds(5));
  EXPECT_EQ(a.state(), State::Down);
  EXPECT_EQ(a.localDiag(), Diag::NeighborSignaledDown);
  EXPECT_EQ(a.remoteState(), State::AdminDown);
  // It stays Down (AdminDown is not Down: no Init), and B discards what A sends.
  EXPECT_EQ(path(w.changes[0]).back(), State::Down);
  EXPECT_GT(b.stats().dropped(DropReason::AdminDown), 0u);
  // B keeps telling: AdminDown packets at the slow rate.
  EXPECT_EQ(w.sent[1].back().packet.state, State::AdminDown);
  EXPECT_EQ(w.sent[1].back().packet.desired_min_tx_us, 1000000u);
  // Enabled again: both Up.
  w.apply(1, b.setAdminDown(false, w.now()));
  w.runFor(seconds(3));
  EXPECT_EQ(a.state(), State::Up);
  EXPECT_EQ(b.state(), State::Up);
}

TEST(BfdSessionTest, PeerRestartWithNewDiscriminator) {
  Session s = make(config(7));
  MonoTime t = bringUp(s);
  ASSERT_EQ(s.remoteDiscriminator(), 99u);
  // The peer restarted: new discriminator, Down, Your Discriminator 0 (selected by address).
  Step st = s.onPacket(wire(peer(State::Down, 1234, 0, 1000000, 1000000)), t + milliseconds(5));
  ASSERT_TRUE(st.change);
  EXPECT_EQ(st.change->to, State::Down);
  EXPECT_EQ(st.change->diag, Diag::NeighborSignaledDown);
  EXPECT_TRUE(st.remote_discriminator_changed);
  EXPECT_EQ(s.remoteDiscriminator(), 1234u);
  ASSERT_TRUE(st.transmit);
  EXPECT_EQ(st.transmit->packet.your_discriminator, 1234u);
  // The handshake resumes with the new discriminator.
  st = s.onPacket(wire(peer(State::Down, 1234, 0, 1000000, 1000000)), t + milliseconds(6));
  EXPECT_EQ(s.state(), State::Init);
  st = s.onPacket(wire(peer(State::Up, 1234, 7)), t + milliseconds(7));
  EXPECT_EQ(s.state(), State::Up);
  // Packets for the old session are not ours any more... they still carry our
  // discriminator, so they are accepted and followed, as §6.8.6 says.
}

TEST(BfdSessionTest, RemoteMinRxZeroStopsPeriodicPackets) {
  Session s = make(config(7));
  MonoTime t = bringUp(s);
  Step st = s.onPacket(wire(peer(State::Up, 99, 7, 50000, 0)), t + milliseconds(1));
  // Only the detection deadline remains.
  ASSERT_TRUE(st.next_deadline);
  EXPECT_EQ(*st.next_deadline, t + milliseconds(1) + milliseconds(150));
  // A Poll is still answered.
  ControlPacket poll = peer(State::Up, 99, 7, 50000, 0);
  poll.poll = true;
  st = s.onPacket(wire(poll), t + milliseconds(2));
  ASSERT_TRUE(st.transmit);
  EXPECT_TRUE(st.transmit->packet.final);
}

TEST(BfdSessionTest, RemoteDemandModeIsHonoured) {
  Session s = make(config(7));
  MonoTime t = bringUp(s);
  ControlPacket d = peer(State::Up, 99, 7);
  d.demand = true;
  Step st = s.onPacket(wire(d), t + milliseconds(1));
  ASSERT_TRUE(st.next_deadline);
  EXPECT_EQ(*st.next_deadline, t + milliseconds(151)) << "no periodic packets (§6.8.7)";
  // We never set D ourselves.
  st = s.onPacket(wire(peer(State::Up, 99, 7)), t + milliseconds(2));
  st = s.tick(*st.next_deadline);
  ASSERT_TRUE(st.transmit);
  EXPECT_FALSE(st.transmit->packet.demand);
}

// ---- bad packets ------------------------------------------------------------------------

TEST(BfdSessionTest, BadPacketsAreDroppedAndCounted) {
  Session s = make(config(7));
  MonoTime t = bringUp(s);
  const auto base = s.stats();
  struct Bad {
    std::vector<std::uint8_t> bytes;
    DropReason reason;
  };
  std::vector<Bad> bad;
  auto good = wire(peer(State::Up, 99, 7));
  auto v2 = good;
  v2[0] = 0x40;
  bad.push_back({v2, DropReason::Version});
  bad.push_back({{good.begin(), good.begin() + 10}, DropReason::Truncated});
  auto m0 = good;
  m0[2] = 0;
  bad.push_back({m0, DropReason::DetectMult});
  auto mp = good;
  mp[1] |= 1;
  bad.push_back({mp, DropReason::Multipoint});
  bad.push_back({wire(peer(State::Up, 0, 7)), DropReason::MyDiscriminator});
  bad.push_back({wire(peer(State::Up, 99, 0)), DropReason::YourDiscriminator});
  bad.push_back({wire(peer(State::Up, 99, 8)), DropReason::WrongSession});
  auto with_auth = peer(State::Up, 99, 7);
  with_auth.auth = authSectionFor({AuthType::SimplePassword, 1, "pw"}, 0);
  bad.push_back({wire(with_auth), DropReason::AuthUnexpected});
  for (const auto& b : bad) {
    t += milliseconds(1);
    Step st = s.onPacket(b.bytes, t);
    EXPECT_EQ(st.dropped, b.reason) << dropReasonName(b.reason);
    EXPECT_FALSE(st.change);
    EXPECT_EQ(s.stats().dropped(b.reason), 1u) << dropReasonName(b.reason);
  }
  // A single-hop packet that crossed a router (TTL 254).
  Step st = s.onPacket(good, t, std::uint8_t{254});
  EXPECT_EQ(st.dropped, DropReason::Ttl);
  EXPECT_EQ(s.stats().droppedTotal(), base.droppedTotal() + bad.size() + 1);
  EXPECT_EQ(s.stats().rx_accepted, base.rx_accepted);
  EXPECT_EQ(s.state(), State::Up);
  // None of them refreshed the Detection Time: it runs from the last good packet.
  EXPECT_EQ(s.stats().detection_timeouts, 0u);
}

TEST(BfdSessionTest, MultihopMinimumTtl) {
  SessionConfig c = config(7);
  c.hop = Hop::Multi;
  c.min_ttl = 250;
  Session s = make(c);
  (void)s.tick(kT0);
  EXPECT_EQ(s.onPacket(wire(peer(State::Down, 99, 0)), kT0, std::uint8_t{249}).dropped,
            DropReason::Ttl);
  Step st = s.onPacket(wire(peer(State::Down, 99, 0)), kT0, std::uint8_t{250});
  EXPECT_FALSE(st.dropped);
  EXPECT_EQ(s.state(), State::Init);
}

// ---- authentication ---------------------------------------------------------------------

SessionConfig authConfig(std::uint32_t disc, AuthKey key) {
  SessionConfig c = config(disc);
  c.auth = std::move(key);
  return c;
}

TEST(BfdSessionTest, MeticulousSha1SessionComesUp) {
  const AuthKey key{AuthType::MeticulousKeyedSha1, 5, "shared-secret"};
  Session a = make(authConfig(0xa, key));
  Session b = make(authConfig(0xb, key), kT0, seeded(7));
  Wire w(a, b, kT0);
  w.runFor(seconds(2));
  EXPECT_EQ(a.state(), State::Up);
  EXPECT_EQ(b.state(), State::Up);
  EXPECT_EQ(a.stats().droppedTotal(), 0u);
  // Meticulous: every packet has the next sequence number.
  for (std::size_t i = 1; i < w.sent[0].size(); ++i) {
    EXPECT_EQ(w.sent[0][i].packet.auth->sequence, w.sent[0][i - 1].packet.auth->sequence + 1);
  }
}

TEST(BfdSessionTest, KeyMismatchNeverComesUp) {
  Session a = make(authConfig(0xa, {AuthType::MeticulousKeyedSha1, 5, "one"}));
  Session b = make(authConfig(0xb, {AuthType::MeticulousKeyedSha1, 5, "two"}), kT0, seeded(7));
  Wire w(a, b, kT0);
  w.runFor(seconds(3));
  EXPECT_EQ(a.state(), State::Down);
  EXPECT_EQ(b.state(), State::Down);
  EXPECT_GT(a.stats().dropped(DropReason::AuthDigest), 0u);
  EXPECT_EQ(a.stats().rx_accepted, 0u);
}

TEST(BfdSessionTest, AuthTypeKeyIdAndPresenceMismatches) {
  const AuthKey sha{AuthType::MeticulousKeyedSha1, 5, "k"};
  {
    Session a = make(authConfig(0xa, sha));
    Session b = make(authConfig(0xb, {AuthType::KeyedSha1, 5, "k"}), kT0, seeded(7));
    Wire w(a, b, kT0);
    w.runFor(seconds(2));
    EXPECT_EQ(a.state(), State::Down);
    EXPECT_GT(a.stats().dropped(DropReason::AuthType), 0u);
  }
  {
    Session a = make(authConfig(0xa, sha));
    Session b = make(authConfig(0xb, {AuthType::MeticulousKeyedSha1, 6, "k"}), kT0, seeded(7));
    Wire w(a, b, kT0);
    w.runFor(seconds(2));
    EXPECT_GT(a.stats().dropped(DropReason::AuthKeyId), 0u);
  }
  {
    Session a = make(authConfig(0xa, sha));
    Session b = make(config(0xb), kT0, seeded(7));
    Wire w(a, b, kT0);
    w.runFor(seconds(2));
    EXPECT_GT(a.stats().dropped(DropReason::AuthMissing), 0u);
    EXPECT_GT(b.stats().dropped(DropReason::AuthUnexpected), 0u);
    EXPECT_EQ(a.state(), State::Down);
    EXPECT_EQ(b.state(), State::Down);
  }
}

// Builds the packet a keyed peer sends with sequence `seq`.
std::vector<std::uint8_t> signedPeer(const AuthKey& key, ControlPacket p, std::uint32_t seq) {
  p.auth = authSectionFor(key, seq);
  auto bytes = wire(p);
  sign(bytes, key);
  return bytes;
}

TEST(BfdSessionTest, ReplayIsDropped) {
  const AuthKey key{AuthType::MeticulousKeyedSha1, 1, "replay-me"};
  Session s = make(authConfig(7, key));
  MonoTime t = kT0;
  (void)s.tick(t);
  const auto down = signedPeer(key, peer(State::Down, 99, 0), 1000);
  EXPECT_FALSE(s.onPacket(down, t += milliseconds(1)).dropped);
  EXPECT_EQ(s.state(), State::Init);
  // The same packet again: Meticulous wants a strictly larger sequence number.
  EXPECT_EQ(s.onPacket(down, t += milliseconds(1)).dropped, DropReason::AuthSequence);
  // Next numbers are fine; one too far ahead (beyond 3 x Detect Mult) is not.
  EXPECT_FALSE(
      s.onPacket(signedPeer(key, peer(State::Up, 99, 7), 1001), t += milliseconds(1)).dropped);
  EXPECT_EQ(s.state(), State::Up);
  EXPECT_EQ(s.onPacket(signedPeer(key, peer(State::Up, 99, 7), 1011), t += milliseconds(1)).dropped,
            DropReason::AuthSequence);
  EXPECT_FALSE(
      s.onPacket(signedPeer(key, peer(State::Up, 99, 7), 1010), t += milliseconds(1)).dropped);
  // An old packet replayed later is refused (and does not keep the session alive).
  EXPECT_EQ(s.onPacket(down, t += milliseconds(1)).dropped, DropReason::AuthSequence);
  EXPECT_EQ(s.stats().dropped(DropReason::AuthSequence), 3u);
  // A forged digest with a good sequence number.
  auto forged = signedPeer(key, peer(State::Up, 99, 7), 1011);
  forged.back() ^= 1;
  EXPECT_EQ(s.onPacket(forged, t += milliseconds(1)).dropped, DropReason::AuthDigest);
}

TEST(BfdSessionTest, KeyedSha1AcceptsRepeatedSequence) {
  const AuthKey key{AuthType::KeyedSha1, 1, "k"};
  Session s = make(authConfig(7, key));
  (void)s.tick(kT0);
  const auto down = signedPeer(key, peer(State::Down, 99, 0), 50);
  EXPECT_FALSE(s.onPacket(down, kT0 + milliseconds(1)).dropped);
  EXPECT_FALSE(s.onPacket(down, kT0 + milliseconds(2)).dropped) << "Keyed: equal is accepted";
  EXPECT_EQ(
      s.onPacket(signedPeer(key, peer(State::Down, 99, 0), 49), kT0 + milliseconds(3)).dropped,
      DropReason::AuthSequence);
}

TEST(BfdSessionTest, SequenceIsRelearnedAfterTwiceTheDetectionTime) {
  const AuthKey key{AuthType::MeticulousKeyedSha1, 1, "k"};
  Session s = make(authConfig(7, key));
  (void)s.tick(kT0);
  EXPECT_FALSE(s.onPacket(signedPeer(key, peer(State::Down, 99, 0), 5000), kT0).dropped);
  const Duration dt = *s.detectionTime();  // 3 x 1 s (peer not Up: slow timers)
  // The peer restarts with a new random sequence: refused within 2 x Detection Time...
  EXPECT_EQ(s.onPacket(signedPeer(key, peer(State::Down, 98, 0), 7), kT0 + dt).dropped,
            DropReason::AuthSequence);
  // ... accepted after it (RFC 5880 §6.8.1, bfd.AuthSeqKnown).
  EXPECT_FALSE(s.onPacket(signedPeer(key, peer(State::Down, 98, 0), 8), kT0 + 2 * dt).dropped);
}

TEST(BfdSessionTest, OurSequenceNumbers) {
  // Keyed: incremented when the contents change, not on every packet.
  Session s = make(authConfig(7, {AuthType::KeyedMd5, 1, "k"}), kT0, constant(41));
  Step a = s.tick(kT0);
  ASSERT_TRUE(a.transmit);
  EXPECT_EQ(a.transmit->packet.auth->sequence, 41u) << "starts at the random value";
  Step b = s.tick(*a.next_deadline);
  ASSERT_TRUE(b.transmit);
  EXPECT_EQ(b.transmit->packet.auth->sequence, 41u);
  const AuthKey key{AuthType::KeyedMd5, 1, "k"};
  Step c = s.onPacket(signedPeer(key, peer(State::Down, 99, 0), 1), *a.next_deadline);
  ASSERT_TRUE(c.transmit);
  EXPECT_EQ(c.transmit->packet.state, State::Init);
  EXPECT_EQ(c.transmit->packet.auth->sequence, 42u);
  // What we send verifies with the key.
  auto p = decode(c.transmit->data());
  ASSERT_TRUE(p);
  EXPECT_EQ(verify(c.transmit->data(), *p, key), std::nullopt);
}

TEST(BfdSessionTest, ConfigValidation) {
  auto bad = [](SessionConfig c) {
    auto s = Session::create(c, constant(0), kT0);
    EXPECT_FALSE(s);
    return s ? std::string() : s.error().message();
  };
  EXPECT_THAT(bad(config(0)), ::testing::HasSubstr("local_discriminator"));
  EXPECT_THAT(bad(config(1, Duration(0))), ::testing::HasSubstr("desired_min_tx"));
  EXPECT_THAT(bad(config(1, milliseconds(1), Duration(0))),
              ::testing::HasSubstr("required_min_rx"));
  EXPECT_THAT(bad(config(1, milliseconds(1), milliseconds(1), 0)),
              ::testing::HasSubstr("detect_mult"));
  EXPECT_THAT(bad(authConfig(1, {AuthType::KeyedSha1, 1, std::string(21, 'x')})),
              ::testing::HasSubstr("1 to 20 bytes"));
  Session s = make(config(1));
  EXPECT_FALSE(s.setTimers({Duration(0), milliseconds(1), 3}, kT0));
  EXPECT_FALSE(Session::create(config(1), RandomSource(), kT0));
}

TEST(BfdSessionTest, StartsAdminDownWhenAsked) {
  SessionConfig c = config(7);
  c.admin_down = true;
  Session s = make(c);
  Step st = s.tick(kT0);
  ASSERT_TRUE(st.transmit);
  EXPECT_EQ(st.transmit->packet.state, State::AdminDown);
  EXPECT_EQ(st.transmit->packet.diag, Diag::AdministrativelyDown);
  EXPECT_EQ(s.onPacket(wire(peer(State::Down, 99, 0)), kT0).dropped, DropReason::AdminDown);
  EXPECT_EQ(s.state(), State::AdminDown);
}

}  // namespace
}  // namespace pathpilot::bfd
