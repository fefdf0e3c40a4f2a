// Rendering and routing. The default layout is written for a phone lock screen: the first line
// carries status, site and the verdict; details follow, one fact per line.
#include "alert/render.h"

#include <algorithm>

namespace pathpilot::alert {
namespace {

using journal::EventKind;

std::string joinLimited(const std::vector<std::string>& items, std::size_t shown) {
  std::string out;
  for (std::size_t i = 0; i < items.size() && i < shown; ++i) {
    out += (i == 0 ? "" : ", ") + items[i];
  }
  if (items.size() > shown) {
    out += " (+" + std::to_string(items.size() - shown) + " more)";
  }
  return out;
}

// "3m12s" from a duration, seconds precision.
std::string humanDuration(Duration d) {
  auto total = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  // Wall-clock times: a clock stepped back can put `ended` before `started`, which reads as
  // 0s rather than as a negative duration.
  if (total < 0) {
    total = 0;
  }
  auto h = total / 3600;
  auto m = (total % 3600) / 60;
  auto s = total % 60;
  std::string out;
  if (h > 0) {
    out += std::to_string(h) + "h";
  }
  if (m > 0) {
    out += std::to_string(m) + "m";
  }
  if (s > 0 || out.empty()) {
    out += std::to_string(s) + "s";
  }
  return out;
}

// The subject of an incident in a few words: "dx down", "vpn-a degraded", "fail static".
std::string subject(const Alert& a) {
  const journal::Event& o = a.opening;
  std::string path = o.path.empty() ? std::string("path") : o.path;
  switch (o.kind) {
    case EventKind::PathDown:
      return path + " down";
    case EventKind::PathDegraded:
      return path + " degraded";
    case EventKind::FailStatic:
      return "no healthy path (fail static)";
    case EventKind::RecoveryFailed:
      return "recovery of " + path + " failed";
    case EventKind::RouteError:
      return "route programming failed";
    case EventKind::RouteChanged:
      return "routes moved";
    case EventKind::RouteDrift:
      return "route changed outside pathpilot, corrected";
    default:
      return o.message.empty() ? std::string(journal::eventKindName(o.kind)) : o.message;
  }
}

std::string tablesPhrase(const Alert& a) {
  std::size_t n = a.route_tables.size();
  return std::to_string(n) + (n == 1 ? " route table" : " route tables");
}

std::string eventLine(const journal::Event& e) {
  std::string t = formatRfc3339(e.time);
  // HH:MM:SS of the RFC 3339 text is enough inside one incident.
  std::string line = t.size() >= 19 ? t.substr(11, 8) : t;
  line += " " + std::string(journal::eventKindName(e.kind));
  // A route_changed event's path is the path it moved to, which "from → to" shows already.
  if (!e.path.empty() && e.kind != EventKind::RouteChanged) {
    line += " " + e.path;
  }
  if (!e.route_table.empty()) {
    line += " " + e.route_table;
  }
  if (!e.destination.empty()) {
    line += " " + e.destination;
  }
  if (!e.from.empty() || !e.to.empty()) {
    line += ": " + e.from + " → " + e.to;
  }
  if (!e.reason.empty()) {
    line += " (" + oneLine(e.reason, 160) + ")";
  }
  return line;
}

// The measured reason: the opening event's, else the first non-empty one.
std::string reasonOf(const Alert& a) {
  // A RESOLVED alert lists its resolving event first (alert.h), whose reason says why the
  // incident ended. A brief alert starts with the opening event and takes its reason.
  if (a.status == AlertStatus::Resolved && !a.brief && !a.events.empty() &&
      !a.events.front().reason.empty()) {
    return a.events.front().reason;
  }
  if (!a.opening.reason.empty()) {
    return a.opening.reason;
  }
  for (const auto& e : a.events) {
    if (!e.reason.empty()) {
      return e.reason;
    }
  }
  return "";
}

constexpr std::size_t kMaxDetailLines = 25;

}  // namespace

std::string oneLine(std::string_view text, std::size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes));
  // Replacing byte by byte is safe for UTF-8: every byte of a multi-byte character is ≥ 0x80.
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7F) ? ' ' : c;
  }
  if (out.size() <= max_bytes) {
    return out;
  }
  std::size_t cut = max_bytes >= 3 ? max_bytes - 3 : 0;  // room for "…" (3 bytes)
  // out[cut] is the first byte dropped; stepping back over continuation bytes (10xxxxxx)
  // cuts before a character, never inside one.
  while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  return out.substr(0, cut) + "…";
}

