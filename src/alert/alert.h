// alert/alert.h — what the alert module produces: incidents as alerts, alerts as notifications.
//
// Purpose: the vocabulary shared by the alert module's parts.
//   Alert         one incident (or one notable one-shot event) as the grouping stage sees it:
//                 the event that opened it, every event grouped into it, FIRING or RESOLVED.
//                 Produced by IncidentTracker (alert/incident.h), pure.
//   Notification  one rendered message for one channel: title, body and the structured fields
//                 that Alertmanager labels and JSON webhooks need. This is what the outbox stores
//                 (as JSON) and what a Channel delivers; it must survive a daemon restart, so it
//                 holds values only.
// Threading: value types. Metrics: none.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "base/error.h"
#include "base/time.h"
#include "journal/event.h"

namespace pathpilot::alert {

enum class AlertStatus : std::uint8_t {
  Firing,    // the incident is open
  Resolved,  // the incident is over (path_up, fail_static_cleared, recovery_succeeded ...)
};

// "FIRING" / "RESOLVED" (as shown to people) and "firing" / "resolved" (as stored).
std::string_view alertStatusLabel(AlertStatus s);

struct Alert {
  // Stable identity of the incident: FIRING and RESOLVED of one incident share it, so that
  // Alertmanager resolves the right alert and chat readers can match them. E.g.
  // "Beijing/path/dx", "Beijing/fail_static", "Beijing/route_drift".
  std::string fingerprint;
  AlertStatus status = AlertStatus::Firing;
  // Highest severity of the events grouped (for RESOLVED: that of the incident it closes).
  journal::Severity severity = journal::Severity::Info;
  // The event that opened the incident (its kind, path and link drive the routing).
  journal::Event opening;
  // Every event grouped into this alert, in arrival order (the opening one first for a FIRING
  // alert; the resolving one first for a RESOLVED alert).
  std::vector<journal::Event> events;
  WallTime started{};                 // when the incident began (opening.time)
  WallTime time{};                    // when this alert was raised (last event grouped)
  std::optional<WallTime> ended;      // RESOLVED: when it ended
  // A FIRING alert whose incident also ended within the grouping window: one message says
  // both ("dx was down for 12s"), routed like a firing alert.
  bool brief = false;
  // FIRING alert sent again because the incident got worse (degraded → down) or was still open
  // after repeat_interval.
  bool update = false;
  // An update sent by the timer because the incident is still open after repeat_interval,
  // with no new event ("dx down (still open after 4h)").
  bool reminder = false;
  // A notable event that has no "resolved" counterpart (route_drift, config_rejected, ...).
  bool one_shot = false;
  // Route tables / destinations affected, unique, in first-seen order.
  std::vector<std::string> route_tables;
  std::vector<std::string> destinations;
  // What moved: every path the route changes left and went to, ", "-separated in first-seen
  // order ("dx" → "vpn-a, vpn-b"); empty without route changes.
  std::string from;
  std::string to;
};

// One message for one channel, as stored in the outbox and delivered.
struct Notification {
  std::string channel;      // channel name
  std::string fingerprint;  // Alert::fingerprint
  AlertStatus status = AlertStatus::Firing;
  journal::Severity severity = journal::Severity::Info;
  std::string site;
  std::string kind;         // opening event kind name ("path_down")
  std::string path;
  std::string link;         // "dx", "vpn" or ""
  std::string title;        // one line
  std::string body;         // plain text, several lines
  std::vector<std::string> route_tables;
  WallTime starts_at{};
  std::optional<WallTime> ends_at;
  WallTime created_at{};    // when it was accepted into the outbox
  bool one_shot = false;    // Alert::one_shot: never resolved (Alertmanager: expires)
  bool test = false;        // `pathpilot alerts test`

  friend bool operator==(const Notification&, const Notification&) = default;
};

// JSON form (stored in the outbox; also the body of generic webhooks).
nlohmann::json toJson(const Notification& n);
// Inverse of toJson. Errors: InvalidArgument naming the bad key.
[[nodiscard]] Result<Notification> notificationFromJson(const nlohmann::json& json);
// toJson(...).dump(), with invalid UTF-8 replaced (never throws).
std::string toJsonText(const Notification& n);
// Parses toJsonText output. Errors: InvalidArgument.
[[nodiscard]] Result<Notification> parseNotification(std::string_view text);

}  // namespace pathpilot::alert
