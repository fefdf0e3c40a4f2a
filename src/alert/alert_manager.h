// alert/alert_manager.h — alerts that reach people: group, route, store, deliver, report.
//
// Purpose: the one object the daemon talks to. It takes every journal event (submit(), from
// the engine thread, never blocking), and
//   1. groups events into incidents (IncidentTracker: one DX failure moving 20 route tables
//      is ONE alert; a RESOLVED alert when it heals; duplicates suppressed),
//   2. routes each alert to channels (alerts.routes) and renders it per channel (templates),
//   3. writes each message to the durable outbox (alert/outbox.h) — from here on it is never
//      lost: it survives endpoint outages and daemon restarts,
//   4. delivers from the outbox, one worker thread per channel: the channel's oldest pending
//      message first (per-channel order), paced by the channel's token bucket, retried with
//      exponential backoff (honouring Retry-After) until alerts.max_age,
//   5. reports each final outcome through the EventSink as an alert_sent / alert_failed event
//      (the daemon appends them to the journal; they are never alerted on themselves).
// A hanging endpoint blocks only its own channel's worker, bounded by the channel's timeout.
// Open incidents live in the outbox's file too (saved with their FIRING rows, deleted with
// their RESOLVED rows): a manager built on the same file after a restart restores them, so a
// heal after the restart sends ONE RESOLVED to each channel the incident fired on, with the
// same Alertmanager labels and startsAt. closeIncidentsOutside() resolves those whose path
// left the config.
//
// Threading: submit(), outboxDepth(), stats() are safe from any thread. start()/stop() from
// the owning thread. The EventSink is called from the alert threads. Without start(), nothing
// runs by itself: tests drive it with pump() and a FakeClock, deterministically.
// Metrics: outboxDepth() (pending messages), stats() per channel: sent, failed, retries,
// rate-limited waits, last delivery latency; tracker stats (grouped, suppressed).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "alert/channel.h"
#include "alert/incident.h"
#include "alert/outbox.h"
#include "alert/pacing.h"
#include "alert/render.h"
#include "alert/secret.h"
#include "config/config.h"
#include "http/http_client.h"
#include "journal/event.h"

namespace pathpilot::alert {

struct ChannelStats {
  std::string name;
  std::uint64_t sent = 0;
  std::uint64_t failed = 0;        // given up (alert_failed)
  std::uint64_t retries = 0;       // failed attempts that were rescheduled
  std::uint64_t rate_limited = 0;  // times a due message waited for a token
  Duration last_latency{};         // accepted → delivered, of the last message sent
  Duration max_latency{};
  std::string last_error;          // redacted
};

struct ManagerStats {
  TrackerStats tracker;
  std::uint64_t events_dropped = 0;  // submit() queue overflow
  std::uint64_t enqueue_errors = 0;  // outbox writes that failed (logged)
  // FIRINGs delivered before their record was durable (write-ahead wait ran out; logged).
  std::uint64_t unrecorded_firings = 0;
  std::vector<ChannelStats> channels;
};

class AlertManager {
 public:
  using EventSink = std::function<void(journal::Event)>;

  // Randomness for the backoff jitter (tests inject a constant).
  using Random01 = std::function<double()>;

  // Requires: channel names unique and matching settings.channels (extra config entries
  // without a Channel are ignored). `clock` must outlive the manager.
  AlertManager(const config::AlertSettings& settings, std::string site,
               std::vector<std::unique_ptr<Channel>> channels, std::unique_ptr<Outbox> outbox,
               const Clock& clock, EventSink sink, Random01 random01 = nullptr);
  ~AlertManager();
  AlertManager(const AlertManager&) = delete;
  AlertManager& operator=(const AlertManager&) = delete;

  // Starts the grouping thread and one delivery worker per channel. Pending outbox rows
  // (from before a restart) are delivered first, in order.
  void start();

  // Stops: events still queued and alerts still in their grouping window are written to the
  // outbox (not lost), then the workers get up to `drain` to deliver what is due; whatever
  // is left stays in the outbox for the next start.
  void stop(Duration drain = std::chrono::seconds(5));

