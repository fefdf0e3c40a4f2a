#include "probe/probe_engine.h"

#include <net/if.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <random>
#include <unordered_map>
#include <utility>

#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include "base/check.h"
#include "probe/detail/icmp_socket.h"
#include "probe/icmp_codec.h"
#include "probe/schedule.h"

namespace pathpilot::probe {
namespace {

using detail::Datagram;
using detail::IcmpSocket;

// Upper bound of identifiers per (family, pinning) group: 64 × 65,536 in-flight probes.
constexpr std::size_t kMaxChannels = 64;
// First size of a channel's in-flight table (it doubles when busy, up to 65,536). With one
// pinning per path a path's channel usually serves one target at a few probes per second,
// so 16 slots (512 bytes) suffice; 256 slots were 8 KiB per path, 8 MiB at 1,000 paths.
constexpr std::size_t kInitialSeqSlots = 16;
// Datagram batches drained per wake-up before yielding to other handlers (64 each).
constexpr int kReceiveBatchesPerWake = 16;

// A deadline in the engine's one queue.
struct Deadline {
  enum class Kind : std::uint8_t { Send, IcmpTimeout, TcpTimeout };
  Kind kind = Kind::Send;
  std::uint32_t a = 0;  // Send: target slot. IcmpTimeout: group. TcpTimeout: unused.
  std::uint32_t b = 0;  // Send: target gen.  IcmpTimeout: group gen.
  std::uint32_t c = 0;  // IcmpTimeout: channel << 16 | seq.
  std::uint64_t d = 0;  // IcmpTimeout: nonce. TcpTimeout: probe id.
};

std::string errnoText(int e) { return std::strerror(e); }

// Errors after which a socket cannot recover by itself: its interface is gone (a new one with
// the same name has a new ifindex), or the descriptor is broken.
bool socketIsDead(int e) { return e == ENODEV || e == ENXIO || e == EBADF || e == ENOTSOCK; }

}  // namespace

// The engine's state. Everything is addressed by index + generation rather than by pointer:
// asio handlers, heap entries and in-flight probes outlive the objects they refer to (a target
// removed on reload, a socket closed after its interface vanished), and a generation mismatch
// is how each of them discovers it is stale without any cancellation bookkeeping.
struct ProbeEngine::Impl : std::enable_shared_from_this<ProbeEngine::Impl> {
  // One configured target. Slots are reused; `gen` changes on every reuse and removal.
  struct Target {
    TargetSpec spec;
    std::uint32_t gen = 0;
    bool active = false;
    std::uint32_t group = 0;  // ICMP only
    MonoTime next_due{};
    sockaddr_storage dst{};
    socklen_t dst_len = 0;
    std::string label;  // "icmp 10.10.3.100 via dx"
    std::optional<RttEstimator> rtt;  // adaptive timeout (spec.adaptive_timeout set)
    Duration last_timeout{};          // the timeout of the latest probe, for error texts
    MonoTime grid{};                  // phase-locked targets: nominal time of the next send
  };

  // An open ICMP socket of a group, and whether an async wait is pending on it (the wait is
  // edge-triggered, so exactly one must be armed once the queue has been drained).
  struct SocketEntry {
    std::unique_ptr<IcmpSocket> socket;
    std::uint64_t id = 0;  // unique per opened socket, to recognise stale handlers
    bool armed = false;
  };

  // One ICMP identifier and its in-flight table. Ping sockets: one channel per socket (the
  // kernel assigns the identifier). Raw sockets: many channels share the group's one socket,
  // which only sends (see `receiver` below).
  struct Channel {
    std::uint32_t socket = 0;
    std::uint16_t ident = 0;
    SeqTable table{kInitialSeqSlots};
  };

  // All ICMP targets with the same (family, pinning) share a group's sockets, so a thousand
  // targets behind one tunnel cost one socket, not a thousand.
  struct Group {
    IpFamily family = IpFamily::V4;
    Pinning pinning;
    bool used = false;
    std::uint32_t gen = 0;
    std::size_t refs = 0;
    std::vector<SocketEntry> sockets;
    std::vector<Channel> channels;
    std::unordered_map<std::uint16_t, std::uint32_t> raw_idents;  // raw: ident → channel
    std::uint32_t cursor = 0;
    // The engine's unpinned raw socket of this family that receives the replies of every raw
    // group (no targets, never matched by groupFor). Every raw socket gets a copy of every
    // ICMP packet of the host: with one raw socket per pinned path, a thousand paths meant a
    // thousand copies, queues and recvmmsg calls per reply. So the pinned raw sockets only
    // send (their ICMP filter blocks everything) and this one receives for all of them.
    bool receiver = false;
    std::optional<Error> open_error;
    MonoTime retry_at{};
    std::string label;  // "IPv4, interface vpn0"
    std::uint64_t drained_in_wakeup = 0;  // timer wake-up in which its sockets were last read
  };

  // A TCP connect in progress. TCP cannot share sockets, but TCP targets are few and slow.
  struct TcpProbe {
    std::uint32_t target = 0;
    std::uint32_t gen = 0;
    MonoTime sent_at{};
    std::optional<asio::ip::tcp::socket> socket;
  };

  Impl(asio::io_context& io_in, const Clock& clock_in, EngineOptions options_in)
      : io(io_in),
        clock(clock_in),
        options(options_in),
        rng(options_in.seed ? *options_in.seed
                            : (std::uint64_t{std::random_device{}()} << 32) ^
                                  std::random_device{}()),
        timer(io_in) {
    for (IpFamily f : {IpFamily::V4, IpFamily::V6}) {
      Group r;
      r.family = f;
      r.used = true;
      r.receiver = true;
      r.label = std::string(f == IpFamily::V4 ? "IPv4" : "IPv6") + " raw receiver";
      groups.push_back(std::move(r));
    }
  }

  asio::io_context& io;
  const Clock& clock;
  // Jitter, first offsets, nonces and raw identifiers. The nonce only has to be unguessable for
  // an off-path sender (an on-path one sees the request anyway), which seeding from
  // std::random_device gives.

