// probe/probe_engine.h — ICMP echo and TCP connect probes for thousands of targets on one thread.
//
// Purpose: the real Prober. Each target has its own jittered schedule; each probe is pinned to
// its path (source address, SO_BINDTODEVICE, SO_MARK) and reported to the sink as one
// ProbeResult naming path and target: a valid reply, a timeout, an ICMP error, or a send /
// socket error with a clear text. Bad environments (missing interface, no permission, no
// route) become failed results, never crashes or busy loops; sockets are re-created when an
// interface disappears and comes back.
//
// How it scales: all targets with the same (address family, Pinning) share ICMP sockets; each
// socket/identifier has a SeqTable of in-flight probes (16 slots at first, doubling when
// busy). Sends and timeouts of every target sit in one DeadlineQueue served by one asio timer;
// sends due within `timer_slack` of each other go out in the same wake-up. Replies are
// drained with recvmmsg in batches into one set of buffers shared by all sockets. No thread,
// no process per probe. With one pinning per path, a thousand paths are a thousand groups:
// ping sockets are demultiplexed by the kernel (by identifier), but every raw socket gets a
// copy of every ICMP packet, so in raw mode the pinned sockets only send and one unpinned
// raw socket per family receives the replies of all groups (identifiers are unique per
// family). Memory per pinned path: one socket and about 1.5 KiB of engine state.
//
// Validity of a reply (ICMP): identifier + sequence must name a waiting probe, the payload
// cookie (magic, 64-bit random nonce, send time) must match it, and the reply must come from
// the target's address. Replies after the timeout are counted as `late`, anything else that
// arrives on our sockets as `foreign`; neither is ever reported as success.
//
// TCP: success = the handshake completed (the connection is then reset, SO_LINGER 0, so that
// the monitor keeps no TIME_WAIT). A RST (ECONNREFUSED) also counts as success with
// `refused = true`: the host answered over the path, which is what a path probe asks; only a
// timeout, an ICMP error or a local error is a failure.
//
// Threading: construct, call and destroy on the thread that runs `io`. The sink is called on
// that thread, never re-entrantly inside another engine call, and may call any engine method
// except the destructor.
//
// Metrics: counters() — see ProbeCounters; socketCount() for a gauge of open ICMP sockets.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include <asio/io_context.hpp>

#include "base/time.h"
#include "probe/probe.h"

namespace pathpilot::probe {

struct EngineOptions {
  // Which ICMP sockets to use. Auto prefers unprivileged ping sockets.
  IcmpMode icmp_mode = IcmpMode::Auto;
  // Seed for jitter, first-probe offsets, nonces and raw-socket identifiers. nullopt draws one
  // from std::random_device; tests set it for reproducible schedules.
  std::optional<std::uint64_t> seed;
  // Sends due within this much after a wake-up go out in that wake-up (timeouts never fire
  // early). Bounds the wake-up rate to about 1/timer_slack with thousands of targets.
  Duration timer_slack = std::chrono::microseconds(500);
  // After an ICMP socket failed to open or pin (e.g. its interface is missing), probes of that
  // pinning fail at once with the same error until this much time has passed, then the engine
  // tries again. Keeps a missing interface from costing a syscall storm.
  Duration reopen_backoff = std::chrono::seconds(1);
};

class ProbeEngine final : public Prober {
 public:
  // `io` and `clock` must outlive the engine. `clock` must be the steady clock in production
  // (asio timers run on it); tests may wrap it.
  ProbeEngine(asio::io_context& io, const Clock& clock, EngineOptions options = {});
  ~ProbeEngine() override;
  ProbeEngine(const ProbeEngine&) = delete;
  ProbeEngine& operator=(const ProbeEngine&) = delete;

  // probe::Prober
  void setSink(ProbeSink sink) override;
  [[nodiscard]] Result<void> replaceTargets(std::vector<TargetSpec> targets) override;
  void start() override;
  void stop() override;
  ProbeCounters counters() const override;

  // Adds one target. InvalidArgument for a bad spec, AlreadyExists when (path, index) is taken.
  // If the engine is running, the target's first probe goes out within one interval.
  [[nodiscard]] Result<void> addTarget(TargetSpec spec);

  // Removes the target (path, index); its in-flight probes are dropped unreported. Returns
  // false when there is no such target.
  bool removeTarget(std::string_view path, std::uint32_t index);

  std::size_t targetCount() const;
  // Open ICMP sockets (all groups, and in raw mode the receiver of each family in use).
  std::size_t socketCount() const;
  bool running() const;

 private:
  struct Impl;
  // Shared only so that asio handlers still queued after destruction can see (through a
  // weak_ptr) that the engine is gone; the engine is the sole owner.
  std::shared_ptr<Impl> impl_;
};

}  // namespace pathpilot::probe
