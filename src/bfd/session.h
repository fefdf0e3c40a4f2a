// bfd/session.h — one BFD session's state machine on injected time (RFC 5880 §6.2, §6.8).
//
// Purpose: everything a BFD session decides, with no socket and no clock. The caller (the
// socket driver, later) feeds it received packets and the time, and it answers with a Step:
// the state change if any, why a packet was dropped if it was, the one packet to send now if
// any (already encoded and signed), and the time at which tick() must be called next.
//
// What it implements (RFC 5880 unless noted):
//   * States Down / Init / Up / AdminDown and the three-way handshake of §6.2 / §6.8.6: Down
//     hearing Down goes Init, Down hearing Init goes Up, Init hearing Init or Up goes Up; Up
//     hearing Down goes Down with diag 3 (Neighbor Signaled Session Down); hearing AdminDown
//     takes any state but Down to Down with diag 3. A packet received while AdminDown is
//     discarded (counted as DropReason::AdminDown).
//   * Reception (§6.8.6): the decoder's checks (bfd/packet.h), then TTL when the caller passes
//     it (RFC 5881 §5: single hop must arrive with 255 — required here with or without
//     authentication, since senders always use 255; RFC 5883 §5: multihop at least min_ttl),
//     Your Discriminator must be ours when nonzero, A bit against authentication in use,
//     authentication (§6.7, bfd/auth.h) with bfd.RcvAuthSeq / bfd.AuthSeqKnown (forgotten
//     after twice the Detection Time without a packet, §6.8.1). Every drop is counted by
//     reason (stats().drops).
//   * Discriminators (§6.3, §6.8.1): bfd.RemoteDiscr follows My Discriminator of every
//     accepted packet, so a peer that restarts with a new discriminator (and says Down with
//     Your Discriminator 0, selected by the caller on addresses) is followed; Step reports the
//     change. bfd.RemoteDiscr is zeroed when a Detection Time passes without a packet.
//   * Timers (§6.8.2, §6.8.3): the transmit interval is max(bfd.DesiredMinTxInterval,
//     bfd.RemoteMinRxInterval); DesiredMinTx advertised while not Up is max(1 s, configured).
//     A change of the advertised DesiredMinTx or RequiredMinRx starts a Poll Sequence (P set on
//     the periodic packets, §6.5). While Up, the changes §6.8.3 holds back are held until the
//     Final arrives: an increased transmit interval is not used, and a reduced RequiredMinRx is
//     not used for the Detection Time, before the Final; the other direction of each takes
//     effect at once, as §6.8.3's last rule requires. A second change made during a Poll
//     Sequence is polled again only after a packet without F has been received (§6.8.3,
//     choice 3). A packet with P is answered at once with F (and P clear).
//   * Detection (§6.8.4): Detection Time = remote Detect Mult x max(bfd.RequiredMinRxInterval,
//     remote Desired Min TX); when it passes without an accepted packet in Init or Up, the
//     session goes Down with diag 1 (Control Detection Time Expired).
//   * Transmission (§6.8.7): periodic packets at the transmit interval less a random 0–25%
//     (10–25% when bfd.DetectMult is 1), from the injected random source; none while Passive
//     and bfd.RemoteDiscr is 0, no periodic ones while bfd.RemoteMinRxInterval is 0; a packet
//     is sent at once (between periodic ones) when the state, diagnostic or Your
//     Discriminator to send changed. A smaller interval is honoured at once (§6.8.3).
//   * Administrative control (§6.8.16): setAdminDown() goes AdminDown with a diagnostic
//     (default 7) and keeps sending AdminDown packets at the slow rate; enabling goes Down.
//   * Authentication: bfd.XmitAuthSeq starts random; Meticulous types increment it on every
//     packet, Keyed types when the packet's contents change (§6.7.3/§6.7.4).
// Not implemented: Demand mode for the local system (D is never set; a peer's D bit is
// honoured as §6.8.7 requires: no periodic packets while it is active), the Echo function
// (Required Min Echo RX is sent as 0), several keys per session.
//
// Cost: each call is O(1) plus one decode and at most one MD5/SHA1 per packet; no allocation
// after create() (the random source aside).
// Threading: a plain value owned by one thread (the BFD driver's); pure: reads no clock, does
// no I/O, does not log.
// Metrics: none itself; the driver exports stats() (packets, drops by reason, state changes,
// detection timeouts, polls) and state().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>

#include "base/error.h"
#include "base/time.h"
#include "bfd/auth.h"
#include "bfd/packet.h"

