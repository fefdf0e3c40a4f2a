#include "journal/event.h"

#include <array>
#include <utility>

#include <nlohmann/json.hpp>

namespace pathpilot::journal {
namespace {

struct KindName {
  EventKind kind;
  std::string_view name;
};

// The stored names. Order matches the enum so that eventKindName is an index lookup.
constexpr std::array kKindNames = {
    KindName{EventKind::PathDown, "path_down"},
    KindName{EventKind::PathUp, "path_up"},
    KindName{EventKind::PathDegraded, "path_degraded"},
    KindName{EventKind::RouteChanged, "route_changed"},
    KindName{EventKind::RouteDrift, "route_drift"},
    KindName{EventKind::RouteError, "route_error"},
    KindName{EventKind::RecoveryStarted, "recovery_started"},
    KindName{EventKind::RecoverySucceeded, "recovery_succeeded"},
    KindName{EventKind::RecoveryFailed, "recovery_failed"},
    KindName{EventKind::AlertSent, "alert_sent"},
    KindName{EventKind::AlertFailed, "alert_failed"},
    KindName{EventKind::LeaderChanged, "leader_changed"},
    KindName{EventKind::ConfigLoaded, "config_loaded"},
    KindName{EventKind::ConfigRejected, "config_rejected"},
    KindName{EventKind::FailStatic, "fail_static"},
    KindName{EventKind::FailStaticCleared, "fail_static_cleared"},
    KindName{EventKind::Drain, "drain"},
    KindName{EventKind::Undrain, "undrain"},
    KindName{EventKind::DaemonStarted, "daemon_started"},
    KindName{EventKind::DaemonStopped, "daemon_stopped"},
    KindName{EventKind::JournalOverflow, "journal_overflow"},
    KindName{EventKind::JournalFailed, "journal_failed"},
    KindName{EventKind::JournalRecovered, "journal_recovered"},
    KindName{EventKind::MonitorSuspect, "monitor_suspect"},
    KindName{EventKind::MonitorTrusted, "monitor_trusted"},
    KindName{EventKind::StateReset, "state_reset"},
    KindName{EventKind::AlertOutboxReset, "alert_outbox_reset"},
    KindName{EventKind::HaLost, "ha_lost"},
    KindName{EventKind::HaRestored, "ha_restored"},
};

constexpr bool kindTableInOrder() {
  for (std::size_t i = 0; i < kKindNames.size(); ++i) {
    if (static_cast<std::size_t>(kKindNames[i].kind) != i) {
      return false;
    }
  }
  return true;
}
static_assert(kindTableInOrder(), "kKindNames must list EventKind in declaration order");
static_assert(static_cast<std::size_t>(EventKind::HaRestored) + 1 == kKindNames.size(),
              "every EventKind needs a name");

std::string allKindNames() {
  std::string out;
  for (const KindName& k : kKindNames) {
    if (!out.empty()) {
      out += ", ";
    }
    out += k.name;
  }
  return out;
}

// A string field of the JSON object: absent or null → "", a string → itself, else an error.
Result<std::string> stringField(const nlohmann::json& json, const char* key) {
  auto it = json.find(key);
  if (it == json.end() || it->is_null()) {
    return std::string();
  }
  if (!it->is_string()) {
    return fail(ErrorCode::InvalidArgument, std::string("event field \"") + key +
                                                "\": expected a string, got " + it->type_name());
  }
  return it->get<std::string>();
}

tl::unexpected<Error> badField(const char* key, const Error& e) {
  return fail(e.withContext(std::string("event field \"") + key + "\""));
}

}  // namespace

const std::vector<EventKind>& allEventKinds() {
  static const std::vector<EventKind> kinds = [] {
    std::vector<EventKind> v;
    for (const KindName& k : kKindNames) {
      v.push_back(k.kind);
    }
    return v;
  }();
  return kinds;
}

// Index lookup; the static_asserts above keep the table in enum order. An out-of-range value
// (only possible through a cast) prints as "unknown" instead of reading past the table.
std::string_view eventKindName(EventKind kind) {
  auto index = static_cast<std::size_t>(kind);
  return index < kKindNames.size() ? kKindNames[index].name : std::string_view("unknown");
}

Result<EventKind> parseEventKind(std::string_view text) {
  for (const KindName& k : kKindNames) {
    if (k.name == text) {
      return k.kind;
    }
  }
  return fail(ErrorCode::InvalidArgument,
              "unknown event kind \"" + std::string(text) + "\" (valid: " + allKindNames() + ")");
}

std::string_view severityName(Severity severity) {
  switch (severity) {
    case Severity::Info:
      return "info";
    case Severity::Warning:
      return "warning";
    case Severity::Critical:
      return "critical";
  }
  return "info";
}

Result<Severity> parseSeverity(std::string_view text) {
  for (Severity s : {Severity::Info, Severity::Warning, Severity::Critical}) {
    if (severityName(s) == text) {
      return s;
    }
  }
  return fail(ErrorCode::InvalidArgument,
              "unknown severity \"" + std::string(text) + "\" (valid: info, warning, critical)");
}

Severity defaultSeverity(EventKind kind) {
  // No default case: with -Wall a new EventKind missing from the switch is a compiler
  // warning. The return after it is only reached by a value outside the enum (a cast).
  switch (kind) {
    case EventKind::PathDown:
    case EventKind::RouteError:
    case EventKind::RecoveryFailed:
    case EventKind::FailStatic:
    case EventKind::JournalFailed:
    case EventKind::MonitorSuspect:
    case EventKind::StateReset:
    case EventKind::AlertOutboxReset:
    case EventKind::HaLost:
      return Severity::Critical;
    case EventKind::PathDegraded:
    case EventKind::RouteDrift:
    case EventKind::RecoveryStarted:
    case EventKind::AlertFailed:
    case EventKind::ConfigRejected:
    case EventKind::JournalOverflow:
      return Severity::Warning;
    case EventKind::PathUp:
    case EventKind::RouteChanged:
    case EventKind::RecoverySucceeded:
    case EventKind::AlertSent:
    case EventKind::LeaderChanged:
    case EventKind::ConfigLoaded:
    case EventKind::FailStaticCleared:
    case EventKind::Drain:
    case EventKind::Undrain:
    case EventKind::DaemonStarted:
    case EventKind::DaemonStopped:
    case EventKind::JournalRecovered:
    case EventKind::MonitorTrusted:
    case EventKind::HaRestored:
      return Severity::Info;
  }
  return Severity::Info;
}

std::string_view linkName(Link link) {
  switch (link) {
    case Link::None:
      return "";
    case Link::Dx:
      return "dx";
    case Link::Vpn:
      return "vpn";
  }
  return "";
}

Result<Link> parseLink(std::string_view text) {
  for (Link l : {Link::None, Link::Dx, Link::Vpn}) {
    if (linkName(l) == text) {
      return l;
    }
  }
  return fail(ErrorCode::InvalidArgument,
              "unknown link \"" + std::string(text) + "\" (valid: dx, vpn)");
}

Event makeEvent(EventKind kind, WallTime time, std::string site) {
  Event e;
  e.time = time;
  e.site = std::move(site);
  e.kind = kind;
  e.severity = defaultSeverity(kind);
  return e;
}

std::int64_t toUnixMillis(WallTime t) {
  // floor, not duration_cast (which rounds toward zero): times before 1970 round down too,
  // so truncateToMillis never moves a time forward.
  return std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

WallTime fromUnixMillis(std::int64_t ms) {
  return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::milliseconds(ms)));
}

