// base/time.h — durations, time points and the Clock interface.
//
// Purpose: one vocabulary for time. Pure modules take `MonoTime now` as an argument and never
// read a clock; side-effect modules get a Clock& so tests can inject a FakeClock.
// Threading: RealClock is thread-safe; FakeClock (tests/fakes) is not.
// Metrics: none.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "base/error.h"

namespace pathpilot {

using Duration = std::chrono::nanoseconds;
// Monotonic time: what timers, windows and hold-downs are measured in.
using MonoTime = std::chrono::steady_clock::time_point;
// Wall-clock time: what events and logs show.
using WallTime = std::chrono::system_clock::time_point;

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// Parses a duration such as "100ms", "2s", "1.5s", "5m", "1h30m", "250us", "0".
// Units: ns, us (or µs), ms, s, m, h, d. A bare number is rejected (except "0") because
// "100" is ambiguous in a config file. Errors are InvalidArgument with a message that
// quotes the input.
[[nodiscard]] Result<Duration> parseDuration(std::string_view text);

// Formats a duration the way parseDuration reads it, choosing the largest exact unit:
// 100ms, 2s, 5m, 1h30m, 1.5s is printed as 1500ms.
std::string formatDuration(Duration d);

// Milliseconds as a double, for reports and JSON (e.g. 12.345).
double toMillis(Duration d);

// RFC 3339 UTC with milliseconds: 2026-11-25T12:52:52.123Z
std::string formatRfc3339(WallTime t);
// Parses RFC 3339 (Z or ±hh:mm offset, optional fraction).
[[nodiscard]] Result<WallTime> parseRfc3339(std::string_view text);

class Clock {
 public:
  virtual ~Clock() = default;
  virtual MonoTime now() const = 0;
  virtual WallTime wallNow() const = 0;
};

// The real clocks: steady_clock and system_clock.
class RealClock final : public Clock {
 public:
  MonoTime now() const override { return std::chrono::steady_clock::now(); }
  WallTime wallNow() const override { return std::chrono::system_clock::now(); }
};

}  // namespace pathpilot