  EngineOptions options;
  SplitMix64 rng;
  asio::steady_timer timer;
  std::optional<MonoTime> armed_at;
  bool running = false;
  bool in_handler = false;
  ProbeSink sink;
  ProbeCounters counters;

  std::vector<Target> targets;
  std::vector<std::uint32_t> free_targets;
  std::map<std::pair<std::string, std::uint32_t>, std::uint32_t, std::less<>> by_key;
  // Grid origin of each path with phase-locked targets; dropped with the path's last target.
  std::map<std::string, MonoTime, std::less<>> path_anchor;
  std::vector<Group> groups;
  // Raw mode, per family (IPv4, IPv6): the group that owns each identifier. Identifiers are
  // unique per family across groups, since replies to all of them arrive on one receiver.
  // The receivers themselves are groups[0] (IPv4) and groups[1] (IPv6), created with the
  // engine so that their indices never change; their sockets open with the first raw group.
  std::array<std::unordered_map<std::uint16_t, std::uint32_t>, 2> raw_owners;
  static std::size_t familyIndex(IpFamily f) { return f == IpFamily::V4 ? 0 : 1; }
  static std::uint32_t receiverOf(IpFamily f) {
    return static_cast<std::uint32_t>(familyIndex(f));
  }
  std::unordered_map<std::uint64_t, TcpProbe> tcp;
  std::uint64_t next_tcp_id = 1;
  std::uint64_t next_socket_id = 1;
  DeadlineQueue<Deadline> deadlines;
  std::vector<ProbeResult> pending;
  std::vector<Datagram> batch;
  // One set of recvmmsg buffers for every socket (see ReceiveBuffers): `batch` points into it.
  detail::ReceiveBuffers rx_buffers;
  std::array<std::uint8_t, icmp::kHeaderSize + icmp::kMaxPayload> packet{};

  // ---- results -------------------------------------------------------------------------------

  ProbeResult makeResult(const Target& t, MonoTime sent_at, MonoTime completed_at) {
    ProbeResult r;
    r.path = t.spec.path;
    r.target_index = t.spec.index;
    r.target = t.spec.address;
    r.kind = t.spec.kind;
    r.sent_at = sent_at;
    r.completed_at = completed_at;
    return r;
  }

  void emitSuccess(const Target& t, MonoTime sent_at, MonoTime received_at, bool refused) {
    ProbeResult r = makeResult(t, sent_at, received_at);
    r.success = true;
    r.refused = refused;
    r.rtt = received_at - sent_at;
    pending.push_back(std::move(r));
  }

  void emitFailure(const Target& t, MonoTime sent_at, MonoTime completed_at, FailureKind kind,
                   const std::string& cause) {
    ProbeResult r = makeResult(t, sent_at, completed_at);
    r.failure = kind;
    r.error = t.label + ": " + cause;
    pending.push_back(std::move(r));
  }

  // Results are collected while the engine's state is being changed and handed to the sink
  // only at the end of each entry point, so a sink that adds or removes targets never sees (or
  // breaks) a half-updated engine.
  // Nested calls (a sink that calls the engine) only queue: the outermost scope delivers.
  void flush() {
    if (in_handler) {
      return;
    }
    while (!pending.empty()) {
      std::vector<ProbeResult> out;
      out.swap(pending);
      if (sink) {
        for (const ProbeResult& r : out) {
          sink(r);
        }
      }
    }
  }

  // Marks an engine entry point: on exit of the outermost one, re-arm the timer and deliver
  // the queued results.
  struct HandlerScope {
    explicit HandlerScope(Impl& impl) : self(impl), outer(impl.in_handler) { impl.in_handler = true; }
    ~HandlerScope() {
      self.in_handler = outer;
      if (!outer) {
        self.rearm();
        self.flush();
      }
    }
    Impl& self;
    bool outer;
  };

  // ---- targets -------------------------------------------------------------------------------

  // Finds the group for the target's (family, pinning), taking a reference, or creates one.
  // Linear search: there are a handful of pinnings (one per path and family), not thousands.
  std::uint32_t groupFor(const TargetSpec& spec) {
    std::optional<std::uint32_t> free_slot;
    for (std::uint32_t i = 0; i < groups.size(); ++i) {
      Group& g = groups[i];
      if (g.used && !g.receiver && g.family == spec.address.family() &&
          g.pinning == spec.pinning) {
        ++g.refs;
        return i;
      }
      if (!g.used && !free_slot) {
        free_slot = i;
      }
    }
    if (!free_slot) {
      groups.emplace_back();
      free_slot = static_cast<std::uint32_t>(groups.size() - 1);
    }
    Group& g = groups[*free_slot];
    const std::uint32_t gen = g.gen + 1;
    g = Group{};
    g.gen = gen;
    g.used = true;
    g.family = spec.address.family();
    g.pinning = spec.pinning;
    g.refs = 1;
    g.label = std::string(spec.address.isV4() ? "IPv4" : "IPv6") + ", " + spec.pinning.toString();
    return *free_slot;
  }

  // Closes the group's sockets and forgets their identifiers. Used when the last target leaves,
  // on stop(), and when a socket is dead (its interface vanished); the next send re-opens.
  void closeGroupSockets(Group& g) {
    g.sockets.clear();  // closing cancels pending waits; their handlers see a stale id
    g.channels.clear();
    auto& owners = raw_owners[familyIndex(g.family)];
    for (const auto& entry : g.raw_idents) {
      owners.erase(entry.first);
    }
    g.raw_idents.clear();
    g.cursor = 0;
    ++g.gen;  // invalidates queued timeouts of the closed identifiers
  }

  void releaseGroup(std::uint32_t index) {
    Group& g = groups[index];
    PP_CHECK(g.used && g.refs > 0);
    if (--g.refs == 0) {
      closeGroupSockets(g);
      g.used = false;
    }
  }

