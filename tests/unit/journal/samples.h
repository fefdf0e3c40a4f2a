// Events shaped like the reference deployment (docs/architecture.md), for the journal's tests.
#pragma once

#include <string>

#include "base/time.h"
#include "journal/event.h"

namespace pathpilot::journal::testing {

// 2026-11-25T12:52:52.123Z plus `offset_ms`.
inline WallTime sampleTime(std::int64_t offset_ms = 0) {
  return fromUnixMillis(1795611172123 + offset_ms);
}

// Every field set (except seq).
inline Event fullEvent(std::int64_t offset_ms = 0) {
  Event e;
  e.time = sampleTime(offset_ms);
  e.site = "Beijing";
  e.kind = EventKind::RouteChanged;
  e.severity = Severity::Warning;
  e.path = "dx";
  e.link = Link::Dx;
  e.route_table = "rtb-468f5222";
  e.destination = "10.10.0.0/16";
  e.from = "vgw-078bcc55";
  e.to = "i-0e1466e8a5dd4892c";
  e.reason = "loss 100% over 10 probes to 10.10.3.100";
  e.message = "rtb-468f5222 10.10.0.0/16 moved from DX to vpn-a";
  return e;
}

inline Event simpleEvent(const std::string& site, EventKind kind, std::int64_t offset_ms,
                         const std::string& message = "") {
  Event e = makeEvent(kind, sampleTime(offset_ms), site);
  e.message = message;
  return e;
}

}  // namespace pathpilot::journal::testing
