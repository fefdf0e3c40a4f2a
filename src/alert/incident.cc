// Incident grouping. Every decision here is a function of the events and `now`; see the
// header for the rules. Pending alerts are few (one per open incident at most), so linear
// scans are fine and keep the code obvious.
#include "alert/incident.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace pathpilot::alert {
namespace {

using journal::EventKind;

void addUnique(std::vector<std::string>& list, const std::string& value) {
  if (!value.empty() && std::find(list.begin(), list.end(), value) == list.end()) {
    list.push_back(value);
  }
}

// One-shot kinds that tend to repeat in bursts; their identical repeats are suppressed for
// repeat_interval. Others (drain, leader_changed, ...) are operator-visible facts worth
// every message.
bool repeatSuppressed(EventKind kind) {
  switch (kind) {
    case EventKind::RouteDrift:
    case EventKind::RouteChanged:
    case EventKind::ConfigRejected:
    case EventKind::JournalOverflow:
    case EventKind::RecoveryStarted:
      return true;
    default:
      return false;
  }
}

// The route a route_error is about: "table destination", or "table" when a list() of the
// whole table failed (the event then has no destination).
std::string routeErrorItem(const journal::Event& e) {
  return e.destination.empty() ? e.route_table : e.route_table + " " + e.destination;
}

}  // namespace

std::string incidentKey(const journal::Event& e) {
  switch (e.kind) {
    case EventKind::PathDown:
    case EventKind::PathDegraded:
    case EventKind::PathUp:
      return e.site + "/path/" + e.path;
    case EventKind::FailStatic:
    case EventKind::FailStaticCleared:
      return e.site + "/fail_static";
    case EventKind::RecoveryFailed:
      return e.site + "/recovery/" + e.path;
    case EventKind::RouteError:
      return e.site + "/route_error";
    case EventKind::JournalFailed:
    case EventKind::JournalRecovered:
      return e.site + "/journal";
    case EventKind::MonitorSuspect:
    case EventKind::MonitorTrusted:
      return e.site + "/monitor";
    case EventKind::HaLost:
    case EventKind::HaRestored:
      return e.site + "/ha";
    default:
      return "";
  }
}