  // Adds a validated target whose key is free. Requires: validateTarget(spec) passed.
  void insertTarget(TargetSpec spec) {
    std::uint32_t slot;
    if (!free_targets.empty()) {
      slot = free_targets.back();
      free_targets.pop_back();
    } else {
      targets.emplace_back();
      slot = static_cast<std::uint32_t>(targets.size() - 1);
    }
    Target& t = targets[slot];
    const std::uint32_t gen = t.gen + 1;
    t = Target{};
    t.gen = gen;
    t.active = true;
    t.dst_len = detail::toSockaddr(spec.address, spec.kind == ProbeKind::Tcp ? spec.port : 0,
                                   &t.dst);
    t.label = std::string(probeKindName(spec.kind)) + " " + spec.address.toString();
    if (spec.kind == ProbeKind::Tcp) {
      t.label += ":" + std::to_string(spec.port);
    }
    t.label += " via " + spec.path;
    if (spec.kind == ProbeKind::Icmp) {
      t.group = groupFor(spec);
    }
    if (spec.adaptive_timeout) {
      t.rtt.emplace(*spec.adaptive_timeout, spec.timeout);
    }
    by_key.emplace(std::make_pair(spec.path, spec.index), slot);
    t.spec = std::move(spec);
    if (running) {
      scheduleFirst(slot, clock.now());
    }
  }

  // Removes a target. Nothing else is touched: its queued sends and timeouts and its in-flight
  // probes become stale through the generation bump and are skipped when they come up.
  void eraseTarget(std::uint32_t slot) {
    Target& t = targets[slot];
    PP_CHECK(t.active);
    by_key.erase(std::make_pair(t.spec.path, t.spec.index));
    if (auto rest = by_key.lower_bound(std::make_pair(t.spec.path, 0u));
        rest == by_key.end() || rest->first.first != t.spec.path) {
      path_anchor.erase(t.spec.path);
    }
    if (t.spec.kind == ProbeKind::Icmp) {
      releaseGroup(t.group);
    }
    t.active = false;
    ++t.gen;  // queued sends, timeouts and replies of this target become stale
    free_targets.push_back(slot);
  }

  // A random first offset within one interval spreads a thousand targets added by one reload
  // evenly over the interval instead of sending them in one burst.
  // Phase-locked targets (spec.phase) instead start on their path's grid (schedule.h).
  void scheduleFirst(std::uint32_t slot, MonoTime now) {
    Target& t = targets[slot];
    if (t.spec.phase) {
      auto [it, fresh] = path_anchor.try_emplace(t.spec.path, MonoTime{});
      if (fresh) {
        it->second = now + firstProbeOffset(t.spec.interval, rng.next());
      }
      t.grid = phasedFirstGrid(it->second, t.spec.interval, *t.spec.phase, now);
      t.next_due = std::max(now, t.grid + gridJitter(t.spec.interval, t.spec.jitter_pct,
                                                     rng.next()));
    } else {
      t.next_due = now + firstProbeOffset(t.spec.interval, rng.next());
    }
    deadlines.push(t.next_due, Deadline{Deadline::Kind::Send, slot, t.gen, 0, 0});
  }

  // ---- adaptive timeouts (rtt_estimator.h) ---------------------------------------------------

  // The timeout of the probe being sent now: adaptive when configured, else the spec's.
  Duration probeTimeout(Target& t) {
    t.last_timeout = t.rtt ? t.rtt->timeout() : t.spec.timeout;
    return t.last_timeout;
  }

  // Only valid, in-time replies are RTT samples (the caller checked cookie, source, state).
  void noteRtt(std::uint32_t slot, Duration rtt) {
    if (slot < targets.size() && targets[slot].rtt) {
      targets[slot].rtt->onReply(rtt);
    }
  }

  // A late reply to a live target's probe: its timeout was too short (see onLate()).
  void noteLate(const InFlight& probe) {
    if (probe.target < targets.size() && targets[probe.target].active &&
        targets[probe.target].gen == probe.target_gen && targets[probe.target].rtt) {
      targets[probe.target].rtt->onLate();
    }
  }

  // ---- timer ---------------------------------------------------------------------------------

  // Keeps the single timer armed for the earliest deadline. Only an earlier deadline re-arms it
  // (each re-arm is a timerfd_settime); later ones wait for the next wake-up.
  void rearm() {
    if (!running) {
      return;
    }
    // Most timeout entries are stale by the time they reach the top (the reply came long
    // before). Dropping them here, instead of waking up for each, halves the wake-ups.
    while (!deadlines.empty() && isStale(deadlines.top())) {
      deadlines.pop();
    }
    if (deadlines.empty()) {
      return;
    }
    const MonoTime next = deadlines.nextDeadline();
    if (armed_at && *armed_at <= next) {
      return;  // the armed wake-up comes first anyway
    }
    armed_at = next;
    timer.expires_at(next);
    timer.async_wait([weak = weak_from_this()](const std::error_code& ec) {
      if (ec == asio::error::operation_aborted) {
        return;
      }
      if (auto self = weak.lock()) {
        self->onTimer();
      }
    });
  }

  // True when handling `d` would do nothing: its target, probe or socket is gone or finished.
  bool isStale(const Deadline& d) const {
    switch (d.kind) {
      case Deadline::Kind::Send:
        return d.a >= targets.size() || !targets[d.a].active || targets[d.a].gen != d.b;
      case Deadline::Kind::IcmpTimeout: {
        if (d.a >= groups.size()) {
          return true;
        }
        const Group& g = groups[d.a];
        const std::uint32_t ci = d.c >> 16;
        if (!g.used || g.gen != d.b || ci >= g.channels.size()) {
          return true;
        }
        const InFlight* p = g.channels[ci].table.find(static_cast<std::uint16_t>(d.c & 0xffff));
        return p == nullptr || p->state != InFlight::State::Waiting || p->nonce != d.d;
      }
      case Deadline::Kind::TcpTimeout:
        return tcp.count(d.d) == 0;
    }
    return true;
  }