namespace pathpilot::bfd {

// Active systems send first; Passive ones wait to hear from the peer (RFC 5880 §6.1).
enum class Role : std::uint8_t { Active, Passive };
// RFC 5881 (single hop: TTL 255 on receipt) or RFC 5883 (multihop: TTL >= min_ttl).
enum class Hop : std::uint8_t { Single, Multi };

// While not Up, bfd.DesiredMinTxInterval is at least this (RFC 5880 §6.8.3).
inline constexpr Duration kSlowTxInterval = std::chrono::seconds(1);

// The timers that can change during a session (setTimers()).
struct Timers {
  // bfd.DesiredMinTxInterval while Up. Requires: 1 µs .. 2^32-1 µs (whole microseconds are
  // used; the rest is dropped).
  Duration desired_min_tx = std::chrono::milliseconds(300);
  // bfd.RequiredMinRxInterval. Requires: 1 µs .. 2^32-1 µs (0, "send me nothing", is not
  // supported: a session exists here to detect failures).
  Duration required_min_rx = std::chrono::milliseconds(300);
  // bfd.DetectMult. Requires: >= 1.
  std::uint8_t detect_mult = 3;
};

struct SessionConfig {
  // bfd.LocalDiscr. Requires: nonzero and unique among the caller's sessions.
  std::uint32_t local_discriminator = 0;
  Timers timers;
  Role role = Role::Active;
  Hop hop = Hop::Single;
  // Multihop only: packets arriving with a lower TTL / Hop Limit are dropped.
  std::uint8_t min_ttl = 254;
  // Authentication in use (bfd.AuthType nonzero) when set.
  std::optional<AuthKey> auth;
  // Start AdminDown (diag 7) instead of Down.
  bool admin_down = false;
};

// InvalidArgument naming the field when `config` breaks a Requires above.
[[nodiscard]] Result<void> validateSessionConfig(const SessionConfig& config);

// Uniform 32-bit random numbers: transmit jitter and the initial bfd.XmitAuthSeq.
using RandomSource = std::function<std::uint32_t()>;

// One encoded packet to send.
struct Transmit {
  std::array<std::uint8_t, kMaxPacketSize> bytes{};
  std::size_t size = 0;
  ControlPacket packet;  // what `bytes` encode (the digest is only in `bytes`)

  std::span<const std::uint8_t> data() const { return {bytes.data(), size}; }
};

struct StateChange {
  State from = State::Down;
  State to = State::Down;
  Diag diag = Diag::None;  // bfd.LocalDiag after the change
};

// The outcome of one call.
struct Step {
  std::optional<StateChange> change;
  // Set when the received packet was discarded.
  std::optional<DropReason> dropped;
  // A Final ended our Poll Sequence in this call (the polled timers are in force).
  bool poll_completed = false;
  // The peer's discriminator changed (it was known and differs now).
  bool remote_discriminator_changed = false;
  // Send this now.
  std::optional<Transmit> transmit;
  // Call tick() at this time (nullopt: nothing is scheduled; wait for packets).
  std::optional<MonoTime> next_deadline;
};

struct SessionStats {
  std::uint64_t rx_packets = 0;   // packets given to onPacket()/onDecoded()
  std::uint64_t rx_accepted = 0;  // ... that passed every check
  std::uint64_t tx_packets = 0;
  std::uint64_t tx_finals = 0;  // of which answers to a Poll
  std::uint64_t state_changes = 0;
  std::uint64_t detection_timeouts = 0;  // Init/Up -> Down by Detection Time
  std::uint64_t polls_started = 0;
  std::uint64_t polls_completed = 0;
  std::array<std::uint64_t, kDropReasonCount> drops{};

  std::uint64_t dropped(DropReason reason) const { return drops[static_cast<std::size_t>(reason)]; }
  std::uint64_t droppedTotal() const;
};

class Session {
 public:
  // A session in Down (or AdminDown) at `now`. An Active session's first packet is due at
  // `now`: call tick(now). Fails with InvalidArgument on a bad config.
  [[nodiscard]] static Result<Session> create(const SessionConfig& config, RandomSource random,
                                              MonoTime now);

  // A received UDP payload for this session (the caller demultiplexed it: by Your
  // Discriminator when nonzero, else by addresses). `ttl`: the received TTL / Hop Limit when
  // the socket reports it (checked per RFC 5881/5883), nullopt to skip the check.
  Step onPacket(std::span<const std::uint8_t> payload, MonoTime now,
                std::optional<std::uint8_t> ttl = std::nullopt);
  // The same for a packet the caller has already decoded (to demultiplex it). Requires:
  // `packet` == decode(payload).
  Step onDecoded(const ControlPacket& packet, std::span<const std::uint8_t> payload, MonoTime now,
                 std::optional<std::uint8_t> ttl = std::nullopt);