  // Accepts one event. Never blocks on I/O (a short mutex); safe on the engine thread.
  void submit(const journal::Event& event);

  // A config reload (SIGHUP) on the same outbox: new channels, routes, templates, rate limits
  // and retry settings. Open incidents, held groups, queued events and every outbox row are
  // kept; a channel's pending rows go to the channel of the same name in `channels` (rows of
  // a channel that no longer exists stay in the outbox, with a warning). Counters of kept
  // channel names carry over. When started, this returns at once: the workers are stopped
  // (after their current attempt, which a hanging endpoint may stretch to its timeout) and
  // restarted on a helper thread, so the engine thread never waits; events submitted
  // meanwhile are queued. Without start(), it applies synchronously (tests).
  // Requires: settings.outbox is this manager's outbox; called from the owning thread.
  void reconfigure(const config::AlertSettings& settings,
                   std::vector<std::unique_ptr<Channel>> channels);
  // Waits until a reconfigure() in progress has been applied (tests, shutdown).
  void waitReconfigured();

  // Test driver (use without start()): processes queued events and due groups at the
  // clock's now, then delivers every channel's due messages until none is due. Returns the
  // number of delivery attempts made.
  std::size_t pump();

  // Resolves every open incident whose path is not in `paths` (or whose site is not this
  // manager's): its RESOLVED says the path left the config. Call at start and after a config
  // reload. Safe from any thread; the RESOLVED is grouped and sent like any other.
  void closeIncidentsOutside(const std::vector<std::string>& paths);

  // Open incidents (restored or new). Safe from any thread.
  std::size_t openIncidents() const;

  // A group of monitors (docs/ha.md) shares the open incidents through etcd: only the leader
  // alerts, and a new leader carries on the incidents its predecessor fired.
  // `sink` gets every incident this manager saves (its FIRING is in the outbox: the record)
  // or closes (RESOLVED or brief: nullopt), on the grouping thread; it must not block. It
  // calls `recorded` (any thread, any time, also after the manager is gone: then a no-op)
  // once the record is durable where a successor reads it.
  //
  // Write-ahead: with `record_wait` > 0, an incident's FIRING is not delivered before its
  // record is durable, so that a monitor killed right after a FIRING went out leaves a
  // record its successor adopts instead of firing again. The wait is bounded: after
  // `record_wait` (the store unreachable, leadership lost) the FIRING goes out anyway, with a
  // warning: an alert twice is better than none. Rows behind it on the same channel wait too
  // (order is kept).
  using IncidentSink =
      std::function<void(const std::string& key, const std::optional<IncidentRecord>& record,
                         std::function<void()> recorded)>;
  void setIncidentSink(IncidentSink sink, Duration record_wait = Duration::zero());
  // Forgets every open incident and held alert, without a message and without calling the
  // sink (leadership lost, or at start before any: the leader in force owns them). Rows
  // already in the outbox are still delivered. Safe from any thread.
  void releaseIncidents();
  // Takes over incidents another monitor fired (their FIRING went out): each resolves as a
  // restored one would (alert/incident.h), unless already open here. Safe from any thread.
  void adoptIncidents(const std::vector<IncidentRecord>& records);
  // Resolves open incident `key` with `closing` as the reason (grouped and sent like any
  // RESOLVED). No-op when it is not open. Safe from any thread.
  void closeIncident(const std::string& key, const journal::Event& closing);

  // Messages waiting in the outbox (all channels).
  std::size_t outboxDepth() const { return outbox_->pending(); }
  ManagerStats stats() const;

  Outbox& outbox() { return *outbox_; }
  const std::string& outboxPath() const { return outbox_->path(); }
  // The settings in force (the last reconfigure()'s once applied).
  config::AlertSettings settings() const;