  // One wake-up: every timeout that is due and every send due within the slack. Sends may go a
  // little early so that a thousand targets need ~1/slack wake-ups per second, not one each;
  // timeouts never fire early, so a timeout is never shorter than configured.
  void onTimer() {
    HandlerScope scope(*this);
    const std::optional<MonoTime> deadline = armed_at;
    armed_at.reset();
    if (!running) {
      return;
    }
    const MonoTime now = clock.now();
    ++counters.timer_wakeups;
    if (deadline && now > *deadline) {
      counters.timer_lag_ns += static_cast<std::uint64_t>((now - *deadline).count());
    }
    while (!deadlines.empty() && running) {
      const Deadline& top = deadlines.top();
      const MonoTime due = deadlines.nextDeadline();
      const bool is_send = top.kind == Deadline::Kind::Send;
      if (due > (is_send ? now + options.timer_slack : now)) {
        break;
      }
      const Deadline d = deadlines.pop();
      switch (d.kind) {
        case Deadline::Kind::Send:
          onSendDue(d.a, d.b, now);
          break;
        case Deadline::Kind::IcmpTimeout:
          // Read the replies already queued on this probe's sockets before calling it lost.
          // Only its own group: with one pinning per path, a thousand paths are a thousand
          // groups, and reading all of them on every wake-up would cost a thousand syscalls.
          if (!isStale(d) && d.a < groups.size() &&
              groups[d.a].drained_in_wakeup != counters.timer_wakeups) {
            groups[d.a].drained_in_wakeup = counters.timer_wakeups;
            drainGroup(d.a);
          }
          onIcmpTimeout(d);
          break;
        case Deadline::Kind::TcpTimeout:
          onTcpTimeout(d.d);
          break;
      }
    }
  }

  // A target's send deadline: schedule the next one first (so a failing send cannot stop the
  // schedule), then send.
  void onSendDue(std::uint32_t slot, std::uint32_t gen, MonoTime now) {
    if (slot >= targets.size()) {
      return;
    }
    Target& t = targets[slot];
    if (!t.active || t.gen != gen) {
      return;  // removed or replaced since this was queued
    }
    // Next send: from the previous due time, in phase, never in the past (see nextDue).
    // Phase-locked targets step their grid and jitter around it, so the jitter never adds up.
    MonoTime next;
    if (t.spec.phase) {
      const Duration jitter = gridJitter(t.spec.interval, t.spec.jitter_pct, rng.next());
      t.grid = nextDue(t.grid, t.spec.interval, t.spec.interval, now);
      if (t.grid + jitter <= now) {
        t.grid += t.spec.interval;  // late loop: skip, as nextDue does, rather than send twice
      }
      next = t.grid + jitter;
    } else {
      next = nextDue(t.next_due, jitteredInterval(t.spec.interval, t.spec.jitter_pct, rng.next()),
                     t.spec.interval, now);
    }
    t.next_due = next;
    deadlines.push(next, Deadline{Deadline::Kind::Send, slot, gen, 0, 0});
    if (t.spec.kind == ProbeKind::Icmp) {
      sendIcmp(slot);
    } else {
      sendTcp(slot);
    }
  }

  // ---- ICMP ----------------------------------------------------------------------------------

  // Opens one more socket (ping) or identifier (raw) for group `gi`. Returns the new channel.
  // More channels are needed only when a table is full: 65,536 probes of one identifier in
  // flight, e.g. thousands of silent targets with long timeouts.
  Result<std::uint32_t> addChannel(std::uint32_t gi) {
    Group& g = groups[gi];
    if (g.channels.size() >= kMaxChannels) {
      return fail(ErrorCode::Unavailable, "too many probes in flight (" +
                                              std::to_string(kMaxChannels) +
                                              " identifiers × 65536 sequence numbers)");
    }
    const bool raw_existing = !g.sockets.empty() && g.sockets[0].socket->mode() == IcmpMode::Raw;
    if (!raw_existing) {
      auto opened = IcmpSocket::open(io, g.family, g.pinning, options.icmp_mode);
      if (!opened) {
        return fail(opened.error().withContext("ICMP socket (" + g.label + ")"));
      }
      const bool raw = (*opened)->mode() == IcmpMode::Raw;
      if (raw) {
        // Send only; the family's receiver reads the replies (opened first, so that no reply
        // can arrive before someone listens).
        if (auto r = ensureReceiver(g.family); !r) {
          return fail(r.error());
        }
        if (auto r = (*opened)->stopReceiving(); !r) {
          return fail(r.error().withContext("ICMP socket (" + g.label + ")"));
        }
      }
      SocketEntry entry;
      entry.socket = std::move(*opened);
      entry.id = next_socket_id++;
      g.sockets.push_back(std::move(entry));
      if (!raw) {
        armSocket(gi, static_cast<std::uint32_t>(g.sockets.size() - 1));
      }
    }
    const std::uint32_t sock = static_cast<std::uint32_t>(g.sockets.size() - 1);
    Channel ch;
    ch.socket = sock;
    if (g.sockets[sock].socket->mode() == IcmpMode::Ping) {
      ch.ident = g.sockets[sock].socket->kernelIdent();
    } else {
      // Our own identifier, distinct among all raw groups of the family (they share the
      // receiver). Other processes' raw pingers may pick the same; the cookie still tells
      // their replies from ours.
      auto& owners = raw_owners[familyIndex(g.family)];
      do {
        ch.ident = static_cast<std::uint16_t>(rng.next());
      } while (owners.count(ch.ident) != 0);
      owners.emplace(ch.ident, gi);
      g.raw_idents.emplace(ch.ident, static_cast<std::uint32_t>(g.channels.size()));
    }
    g.channels.push_back(std::move(ch));
    return static_cast<std::uint32_t>(g.channels.size() - 1);
  }