  // Timers: detection expiry and periodic transmission. Call it at next_deadline (calling
  // it early or late is harmless).
  Step tick(MonoTime now);

  // Administrative control (§6.8.16). Going down uses `diag` (7 Administratively Down, or 5
  // Path Down when the path is known to have failed); going up returns to Down.
  Step setAdminDown(bool down, MonoTime now, Diag diag = Diag::AdministrativelyDown);

  // New timers (§6.8.10–§6.8.12): Detect Mult at once, intervals through a Poll Sequence as
  // described above. Fails with InvalidArgument (session unchanged) on bad values.
  [[nodiscard]] Result<Step> setTimers(const Timers& timers, MonoTime now);

  State state() const { return state_; }
  Diag localDiag() const { return diag_; }
  State remoteState() const { return remote_state_; }
  Diag remoteDiag() const { return remote_diag_; }
  std::uint32_t localDiscriminator() const { return config_.local_discriminator; }
  std::uint32_t remoteDiscriminator() const { return remote_discr_; }
  // Detection Time as now negotiated; nullopt before the first accepted packet.
  std::optional<Duration> detectionTime() const;
  // The negotiated transmit interval before jitter: max(DesiredMinTx in use, RemoteMinRx).
  Duration transmitInterval() const;
  // bfd.DesiredMinTxInterval and bfd.RequiredMinRxInterval as advertised now.
  Duration advertisedMinTx() const;
  Duration advertisedMinRx() const { return config_.timers.required_min_rx; }
  bool pollActive() const { return poll_active_; }
  std::optional<MonoTime> nextDeadline() const;
  const SessionStats& stats() const { return stats_; }
  const SessionConfig& config() const { return config_; }

 private:
  Session(const SessionConfig& config, RandomSource random, MonoTime now);

  MonoTime clampNow(MonoTime now);
  Step finish(Step step, MonoTime now);
  void drop(Step& step, DropReason reason);
  void setState(Step& step, State to, Diag diag);
  // Re-derives the intervals in use after the advertised ones or the state changed.
  void applyAdvertised();
  void reschedule();
  bool periodicAllowed() const;
  bool mayTransmit() const;
  bool remoteDemandActive() const;
  bool wantPoll() const;
  // Sends what is due at `now` (a Final, a changed packet or a periodic one), at most one.
  void service(Step& step, MonoTime now);
  Transmit build(bool final);
  Duration jittered(Duration interval);
  std::optional<DropReason> checkAuth(const ControlPacket& packet,
                                      std::span<const std::uint8_t> payload, MonoTime now);

  SessionConfig config_;
  RandomSource random_;
  MonoTime latest_{};

  State state_ = State::Down;
  Diag diag_ = Diag::None;

  // What the peer told us last.
  State remote_state_ = State::Down;
  Diag remote_diag_ = Diag::None;
  std::uint32_t remote_discr_ = 0;
  bool remote_demand_ = false;
  Duration remote_min_rx_ = std::chrono::microseconds(1);  // bfd.RemoteMinRxInterval
  Duration remote_desired_tx_{0};
  std::uint8_t remote_detect_mult_ = 0;

  // Intervals in use (they lag the advertised ones while a Poll Sequence holds them).
  Duration tx_in_use_{0};
  Duration rx_in_use_{0};
  // Poll Sequence (§6.5): the advertised values the peer has acknowledged with a Final, the
  // values our first Poll of the running sequence carried, and whether a new sequence must
  // wait for a packet without F (§6.8.3).
  Duration acked_tx_{0};
  Duration acked_rx_{0};
  bool poll_active_ = false;
  Duration poll_tx_{0};
  Duration poll_rx_{0};
  bool await_plain_ = false;
  bool final_owed_ = false;

  // Transmission.
  std::optional<MonoTime> last_tx_;
  std::optional<MonoTime> next_tx_;
  std::optional<ControlPacket> last_sent_;
  Duration scheduled_interval_{0};
  std::uint32_t xmit_auth_seq_ = 0;

  // Reception.
  std::optional<MonoTime> last_rx_;
  std::optional<MonoTime> detect_deadline_;
  bool auth_seq_known_ = false;
  std::uint32_t rcv_auth_seq_ = 0;

  SessionStats stats_;
};

}  // namespace pathpilot::bfd