WallTime truncateToMillis(WallTime t) { return fromUnixMillis(toUnixMillis(t)); }

namespace {

// Fills `out` in the documented key order; Json is json or ordered_json.
template <class Json>
void fillJson(const Event& e, Json& out) {
  out["time"] = formatRfc3339(e.time);
  if (e.seq != 0) {
    out["seq"] = e.seq;
  }
  out["site"] = e.site;
  out["kind"] = eventKindName(e.kind);
  out["severity"] = severityName(e.severity);
  auto put = [&out](const char* key, const std::string& value) {
    if (!value.empty()) {
      out[key] = value;
    }
  };
  put("path", e.path);
  if (e.link != Link::None) {
    out["link"] = linkName(e.link);
  }
  put("route_table", e.route_table);
  put("destination", e.destination);
  put("from", e.from);
  put("to", e.to);
  put("reason", e.reason);
  put("message", e.message);
}

}  // namespace

nlohmann::json toJson(const Event& event) {
  nlohmann::json out = nlohmann::json::object();
  fillJson(event, out);
  return out;
}

std::string toJsonLine(const Event& event) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  fillJson(event, out);
  // `replace` turns invalid UTF-8 (e.g. bytes from a command's output) into U+FFFD instead of
  // throwing type_error 316: a bad byte must never cost an event.
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Lenient where it is safe (missing optional keys, unknown keys, a missing severity takes the
// kind's default), strict where a wrong value would mislead (time, kind, link, types).
Result<Event> eventFromJson(const nlohmann::json& json) {
  if (!json.is_object()) {
    return fail(ErrorCode::InvalidArgument,
                std::string("event: expected a JSON object, got ") + json.type_name());
  }
  Event e;

  auto time_text = stringField(json, "time");
  if (!time_text) {
    return fail(time_text.error());
  }
  if (time_text->empty()) {
    return fail(ErrorCode::InvalidArgument, "event field \"time\": missing");
  }
  auto time = parseRfc3339(*time_text);
  if (!time) {
    return badField("time", time.error());
  }
  e.time = *time;

  if (auto it = json.find("seq"); it != json.end() && !it->is_null()) {
    // The parser stores a non-negative integer as unsigned; a json built in code may hold a
    // signed one, accepted when not negative. Floats are refused.
    if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<std::int64_t>() >= 0)) {
      return fail(ErrorCode::InvalidArgument,
                  "event field \"seq\": expected a non-negative integer");
    }
    e.seq = it->get<std::uint64_t>();
  }

  auto kind_text = stringField(json, "kind");
  if (!kind_text) {
    return fail(kind_text.error());
  }
  auto kind = parseEventKind(*kind_text);
  if (!kind) {
    return badField("kind", kind.error());
  }
  e.kind = *kind;

  auto severity_text = stringField(json, "severity");
  if (!severity_text) {
    return fail(severity_text.error());
  }
  if (severity_text->empty()) {
    e.severity = defaultSeverity(e.kind);
  } else {
    auto severity = parseSeverity(*severity_text);
    if (!severity) {
      return badField("severity", severity.error());
    }
    e.severity = *severity;
  }

  auto link_text = stringField(json, "link");
  if (!link_text) {
    return fail(link_text.error());
  }
  auto link = parseLink(*link_text);
  if (!link) {
    return badField("link", link.error());
  }
  e.link = *link;

  std::pair<const char*, std::string*> strings[] = {
      {"site", &e.site},
      {"path", &e.path},
      {"route_table", &e.route_table},
      {"destination", &e.destination},
      {"from", &e.from},
      {"to", &e.to},
      {"reason", &e.reason},
      {"message", &e.message},
  };
  for (auto& [key, target] : strings) {
    auto value = stringField(json, key);
    if (!value) {
      return fail(value.error());
    }
    *target = std::move(*value);
  }
  return e;
}

Result<Event> parseJsonLine(std::string_view line) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& e) {
    // what() names the position: "parse error at line 1, column 7: ...".
    return fail(ErrorCode::InvalidArgument, std::string("event: malformed JSON: ") + e.what());
  }
  return eventFromJson(json);
}

}  // namespace pathpilot::journal