std::string summarize(const Alert& a) {
  std::string s = subject(a);
  if (a.status == AlertStatus::Resolved) {
    Duration lasted = a.ended ? *a.ended - a.started : Duration::zero();
    if (a.brief && a.opening.kind == EventKind::RecoveryStarted) {
      // A recovery that succeeded inside its grouping window (alert/incident.cc).
      s = "recovery of " + (a.opening.path.empty() ? std::string("gateway") : a.opening.path) +
          " succeeded after " + humanDuration(lasted);
    } else if (a.brief) {
      s += " for " + humanDuration(lasted) + ", recovered";
    } else if (a.opening.kind == EventKind::FailStatic) {
      s = "a path is healthy again after " + humanDuration(lasted) + " (fail static ended)";
    } else if (a.opening.kind == EventKind::RouteError) {
      // Resolved by route_changed: every route that failed was programmed since.
      s = "route programming works again after " + humanDuration(lasted);
    } else if (a.opening.kind == EventKind::RecoveryFailed) {
      s = (a.opening.path.empty() ? std::string("gateway") : a.opening.path) +
          " recovered after " + humanDuration(lasted);
    } else {
      std::string path = a.opening.path.empty() ? std::string("path") : a.opening.path;
      s = path + " up again after " + humanDuration(lasted);
    }
  } else if (a.reminder) {
    s += " (still open after " + humanDuration(a.time - a.started) + ")";
  } else if (a.update) {
    s += " (still open)";
  }
  if (!a.route_tables.empty() && (!a.from.empty() || !a.to.empty())) {
    s += ": " + tablesPhrase(a) + " moved " + a.from + " → " + a.to;
  } else if (!a.route_tables.empty() && a.opening.kind == EventKind::FailStatic) {
    s += ": " + tablesPhrase(a) + " kept as they are";
  }
  std::size_t grouped = a.events.size();
  if (a.one_shot && !a.brief && grouped > 1) {
    s += " (×" + std::to_string(grouped) + ")";
  }
  return s;
}

std::string fieldValue(const Alert& a, std::string_view f) {
  if (f == "status") {
    return std::string(alertStatusLabel(a.status));
  }
  if (f == "severity") {
    return std::string(journal::severityName(a.severity));
  }
  if (f == "site") {
    return a.opening.site;
  }
  if (f == "kind") {
    return std::string(journal::eventKindName(a.opening.kind));
  }
  if (f == "path") {
    return a.opening.path;
  }
  if (f == "link") {
    return std::string(journal::linkName(a.opening.link));
  }
  // The alert's from/to are set only when routes moved; otherwise the opening event's stand
  // in (for a path event: its old and new state).
  if (f == "from") {
    return a.from.empty() ? a.opening.from : a.from;
  }
  if (f == "to") {
    return a.to.empty() ? a.opening.to : a.to;
  }
  if (f == "reason") {
    return reasonOf(a);
  }
  if (f == "message") {
    return a.opening.message;
  }
  if (f == "route_tables") {
    return joinLimited(a.route_tables, 5);
  }
  if (f == "tables_count") {
    return std::to_string(a.route_tables.size());
  }
  if (f == "destinations") {
    return joinLimited(a.destinations, 5);
  }
  if (f == "count") {
    return std::to_string(a.events.size());
  }
  if (f == "time") {
    return formatRfc3339(a.time);
  }
  if (f == "started") {
    return formatRfc3339(a.started);
  }
  if (f == "duration") {
    return a.ended ? humanDuration(*a.ended - a.started) : "";
  }
  if (f == "summary") {
    return summarize(a);
  }
  if (f == "details") {
    std::string out;
    for (std::size_t i = 0; i < a.events.size() && i < kMaxDetailLines; ++i) {
      out += (i == 0 ? "" : "\n") + eventLine(a.events[i]);
    }
    if (a.events.size() > kMaxDetailLines) {
      out += "\n… and " + std::to_string(a.events.size() - kMaxDetailLines) + " more events";
    }
    return out;
  }
  return "";
}

Result<ChannelTemplates> compileTemplates(const config::AlertTemplates& global,
                                          const config::AlertTemplates& channel) {
  ChannelTemplates out;
  // Title and body fall back separately: a channel that sets only a title keeps the global
  // body (or the default one).
  const std::string& title = channel.title.empty() ? global.title : channel.title;
  const std::string& body = channel.body.empty() ? global.body : channel.body;
  if (!title.empty()) {
    auto t = config::parseTemplate(title);
    if (!t) {
      return fail(t.error().withContext("templates.title"));
    }
    out.title = std::move(*t);
  }
  if (!body.empty()) {
    auto b = config::parseTemplate(body);
    if (!b) {
      return fail(b.error().withContext("templates.body"));
    }
    out.body = std::move(*b);
  }
  return out;
}

