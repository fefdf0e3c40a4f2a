// alert/incident.h — turns a stream of events into a few alerts: incidents, not spam.
//
// Purpose: one DX failure produces path_down plus route_changed × 20 (one per route table) in
// a second or two; the on-call operator must get ONE message that says "dx down, 20 route
// tables moved dx → vpn-a", and one RESOLVED message when dx is back. IncidentTracker is the
// pure state machine that does this:
//   - Opening events start an incident keyed by site + subject:
//       path_down, path_degraded      key "<site>/path/<path>"
//       fail_static                   key "<site>/fail_static" (all tables of the site)
//       recovery_failed               key "<site>/recovery/<gateway>"
//       route_error                   key "<site>/route_error"
//       journal_failed                key "<site>/journal" (a journal file not written)
//       monitor_suspect               key "<site>/monitor" (the monitor doubts its view)
//     The alert is held for `group_window` from the first event; events arriving in that
//     window join it: route_changed whose `from` is the failed path (else any incident of the
//     site still in its window), recovery_started/succeeded of the same gateway, more
//     route_error / fail_static tables. Then one FIRING alert is emitted.
//   - Resolving events close the incident: path_up (path), fail_static_cleared (when the last
//     table of the fail_static incident cleared), recovery_succeeded (recovery), route_changed
//     (route_error: when every table × destination that failed was programmed since; a
//     table-level failure, a failed list(), clears with any route_changed of that table),
//     journal_recovered (journal: every journal file is written again), monitor_trusted.
//     path_up of a gateway's path also ends its recovery incident: the gateway came back by
//     itself (during the backoff, after the hourly limit, after the settle time ran out), so
//     no recovery_succeeded would ever come. The engine writes path_up just before the
//     recovery_succeeded of a confirmed attempt; one arriving while that RESOLVED is still
//     held replaces its "no successful recovery attempt reported" line, one arriving later is
//     dropped (exactly one RESOLVED either way). The RESOLVED alert is grouped the same way (it
//     collects the routes moving back). An incident that ends before its FIRING alert left the
//     window becomes one "brief" alert.
//   - Duplicates are suppressed: the same opening event for an open incident joins it (and
//     is counted), unless it raises the severity (degraded → down: an "update" alert) or the
//     incident was last announced more than `repeat_interval` ago (a reminder).
//   - Reminders need no new event: remind() re-announces every open incident whose FIRING
//     (or last reminder) is `repeat_interval` old — a path that stays down gets a "still open
//     after 4h" FIRING every repeat_interval until it resolves; nextDeadline() includes the
//     next reminder so that the owner's timer wakes for it. A restored fail_static /
//     route_error incident is not reminded of before an event confirms it.
//   - One-shot notable events (route_drift, config_rejected, journal_overflow, drain,
//     undrain, leader_changed, daemon_started/stopped, config_loaded, route_changed with no
//     incident) become alerts of their own, grouped by site + kind within the window, and
//     the same one-shot fingerprint is not repeated within `repeat_interval`.
//   - alert_sent / alert_failed are ignored (they are this module's own output).
//   - Restarts: the manager persists each open incident (record()) once its FIRING is out and
//     puts it back into a new tracker (restore()), so that a heal after a restart still gets
//     its RESOLVED. A restored incident resolves as usual (path_up ...); a restored recovery
//     incident also on path_up of its gateway's path (the recovery memory did not survive);
//     a restored fail_static or route_error incident that no event confirms within
//     `restore_confirm` is resolved as "not seen again after the restart" (nothing would
//     ever clear it otherwise); close() resolves one whose path left the config. The failing
//     routes of a route_error incident are not persisted: a restored one tracks only the
//     route_errors seen again after the restart (its confirmation).
// Time: `now` is passed in (docs/development.md: pure modules); group windows use MonoTime, alert
// times the events' own wall times. Threading: not thread-safe; one owner (the alert manager's
// grouping thread). Metrics: stats() — events seen, grouped, suppressed, alerts emitted.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "alert/alert.h"
#include "base/error.h"
#include "base/time.h"
#include "journal/event.h"

namespace pathpilot::alert {

struct TrackerOptions {
  Duration group_window = std::chrono::seconds(30);
  Duration repeat_interval = std::chrono::hours(4);
  // How long a restored fail_static / route_error incident waits for its opening kind to be
  // seen again before it is resolved (the daemon needs its first probes and decisions).
  Duration restore_confirm = std::chrono::minutes(2);
};

// An open incident as kept across a daemon restart (stored by alert/outbox.h). Everything a
// matching RESOLVED needs: the opening event gives the Alertmanager labels (incident =
// key, site, path, link) and the routing, `started` its startsAt.
struct IncidentRecord {
  std::string key;         // Alert::fingerprint
  journal::Event opening;  // the event the FIRING announced
  journal::Severity severity = journal::Severity::Info;
  WallTime started{};                           // startsAt
  WallTime last_announced{};                    // for the repeat_interval reminder
  std::vector<std::string> fail_static_tables;  // fail_static: tables still static
  std::vector<std::string> channels;            // channels its FIRING went to (manager)
  std::string summary;                          // title of its last FIRING (manager)
};

struct TrackerStats {
  std::uint64_t events = 0;      // events fed
  std::uint64_t grouped = 0;     // events that joined an existing alert
  std::uint64_t suppressed = 0;  // duplicates that produced nothing
  std::uint64_t alerts = 0;      // alerts emitted
};

class IncidentTracker {
 public:
  explicit IncidentTracker(TrackerOptions options = {}) : options_(options) {}