 private:
  struct ChannelState {
    std::unique_ptr<Channel> channel;
    ChannelTemplates templates;
    TokenBucket bucket;
    ChannelStats stats;
    std::thread worker;
  };
  enum class StepKind { Idle, NotDue, Attempted, Error };
  struct Step {
    StepKind kind = StepKind::Idle;
    WallTime not_before{};
  };

  // Replaces channel states, router and retry policy. Requires: no threads running.
  void applySettings(const config::AlertSettings& settings,
                     std::vector<std::unique_ptr<Channel>> channels);
  // stop() without waiting for a reconfigure in progress (the reconfigure thread uses it).
  void stopThreads(Duration drain);
  void groupLoop();
  void workerLoop(ChannelState& cs);
  // Processes `events` and due groups (or all groups when `flush_all`). Returns how many
  // messages were written to the outbox.
  std::size_t process(std::deque<journal::Event> events, bool flush_all);
  // An alert with, for an incident's FIRING, the incident's state to save with it.
  struct Ready {
    Alert alert;
    std::optional<IncidentRecord> record;
  };
  // Requires: mu_ held. Pairs each alert with its incident's state at this moment.
  void collect(std::vector<Alert> alerts, std::vector<Ready>& out, MonoTime now);
  // Restores the incidents saved in the outbox (constructor).
  void restoreIncidents();
  // The channels a RESOLVED of a fired incident goes to: those of the routes in force, plus
  // those its FIRING went to that still exist, unless a route now opts them out of RESOLVEDs.
  std::vector<std::string> resolvedChannels(const Alert& alert,
                                            const std::vector<std::string>& fired) const;
  // Writes the alert's rows; returns how many (0 when the outbox refused them).
  std::size_t enqueueAlert(const Ready& ready);
  Step deliverOne(ChannelState& cs);
  void emit(journal::EventKind kind, const Notification& n, const std::string& reason,
            const std::string& message);
  ChannelState* find(const std::string& name);

  config::AlertSettings settings_;
  std::string site_;
  const Clock& clock_;
  EventSink sink_;
  Random01 random01_;
  std::mt19937_64 rng_{0x5eed};
  std::unique_ptr<Outbox> outbox_;
  Router router_;
  RetryPolicy retry_;
  std::map<std::string, std::unique_ptr<ChannelState>> channels_;