std::vector<Alert> IncidentTracker::onEvent(const journal::Event& e, MonoTime now) {
  ++stats_.events;
  switch (e.kind) {
    case EventKind::AlertSent:
    case EventKind::AlertFailed:
      // Our own output; alerting about alerts would loop.
      ++stats_.suppressed;
      break;
    case EventKind::PathDown:
    case EventKind::PathDegraded:
    case EventKind::FailStatic:
    case EventKind::RecoveryFailed:
    case EventKind::RouteError:
    case EventKind::JournalFailed:
    case EventKind::MonitorSuspect:
    case EventKind::HaLost:
      if (e.kind == EventKind::RecoveryFailed) {
        // A new failed attempt: a late recovery_succeeded is news again.
        recovery_closed_by_path_up_.erase(incidentKey(e));
      }
      openOrJoin(incidentKey(e), e, now);
      break;
    case EventKind::PathUp: {
      auto rec = incidents_.find(e.site + "/recovery/" + e.path);
      if (rec != incidents_.end() && rec->second.restored) {
        // Restored after a restart: the recovery engine forgot it, so no recovery_succeeded
        // will come; the gateway's path being up again is the verdict.
        resolve(rec->first, e, now);
      } else if (rec != incidents_.end()) {
        resolveRecoveryOnPathUp(e, now);
      }
      resolve(incidentKey(e), e, now);
      break;
    }
    case EventKind::JournalRecovered:  // every journal file is written again
    case EventKind::MonitorTrusted:    // the monitor trusts its view again
    case EventKind::HaRestored:        // etcd answers again
      resolve(incidentKey(e), e, now);
      break;
    case EventKind::FailStaticCleared: {
      auto it = incidents_.find(incidentKey(e));
      if (it == incidents_.end()) {
        ++stats_.suppressed;
        break;
      }
      it->second.fail_static_tables.erase(e.route_table);
      if (it->second.fail_static_tables.empty()) {
        resolve(it->first, e, now);
      } else if (Pending* p = pendingFor(it->first, AlertStatus::Firing)) {
        addEvent(p->alert, e);
        ++stats_.grouped;
      } else {
        ++stats_.suppressed;
      }
      break;
    }
    case EventKind::RecoverySucceeded: {
      std::string key = e.site + "/recovery/" + e.path;
      if (recovery_closed_by_path_up_.erase(key) > 0) {
        // path_up already resolved this incident (the engine writes it first). While that
        // RESOLVED is held, this event replaces its "no successful attempt reported" line
        // (an attempt did succeed); once it went out, a second message would be a duplicate.
        journal::Event* up = nullptr;
        for (Pending& p : pending_) {
          if (p.alert.fingerprint != key || p.alert.status != AlertStatus::Resolved) {
            continue;
          }
          for (journal::Event& x : p.alert.events) {
            if (x.kind == EventKind::PathUp && x.path == e.path) {
              up = &x;
            }
          }
          if (up != nullptr) {
            *up = e;
            p.alert.time = std::max(p.alert.time, e.time);
            break;
          }
        }
        ++(up != nullptr ? stats_.grouped : stats_.suppressed);
        break;
      }
      if (incidents_.count(key) > 0) {
        resolve(key, e, now);
      } else if (Pending* p = pendingFor(e.site + "/path/" + e.path, AlertStatus::Firing)) {
        addEvent(p->alert, e);
        ++stats_.grouped;
      } else if (Pending* started =
                     pendingFor(e.site + "/recovery_started/" + e.path, AlertStatus::Firing)) {
        // The gateway came back before its "recovering" message went out: send one brief
        // resolved message saying both, instead of a FIRING that is already over (which
        // Alertmanager would show as active for an hour).
        addEvent(started->alert, e);
        started->alert.status = AlertStatus::Resolved;
        started->alert.brief = true;
        started->alert.ended = e.time;
        ++stats_.grouped;
      } else {
        oneShot(e, now);
      }
      break;
    }
    case EventKind::RecoveryStarted:
      // A new attempt (the gateway went down again): its success is news.
      recovery_closed_by_path_up_.erase(e.site + "/recovery/" + e.path);
      if (Pending* p = pendingFor(e.site + "/path/" + e.path, AlertStatus::Firing)) {
        addEvent(p->alert, e);
        ++stats_.grouped;
      } else {
        oneShot(e, now);
      }
      break;
    case EventKind::RouteChanged:
      // A route programmed successfully may end a route_error incident; otherwise (and when
      // other failed routes are still outstanding) it groups as usual.
      if (!clearRouteError(e, now)) {
        attachRouteChange(e, now);
      }
      break;
    default:
      oneShot(e, now);
      break;
  }
  return takeDue(options_.group_window <= Duration::zero() ? std::nullopt
                                                           : std::optional<MonoTime>(now));
}

std::vector<Alert> IncidentTracker::due(MonoTime now) { return takeDue(now); }

std::vector<Alert> IncidentTracker::flushAll() { return takeDue(std::nullopt); }

std::optional<MonoTime> IncidentTracker::nextDeadline() const {
  std::optional<MonoTime> next;
  const auto earliest = [&next](MonoTime t) {
    if (!next || t < *next) {
      next = t;
    }
  };
  for (const auto& [key, inc] : incidents_) {
    if (inc.confirm_by) {
      earliest(*inc.confirm_by);
    } else if (options_.repeat_interval > Duration::zero() && !firingHeld(key)) {
      // (With its FIRING still held, remind() waits for it: that deadline is below.)
      earliest(inc.last_announced + options_.repeat_interval);
    }
  }
  for (const Pending& p : pending_) {
    if (!next || p.deadline < *next) {
      next = p.deadline;
    }
  }
  return next;
}

IncidentTracker::Pending& IncidentTracker::hold(Alert alert, MonoTime now) {
  pending_.push_back(Pending{std::move(alert), now + options_.group_window, next_order_++});
  return pending_.back();
}

IncidentTracker::Pending* IncidentTracker::pendingFor(const std::string& fingerprint,
                                                      AlertStatus status) {
  for (Pending& p : pending_) {
    if (p.alert.fingerprint == fingerprint && p.alert.status == status && !p.alert.brief) {
      return &p;
    }
  }
  return nullptr;
}