  // Sends one echo request for target `slot`. Sockets open lazily here (and re-open after a
  // failure, at most once per reopen_backoff), so a missing interface shows up as failed
  // results of exactly the targets pinned to it while everything else keeps probing.
  void sendIcmp(std::uint32_t slot) {
    Target& t = targets[slot];
    const std::uint32_t gi = t.group;
    Group& g = groups[gi];
    MonoTime now = clock.now();

    if (g.channels.empty()) {
      if (g.open_error && now < g.retry_at) {
        emitFailure(t, now, now, FailureKind::SocketError, g.open_error->toString());
        return;
      }
      auto ch = addChannel(gi);
      if (!ch) {
        ++counters.socket_errors;
        g.open_error = ch.error();
        g.retry_at = now + options.reopen_backoff;
        emitFailure(t, now, now, FailureKind::SocketError, ch.error().toString());
        return;
      }
      g.open_error.reset();
    }

    // Find an identifier with a free sequence number, starting where the last probe went.
    const std::uint64_t nonce = rng.next();
    now = clock.now();
    std::optional<std::uint16_t> seq;
    std::uint32_t ci = g.cursor;
    for (std::size_t tried = 0; tried < g.channels.size() && !seq; ++tried) {
      ci = static_cast<std::uint32_t>((g.cursor + tried) % g.channels.size());
      seq = g.channels[ci].table.allocate(slot, t.gen, nonce, now);
    }
    if (!seq) {
      auto ch = addChannel(gi);
      if (!ch) {
        ++counters.send_errors;
        emitFailure(t, now, now, FailureKind::SendError, ch.error().toString());
        return;
      }
      ci = *ch;
      seq = g.channels[ci].table.allocate(slot, t.gen, nonce, now);
      PP_CHECK(seq.has_value());
    }
    g.cursor = ci;
    Channel& ch = g.channels[ci];
    const icmp::Cookie cookie{t.gen, nonce,
                              static_cast<std::uint64_t>(now.time_since_epoch().count())};
    const std::size_t len = icmp::encodeEchoRequest(g.family, ch.ident, *seq, cookie,
                                                    t.spec.payload_size, packet);
    IcmpSocket& sock = *g.sockets[ch.socket].socket;
    const int e = sock.sendTo(std::span<const std::uint8_t>(packet.data(), len), t.dst, t.dst_len);
    if (e != 0) {
      ch.table.finish(*seq, nonce, nullptr);
      ++counters.send_errors;
      std::string cause = "send failed: " + errnoText(e);
      bool dead = socketIsDead(e);
      if (!g.pinning.interface.empty()) {
        // A pinned socket keeps the ifindex of the device it was bound to. If that device is
        // gone (or was re-created with a new index) the socket can never send again: say so
        // and re-create it, instead of reporting "network unreachable" forever.
        const unsigned index = ::if_nametoindex(g.pinning.interface.c_str());
        if (index == 0) {
          cause += " (interface " + g.pinning.interface + " does not exist)";
          dead = true;
        } else if (sock.boundIfindex() != 0 && index != sock.boundIfindex()) {
          cause += " (interface " + g.pinning.interface + " was re-created; re-opening)";
          dead = true;
        } else {
          cause += " (pinned to interface " + g.pinning.interface + ")";
        }
      }
      if (e == EPERM || e == EACCES) {
        cause += " (blocked by a firewall rule or a prohibit route)";
      }
      emitFailure(t, now, clock.now(), FailureKind::SendError, cause);
      if (dead) {
        closeGroupSockets(g);
      }
      return;
    }
    ++counters.sent;
    deadlines.push(now + probeTimeout(t),
                   Deadline{Deadline::Kind::IcmpTimeout, gi, g.gen, (ci << 16) | *seq, nonce});
  }

  // A probe's timeout deadline. Stale when the probe was answered or failed (expire() returns
  // false) or its socket was re-created (group generation changed).
  void onIcmpTimeout(const Deadline& d) {
    if (d.a >= groups.size()) {
      return;
    }
    Group& g = groups[d.a];
    const std::uint32_t ci = d.c >> 16;
    const auto seq = static_cast<std::uint16_t>(d.c & 0xffff);
    if (!g.used || g.gen != d.b || ci >= g.channels.size()) {
      return;  // sockets were closed or re-created since
    }
    SeqTable& table = g.channels[ci].table;
    if (!table.expire(seq, d.d)) {
      return;  // answered or failed already
    }
    const InFlight* probe = table.find(seq);
    PP_CHECK(probe != nullptr);
    if (probe->target >= targets.size()) {
      return;
    }
    const Target& t = targets[probe->target];
    if (!t.active || t.gen != probe->target_gen) {
      return;
    }
    ++counters.timed_out;
    emitFailure(t, probe->sent_at, clock.now(), FailureKind::Timeout,
                "timeout after " + formatDuration(t.last_timeout));
  }

  // Starts the (single) readiness wait of a socket. The handler holds only indices, the socket
  // id and a weak reference, so it is harmless if it runs after the socket or engine is gone.
  void armSocket(std::uint32_t gi, std::uint32_t si) {
    SocketEntry& entry = groups[gi].sockets[si];
    if (entry.armed) {
      return;
    }
    entry.armed = true;
    entry.socket->asyncWaitReadable(
        [weak = weak_from_this(), gi, si, id = entry.id](const std::error_code& ec) {
          if (ec == asio::error::operation_aborted) {
            return;
          }
          if (auto self = weak.lock()) {
            self->onReadable(gi, si, id);
          }
        });
  }

  SocketEntry* findSocket(std::uint32_t gi, std::uint32_t si, std::uint64_t id) {
    if (gi >= groups.size() || si >= groups[gi].sockets.size()) {
      return nullptr;
    }
    SocketEntry& entry = groups[gi].sockets[si];
    return entry.id == id ? &entry : nullptr;
  }

  // Drains a readable socket in recvmmsg batches. Every lookup after handling a batch re-finds
  // the socket by id: handling an error can close the group's sockets.
  void onReadable(std::uint32_t gi, std::uint32_t si, std::uint64_t id) {
    HandlerScope scope(*this);
    SocketEntry* entry = findSocket(gi, si, id);
    if (entry == nullptr) {
      return;
    }
    entry->armed = false;
    const auto drained = drainSocket(gi, si, id, kReceiveBatchesPerWake);
    if (!drained) {
      return;  // closed while handling an error
    }
    if (*drained) {
      armSocket(gi, si);
    } else {
      // Budget used up: let timers and other sockets run, then continue draining. The wait is
      // edge-triggered, so it must not be re-armed while data is still queued.
      asio::post(io, [weak = weak_from_this(), gi, si, id] {
        if (auto self = weak.lock()) {
          self->onReadable(gi, si, id);
        }
      });
    }
  }