  // Guards everything below and the tracker, and the channel stats.
  mutable std::mutex mu_;
  std::condition_variable group_cv_;
  std::condition_variable work_cv_;
  IncidentTracker tracker_;
  // Rows waiting for a retry this process scheduled, by row id: when (monotonic) they are due.
  std::map<std::int64_t, MonoTime> retry_due_;
  std::deque<journal::Event> queue_;
  std::uint64_t events_dropped_ = 0;
  std::uint64_t enqueue_errors_ = 0;
  std::uint64_t unrecorded_firings_ = 0;
  bool stopping_ = false;
  // Bumped (under mu_) whenever workers have news: new rows, stop. A worker that saw no work
  // waits only while it is unchanged, so a wake-up between its check and its wait is not lost.
  std::uint64_t work_generation_ = 0;
  bool grouper_done_ = false;
  MonoTime drain_deadline_{};
  std::thread grouper_;
  bool started_ = false;
  // A stop() for a reconfigure: held groups stay held (the new routes send them), instead of
  // being flushed as at shutdown.
  bool keep_held_ = false;
  // Open incidents that fired: their saved state, with the channels they fired on. Only the
  // grouping side (process) uses it.
  std::map<std::string, IncidentRecord> fired_;
  IncidentSink incident_sink_;  // under mu_
  Duration record_wait_{};      // under mu_
  // FIRINGs held until their record is durable (write-ahead): incident key → deadline.
  std::map<std::string, MonoTime> awaiting_record_;  // under mu_
  // The incident sink's `recorded` callbacks reach the manager through this; the destructor
  // clears `owner`, so a late acknowledgement is a no-op.
  struct RecordGate {
    std::mutex mu;
    AlertManager* owner = nullptr;  // under mu
  };
  std::shared_ptr<RecordGate> record_gate_ = std::make_shared<RecordGate>();
  void incidentRecorded(const std::string& key);
  std::function<void()> recordedCallback(const std::string& key);
  // The helper thread of the last reconfigure(); joined by the next one and by stop().
  std::thread reconfigurer_;
};

// Builds the channel for one config entry: HTTP kinds and SNS on a client from `http` (the
// daemon passes http::curlClients()), SMTP on libcurl's SMTP. Secrets are read now. Errors:
// the secret's or the URL's, naming the channel ("alerts channel oncall: secret
// env:DINGTALK_URL: ...").
[[nodiscard]] Result<std::unique_ptr<Channel>> makeChannel(const config::AlertChannelConfig& c,
                                                           const Clock& clock,
                                                           const http::HttpClientFactory& http,
                                                           const EnvGetter& env);

// Builds every channel of `settings` (secrets and CA files read now). Errors: the first
// channel's.
[[nodiscard]] Result<std::vector<std::unique_ptr<Channel>>> makeChannels(
    const config::AlertSettings& settings, const Clock& clock, const http::HttpClientFactory& http,
    const EnvGetter& env);

// Opens the outbox (creating its directory) and every channel of `cfg.alerts`, and builds the
// manager (not started). Errors: the first channel error.
// An outbox that cannot be used never keeps the daemon from starting (it must route without
// it): a file SQLite calls corrupt or not a database, or of a newer schema, is moved aside
// ("<file>.bad-<UTC time>", with its -wal/-shm) and a fresh one started; when no file can be
// opened at all (permissions, a missing disk), the outbox is kept in memory (alerts still go
// out, but do not survive a restart). Either way `outbox_problem` says what happened and
// where the old file went, for a critical alert_outbox_reset event; empty when all is well.
[[nodiscard]] Result<std::unique_ptr<AlertManager>> openAlertManager(
    const config::Config& cfg, const Clock& clock, const http::HttpClientFactory& http,
    AlertManager::EventSink sink, const EnvGetter& env = processEnv(),
    std::string* outbox_problem = nullptr);

// The alerts part of a config reload, in two steps so that the reload stays atomic: prepare()
// does everything that can fail (builds every channel, reads secrets and CA files, opens a
// new outbox when alerts are turned on or the outbox moved) before anything changes; the
// daemon rejects the whole reload on its error, as for any invalid config. apply() then
// cannot fail: same outbox → AlertManager::reconfigure (pending rows and open incidents
// kept, the engine thread does not wait); alerts turned on or the outbox moved → the new
// manager is started (the old one, if any, is stopped; its undelivered rows stay in its
// file); alerts removed → the manager is stopped (its undelivered rows stay in the outbox).
class AlertReload {
 public:
  // `next` is the new config; `current` the running manager or null. `sink` receives the
  // alert_sent / alert_failed events of a new manager.
  [[nodiscard]] static Result<AlertReload> prepare(const config::Config& next,
                                                   const AlertManager* current, const Clock& clock,
                                                   const http::HttpClientFactory& http,
                                                   AlertManager::EventSink sink,
                                                   const EnvGetter& env = processEnv());
  // Applies the prepared change to `current` (may reset or replace it). Call once, from the
  // thread that owns `current`.
  void apply(std::unique_ptr<AlertManager>& current);
  // One line for the log: "alerts: 3 channel(s), outbox kept (2 pending)".
  const std::string& summary() const { return summary_; }

 private:
  enum class Kind { None, Reconfigure, Replace, Remove };
  Kind kind_ = Kind::None;
  std::optional<config::AlertSettings> settings_;
  std::vector<std::unique_ptr<Channel>> channels_;
  std::unique_ptr<AlertManager> fresh_;
  std::vector<std::string> paths_;  // the new config's paths (closeIncidentsOutside)
  std::string summary_;
};

// A test message for `channel` (what `pathpilot alerts test` sends).
Notification testNotification(const std::string& site, const std::string& channel,
                              WallTime now);

}  // namespace pathpilot::alert