bool IncidentTracker::firingHeld(const std::string& key) const {
  return std::any_of(pending_.begin(), pending_.end(), [&key](const Pending& p) {
    return p.alert.fingerprint == key && p.alert.status == AlertStatus::Firing && !p.alert.brief;
  });
}

IncidentTracker::Pending* IncidentTracker::windowOfSite(const std::string& site, MonoTime now) {
  Pending* best = nullptr;
  for (Pending& p : pending_) {
    if (p.alert.opening.site == site && !p.alert.one_shot && p.deadline > now &&
        (best == nullptr || p.order > best->order)) {
      best = &p;
    }
  }
  return best;
}

void IncidentTracker::addEvent(Alert& alert, const journal::Event& e) {
  alert.events.push_back(e);
  if (e.time > alert.time) {
    alert.time = e.time;
  }
  if (alert.status == AlertStatus::Firing && e.severity > alert.severity) {
    alert.severity = e.severity;
  }
  addUnique(alert.route_tables, e.route_table);
  addUnique(alert.destinations, e.destination);
  if (e.kind == EventKind::RouteChanged) {
    // Tables of two AZs leave DX for their own gateways (and come back from them): name
    // every path, "dx → vpn-a, vpn-b", not just the first or last one.
    addToList(alert.from, e.from);
    addToList(alert.to, e.to);
  }
}

void IncidentTracker::addToList(std::string& list, const std::string& item) {
  // Path names are [A-Za-z0-9_.-]: ", " never occurs inside one.
  if (item.empty() || (", " + list + ", ").find(", " + item + ", ") != std::string::npos) {
    return;
  }
  list += (list.empty() ? "" : ", ") + item;
}

void IncidentTracker::openOrJoin(const std::string& key, const journal::Event& e, MonoTime now) {
  auto it = incidents_.find(key);
  if (it == incidents_.end()) {
    Incident inc;
    inc.opening = e;
    inc.severity = e.severity;
    inc.started = e.time;
    inc.last_announced = now;
    if (e.kind == EventKind::FailStatic) {
      inc.fail_static_tables.insert(e.route_table);
    }
    if (e.kind == EventKind::RouteError) {
      inc.route_errors.insert(routeErrorItem(e));
    }
    incidents_.emplace(key, std::move(inc));
    Alert a;
    a.fingerprint = key;
    a.status = AlertStatus::Firing;
    a.severity = e.severity;
    a.opening = e;
    a.started = e.time;
    a.time = e.time;
    addEvent(a, e);
    hold(std::move(a), now);
    return;
  }
  Incident& inc = it->second;
  // Seen again after a restart: the incident is still real.
  inc.confirm_by.reset();
  if (e.kind == EventKind::FailStatic) {
    inc.fail_static_tables.insert(e.route_table);
  }
  if (e.kind == EventKind::RouteError) {
    inc.route_errors.insert(routeErrorItem(e));
  }
  if (Pending* p = pendingFor(key, AlertStatus::Firing)) {
    addEvent(p->alert, e);
    if (e.severity > inc.severity) {
      inc.severity = e.severity;
      inc.opening = e;
      p->alert.opening = e;
    }
    ++stats_.grouped;
    return;
  }
  bool worse = e.severity > inc.severity;
  bool reminder = options_.repeat_interval > Duration::zero() &&
                  now - inc.last_announced >= options_.repeat_interval;
  if (!worse && !reminder) {
    ++stats_.suppressed;
    return;
  }
  if (worse) {
    inc.severity = e.severity;
    inc.opening = e;
  }
  inc.last_announced = now;
  Alert a;
  a.fingerprint = key;
  a.status = AlertStatus::Firing;
  a.severity = inc.severity;
  a.opening = inc.opening;
  a.started = inc.started;
  a.time = e.time;
  a.update = true;
  addEvent(a, e);
  hold(std::move(a), now);
}

void IncidentTracker::resolve(std::string key, const journal::Event& e, MonoTime now) {
  auto it = incidents_.find(key);
  if (it == incidents_.end()) {
    // E.g. every path coming up at start-up: nothing was announced, nothing to resolve.
    ++stats_.suppressed;
    return;
  }
  Incident inc = std::move(it->second);
  incidents_.erase(it);
  if (Pending* p = pendingFor(key, AlertStatus::Firing)) {
    // Down and back within the window: one message tells both.
    addEvent(p->alert, e);
    p->alert.status = AlertStatus::Resolved;
    p->alert.brief = true;
    p->alert.ended = e.time;
    ++stats_.grouped;
    return;
  }
  Alert a;
  a.fingerprint = key;
  a.status = AlertStatus::Resolved;
  a.severity = inc.severity;
  a.opening = inc.opening;
  a.started = inc.started;
  a.time = e.time;
  a.ended = e.time;
  addEvent(a, e);
  hold(std::move(a), now);
}