  // Reads and handles up to `max_rounds` batches. Returns true when the socket is drained,
  // false when the budget ran out first, nullopt when the socket was closed meanwhile.
  std::optional<bool> drainSocket(std::uint32_t gi, std::uint32_t si, std::uint64_t id,
                                  int max_rounds) {
    for (int round = 0; round < max_rounds; ++round) {
      SocketEntry* entry = findSocket(gi, si, id);
      if (entry == nullptr) {
        return std::nullopt;
      }
      const int e = entry->socket->receive(rx_buffers, &batch);
      std::size_t got = batch.size();
      handleBatch(gi, si, id);
      if (e != 0) {
        // A ping socket with IP_RECVERR reports a queued ICMP error once as the recvmmsg
        // errno (sk_err); the details are on the error queue. Reading it only then saves a
        // system call per wake-up in the common case.
        entry = findSocket(gi, si, id);
        if (entry == nullptr) {
          return std::nullopt;
        }
        entry->socket->receiveErrors(rx_buffers, &batch);
        got += batch.size();
        handleBatch(gi, si, id);
      }
      // Nothing read: drained. An error with nothing behind it (sk_err is reported once and
      // cleared) also ends the round, so a persistent error can never spin the loop.
      if (got == 0) {
        return true;
      }
    }
    return findSocket(gi, si, id) ? std::optional<bool>(false) : std::nullopt;
  }

  // Before any timeout is declared, read every ICMP socket: when the engine thread runs late,
  // replies that the kernel received in time may still sit unread, and they must count as
  // replies, not timeouts. Cheap: one recvmmsg per socket returning EAGAIN when idle.
  // Raw groups only send: their replies wait on the family's receiver, read at most once per
  // wake-up however many groups time out in it.
  void drainGroup(std::uint32_t gi) {
    if (!groups[gi].sockets.empty() && groups[gi].sockets[0].socket->mode() == IcmpMode::Raw &&
        !groups[gi].receiver) {
      gi = receiverOf(groups[gi].family);
      if (groups[gi].drained_in_wakeup == counters.timer_wakeups) {
        return;
      }
      groups[gi].drained_in_wakeup = counters.timer_wakeups;
    }
    for (std::uint32_t si = 0; si < groups[gi].sockets.size(); ++si) {
      (void)drainSocket(gi, si, groups[gi].sockets[si].id, kReceiveBatchesPerWake * 4);
    }
  }

  // Converts a kernel receive timestamp (CLOCK_REALTIME) to our monotonic clock, falling back
  // to `now` when it is missing or implausible (a wall clock step).
  MonoTime receiveTime(const Datagram& d, MonoTime now_mono, WallTime now_wall, MonoTime sent_at) {
    if (!d.rx_wall) {
      return now_mono;
    }
    const WallTime rx = WallTime(std::chrono::duration_cast<WallTime::duration>(
        std::chrono::seconds(d.rx_wall->tv_sec) + std::chrono::nanoseconds(d.rx_wall->tv_nsec)));
    const MonoTime mono = now_mono - std::chrono::duration_cast<Duration>(now_wall - rx);
    if (mono < sent_at || mono > now_mono) {
      return now_mono;
    }
    return mono;
  }

  // One clock read per batch: per-packet precision comes from the kernel timestamps.
  void handleBatch(std::uint32_t gi, std::uint32_t si, std::uint64_t id) {
    if (batch.empty()) {
      return;
    }
    const MonoTime now = clock.now();
    const WallTime wall = clock.wallNow();
    for (const Datagram& d : batch) {
      SocketEntry* entry = findSocket(gi, si, id);
      if (entry == nullptr) {
        return;
      }
      handleDatagram(gi, si, *entry->socket, d, now, wall);
    }
  }

  // The channel of a reply on socket `si`: ping sockets have one identifier each (the kernel
  // only delivers that one); raw sockets see every identifier and look it up.
  Channel* channelFor(Group& g, std::uint32_t si, const IcmpSocket& sock, std::uint16_t ident) {
    if (sock.mode() == IcmpMode::Ping) {
      for (Channel& ch : g.channels) {
        if (ch.socket == si) {
          return &ch;
        }
      }
      return nullptr;
    }
    // Raw: the reply arrived on the family's receiver; the identifier names the group.
    (void)si;
    const auto& owners = raw_owners[familyIndex(g.family)];
    auto owner = owners.find(ident);
    if (owner == owners.end()) {
      return nullptr;
    }
    Group& og = groups[owner->second];
    auto it = og.raw_idents.find(ident);
    return it == og.raw_idents.end() ? nullptr : &og.channels[it->second];
  }

  // Opens the family's raw receiver if it is not open: unpinned, so that it sees the replies
  // of every pinned raw socket whatever interface or mark they left with.
  Result<void> ensureReceiver(IpFamily family) {
    const std::uint32_t ri = receiverOf(family);
    if (!groups[ri].sockets.empty()) {
      return ok();
    }
    auto opened = IcmpSocket::open(io, family, Pinning{}, IcmpMode::Raw);
    if (!opened) {
      return fail(opened.error().withContext("ICMP socket (" + groups[ri].label + ")"));
    }
    SocketEntry entry;
    entry.socket = std::move(*opened);
    entry.id = next_socket_id++;
    groups[ri].sockets.push_back(std::move(entry));
    armSocket(ri, 0);
    return ok();
  }

  // The target a probe belongs to, if it still exists in the same generation.
  const Target* liveTarget(const InFlight& probe) const {
    if (probe.target >= targets.size()) {
      return nullptr;
    }
    const Target& t = targets[probe.target];
    return t.active && t.gen == probe.target_gen ? &t : nullptr;
  }

