// journal/event.h — the journal's unit: one state change, with stable fields.
//
// Purpose: every state change in pathpilot (a path going down, a route moving, a recovery, an
// alert, a config reload ...) is recorded as one Event. The field names below are a public
// contract: they appear as SQLite columns, as JSON keys in the JSON Lines sink (shipped to
// ELK/Loki), in `pathpilot events --json` and in the HTTP API. Never rename one; add new
// fields instead. The enum names (EventKind, Severity, Link) are equally stable.
//
// JSON form, one object; toJsonLine writes the keys in this order (toJson returns an
// nlohmann::json, whose keys are sorted):
//   {"time":"2026-11-25T12:52:52.123Z","seq":42,"site":"Beijing","kind":"path_down",
//    "severity":"critical","path":"dx","link":"dx","route_table":"rtb-468f5222",
//    "destination":"10.10.0.0/16","from":"vgw-078bcc55","to":"i-0e1466e8a5dd4892c",
//    "reason":"loss 100% over 10 probes","message":"DX path down"}
// Choice: `time`, `site`, `kind` and `severity` are always present; `seq` is present once the
// journal assigned it (> 0); every other string field is OMITTED when empty (and `link` when
// it is Link::None). Readers treat a missing key as empty. This keeps lines short for log
// shippers and makes "field exists" queries in Elasticsearch/Loki meaningful.
//
// Time is kept with millisecond precision everywhere it is stored or printed (RFC 3339 with
// milliseconds, UTC), so an Event read back equals the one written only if its time was
// already a whole number of milliseconds; see truncateToMillis().
//
// Threading: value types, no shared state.
// Metrics: none.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "base/error.h"
#include "base/time.h"

namespace pathpilot::journal {

// What happened. The string names (eventKindName) are stable and are what is stored.
// Append new kinds at the end; never reorder or rename.
enum class EventKind : std::uint8_t {
  PathDown,           // a path became unusable (health: Down)
  PathUp,             // a path became usable again
  PathDegraded,       // a path is usable but over the degraded thresholds
  RouteChanged,       // a route was reprogrammed to another next hop (from → to)
  RouteDrift,         // a route was found changed behind our back and was corrected
  RouteError,         // programming a route failed (after retries)
  RecoveryStarted,    // a gateway recovery action began (EC2 stop/start, command)
  RecoverySucceeded,  // ... and the gateway came back
  RecoveryFailed,     // ... and it did not (or hit its limits)
  AlertSent,          // an alert was delivered to a channel
  AlertFailed,        // an alert could not be delivered (after retries)
  LeaderChanged,      // this monitor became leader or follower
  ConfigLoaded,       // a config file was loaded (start or reload)
  ConfigRejected,     // a reload was rejected; the previous config stays active
  FailStatic,         // no path is healthy for a table: routes are kept as they are
  FailStaticCleared,  // a table left fail-static because a path became usable again
  Drain,              // an operator drained a path (`pathpilot drain`)
  Undrain,            // ... and undrained it
  DaemonStarted,      // the daemon started
  DaemonStopped,      // the daemon stopped cleanly
  JournalOverflow,    // the journal's queue was full and events were dropped (message: how many)
  JournalFailed,      // a journal file could not be written or opened, or was moved aside (bad)
  JournalRecovered,   // ... and it is written again (message: events written late, events lost)
  MonitorSuspect,     // the monitor doubts its own view (every path down at once, reference
                      // targets lost): routes kept, gateway recovery held back
  MonitorTrusted,     // ... and trusts it again
  StateReset,         // the state file (drains, recovery limits) was unusable and moved aside
  AlertOutboxReset,   // the alert outbox was unusable: moved aside, or alerts kept in memory
  HaLost,             // HA: etcd unreachable or without quorum for a lease TTL: nobody writes
  HaRestored,         // ... and etcd answers again
};

// Every EventKind, in declaration order (for help texts, completion and tests).
const std::vector<EventKind>& allEventKinds();

// "path_down", "route_changed", ...
std::string_view eventKindName(EventKind kind);
// Inverse of eventKindName. Errors: InvalidArgument naming the text and listing valid kinds.
[[nodiscard]] Result<EventKind> parseEventKind(std::string_view text);

enum class Severity : std::uint8_t {
  Info,      // routine: a path came up, a config was loaded
  Warning,   // attention: degraded path, drift corrected, overflow
  Critical,  // act now: a path is down, fail static, recovery failed
};

// "info", "warning", "critical".
std::string_view severityName(Severity severity);
// Inverse of severityName. Errors: InvalidArgument.
[[nodiscard]] Result<Severity> parseSeverity(std::string_view text);

// The severity an emitter should use for `kind` unless it knows better (e.g. PathDown of a
// fallback path while DX is up may be only a Warning).
Severity defaultSeverity(EventKind kind);

// The class of link an event is about. None when the event is not about a path
// (config_loaded, daemon_started ...).
enum class Link : std::uint8_t { None, Dx, Vpn };

// "", "dx", "vpn".
std::string_view linkName(Link link);
// "dx" or "vpn" (case-sensitive); "" gives Link::None. Errors: InvalidArgument.
[[nodiscard]] Result<Link> parseLink(std::string_view text);

struct Event {
  WallTime time{};   // when it happened (wall clock; stored with ms precision)
  std::string site;  // site name, e.g. "Beijing"
  EventKind kind = EventKind::ConfigLoaded;
  Severity severity = Severity::Info;
  std::string path;         // path name, e.g. "dx", "vpn-a"
  Link link = Link::None;   // class of that path
  std::string route_table;  // e.g. "rtb-468f5222" or a Linux table
  std::string destination;  // e.g. "10.10.0.0/16"
  std::string from;         // previous next hop / state / leader
  std::string to;           // new next hop / state / leader
  std::string reason;       // measured loss/RTT, probe or API error
  std::string message;      // one human sentence
  std::uint64_t seq = 0;    // assigned by the journal; 0 = not yet stored

  friend bool operator==(const Event&, const Event&) = default;
};

// Starts an event with the given kind, its default severity, `time` and `site`; the caller
// fills in the rest: `auto e = makeEvent(EventKind::PathDown, clock.wallNow(), "Beijing");`
Event makeEvent(EventKind kind, WallTime time, std::string site);

// `t` rounded down to a whole millisecond (what the journal keeps).
WallTime truncateToMillis(WallTime t);

// Milliseconds since the Unix epoch (floor), and back.
std::int64_t toUnixMillis(WallTime t);
WallTime fromUnixMillis(std::int64_t ms);

// The JSON object described at the top of this file. Invalid UTF-8 in string fields is
// replaced by U+FFFD when the object is dumped (see toJsonLine), never thrown.
nlohmann::json toJson(const Event& event);

// One line of JSON (no trailing newline), with invalid UTF-8 replaced. Never throws.
std::string toJsonLine(const Event& event);

// Reads the JSON form back. Missing optional keys are empty; unknown keys are ignored (newer
// writers may add fields). Errors: InvalidArgument naming the offending key, e.g.
// `event field "kind": unknown kind "path_sideways"`.
[[nodiscard]] Result<Event> eventFromJson(const nlohmann::json& json);

// Parses one line produced by toJsonLine. Errors: InvalidArgument (also for malformed JSON,
// with the parser's byte position).
[[nodiscard]] Result<Event> parseJsonLine(std::string_view line);

}  // namespace pathpilot::journal