void IncidentTracker::attachRouteChange(const journal::Event& e, MonoTime now) {
  // Newest first: the route change belongs to the latest thing that happened to its path.
  Pending* match = nullptr;
  for (Pending& p : pending_) {
    const Alert& a = p.alert;
    if (a.opening.site != e.site || a.one_shot) {
      continue;
    }
    bool fits =
        (a.status == AlertStatus::Firing && !a.brief && !e.from.empty() &&
         a.opening.path == e.from) ||
        ((a.status == AlertStatus::Resolved || a.brief) && !e.to.empty() && a.opening.path == e.to);
    if (fits && (match == nullptr || p.order > match->order)) {
      match = &p;
    }
  }
  if (match == nullptr) {
    match = windowOfSite(e.site, now);
  }
  if (match != nullptr) {
    addEvent(match->alert, e);
    ++stats_.grouped;
    return;
  }
  oneShot(e, now);
}

bool IncidentTracker::clearRouteError(const journal::Event& e, MonoTime now) {
  auto it = incidents_.find(e.site + "/route_error");
  // An empty set: a restored incident not confirmed since the restart (its failed routes are
  // not persisted), which restore_confirm ends instead.
  if (it == incidents_.end() || it->second.route_errors.empty()) {
    return false;
  }
  std::set<std::string>& failing = it->second.route_errors;
  // The route itself was programmed; a successful apply in a table whose list() failed also
  // shows the table is reachable again.
  std::size_t cleared = failing.erase(routeErrorItem(e)) + failing.erase(e.route_table);
  if (cleared == 0 || !failing.empty()) {
    return false;
  }
  resolve(it->first, e, now);
  return true;
}

void IncidentTracker::resolveRecoveryOnPathUp(const journal::Event& e, MonoTime now) {
  std::string key = e.site + "/recovery/" + e.path;
  // The gateway came back by itself after a failed attempt (in the backoff, after the hourly
  // limit, after the settle time ran out): no recovery_succeeded will come for it. The
  // wording stays true if one does follow at once (see the RecoverySucceeded case).
  journal::Event closing = e;
  closing.reason = e.path +
                   " is up again; the recovery incident ends (no successful recovery "
                   "attempt reported)";
  if (!e.reason.empty()) {
    closing.reason += "; " + e.reason;
  }
  closing.message = "recovery incident of " + e.path + " closed: " + closing.reason;
  resolve(key, closing, now);
  recovery_closed_by_path_up_.insert(key);
}

void IncidentTracker::oneShot(const journal::Event& e, MonoTime now) {
  std::string fp = e.site + "/" + std::string(journal::eventKindName(e.kind));
  if (!e.path.empty()) {
    fp += "/" + e.path;
  }
  for (Pending& p : pending_) {
    if (p.alert.fingerprint == fp && p.alert.one_shot) {
      addEvent(p.alert, e);
      ++stats_.grouped;
      return;
    }
  }
  if (repeatSuppressed(e.kind) && options_.repeat_interval > Duration::zero()) {
    std::string identity =
        fp + "|" + e.route_table + "|" + e.destination + "|" + e.from + "|" + e.to;
    auto it = one_shot_sent_.find(identity);
    if (it != one_shot_sent_.end() && now - it->second < options_.repeat_interval) {
      ++stats_.suppressed;
      return;
    }
    one_shot_sent_[identity] = now;
    // Keep the memory bounded: forget identities older than the interval.
    if (one_shot_sent_.size() > 4096) {
      for (auto i = one_shot_sent_.begin(); i != one_shot_sent_.end();) {
        i = now - i->second >= options_.repeat_interval ? one_shot_sent_.erase(i) : std::next(i);
      }
    }
  }
  Alert a;
  a.fingerprint = fp;
  a.status = AlertStatus::Firing;
  a.severity = e.severity;
  a.opening = e;
  a.started = e.time;
  a.time = e.time;
  a.one_shot = true;
  addEvent(a, e);
  hold(std::move(a), now);
}