  // Classifies one datagram: echo reply (valid / late / foreign), an ICMP error about one of
  // our probes (raw sockets see these as packets, ping sockets on the error queue), or noise.
  void handleDatagram(std::uint32_t gi, std::uint32_t si, const IcmpSocket& sock,
                      const Datagram& d, MonoTime now, WallTime wall) {
    Group& g = groups[gi];
    auto parsed = icmp::parseMessage(g.family, d.data, !d.is_error && sock.receivesIpHeader());
    if (!parsed) {
      ++counters.foreign;
      return;
    }
    const icmp::Message& m = *parsed;
    if (d.is_error) {
      // Ping socket error queue: the payload is our original request.
      if (m.kind != icmp::MessageKind::EchoRequest) {
        ++counters.foreign;
        return;
      }
      std::string cause;
      if (d.err_from_icmp) {
        cause = icmp::describeError(g.family, d.err_type, d.err_code);
        if (d.offender) {
          cause += " reported by " + d.offender->toString();
        }
      } else {
        cause = "local error: " + errnoText(d.err_errno);
      }
      failProbe(g, channelFor(g, si, sock, m.ident), m, d.from, now, cause);
      return;
    }
    if (m.kind == icmp::MessageKind::Error) {
      // Raw sockets: an ICMP error quoting one of our requests.
      std::string cause = icmp::describeError(g.family, m.type, m.code);
      if (d.from) {
        cause += " reported by " + d.from->toString();
      }
      failProbe(g, channelFor(g, si, sock, m.ident), m, m.quoted_dst, now, cause);
      return;
    }
    if (m.kind != icmp::MessageKind::EchoReply) {
      return;  // not a reply (raw sockets filter most of these in the kernel)
    }
    Channel* ch = channelFor(g, si, sock, m.ident);
    if (ch == nullptr || !m.cookie) {
      ++counters.foreign;
      return;
    }
    // The reply must come from the probed address. Checked before the table consumes the
    // probe, so a forged reply from elsewhere cannot cancel a real one.
    const InFlight* waiting = ch->table.find(m.seq);
    if (waiting == nullptr) {
      ++counters.foreign;
      return;
    }
    const Target* owner = liveTarget(*waiting);
    if (owner != nullptr && waiting->nonce == m.cookie->nonce &&
        (!d.from || *d.from != owner->spec.address)) {
      ++counters.foreign;
      return;
    }
    InFlight probe;
    const MonoTime sent_at(Duration(static_cast<Duration::rep>(m.cookie->sent_ns)));
    switch (ch->table.onReply(m.seq, m.cookie->nonce, sent_at, &probe)) {
      case ReplyMatch::Valid: {
        const Target* t = liveTarget(probe);
        if (t == nullptr) {
          ++counters.late;  // target removed or replaced while the probe was in flight
          return;
        }
        ++counters.received;
        const MonoTime received_at = receiveTime(d, now, wall, probe.sent_at);
        noteRtt(probe.target, received_at - probe.sent_at);
        emitSuccess(*t, probe.sent_at, received_at, false);
        return;
      }
      case ReplyMatch::Late:
        ++counters.late;
        noteLate(probe);
        return;
      case ReplyMatch::Foreign:
        ++counters.foreign;
        return;
    }
  }

  // Ends the probe an ICMP error (or error-queue entry) refers to.
  void failProbe(Group& g, Channel* ch, const icmp::Message& m,
                 const std::optional<IpAddress>& original_dst, MonoTime now,
                 const std::string& cause) {
    (void)g;
    if (ch == nullptr) {
      ++counters.foreign;
      return;
    }
    const InFlight* waiting = ch->table.find(m.seq);
    if (waiting == nullptr || waiting->state != InFlight::State::Waiting) {
      ++counters.foreign;  // about a probe that already finished, or not ours
      return;
    }
    const Target* owner = liveTarget(*waiting);
    if (owner != nullptr && original_dst && *original_dst != owner->spec.address) {
      ++counters.foreign;
      return;
    }
    std::optional<std::uint64_t> nonce;
    if (m.cookie) {
      nonce = m.cookie->nonce;
    }
    InFlight probe;
    if (!ch->table.finish(m.seq, nonce, &probe)) {
      ++counters.foreign;
      return;
    }
    const Target* t = liveTarget(probe);
    if (t == nullptr) {
      return;
    }
    ++counters.unreachable;
    emitFailure(*t, probe.sent_at, now, FailureKind::Unreachable, cause);
  }

  // ---- TCP -----------------------------------------------------------------------------------

  // Starts one TCP connect. The socket is pinned exactly like an ICMP socket (device, mark,
  // source) before connect() so the SYN follows the path under test.
  void sendTcp(std::uint32_t slot) {
    Target& t = targets[slot];
    const MonoTime now = clock.now();
    asio::ip::tcp::socket socket(io);
    std::error_code ec;
    socket.open(t.spec.address.isV4() ? asio::ip::tcp::v4() : asio::ip::tcp::v6(), ec);
    if (ec) {
      ++counters.socket_errors;
      emitFailure(t, now, now, FailureKind::SocketError, "cannot open TCP socket: " + ec.message());
      return;
    }
    if (auto pinned = detail::applyDevicePinning(socket.native_handle(), t.spec.pinning);
        !pinned) {
      ++counters.socket_errors;
      emitFailure(t, now, now, FailureKind::SocketError, pinned.error().toString());
      return;
    }
    if (t.spec.pinning.source) {
      sockaddr_storage sa;
      const socklen_t len = detail::toSockaddr(*t.spec.pinning.source, 0, &sa);
      if (::bind(socket.native_handle(), reinterpret_cast<const sockaddr*>(&sa), len) != 0) {
        const int e = errno;
        ++counters.socket_errors;
        emitFailure(t, now, now, FailureKind::SocketError,
                    "bind to source " + t.spec.pinning.source->toString() + ": " + errnoText(e));
        return;
      }
    }
    // Reset instead of FIN on close: no TIME_WAIT pile-up on the monitor at high rates.
    socket.set_option(asio::socket_base::linger(true, 0), ec);
    const std::uint64_t id = next_tcp_id++;
    asio::ip::tcp::endpoint endpoint(
        t.spec.address.isV4()
            ? asio::ip::address(asio::ip::address_v4(t.spec.address.v4HostOrder()))
            : asio::ip::address(asio::ip::address_v6([&] {
                asio::ip::address_v6::bytes_type b;
                std::memcpy(b.data(), t.spec.address.bytes().data(), 16);
                return b;
              }())),
        t.spec.port);
    TcpProbe& probe = tcp[id];
    probe.target = slot;
    probe.gen = t.gen;
    probe.sent_at = now;
    probe.socket.emplace(std::move(socket));
    ++counters.sent;
    deadlines.push(now + probeTimeout(t), Deadline{Deadline::Kind::TcpTimeout, 0, 0, 0, id});
    probe.socket->async_connect(endpoint, [weak = weak_from_this(), id](const std::error_code& e) {
      if (e == asio::error::operation_aborted) {
        return;
      }
      if (auto self = weak.lock()) {
        self->onTcpDone(id, e);
      }
    });
  }