  // Feeds one event observed at `now`. Returns the alerts that are complete now (with a zero
  // group window, the alert of this event; otherwise usually nothing — see due()).
  std::vector<Alert> onEvent(const journal::Event& event, MonoTime now);

  // Alerts whose grouping window has closed at `now`, in the order they were opened.
  std::vector<Alert> due(MonoTime now);

  // Everything still held, emitted now (shutdown: nothing accepted may be lost).
  std::vector<Alert> flushAll();

  // A config reload: new windows apply to groups opened from now on; open incidents, held
  // groups and the duplicate memory are kept (a RESOLVED still follows its FIRING).
  void setOptions(TrackerOptions options) { options_ = options; }

  // When the next held alert becomes due, or nullopt when nothing is held.
  std::optional<MonoTime> nextDeadline() const;

  // Open incidents (FIRING sent or pending, not yet resolved).
  std::size_t openIncidents() const { return incidents_.size(); }

  // The state of open incident `key` to persist (channels and summary left empty), or
  // nullopt when it is not open. `wall_now`/`now` convert its reminder time to wall time.
  std::optional<IncidentRecord> record(const std::string& key, MonoTime now,
                                       WallTime wall_now) const;
  // Puts back an incident of a previous run (its FIRING already went out). Nothing is
  // emitted now. Ignored when `r.key` is already open.
  void restore(const IncidentRecord& r, MonoTime now, WallTime wall_now);
  // Resolves open incident `key` with `closing` as the resolving event (e.g. its path left
  // the config). The RESOLVED is held like any other. No-op when `key` is not open.
  void close(const std::string& key, const journal::Event& closing, MonoTime now);
  // Resolves the restored incidents whose `restore_confirm` passed unconfirmed at `now`
  // (their RESOLVED alerts are then held as usual; see due()).
  void expireUnconfirmed(MonoTime now, WallTime wall_now);
  // Re-announces every open incident last announced `repeat_interval` or more before `now`
  // (none when repeat_interval is 0): a FIRING reminder (update and reminder set, time
  // `wall_now`) due at once, i.e. returned by the next due(now). Its FIRING still held in
  // its window, or a restored incident not confirmed yet, is not reminded of.
  void remind(MonoTime now, WallTime wall_now);
  // Forgets every open incident and held alert (another monitor owns them now); the stats and
  // the one-shot duplicate memory stay.
  void forgetAll();
  // Keys of the open incidents, sorted.
  std::vector<std::string> openKeys() const;
  const TrackerStats& stats() const { return stats_; }

 private:
  // An alert being assembled within its window.
  struct Pending {
    Alert alert;
    MonoTime deadline;
    std::uint64_t order = 0;
  };
  // An open incident (its FIRING alert pending or emitted).
  struct Incident {
    journal::Event opening;
    journal::Severity severity = journal::Severity::Info;
    WallTime started{};
    MonoTime last_announced{};
    std::set<std::string> fail_static_tables;  // fail_static incidents: tables still static
    // route_error incidents: "table destination" (or "table" for a failed list()) not
    // programmed successfully since its route_error.
    std::set<std::string> route_errors;
    // Restored from a previous run and not confirmed by an event since: resolved at this
    // time (fail_static / route_error only; see restore()).
    std::optional<MonoTime> confirm_by;
    bool restored = false;
  };

  Pending& hold(Alert alert, MonoTime now);
  Pending* pendingFor(const std::string& fingerprint, AlertStatus status);
  // Whether the FIRING of incident `key` is still held in its window.
  bool firingHeld(const std::string& key) const;
  Pending* windowOfSite(const std::string& site, MonoTime now);
  void addEvent(Alert& alert, const journal::Event& e);
  // Appends `item` to the ", "-separated `list` unless it is there already.
  static void addToList(std::string& list, const std::string& item);
  void openOrJoin(const std::string& key, const journal::Event& e, MonoTime now);
  void resolve(std::string key, const journal::Event& e, MonoTime now);
  void oneShot(const journal::Event& e, MonoTime now);
  void attachRouteChange(const journal::Event& e, MonoTime now);
  // route_changed `e` clears its route of the site's route_error incident; true when that
  // resolved the incident (`e` is then its resolving event).
  bool clearRouteError(const journal::Event& e, MonoTime now);
  // path_up `e` of a gateway whose (live) recovery incident is open: resolves it.
  void resolveRecoveryOnPathUp(const journal::Event& e, MonoTime now);
  std::vector<Alert> takeDue(std::optional<MonoTime> now);

  TrackerOptions options_;
  TrackerStats stats_;
  std::vector<Pending> pending_;
  std::map<std::string, Incident> incidents_;
  std::map<std::string, MonoTime> one_shot_sent_;  // fingerprint → when last emitted
  // Recovery incidents resolved by path_up whose recovery_succeeded may still come (it would
  // be a second message about the same end); cleared by it or by the next attempt.
  std::set<std::string> recovery_closed_by_path_up_;
  std::uint64_t next_order_ = 0;
};

// The fingerprint key for an event that opens or resolves an incident, or "" for others.
std::string incidentKey(const journal::Event& e);

// One IncidentRecord as a JSON document (what a leader of a group of monitors leaves in etcd
// for the next one; docs/ha.md) and back. Decode errors name the field.
std::string encodeIncidentRecord(const IncidentRecord& r);
[[nodiscard]] Result<IncidentRecord> decodeIncidentRecord(std::string_view text);

}  // namespace pathpilot::alert