std::optional<IncidentRecord> IncidentTracker::record(const std::string& key, MonoTime now,
                                                      WallTime wall_now) const {
  auto it = incidents_.find(key);
  if (it == incidents_.end()) {
    return std::nullopt;
  }
  const Incident& inc = it->second;
  IncidentRecord r;
  r.key = key;
  r.opening = inc.opening;
  r.severity = inc.severity;
  r.started = inc.started;
  r.last_announced =
      wall_now - std::chrono::duration_cast<WallTime::duration>(now - inc.last_announced);
  r.fail_static_tables.assign(inc.fail_static_tables.begin(), inc.fail_static_tables.end());
  return r;
}

void IncidentTracker::restore(const IncidentRecord& r, MonoTime now, WallTime wall_now) {
  if (r.key.empty() || incidents_.count(r.key) > 0) {
    return;
  }
  Incident inc;
  inc.opening = r.opening;
  inc.severity = r.severity;
  inc.started = r.started;
  // The reminder keeps its rhythm across the restart (a wall clock stepped back counts as
  // "just announced").
  auto since = std::max<Duration>(std::chrono::duration_cast<Duration>(wall_now - r.last_announced),
                                  Duration::zero());
  inc.last_announced = now - since;
  // ... but no reminder before the restarted daemon's first verdicts: a path that healed
  // meanwhile gets its RESOLVED, not a "still open" first.
  if (options_.repeat_interval > Duration::zero()) {
    inc.last_announced =
        std::max(inc.last_announced, now - options_.repeat_interval + options_.restore_confirm);
  }
  inc.fail_static_tables.insert(r.fail_static_tables.begin(), r.fail_static_tables.end());
  inc.restored = true;
  // Paths report up or down with their first probes, and a path incident resolves on
  // path_up; fail static and route errors have no such verdict after a restart, so they
  // must be seen again or they are considered over.
  if (r.opening.kind == EventKind::FailStatic || r.opening.kind == EventKind::RouteError) {
    inc.confirm_by = now + options_.restore_confirm;
  }
  incidents_.emplace(r.key, std::move(inc));
}

void IncidentTracker::close(const std::string& key, const journal::Event& closing, MonoTime now) {
  if (incidents_.count(key) > 0) {
    resolve(key, closing, now);
  }
}

void IncidentTracker::forgetAll() {
  pending_.clear();
  incidents_.clear();
  recovery_closed_by_path_up_.clear();
}

std::vector<std::string> IncidentTracker::openKeys() const {
  std::vector<std::string> keys;
  for (const auto& [key, inc] : incidents_) {
    keys.push_back(key);
  }
  return keys;
}

void IncidentTracker::expireUnconfirmed(MonoTime now, WallTime wall_now) {
  std::vector<std::string> expired;
  for (const auto& [key, inc] : incidents_) {
    if (inc.confirm_by && *inc.confirm_by <= now) {
      expired.push_back(key);
    }
  }
  for (const auto& key : expired) {
    const Incident& inc = incidents_.at(key);
    journal::Event e = journal::makeEvent(EventKind::DaemonStarted, wall_now, inc.opening.site);
    e.path = inc.opening.path;
    e.reason = "not seen again within " +
               formatDuration(std::chrono::duration_cast<std::chrono::milliseconds>(
                   options_.restore_confirm)) +
               " of the daemon restart";
    e.message = "incident closed: " + e.reason;
    resolve(key, e, now);
  }
}

void IncidentTracker::remind(MonoTime now, WallTime wall_now) {
  if (options_.repeat_interval <= Duration::zero()) {
    return;
  }
  for (auto& [key, inc] : incidents_) {
    if (inc.confirm_by || now - inc.last_announced < options_.repeat_interval) {
      continue;
    }
    // Announced when its FIRING leaves the window: not before.
    if (firingHeld(key)) {
      continue;
    }
    inc.last_announced = now;
    Alert a;
    a.fingerprint = key;
    a.status = AlertStatus::Firing;
    a.severity = inc.severity;
    a.opening = inc.opening;
    a.started = inc.started;
    a.update = true;
    a.reminder = true;
    addEvent(a, inc.opening);
    for (const std::string& table : inc.fail_static_tables) {
      addUnique(a.route_tables, table);
    }
    a.time = wall_now;
    // Due at once: there is nothing to group (events of the incident arriving meanwhile
    // join it until the owner takes it, in the same pass).
    pending_.push_back(Pending{std::move(a), now, next_order_++});
  }
}