  // Connect finished (before the timeout; after it the id is gone). Connected or refused are
  // both proof that the path carries packets both ways; anything else is a failure.
  void onTcpDone(std::uint64_t id, const std::error_code& ec) {
    HandlerScope scope(*this);
    auto it = tcp.find(id);
    if (it == tcp.end()) {
      return;  // timed out or stopped already
    }
    TcpProbe probe = std::move(it->second);
    tcp.erase(it);
    const MonoTime now = clock.now();
    if (probe.target >= targets.size()) {
      return;
    }
    const Target& t = targets[probe.target];
    if (!t.active || t.gen != probe.gen) {
      return;
    }
    if (!ec) {
      ++counters.received;
      noteRtt(probe.target, now - probe.sent_at);
      emitSuccess(t, probe.sent_at, now, false);
    } else if (ec == asio::error::connection_refused) {
      ++counters.received;
      ++counters.refused;
      noteRtt(probe.target, now - probe.sent_at);
      emitSuccess(t, probe.sent_at, now, true);
    } else {
      ++counters.unreachable;
      emitFailure(t, probe.sent_at, now, FailureKind::Unreachable, "connect failed: " + ec.message());
    }
    // probe.socket closes here with SO_LINGER 0 (RST).
  }

  // Erasing the probe closes its socket, which aborts the connect; the aborted handler then
  // finds no id and reports nothing, so each probe reports exactly once.
  void onTcpTimeout(std::uint64_t id) {
    auto it = tcp.find(id);
    if (it == tcp.end()) {
      return;
    }
    TcpProbe probe = std::move(it->second);
    tcp.erase(it);
    if (probe.target >= targets.size()) {
      return;
    }
    const Target& t = targets[probe.target];
    if (!t.active || t.gen != probe.gen) {
      return;
    }
    ++counters.timed_out;
    emitFailure(t, probe.sent_at, clock.now(), FailureKind::Timeout,
                "timeout after " + formatDuration(t.last_timeout));
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  // Drops every socket, deadline and in-flight probe. Handlers still queued in the io_context
  // find their socket ids or TCP ids gone and do nothing.
  void stopAll() {
    running = false;
    timer.cancel();
    armed_at.reset();
    deadlines.clear();
    for (Group& g : groups) {
      closeGroupSockets(g);
      g.open_error.reset();
    }
    tcp.clear();
    pending.clear();
  }
};

ProbeEngine::ProbeEngine(asio::io_context& io, const Clock& clock, EngineOptions options)
    : impl_(std::make_shared<Impl>(io, clock, options)) {}

ProbeEngine::~ProbeEngine() {
  impl_->stopAll();
}

void ProbeEngine::setSink(ProbeSink sink) { impl_->sink = std::move(sink); }

// Validates the whole set before touching anything, so a bad reload leaves probing as it was.
Result<void> ProbeEngine::replaceTargets(std::vector<TargetSpec> specs) {
  Impl& m = *impl_;
  std::map<std::pair<std::string, std::uint32_t>, std::size_t> wanted;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    if (auto v = validateTarget(specs[i]); !v) {
      return fail(v.error());
    }
    if (!wanted.emplace(std::make_pair(specs[i].path, specs[i].index), i).second) {
      return fail(ErrorCode::InvalidArgument, "probe target " + specs[i].path + "[" +
                                                  std::to_string(specs[i].index) +
                                                  "] is listed twice");
    }
  }
  Impl::HandlerScope scope(m);
  // Remove targets that are gone or changed; keep identical ones untouched.
  std::vector<std::uint32_t> to_erase;
  for (const auto& [key, slot] : m.by_key) {
    auto it = wanted.find(key);
    if (it == wanted.end() || !(specs[it->second] == m.targets[slot].spec)) {
      to_erase.push_back(slot);
    } else {
      wanted.erase(it);  // unchanged: nothing to add
    }
  }
  for (std::uint32_t slot : to_erase) {
    m.eraseTarget(slot);
  }
  for (const auto& [key, index] : wanted) {
    m.insertTarget(std::move(specs[index]));
  }
  return ok();
}

Result<void> ProbeEngine::addTarget(TargetSpec spec) {
  Impl& m = *impl_;
  if (auto v = validateTarget(spec); !v) {
    return fail(v.error());
  }
  if (m.by_key.count(std::make_pair(spec.path, spec.index)) != 0) {
    return fail(ErrorCode::AlreadyExists, "probe target " + spec.path + "[" +
                                              std::to_string(spec.index) + "] already exists");
  }
  Impl::HandlerScope scope(m);
  m.insertTarget(std::move(spec));
  return ok();
}

bool ProbeEngine::removeTarget(std::string_view path, std::uint32_t index) {
  Impl& m = *impl_;
  auto it = m.by_key.find(std::make_pair(std::string(path), index));
  if (it == m.by_key.end()) {
    return false;
  }
  Impl::HandlerScope scope(m);
  m.eraseTarget(it->second);
  return true;
}

void ProbeEngine::start() {
  Impl& m = *impl_;
  if (m.running) {
    return;
  }
  Impl::HandlerScope scope(m);
  m.running = true;
  const MonoTime now = m.clock.now();
  for (std::uint32_t slot = 0; slot < m.targets.size(); ++slot) {
    if (m.targets[slot].active) {
      m.scheduleFirst(slot, now);
    }
  }
}

void ProbeEngine::stop() { impl_->stopAll(); }

ProbeCounters ProbeEngine::counters() const { return impl_->counters; }

std::size_t ProbeEngine::targetCount() const { return impl_->by_key.size(); }

std::size_t ProbeEngine::socketCount() const {
  std::size_t n = 0;
  for (const auto& g : impl_->groups) {
    n += g.sockets.size();
  }
  return n;
}

bool ProbeEngine::running() const { return impl_->running; }

}  // namespace pathpilot::probe
