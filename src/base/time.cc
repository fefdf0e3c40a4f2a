#include "base/time.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>

namespace pathpilot {
namespace {

struct Unit {
  std::string_view name;
  std::int64_t nanos;
};

// The units a duration may use. parseDuration compares the whole run of letters after a
// number with these names, so "ms" is never read as "m" followed by "s" and the order does not
// matter.
constexpr Unit kUnits[] = {
    {"ns", 1},
    {"us", 1'000},
    {"\xC2\xB5s", 1'000},  // µs
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60LL * 1'000'000'000},
    {"h", 3600LL * 1'000'000'000},
    {"d", 86400LL * 1'000'000'000},
};

tl::unexpected<Error> badDuration(std::string_view text, std::string_view why) {
  return fail(ErrorCode::InvalidArgument,
              "invalid duration \"" + std::string(text) + "\": " + std::string(why) +
                  " (expected e.g. 100ms, 2s, 5m)");
}

}  // namespace

Result<Duration> parseDuration(std::string_view text) {
  if (text.empty()) {
    return badDuration(text, "empty");
  }
  // The one bare number allowed: zero is zero in every unit, so it is not ambiguous.
  if (text == "0") {
    return Duration::zero();
  }
  long double total = 0;
  size_t i = 0;
  // Each pass reads one number and its unit, so compound forms such as "1h30m" add up.
  // A second '.' ends the number, and the unit scan stops at it too, so "1.2.3s" has no unit.
  while (i < text.size()) {
    size_t start = i;
    bool seen_dot = false;
    while (i < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[i])) || (text[i] == '.' && !seen_dot))) {
      seen_dot = seen_dot || text[i] == '.';
      ++i;
    }
    if (i == start || (i == start + 1 && text[start] == '.')) {
      return badDuration(text, "expected a number");
    }
    std::string number(text.substr(start, i - start));
    if (number.size() > 18) {
      return badDuration(text, "number too large");
    }
    long double value = std::strtold(number.c_str(), nullptr);
    size_t unit_start = i;
    while (i < text.size() && !std::isdigit(static_cast<unsigned char>(text[i])) &&
           text[i] != '.') {
      ++i;
    }
    std::string_view unit = text.substr(unit_start, i - unit_start);
    if (unit.empty()) {
      return badDuration(text, "missing unit");
    }
    const Unit* found = nullptr;
    for (const Unit& u : kUnits) {
      if (u.name == unit) {
        found = &u;
        break;
      }
    }
    if (found == nullptr) {
      return badDuration(text, "unknown unit \"" + std::string(unit) + "\"");
    }
    total += value * static_cast<long double>(found->nanos);
    // Half the int64 range: the conversion to double and llround below then stay clear of 2^63,
    // where the nanosecond count would overflow.
    if (total > static_cast<long double>(std::numeric_limits<std::int64_t>::max() / 2)) {
      return badDuration(text, "too large");
    }
  }
  // Fractions finer than a nanosecond round to the nearest one, so "0.4ns" parses as zero.
  return Duration(static_cast<std::int64_t>(std::llround(static_cast<double>(total))));
}

std::string formatDuration(Duration d) {
  std::int64_t ns = d.count();
  if (ns == 0) {
    return "0s";
  }
  std::string sign;
  if (ns < 0) {
    sign = "-";
    ns = -ns;
  }
  constexpr std::int64_t kMs = 1'000'000;
  constexpr std::int64_t kS = 1'000 * kMs;
  constexpr std::int64_t kM = 60 * kS;
  constexpr std::int64_t kH = 60 * kM;
  // Whole minutes print as hours and minutes ("1h30m"), which parseDuration reads back; days
  // are never printed, so 1d comes out as 24h.
  if (ns % kM == 0) {
    std::int64_t h = ns / kH;
    std::int64_t m = (ns % kH) / kM;
    std::string out = sign;
    if (h != 0) {
      out += std::to_string(h) + "h";
    }
    if (m != 0) {
      out += std::to_string(m) + "m";
    }
    return out;
  }
  if (ns % kS == 0) {
    return sign + std::to_string(ns / kS) + "s";
  }
  if (ns % kMs == 0) {
    return sign + std::to_string(ns / kMs) + "ms";
  }
  if (ns % 1000 == 0) {
    return sign + std::to_string(ns / 1000) + "us";
  }
  return sign + std::to_string(ns) + "ns";
}

double toMillis(Duration d) { return static_cast<double>(d.count()) / 1e6; }

std::string formatRfc3339(WallTime t) {
  auto since = t.time_since_epoch();
  // floor, not duration_cast: truncation toward zero would give a time before 1970 a negative
  // millisecond part.
  auto secs = std::chrono::floor<std::chrono::seconds>(since);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(since - secs).count();
  std::time_t tt = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  // gmtime_r, not gmtime: gmtime returns a pointer to static storage shared by all threads.
  gmtime_r(&tt, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms));
  return buf;
}

Result<WallTime> parseRfc3339(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return fail(ErrorCode::InvalidArgument,
                "invalid RFC 3339 time \"" + std::string(text) + "\": " + std::string(why));
  };
  int y, mo, d, h, mi, s;
  // "YYYY-MM-DDTHH:MM:SSZ", the shortest valid form, has 20 characters.
  if (text.size() < 20) {
    return bad("too short");
  }
  std::string str(text);
  int consumed = 0;
  // RFC 3339 §5.6 allows a lowercase 't' or a space in place of 'T'. %d also accepts fewer
  // digits than its width, so the consumed count enforces the fixed 19-character layout.
  if (std::sscanf(str.c_str(), "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s,
                  &consumed) != 6 ||
      consumed != 19) {
    return bad("expected YYYY-MM-DDTHH:MM:SS");
  }
  // Second 60 is a leap second, which timegm carries into the next minute. The day is not checked
  // against the month: timegm also carries an impossible date such as 02-30 into March.
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) {
    return bad("field out of range");
  }
  size_t i = 19;
  std::int64_t frac_ns = 0;
  if (i < str.size() && str[i] == '.') {
    ++i;
    // Digits beyond the ninth are read but dropped: the time is truncated to nanoseconds.
    std::int64_t scale = 100'000'000;
    size_t digits = 0;
    while (i < str.size() && std::isdigit(static_cast<unsigned char>(str[i]))) {
      if (scale > 0) {
        frac_ns += (str[i] - '0') * scale;
        scale /= 10;
      }
      ++i;
      ++digits;
    }
    if (digits == 0) {
      return bad("empty fraction");
    }
  }
  std::int64_t offset_s = 0;
  // RFC 3339 §5.6 allows a lowercase 'z'. An offset must end the text, hence the exact length.
  if (i < str.size() && (str[i] == 'Z' || str[i] == 'z')) {
    ++i;
  } else if (i + 6 == str.size() && (str[i] == '+' || str[i] == '-')) {
    int oh, om;
    if (std::sscanf(str.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2 || oh > 23 || om > 59) {
      return bad("bad offset");
    }
    // +hh:mm means local time is ahead of UTC, so the offset is subtracted below to get UTC.
    offset_s = (oh * 3600 + om * 60) * (str[i] == '+' ? 1 : -1);
    i += 6;
  } else {
    return bad("missing time zone (Z or +hh:mm)");
  }
  if (i != str.size()) {
    return bad("trailing characters");
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  // timegm, not mktime: the fields are UTC, and mktime would apply the host's time zone.
  std::time_t tt = timegm(&tm);
  return WallTime(std::chrono::duration_cast<WallTime::duration>(
      std::chrono::seconds(tt - offset_s) + std::chrono::nanoseconds(frac_ns)));
}

}  // namespace pathpilot