std::vector<Alert> IncidentTracker::takeDue(std::optional<MonoTime> now) {
  std::vector<Pending> ready;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (!now || it->deadline <= *now) {
      ready.push_back(std::move(*it));
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  std::sort(ready.begin(), ready.end(),
            [](const Pending& a, const Pending& b) { return a.order < b.order; });
  std::vector<Alert> out;
  out.reserve(ready.size());
  for (Pending& p : ready) {
    out.push_back(std::move(p.alert));
  }
  stats_.alerts += out.size();
  return out;
}

}  // namespace pathpilot::alert

namespace pathpilot::alert {

std::string encodeIncidentRecord(const IncidentRecord& r) {
  nlohmann::json j = {{"version", 1},
                      {"key", r.key},
                      {"opening", journal::toJsonLine(r.opening)},
                      {"severity", journal::severityName(r.severity)},
                      {"started_ms", journal::toUnixMillis(r.started)},
                      {"announced_ms", journal::toUnixMillis(r.last_announced)},
                      {"fail_static_tables", r.fail_static_tables},
                      {"channels", r.channels},
                      {"summary", r.summary}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<IncidentRecord> decodeIncidentRecord(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return fail(ErrorCode::InvalidArgument, "incident record: not a JSON object");
  }
  auto field = [&](const char* name, nlohmann::json::value_t type) -> const nlohmann::json* {
    auto it = j.find(name);
    if (it == j.end() || it->type() != type) {
      return nullptr;
    }
    return &*it;
  };
  using T = nlohmann::json::value_t;
  if (auto v = j.find("version"); v == j.end() || !v->is_number_integer() || *v != 1) {
    return fail(ErrorCode::InvalidArgument, "incident record: version: expected 1");
  }
  IncidentRecord r;
  const auto* key = field("key", T::string);
  if (key == nullptr || key->get<std::string>().empty()) {
    return fail(ErrorCode::InvalidArgument, "incident record: key: expected a non-empty string");
  }
  r.key = key->get<std::string>();
  const std::string where = "incident record " + r.key + ": ";
  const auto* opening = field("opening", T::string);
  if (opening == nullptr) {
    return fail(ErrorCode::InvalidArgument, where + "opening: expected a string");
  }
  auto event = journal::parseJsonLine(opening->get<std::string>());
  if (!event) {
    return fail(ErrorCode::InvalidArgument, where + "opening: " + event.error().message());
  }
  r.opening = std::move(*event);
  const auto* severity = field("severity", T::string);
  if (severity == nullptr) {
    return fail(ErrorCode::InvalidArgument, where + "severity: expected a string");
  }
  auto sev = journal::parseSeverity(severity->get<std::string>());
  if (!sev) {
    return fail(ErrorCode::InvalidArgument, where + "severity: " + sev.error().message());
  }
  r.severity = *sev;
  for (auto [name, out] :
       {std::pair{"started_ms", &r.started}, std::pair{"announced_ms", &r.last_announced}}) {
    auto it = j.find(name);
    if (it == j.end() || !it->is_number_integer()) {
      return fail(ErrorCode::InvalidArgument, where + name + ": expected an integer");
    }
    *out = journal::fromUnixMillis(it->get<std::int64_t>());
  }
  for (auto [name, out] : {std::pair{"fail_static_tables", &r.fail_static_tables},
                           std::pair{"channels", &r.channels}}) {
    const auto* list = field(name, T::array);
    if (list == nullptr) {
      return fail(ErrorCode::InvalidArgument, where + name + ": expected a list");
    }
    for (const auto& item : *list) {
      if (!item.is_string()) {
        return fail(ErrorCode::InvalidArgument, where + name + ": expected strings");
      }
      out->push_back(item.get<std::string>());
    }
  }
  if (const auto* summary = field("summary", T::string)) {
    r.summary = summary->get<std::string>();
  }
  return r;
}

}  // namespace pathpilot::alert
