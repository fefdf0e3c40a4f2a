#include "probe/probe.h"

#include <net/if.h>

#include <cstdio>

#include "probe/icmp_codec.h"

namespace pathpilot::probe {
namespace {

std::string targetName(const TargetSpec& s) {
  return s.path + "[" + std::to_string(s.index) + "] " + std::string(probeKindName(s.kind)) +
         " " + s.address.toString();
}

tl::unexpected<Error> invalid(const TargetSpec& s, const std::string& why) {
  return fail(ErrorCode::InvalidArgument, "probe target " + targetName(s) + ": " + why);
}

}  // namespace

std::string_view probeKindName(ProbeKind kind) {
  switch (kind) {
    case ProbeKind::Icmp:
      return "icmp";
    case ProbeKind::Tcp:
      return "tcp";
  }
  return "unknown";
}

std::string_view icmpModeName(IcmpMode mode) {
  switch (mode) {
    case IcmpMode::Auto:
      return "auto";
    case IcmpMode::Ping:
      return "ping";
    case IcmpMode::Raw:
      return "raw";
  }
  return "unknown";
}

std::string_view failureKindName(FailureKind kind) {
  switch (kind) {
    case FailureKind::None:
      return "none";
    case FailureKind::Timeout:
      return "timeout";
    case FailureKind::Unreachable:
      return "unreachable";
    case FailureKind::SendError:
      return "send_error";
    case FailureKind::SocketError:
      return "socket_error";
  }
  return "unknown";
}

// Limits: 10 ms is the fastest interval the brief asks for (faster detection is BFD's job);
// 50% jitter keeps the mean rate meaningful; 1 m of timeout is beyond any sane path RTT.
Result<void> validateTarget(const TargetSpec& s) {
  if (s.path.empty()) {
    return invalid(s, "path name is empty");
  }
  if (s.interval < std::chrono::milliseconds(10)) {
    return invalid(s, "interval " + formatDuration(s.interval) + " is below the minimum of 10ms");
  }
  if (s.timeout <= Duration::zero()) {
    return invalid(s, "timeout must be positive");
  }
  if (s.timeout > std::chrono::minutes(1)) {
    return invalid(s, "timeout " + formatDuration(s.timeout) + " is above the maximum of 1m");
  }
  if (s.jitter_pct > 50) {
    return invalid(s, "jitter " + std::to_string(s.jitter_pct) + "% is above the maximum of 50%");
  }
  if (s.address.isUnspecified()) {
    return invalid(s, "address is unspecified");
  }
  if (s.kind == ProbeKind::Tcp && s.port == 0) {
    return invalid(s, "TCP probes need a port");
  }
  if (s.kind == ProbeKind::Icmp &&
      (s.payload_size < icmp::kCookieSize || s.payload_size > icmp::kMaxPayload)) {
    return invalid(s, "payload size " + std::to_string(s.payload_size) + " outside " +
                          std::to_string(icmp::kCookieSize) + ".." +
                          std::to_string(icmp::kMaxPayload));
  }
  if (s.adaptive_timeout) {
    if (auto v = validateAdaptiveTimeout(*s.adaptive_timeout, s.timeout); !v) {
      return invalid(s, v.error().message());
    }
  }
  if (s.phase && (s.phase->slots == 0 || s.phase->slots > 64 || s.phase->slot >= s.phase->slots)) {
    return invalid(s, "phase slot " + std::to_string(s.phase->slot) + " of " +
                          std::to_string(s.phase->slots) + " is not valid (slots 1..64)");
  }
  if (s.pinning.source && s.pinning.source->family() != s.address.family()) {
    return invalid(s, "source address " + s.pinning.source->toString() +
                          " is not of the target's address family");
  }
  // fe80::/10 is ambiguous without an interface (every link has it); the bound device supplies
  // the scope.
  if (s.address.isV6() && s.address.bytes()[0] == 0xfe && (s.address.bytes()[1] & 0xc0) == 0x80 &&
      s.pinning.interface.empty()) {
    return invalid(s, "an IPv6 link-local target needs an interface in its pinning");
  }
  if (s.pinning.interface.size() >= IFNAMSIZ) {
    return invalid(s, "interface name \"" + s.pinning.interface + "\" is longer than " +
                          std::to_string(IFNAMSIZ - 1) + " characters");
  }
  // The kernel rejects these in interface names (dev_valid_name); catching them here gives a
  // config error instead of a probe error at run time.
  if (s.pinning.interface.find_first_of("/ \t") != std::string::npos) {
    return invalid(s, "interface name \"" + s.pinning.interface + "\" is not valid");
  }
  return ok();
}

std::vector<metrics::MetricFamily> metricFamilies(const ProbeCounters& c) {
  using metrics::counterFamily;
  return {
      counterFamily("pathpilot_probe_sent_total", "Probes handed to the kernel (all paths).",
                    c.sent),
      counterFamily("pathpilot_probe_received_total", "Valid replies counted as success.",
                    c.received),
      counterFamily("pathpilot_probe_timed_out_total", "Probes that got no valid reply in time.",
                    c.timed_out),
      counterFamily("pathpilot_probe_late_total",
                    "Valid replies that arrived after their probe timed out.", c.late),
      counterFamily("pathpilot_probe_foreign_total", "Replies that belong to no probe of ours.",
                    c.foreign),
      counterFamily("pathpilot_probe_send_errors_total", "Sends the kernel refused.",
                    c.send_errors),
      counterFamily("pathpilot_probe_unreachable_total",
                    "ICMP or connect errors matched to a probe.", c.unreachable),
      counterFamily("pathpilot_probe_socket_errors_total",
                    "Failures to open or pin a probe socket.", c.socket_errors),
      counterFamily("pathpilot_probe_refused_total",
                    "TCP probes answered by RST (counted as success).", c.refused),
      counterFamily("pathpilot_probe_timer_wakeups_total",
                    "Probe timer wake-ups on the engine thread.", c.timer_wakeups),
      {"pathpilot_probe_timer_lag_seconds_total",
       metrics::MetricType::Counter,
       "Summed lateness of probe timer wake-ups; divide by wake-ups for the mean.",
       {{{}, static_cast<double>(c.timer_lag_ns) / 1e9}}},
  };
}

}  // namespace pathpilot::probe