std::string renderTemplate(const config::MessageTemplate& tmpl, const Alert& alert) {
  std::string out;
  for (const auto& part : tmpl.parts) {
    out += part.is_field ? fieldValue(alert, part.text) : part.text;
  }
  return out;
}

void renderInto(const Alert& a, const ChannelTemplates& templates, Notification& out) {
  if (!templates.title.empty()) {
    // A custom title still goes through oneLine: fields such as reason or details may hold
    // line breaks.
    out.title = oneLine(renderTemplate(templates.title, a));
  } else {
    out.title = oneLine("[" + std::string(alertStatusLabel(a.status)) + "] " + a.opening.site +
                        ": " + summarize(a));
  }
  if (!templates.body.empty()) {
    out.body = renderTemplate(templates.body, a);
    return;
  }
  std::string body;
  auto line = [&](std::string_view label, const std::string& value) {
    if (!value.empty()) {
      body += std::string(label) + ": " + value + "\n";
    }
  };
  body += summarize(a) + "\n";
  line("site", a.opening.site);
  std::string path = a.opening.path;
  if (!path.empty() && a.opening.link != journal::Link::None) {
    path += " (" + std::string(journal::linkName(a.opening.link)) + ")";
  }
  line("path", path);
  if (!a.from.empty() || !a.to.empty()) {
    line("moved", a.from + " → " + a.to);
  }
  line("route tables", joinLimited(a.route_tables, 5));
  line("destinations", joinLimited(a.destinations, 5));
  line("reason", oneLine(reasonOf(a), 300));
  line("severity", std::string(journal::severityName(a.severity)));
  line("started", formatRfc3339(a.started));
  if (a.ended) {
    line("ended", formatRfc3339(*a.ended) + " (lasted " + humanDuration(*a.ended - a.started) +
                      ")");
  }
  body += "events (" + std::to_string(a.events.size()) + "):\n" + fieldValue(a, "details");
  out.body = std::move(body);
}

Notification makeNotification(const Alert& a, const ChannelTemplates& templates,
                              const std::string& channel) {
  Notification n;
  n.channel = channel;
  n.fingerprint = a.fingerprint;
  n.status = a.status;
  n.severity = a.severity;
  n.site = a.opening.site;
  n.kind = std::string(journal::eventKindName(a.opening.kind));
  n.path = a.opening.path;
  n.link = std::string(journal::linkName(a.opening.link));
  n.route_tables = a.route_tables;
  n.starts_at = a.started;
  n.ends_at = a.ended;
  n.one_shot = a.one_shot;
  renderInto(a, templates, n);
  return n;
}

Router::Router(const config::AlertSettings& settings) : routes_(settings.routes) {
  // No routes: one route with the defaults (warning and above, RESOLVED too) to every
  // channel.
  if (routes_.empty()) {
    config::AlertRoute all;
    for (const auto& c : settings.channels) {
      all.channels.push_back(c.name);
    }
    routes_.push_back(std::move(all));
  }
}

std::vector<std::string> Router::channelsFor(const Alert& a) const {
  std::vector<std::string> out;
  const journal::Event& o = a.opening;
  // journal::Severity and config::AlertSeverity list the same levels in the same order (a
  // test keeps them equal), so the underlying value converts.
  auto severity = static_cast<config::AlertSeverity>(static_cast<std::uint8_t>(a.severity));
  std::string_view kind = journal::eventKindName(o.kind);
  for (const auto& r : routes_) {
    if (severity < r.min_severity) {
      continue;
    }
    // A brief alert is its incident's only message (the FIRING was never sent), so it goes
    // out even on routes without RESOLVED messages.
    if (a.status == AlertStatus::Resolved && !a.brief && !r.resolved) {
      continue;
    }
    if (!r.sites.empty() && std::find(r.sites.begin(), r.sites.end(), o.site) == r.sites.end()) {
      continue;
    }
    // A links filter never matches an event without a link (Link::None).
    if (!r.links.empty()) {
      bool ok = std::any_of(r.links.begin(), r.links.end(), [&](config::LinkKind k) {
        return (k == config::LinkKind::Dx && o.link == journal::Link::Dx) ||
               (k == config::LinkKind::Vpn && o.link == journal::Link::Vpn);
      });
      if (!ok) {
        continue;
      }
    }
    if (!r.kinds.empty() && std::find(r.kinds.begin(), r.kinds.end(), kind) == r.kinds.end()) {
      continue;
    }
    for (const auto& c : r.channels) {
      if (std::find(out.begin(), out.end(), c) == out.end()) {
        out.push_back(c);
      }
    }
  }
  return out;
}

}  // namespace pathpilot::alert
