// probe/probe.h — what a probe is, what it reports, and the Prober interface.
//
// Purpose: the vocabulary between the probers (ICMP echo, TCP connect, later BFD sessions) and
// the health module. A TargetSpec says what to probe, how often and over which path (Pinning);
// a ProbeResult says what one probe saw. Quorum over several targets of a path is decided by
// the health module, which keeps one window per (path, target index): probers only report
// per-target results and never aggregate.
//
// Threading: every Prober lives on the engine thread's io_context. Its methods and its sink are
// called on that thread only; nothing here is thread-safe.
//
// Metrics: ProbeCounters (monotonic totals since construction), exported by the metrics module
// as pathpilot_probe_<name>_total.
//
// Design for BFD (docs/architecture.md, "Extending pathpilot"): a session-based prober reports through
// the same ProbeSink — one ProbeResult per state change (success = session Up), with `kind`
// saying where it came from — so health and the wiring do not change when BFD is added.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/ip.h"
#include "base/link.h"
#include "base/time.h"
#include "metrics/family.h"
#include "probe/rtt_estimator.h"
#include "probe/schedule.h"

namespace pathpilot::probe {

enum class ProbeKind : std::uint8_t {
  Icmp,  // ICMP / ICMPv6 echo request → echo reply
  Tcp,   // non-blocking TCP connect to address:port
};

// "icmp", "tcp".
std::string_view probeKindName(ProbeKind kind);

// Which kind of socket ICMP probes use.
enum class IcmpMode : std::uint8_t {
  Auto,  // unprivileged ping socket if net.ipv4.ping_group_range allows it, else raw
  Ping,  // SOCK_DGRAM/IPPROTO_ICMP(V6): the kernel owns the identifier (= local port) and
         // delivers only our own replies and errors (via IP_RECVERR)
  Raw,   // SOCK_RAW (root or CAP_NET_RAW): we pick identifiers and filter everyone else's
         // ICMP ourselves
};

// "auto", "ping", "raw".
std::string_view icmpModeName(IcmpMode mode);

// How a probe is forced onto its path (base/link.h).
using pathpilot::Pinning;

// One thing to probe. Identified by (path, index): the index is the target's position in the
// path's target list, stable across config reloads when the list is unchanged.
struct TargetSpec {
  std::string path;            // path name, e.g. "vpn-a"
  std::uint32_t index = 0;     // target number within the path
  ProbeKind kind = ProbeKind::Icmp;
  IpAddress address;           // what to probe
  std::uint16_t port = 0;      // TCP only; required there
  Duration interval = std::chrono::seconds(1);  // >= 10ms
  Duration timeout = std::chrono::seconds(1);   // > 0; may exceed the interval
  // Each interval is drawn uniformly from interval × (1 ± jitter_pct/100). 0..50.
  std::uint32_t jitter_pct = 10;
  Pinning pinning;
  // ICMP payload bytes after the 8-byte header (24..1472). The first 24 carry the cookie.
  std::uint32_t payload_size = 32;
  // Set: the timeout adapts to the target's measured RTT (see rtt_estimator.h) and `timeout`
  // is its ceiling. Unset: every probe waits `timeout`.
  std::optional<AdaptiveTimeoutParams> adaptive_timeout;
  // Set: the target is phase-locked with the other targets of its path (schedule.h,
  // quorumPhaseSlot); all targets of a path must then use the same interval. Unset: a random
  // first offset and jitter that accumulates, as for unrelated targets.
  std::optional<PhaseSlot> phase;

  bool operator==(const TargetSpec&) const = default;
};

// Checks ranges and consistency (families, port for TCP, interface name length). Errors are
// InvalidArgument and name the target as "<path>[<index>] <address>".
[[nodiscard]] Result<void> validateTarget(const TargetSpec& spec);

// Why a probe failed; None when it succeeded.
enum class FailureKind : std::uint8_t {
  None,
  Timeout,      // no valid reply within the timeout
  Unreachable,  // an ICMP error (destination unreachable, time exceeded...) or connect error
  SendError,    // the kernel refused to send (ENETUNREACH, EPERM by a firewall, ENODEV...)
  SocketError,  // no socket could be opened or pinned (missing interface, no permission)
};

// "none", "timeout", "unreachable", "send_error", "socket_error".
std::string_view failureKindName(FailureKind kind);

// What one probe (or one BFD state change) saw.
struct ProbeResult {
  std::string path;
  std::uint32_t target_index = 0;
  IpAddress target;
  ProbeKind kind = ProbeKind::Icmp;
  bool success = false;
  // TCP only: the target answered the SYN with a RST (connection refused). The host and the
  // path are alive, so this counts as success; health may treat it differently if it wants.
  bool refused = false;
  FailureKind failure = FailureKind::None;
  Duration rtt{0};            // valid when success
  MonoTime sent_at{};         // when the probe left (the engine's clock)
  MonoTime completed_at{};    // reply, error or timeout time
  // Empty on success; otherwise names the target, the path and the cause, e.g.
  // "icmp 10.10.3.100 via dx: timeout after 1s".
  std::string error;
};

// Where results go. Registered once at wiring time (daemon/); called on the engine thread.
// The sink must not throw: it is called while unwinding an engine entry point, so an exception
// terminates the process (the loop's catch-all-and-abort rule, docs/development.md, without the log).
using ProbeSink = std::function<void(const ProbeResult&)>;

// Monotonic totals for metrics.
struct ProbeCounters {
  std::uint64_t sent = 0;          // probes handed to the kernel (ICMP) or connects started (TCP)
  std::uint64_t received = 0;      // valid replies counted as success
  std::uint64_t timed_out = 0;     // probes that got no valid reply in time
  std::uint64_t late = 0;          // valid replies that arrived after their probe timed out
  std::uint64_t foreign = 0;       // replies that belong to nobody: other processes, unknown
                                   // identifiers or sequence numbers, bad cookie, wrong source.
                                   // Raw sockets see every echo reply of the host (or bound
                                   // interface), so other pingers' replies count here too.
  std::uint64_t send_errors = 0;   // sends the kernel refused
  std::uint64_t unreachable = 0;   // ICMP errors / connect errors matched to a probe
  std::uint64_t socket_errors = 0; // failures to open or pin a socket
  std::uint64_t refused = 0;       // TCP connects answered by RST (also counted in received)
  // Loop health (docs/development.md): timer wake-ups and the summed lateness of those wake-ups
  // against their deadline. lag / wakeups is the mean lateness; a stalled engine thread shows
  // here before probes start timing out. Session probers (BFD) may leave them 0.
  std::uint64_t timer_wakeups = 0;
  std::uint64_t timer_lag_ns = 0;
};

// The Prometheus families of `c` (pathpilot_probe_*; metrics/family.h).
std::vector<metrics::MetricFamily> metricFamilies(const ProbeCounters& c);

// A source of probe results for a set of targets. Implementations: ProbeEngine (ICMP + TCP),
// FakeProber (tests), later a BFD prober.
class Prober {
 public:
  virtual ~Prober() = default;

  // Registers the one result sink. Requires: called before start().
  virtual void setSink(ProbeSink sink) = 0;

  // Makes `targets` the full target set (config reload). Targets whose (path, index) and spec
  // are unchanged keep their schedule and in-flight probes; changed ones restart; missing
  // ones stop silently (their late replies are counted as `late`/`foreign`, never reported).
  // Returns InvalidArgument, leaving the old set untouched, if any spec is invalid or two
  // targets share a (path, index).
  [[nodiscard]] virtual Result<void> replaceTargets(std::vector<TargetSpec> targets) = 0;

  // Starts probing. Targets get a random first offset within their interval so that thousands
  // of targets do not fire at once.
  virtual void start() = 0;

  // Stops probing, closes every socket and drops in-flight probes without reporting them.
  // start() may be called again.
  virtual void stop() = 0;

  virtual ProbeCounters counters() const = 0;
};

}  // namespace pathpilot::probe
