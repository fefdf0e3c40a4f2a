// The alert manager: one grouping thread, one delivery worker per channel, the outbox between
// them. All decisions (grouping, pacing, backoff) live in the pure parts; this file moves data
// between them and the threads.
#include "alert/alert_manager.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>

#include "alert/http_channels.h"
#include "alert/smtp_channel.h"
#include "alert/sns_channel.h"
#include "base/utc_stamp.h"

namespace pathpilot::alert {
namespace {

constexpr std::size_t kMaxQueuedEvents = 100'000;
// Workers re-check at least this often (a clock jump, a row written by another process).
constexpr Duration kMaxIdleWait = std::chrono::seconds(30);

std::string commaList(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) {
    out += (out.empty() ? "" : ", ") + i;
  }
  return out;
}

journal::Link linkFrom(std::string_view name) {
  auto l = journal::parseLink(name);
  return l ? *l : journal::Link::None;
}

}  // namespace

AlertManager::AlertManager(const config::AlertSettings& settings, std::string site,
                           std::vector<std::unique_ptr<Channel>> channels,
                           std::unique_ptr<Outbox> outbox, const Clock& clock, EventSink sink,
                           Random01 random01)
    : settings_(settings),
      site_(std::move(site)),
      clock_(clock),
      sink_(std::move(sink)),
      random01_(std::move(random01)),
      outbox_(std::move(outbox)),
      router_(settings),
      tracker_(TrackerOptions{settings.group_window, settings.repeat_interval}) {
  record_gate_->owner = this;
  applySettings(settings, std::move(channels));
  restoreIncidents();
}

void AlertManager::restoreIncidents() {
  std::vector<std::string> bad;
  auto records = outbox_->incidents(&bad);
  for (const auto& why : bad) {
    // Left in the file (a newer build may read it); this run cannot resolve it.
    spdlog::warn("alerts: {}: {}; not restored", outbox_->path(), why);
  }
  if (!records) {
    spdlog::error("alerts: open incidents not restored: {}", records.error().toString());
    return;
  }
  std::lock_guard lock(mu_);
  for (auto& r : *records) {
    tracker_.restore(r, clock_.now(), clock_.wallNow());
    spdlog::info("alerts: incident {} (since {}, fired on {}) restored: its RESOLVED follows "
                 "when it heals",
                 r.key, formatRfc3339(r.started),
                 r.channels.empty() ? std::string("no channel") : commaList(r.channels));
    fired_[r.key] = std::move(r);
  }
}

void AlertManager::closeIncidentsOutside(const std::vector<std::string>& paths) {
  {
    std::lock_guard lock(mu_);
    for (const auto& key : tracker_.openKeys()) {
      auto r = tracker_.record(key, clock_.now(), clock_.wallNow());
      if (!r) {
        continue;
      }
      const journal::Event& o = r->opening;
      std::string why;
      if (!o.site.empty() && o.site != site_) {
        why = "site " + o.site + " is no longer this daemon's (now " + site_ + ")";
      } else if (!o.path.empty() && std::find(paths.begin(), paths.end(), o.path) == paths.end()) {
        why = "path " + o.path + " is no longer in the config";
      }
      if (why.empty()) {
        continue;
      }
      auto e = journal::makeEvent(journal::EventKind::ConfigLoaded, clock_.wallNow(), o.site);
      e.path = o.path;
      e.link = o.link;
      e.reason = why;
      e.message = "incident closed: " + why;
      tracker_.close(key, e, clock_.now());
      spdlog::info("alerts: incident {} closed: {}", key, why);
    }
  }
  group_cv_.notify_one();
}

void AlertManager::setIncidentSink(IncidentSink sink, Duration record_wait) {
  std::lock_guard lock(mu_);
  incident_sink_ = std::move(sink);
  record_wait_ = incident_sink_ ? std::max(record_wait, Duration::zero()) : Duration::zero();
}

std::function<void()> AlertManager::recordedCallback(const std::string& key) {
  return [gate = std::weak_ptr<RecordGate>(record_gate_), key] {
    if (auto g = gate.lock()) {
      // Held across the call: the destructor clears `owner` under the same mutex, so it cannot
      // finish while an acknowledgement is inside the manager.
      std::lock_guard lock(g->mu);
      if (g->owner != nullptr) {
        g->owner->incidentRecorded(key);
      }
    }
  };
}

void AlertManager::incidentRecorded(const std::string& key) {
  {
    std::lock_guard lock(mu_);
    // Nothing waits on this record when its FIRING was never held or already went out at the
    // deadline. Otherwise a worker sleeps on it until then: the generation bump wakes it now.
    if (awaiting_record_.erase(key) == 0) {
      return;
    }
    ++work_generation_;
  }
  work_cv_.notify_all();
}

void AlertManager::releaseIncidents() {
  std::set<std::string> keys;
  {
    std::lock_guard lock(mu_);
    for (auto& key : tracker_.openKeys()) {
      keys.insert(std::move(key));
    }
    for (const auto& [key, record] : fired_) {
      keys.insert(key);
    }
    tracker_.forgetAll();
    fired_.clear();
  }
  // The saved records go too, so that a restart of this monitor does not restore incidents
  // the leader now owns. Written after mu_ is released: outbox writes are disk I/O.
  for (const auto& key : keys) {
    if (auto r = outbox_->enqueueAll({}, std::nullopt, key, clock_.wallNow()); !r) {
      spdlog::warn("alerts: incident {} not removed from {}: {}", key, outbox_->path(),
                   r.error().toString());
    }
  }
  if (!keys.empty()) {
    spdlog::info("alerts: {} open incident(s) left to the leader: {}", keys.size(),
                 commaList(std::vector<std::string>(keys.begin(), keys.end())));
  }
}

void AlertManager::adoptIncidents(const std::vector<IncidentRecord>& records) {
  std::vector<IncidentRecord> adopted;
  {
    std::lock_guard lock(mu_);
    const auto open = tracker_.openKeys();
    for (const auto& r : records) {
      // Skipped here, not left to tracker_.restore() (which ignores it too): fired_ must keep
      // this monitor's own record of the incident.
      if (std::find(open.begin(), open.end(), r.key) != open.end()) {
        continue;
      }
      tracker_.restore(r, clock_.now(), clock_.wallNow());
      fired_[r.key] = r;
      adopted.push_back(r);
    }
  }
  for (const auto& r : adopted) {
    spdlog::info(
        "alerts: incident {} (since {}, fired on {}) taken over: its RESOLVED follows "
        "when it heals",
        r.key, formatRfc3339(r.started),
        r.channels.empty() ? std::string("no channel") : commaList(r.channels));
    // Kept in this monitor's outbox too, as its own fired incidents are.
    if (auto w = outbox_->enqueueAll({}, r, "", clock_.wallNow()); !w) {
      spdlog::warn("alerts: incident {} not saved in {}: {}", r.key, outbox_->path(),
                   w.error().toString());
    }
  }
  group_cv_.notify_one();
}

void AlertManager::closeIncident(const std::string& key, const journal::Event& closing) {
  {
    std::lock_guard lock(mu_);
    tracker_.close(key, closing, clock_.now());
  }
  group_cv_.notify_one();
}

std::size_t AlertManager::openIncidents() const {
  std::lock_guard lock(mu_);
  return tracker_.openIncidents();
}

void AlertManager::applySettings(const config::AlertSettings& settings,
                                 std::vector<std::unique_ptr<Channel>> channels) {
  std::map<std::string, std::unique_ptr<ChannelState>> states;
  for (auto& ch : channels) {
    const config::AlertChannelConfig* cfg = settings.findChannel(ch->name());
    config::AlertChannelConfig defaults;
    if (cfg == nullptr) {
      cfg = &defaults;
    }
    auto templates = compileTemplates(settings.templates, cfg->templates);
    auto state = std::unique_ptr<ChannelState>(new ChannelState{
        nullptr, templates ? std::move(*templates) : ChannelTemplates{},
        TokenBucket(cfg->rate.per_minute, cfg->rate.burst), ChannelStats{}, std::thread()});
    if (!templates) {
      spdlog::warn("alerts: channel {}: {}; using the default templates", ch->name(),
                   templates.error().message());
    }
    state->stats.name = ch->name();
    state->channel = std::move(ch);
    std::string name = state->channel->name();
    states.emplace(name, std::move(state));
  }
  std::lock_guard lock(mu_);
  // Counters are monotonic for the metrics: a channel kept across a reload keeps them.
  for (auto& [name, state] : states) {
    if (auto old = channels_.find(name); old != channels_.end()) {
      state->stats = old->second->stats;
    }
  }
  settings_ = settings;
  router_ = Router(settings);
  retry_.initial = settings.retry_initial;
  retry_.max = settings.retry_max;
  retry_.max_age = settings.max_age;
  tracker_.setOptions(TrackerOptions{settings.group_window, settings.repeat_interval});
  channels_ = std::move(states);
}

AlertManager::~AlertManager() {
  {
    std::lock_guard gate(record_gate_->mu);
    record_gate_->owner = nullptr;
  }
  stop(Duration::zero());
}

AlertManager::ChannelState* AlertManager::find(const std::string& name) {
  auto it = channels_.find(name);
  return it == channels_.end() ? nullptr : it->second.get();
}

void AlertManager::start() {
  std::lock_guard lock(mu_);
  if (started_) {
    return;
  }
  started_ = true;
  stopping_ = false;
  grouper_done_ = false;
  if (auto pending = outbox_->pendingChannels()) {
    for (const auto& name : *pending) {
      if (channels_.count(name) == 0) {
        spdlog::warn("alerts: outbox {} holds undelivered messages for channel '{}', which is "
                     "no longer configured; they stay there",
                     outbox_->path(), name);
      }
    }
  }
  if (outbox_->pending() > 0) {
    spdlog::info("alerts: {} undelivered message(s) in the outbox; delivering them first",
                 outbox_->pending());
  }
  grouper_ = std::thread([this] { groupLoop(); });
  for (auto& [name, cs] : channels_) {
    ChannelState* state = cs.get();
    state->worker = std::thread([this, state] { workerLoop(*state); });
  }
}

void AlertManager::stop(Duration drain) {
  waitReconfigured();
  stopThreads(drain);
}

void AlertManager::waitReconfigured() {
  if (reconfigurer_.joinable()) {
    reconfigurer_.join();
  }
}

void AlertManager::reconfigure(const config::AlertSettings& settings,
                               std::vector<std::unique_ptr<Channel>> channels) {
  // A second reload while the first is still being applied waits for it (rare: SIGHUPs
  // seconds apart while a channel hangs).
  waitReconfigured();
  bool started = false;
  {
    std::lock_guard lock(mu_);
    started = started_;
  }
  if (!started) {
    applySettings(settings, std::move(channels));
    return;
  }
  // Stopping joins the workers, which finish their current attempt first: a helper thread
  // waits for that, so the caller (the engine thread) does not.
  reconfigurer_ = std::thread([this, settings, ch = std::move(channels)]() mutable {
    {
      std::lock_guard lock(mu_);
      keep_held_ = true;
    }
    stopThreads(Duration::zero());
    {
      std::lock_guard lock(mu_);
      keep_held_ = false;
    }
    applySettings(settings, std::move(ch));
    start();
    spdlog::info("alerts: new settings applied ({} channel(s), {} message(s) pending)",
                 settings.channels.size(), outbox_->pending());
  });
}

config::AlertSettings AlertManager::settings() const {
  std::lock_guard lock(mu_);
  return settings_;
}

void AlertManager::stopThreads(Duration drain) {
  {
    std::lock_guard lock(mu_);
    if (!started_) {
      return;
    }
    stopping_ = true;
    ++work_generation_;
    drain_deadline_ = std::chrono::steady_clock::now() + drain;
  }
  group_cv_.notify_all();
  // The grouper is joined first: its last flush writes rows the workers must still see, and
  // a worker leaves only once grouper_done_ is set.
  if (grouper_.joinable()) {
    grouper_.join();
  }
  {
    std::lock_guard lock(mu_);
    ++work_generation_;
  }
  work_cv_.notify_all();
  for (auto& [name, cs] : channels_) {
    if (cs->worker.joinable()) {
      cs->worker.join();
    }
  }
  std::lock_guard lock(mu_);
  started_ = false;
}

void AlertManager::submit(const journal::Event& event) {
  if (event.kind == journal::EventKind::AlertSent ||
      event.kind == journal::EventKind::AlertFailed) {
    return;
  }
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= kMaxQueuedEvents) {
      queue_.pop_front();
      ++events_dropped_;
    }
    queue_.push_back(event);
  }
  group_cv_.notify_one();
}

void AlertManager::groupLoop() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (queue_.empty() && !stopping_) {
      auto deadline = tracker_.nextDeadline();
      if (deadline) {
        // The tracker's deadlines are in the clock's MonoTime; with the real clock that is
        // steady_clock, which the condition variable waits on directly.
        group_cv_.wait_until(lock, *deadline);
      } else {
        group_cv_.wait(lock);
      }
    }
    bool stopping = stopping_;
    bool flush_all = stopping_ && !keep_held_;
    std::deque<journal::Event> events;
    events.swap(queue_);
    lock.unlock();
    std::size_t written = process(std::move(events), flush_all);
    lock.lock();
    if (written > 0) {
      ++work_generation_;
      work_cv_.notify_all();
    }
    // Events submitted while process() ran (mu_ released) get another round before the thread
    // ends.
    if (stopping && queue_.empty()) {
      grouper_done_ = true;
      return;
    }
  }
}

std::size_t AlertManager::process(std::deque<journal::Event> events, bool flush_all) {
  std::vector<Ready> alerts;
  {
    std::lock_guard lock(mu_);
    for (const auto& e : events) {
      collect(tracker_.onEvent(e, clock_.now()), alerts, clock_.now());
    }
    tracker_.expireUnconfirmed(clock_.now(), clock_.wallNow());
    // alerts.repeat_interval: an incident still open is announced again by this timer (the
    // grouping thread sleeps until tracker_.nextDeadline(), which includes the reminders).
    if (!flush_all) {
      tracker_.remind(clock_.now(), clock_.wallNow());
    }
    collect(flush_all ? tracker_.flushAll() : tracker_.due(clock_.now()), alerts, clock_.now());
  }
  // The outbox is written after mu_ is released: its writes are disk I/O, and submit() on the
  // engine thread must only wait for the in-memory work above.
  // Counted from what was written, not from the outbox's pending count: a worker finishing
  // a row meanwhile would hide a new one, and its channel's worker would sleep on.
  std::size_t written = 0;
  for (const auto& a : alerts) {
    written += enqueueAlert(a);
  }
  return written;
}

void AlertManager::collect(std::vector<Alert> alerts, std::vector<Ready>& out, MonoTime now) {
  for (auto& a : alerts) {
    Ready r{std::move(a), std::nullopt};
    // Only a FIRING that stays open is saved; the incident may already be closed again when
    // the group window is zero and the resolving event came in the same batch.
    if (!r.alert.one_shot && !r.alert.brief && r.alert.status == AlertStatus::Firing) {
      r.record = tracker_.record(r.alert.fingerprint, now, clock_.wallNow());
    }
    out.push_back(std::move(r));
  }
}

std::vector<std::string> AlertManager::resolvedChannels(
    const Alert& alert, const std::vector<std::string>& fired) const {
  // The routes in force decide as for any alert; on top, every channel the FIRING went to
  // gets the RESOLVED, even when a reload or restart changed the routes since: otherwise
  // Alertmanager keeps the alert active and a chat shows an incident that never ends. A
  // route with `resolved: false` still opts its channels out.
  std::vector<std::string> out = router_.channelsFor(alert);
  Alert as_firing = alert;
  as_firing.status = AlertStatus::Firing;
  auto firing_now = router_.channelsFor(as_firing);
  for (const auto& name : fired) {
    bool opted_out =
        std::find(firing_now.begin(), firing_now.end(), name) != firing_now.end() &&
        std::find(out.begin(), out.end(), name) == out.end();
    if (channels_.count(name) > 0 && !opted_out &&
        std::find(out.begin(), out.end(), name) == out.end()) {
      out.push_back(name);
    }
  }
  return out;
}

std::size_t AlertManager::enqueueAlert(const Ready& ready) {
  const Alert& alert = ready.alert;
  bool incident = !alert.one_shot;
  bool closes = incident && (alert.status == AlertStatus::Resolved || alert.brief);
  std::optional<std::vector<std::string>> fired_on;
  {
    std::lock_guard lock(mu_);
    if (auto it = fired_.find(alert.fingerprint); it != fired_.end()) {
      fired_on = it->second.channels;
    }
  }
  // The RESOLVED of an incident that fired also goes where its FIRING went (after a restart
  // or a reload the routes may say otherwise, and Alertmanager must get the endsAt of the
  // alert it holds). Everything else follows the routes.
  std::vector<std::string> targets = closes && !alert.brief && fired_on
                                         ? resolvedChannels(alert, *fired_on)
                                         : router_.channelsFor(alert);
  std::vector<Notification> rows;
  for (const auto& name : targets) {
    ChannelState* cs = find(name);
    if (cs == nullptr) {
      continue;
    }
    Notification n = makeNotification(alert, cs->templates, name);
    if (n.site.empty()) {
      n.site = site_;
    }
    rows.push_back(std::move(n));
  }
  std::optional<IncidentRecord> save;
  if (ready.record) {
    save = *ready.record;
    // An update or reminder FIRING adds to the channels earlier FIRINGs went to: the RESOLVED
    // must reach every one of them (resolvedChannels()).
    if (fired_on) {
      save->channels = *fired_on;
    }
    for (const auto& n : rows) {
      if (std::find(save->channels.begin(), save->channels.end(), n.channel) ==
          save->channels.end()) {
        save->channels.push_back(n.channel);
      }
    }
    save->summary = rows.empty() ? summarize(alert) : rows.front().title;
  }
  std::string remove = closes ? alert.fingerprint : std::string();
  bool await_record = false;
  if (save && !rows.empty()) {
    // Before the rows exist, so that no worker takes one first.
    std::lock_guard lock(mu_);
    if (incident_sink_ && record_wait_ > Duration::zero()) {
      awaiting_record_[save->key] = clock_.now() + record_wait_;
      await_record = true;
    }
  }
  if (auto r = outbox_->enqueueAll(rows, save, remove, clock_.wallNow()); !r) {
    // The outbox is the promise; when the disk refuses, say so loudly.
    spdlog::error("alerts: cannot store the alert {} ({} message(s)): {}", alert.fingerprint,
                  rows.size(), r.error().toString());
    std::lock_guard lock(mu_);
    enqueue_errors_ += std::max<std::size_t>(rows.size(), 1);
    if (await_record) {
      awaiting_record_.erase(save->key);
    }
    return 0;
  }
  IncidentSink sink;
  {
    std::lock_guard lock(mu_);
    if (save) {
      fired_[save->key] = *save;
    } else if (closes) {
      fired_.erase(alert.fingerprint);
    }
    sink = incident_sink_;
  }
  if (sink && save) {
    sink(save->key, save, recordedCallback(save->key));
  } else if (sink && closes) {
    sink(alert.fingerprint, std::nullopt, [] {});
  }
  return rows.size();
}

AlertManager::Step AlertManager::deliverOne(ChannelState& cs) {
  const std::string& name = cs.channel->name();
  auto head = outbox_->head(name);
  WallTime wall = clock_.wallNow();
  if (!head) {
    spdlog::error("alerts: channel {}: {}", name, head.error().toString());
    return {StepKind::Error, wall + std::chrono::seconds(5)};
  }
  if (!*head) {
    return {StepKind::Idle, {}};
  }
  OutboxRow row = std::move(**head);
  MonoTime now = clock_.now();
  {
    // Write-ahead (setIncidentSink): a FIRING waits for its record, within a bound.
    std::lock_guard lock(mu_);
    if (auto it = awaiting_record_.find(row.fingerprint); it != awaiting_record_.end()) {
      if (it->second > now) {
        return {StepKind::NotDue,
                wall + std::chrono::duration_cast<WallTime::duration>(it->second - now)};
      }
      spdlog::warn(
          "alerts: the record of incident {} is not durable after {} ms: delivering its "
          "FIRING anyway (a monitor taking over now may fire it again)",
          row.fingerprint,
          std::chrono::duration_cast<std::chrono::milliseconds>(record_wait_).count());
      awaiting_record_.erase(it);
      ++unrecorded_firings_;
    }
  }
  // A retry scheduled by this process waits on the monotonic clock: a wall clock stepped back
  // (NTP, a bad RTC) must not hold alerts back for as long. The wall time in the row is for
  // a restarted process, which has nothing else.
  std::optional<MonoTime> due;
  {
    std::lock_guard lock(mu_);
    if (auto it = retry_due_.find(row.id); it != retry_due_.end()) {
      due = it->second;
    }
  }
  if (due) {
    if (*due > now) {
      return {StepKind::NotDue, wall + std::chrono::duration_cast<WallTime::duration>(*due - now)};
    }
  } else if (row.next_attempt > wall) {
    return {StepKind::NotDue, row.next_attempt};
  }
  {
    std::lock_guard lock(mu_);
    if (!cs.bucket.tryTake(now)) {
      ++cs.stats.rate_limited;
      auto wait = cs.bucket.nextAvailable(now) - now;
      return {StepKind::NotDue, wall + std::chrono::duration_cast<WallTime::duration>(wait)};
    }
  }
  auto n = parseNotification(row.payload);
  if (!n) {
    // A row this build cannot read (hand-edited, or written by a newer version).
    std::string why = "unreadable outbox row " + std::to_string(row.id) + ": " +
                      n.error().message();
    (void)outbox_->markFailed(row.id, row.attempts, wall, why);
    Notification blank;
    blank.channel = name;
    blank.site = site_;
    emit(journal::EventKind::AlertFailed, blank, why, "alert to " + name + " dropped: " + why);
    std::lock_guard lock(mu_);
    ++cs.stats.failed;
    cs.stats.last_error = why;
    return {StepKind::Attempted, {}};
  }
  auto result = cs.channel->deliver(*n);
  WallTime after = clock_.wallNow();
  int attempts = row.attempts + 1;
  {
    std::lock_guard lock(mu_);
    retry_due_.erase(row.id);
  }
  if (result) {
    if (auto r = outbox_->markSent(row.id, after); !r) {
      spdlog::error("alerts: channel {}: {}", name, r.error().toString());
    }
    Duration latency = after - row.created;
    {
      std::lock_guard lock(mu_);
      ++cs.stats.sent;
      cs.stats.last_latency = latency;
      cs.stats.max_latency = std::max(cs.stats.max_latency, latency);
    }
    emit(journal::EventKind::AlertSent, *n, *result,
         "alert sent to " + name + (attempts > 1 ? " (attempt " + std::to_string(attempts) + ")"
                                                 : std::string()) +
             ": " + n->title);
    return {StepKind::Attempted, {}};
  }
  const DeliveryFailure& f = result.error();
  std::string why = f.error.toString();
  if (f.error.retryable() && retry_.mayRetry(row.created, after)) {
    double r01 = random01_ ? random01_()
                           : std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
    Duration delay = retry_.delay(attempts, r01, f.retry_after);
    if (auto r = outbox_->markRetry(row.id, attempts, after + std::chrono::duration_cast<
                                                              WallTime::duration>(delay),
                                    why);
        !r) {
      spdlog::error("alerts: channel {}: {}", name, r.error().toString());
    }
    {
      std::lock_guard lock(mu_);
      retry_due_[row.id] = clock_.now() + delay;
    }
    // The first failure and every tenth are logged: a long outage retries many times.
    if (attempts == 1 || attempts % 10 == 0) {
      spdlog::warn("alerts: channel {}: attempt {} failed ({}); retrying in {}", name, attempts,
                   why, formatDuration(std::chrono::duration_cast<std::chrono::milliseconds>(
                            delay)));
    }
    std::lock_guard lock(mu_);
    ++cs.stats.retries;
    cs.stats.last_error = why;
    return {StepKind::Attempted, {}};
  }
  if (auto r = outbox_->markFailed(row.id, attempts, after, why); !r) {
    spdlog::error("alerts: channel {}: {}", name, r.error().toString());
  }
  spdlog::error("alerts: channel {}: giving up after {} attempt(s): {}", name, attempts, why);
  emit(journal::EventKind::AlertFailed, *n, why,
       "alert to " + name + " given up after " + std::to_string(attempts) +
           " attempt(s): " + n->title);
  std::lock_guard lock(mu_);
  ++cs.stats.failed;
  cs.stats.last_error = why;
  return {StepKind::Attempted, {}};
}

void AlertManager::emit(journal::EventKind kind, const Notification& n, const std::string& reason,
                        const std::string& message) {
  if (!sink_) {
    return;
  }
  auto e = journal::makeEvent(kind, clock_.wallNow(), n.site.empty() ? site_ : n.site);
  e.path = n.path;
  e.link = linkFrom(n.link);
  if (!n.route_tables.empty()) {
    e.route_table = n.route_tables.front();
  }
  e.to = n.channel;
  e.reason = reason;
  e.message = oneLine(message, 300);
  sink_(std::move(e));
}

void AlertManager::workerLoop(ChannelState& cs) {
  for (;;) {
    std::uint64_t generation = 0;
    {
      std::lock_guard lock(mu_);
      generation = work_generation_;
    }
    Step step = deliverOne(cs);
    std::unique_lock lock(mu_);
    // At shutdown a worker leaves once it can send nothing more before drain_deadline_: the
    // deadline passed, its queue is empty (or unreadable), or its head is due after it.
    if (stopping_ && grouper_done_) {
      bool past = std::chrono::steady_clock::now() >= drain_deadline_;
      bool idle = step.kind == StepKind::Idle || step.kind == StepKind::Error;
      bool late = step.kind == StepKind::NotDue &&
                  std::chrono::steady_clock::now() +
                          (step.not_before - clock_.wallNow()) > drain_deadline_;
      if (past || idle || late) {
        return;
      }
    }
    if (step.kind == StepKind::Attempted) {
      continue;
    }
    Duration wait = kMaxIdleWait;
    if (step.kind == StepKind::NotDue || step.kind == StepKind::Error) {
      wait = std::clamp<Duration>(step.not_before - clock_.wallNow(), Duration::zero(),
                                  kMaxIdleWait);
    }
    if (stopping_) {
      wait = std::min<Duration>(
          wait, std::max<Duration>(drain_deadline_ - std::chrono::steady_clock::now(),
                                   Duration::zero()));
      if (!grouper_done_) {
        wait = std::min<Duration>(wait, std::chrono::milliseconds(50));
      }
    }
    // Woken early by new messages (enqueue) or stop().
    work_cv_.wait_for(lock, wait, [&] { return work_generation_ != generation; });
  }
}

std::size_t AlertManager::pump() {
  std::deque<journal::Event> events;
  {
    std::lock_guard lock(mu_);
    events.swap(queue_);
  }
  process(std::move(events), false);
  std::size_t attempts = 0;
  for (auto& [name, cs] : channels_) {
    for (;;) {
      Step step = deliverOne(*cs);
      if (step.kind != StepKind::Attempted) {
        break;
      }
      ++attempts;
    }
  }
  return attempts;
}

ManagerStats AlertManager::stats() const {
  std::lock_guard lock(mu_);
  ManagerStats s;
  s.tracker = tracker_.stats();
  s.events_dropped = events_dropped_;
  s.enqueue_errors = enqueue_errors_;
  s.unrecorded_firings = unrecorded_firings_;
  for (const auto& [name, cs] : channels_) {
    s.channels.push_back(cs->stats);
  }
  return s;
}

Result<std::unique_ptr<Channel>> makeChannel(const config::AlertChannelConfig& c,
                                             const Clock& clock,
                                             const http::HttpClientFactory& http,
                                             const EnvGetter& env) {
  using K = config::AlertChannelKind;
  std::string what = "alerts channel " + c.name;
  auto secret = [&](const std::optional<config::SecretRef>& ref) -> Result<std::string> {
    if (!ref) {
      return std::string();
    }
    auto v = resolveSecret(*ref, env);
    if (!v) {
      return fail(v.error().withContext(what));
    }
    return v;
  };
  auto url = secret(c.url);
  if (!url) {
    return fail(url.error());
  }
  // A CA bundle that cannot be read would only show at the first alert, as a TLS error;
  // say so now, at start or reload.
  if (!c.ca_file.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(c.ca_file, ec) ||
        ::access(c.ca_file.c_str(), R_OK) != 0) {
      return fail(ErrorCode::InvalidArgument,
                  what + ": ca_file " + c.ca_file + " is not a readable file");
    }
  }
  // The check `pathpilot check` does for an inline URL, for one from env/file.
  if (auto bad = config::cleartextCredential(c, *url)) {
    return fail(ErrorCode::InvalidArgument, what + ": " + bad->key + ": " + bad->reason);
  }
  http::ClientOptions client_options;
  client_options.ca_file = c.ca_file;
  switch (c.kind) {
    case K::Smtp: {
      if (url->rfind("smtp://", 0) != 0 && url->rfind("smtps://", 0) != 0) {
        return fail(ErrorCode::InvalidArgument, what + ": url must be smtp:// or smtps://");
      }
      auto password = secret(c.password);
      if (!password) {
        return fail(password.error());
      }
      SmtpOptions o{c.name,  *url, c.starttls, c.username, *password, c.from,
                    c.to,    c.html, c.timeout, c.ca_file};
      return std::unique_ptr<Channel>(std::make_unique<SmtpChannel>(std::move(o), clock));
    }
    case K::Sns: {
      SnsChannelOptions o{c.name, c.topic_arn, c.region, c.endpoint_url, c.timeout, c.phone_number};
      auto ch = SnsChannel::create(std::move(o), http(client_options), clock);
      if (!ch) {
        return fail(ch.error());
      }
      return std::unique_ptr<Channel>(std::move(*ch));
    }
    default: {
      if (url->rfind("http://", 0) != 0 && url->rfind("https://", 0) != 0) {
        // Not quoted: the URL may hold a token.
        return fail(ErrorCode::InvalidArgument,
                    what + ": url (" + (c.url ? c.url->describe() : std::string("unset")) +
                        ") must be http:// or https://");
      }
      auto sign = secret(c.secret);
      if (!sign) {
        return fail(sign.error());
      }
      auto token = secret(c.token);
      if (!token) {
        return fail(token.error());
      }
      HttpChannelOptions o{c.name, c.kind, *url, *sign, *token, c.timeout, c.ca_file};
      return std::unique_ptr<Channel>(
          std::make_unique<HttpChannel>(std::move(o), http(client_options), clock));
    }
  }
}

Result<std::vector<std::unique_ptr<Channel>>> makeChannels(const config::AlertSettings& settings,
                                                           const Clock& clock,
                                                           const http::HttpClientFactory& http,
                                                           const EnvGetter& env) {
  std::vector<std::unique_ptr<Channel>> channels;
  for (const auto& c : settings.channels) {
    auto ch = makeChannel(c, clock, http, env);
    if (!ch) {
      return fail(ch.error());
    }
    channels.push_back(std::move(*ch));
  }
  return channels;
}

namespace {

// See openAlertManager(): a bad file is moved aside, an unopenable one replaced by memory.
Result<std::unique_ptr<Outbox>> openOutbox(const config::AlertSettings& settings,
                                           const Clock& clock, std::string& problem,
                                           bool repair = true) {
  const std::string& path = settings.outbox;
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::filesystem::create_directories(parent, ec);
  }
  auto outbox = Outbox::open(path);
  if (!outbox && !repair) {
    return fail(outbox.error());
  }
  if (!outbox && outbox.error().code() == ErrorCode::InvalidArgument &&
      std::filesystem::is_regular_file(path, ec)) {
    // Corrupt, not a database, or a newer schema: keep the file for the operator, start anew.
    const std::string aside = moveAside(path, clock.wallNow(), ec);
    if (!ec) {
      problem = outbox.error().toString() + "; the file was moved aside to " + aside;
      outbox = Outbox::open(path);
    } else {
      problem =
          outbox.error().toString() + "; cannot move it aside to " + aside + ": " + ec.message();
    }
  }
  if (!outbox) {
    if (problem.empty()) {
      problem = outbox.error().toString();
    } else {
      problem += "; a new file could not be created: " + outbox.error().toString();
    }
    // Alerts still go out; what is pending is lost if the daemon stops before delivering it.
    outbox = Outbox::open(":memory:");
    if (!outbox) {
      return fail(outbox.error());
    }
    problem += "; alerts are kept in memory until the daemon restarts";
  } else if (!problem.empty()) {
    problem += "; a new outbox was started";
  }
  // Finished rows are kept a week for `pathpilot alerts` (alert/outbox.h); older ones are
  // dropped at each open.
  (void)(*outbox)->prune(clock.wallNow() - std::chrono::hours(24 * 7));
  return outbox;
}

}  // namespace

Result<std::unique_ptr<AlertManager>> openAlertManager(
    const config::Config& cfg, const Clock& clock, const http::HttpClientFactory& http,
    AlertManager::EventSink sink, const EnvGetter& env, std::string* outbox_problem) {
  if (!cfg.alerts) {
    return fail(ErrorCode::InvalidArgument, "the config has no alerts section");
  }
  const config::AlertSettings& settings = *cfg.alerts;
  auto channels = makeChannels(settings, clock, http, env);
  if (!channels) {
    return fail(channels.error());
  }
  std::string problem;
  auto outbox = openOutbox(settings, clock, problem);
  if (!outbox) {
    return fail(outbox.error());
  }
  if (outbox_problem != nullptr) {
    *outbox_problem = problem;
  }
  auto manager = std::make_unique<AlertManager>(settings, cfg.site.name, std::move(*channels),
                                                std::move(*outbox), clock, std::move(sink));
  // Incidents restored from a previous run whose path was removed meanwhile: nothing will
  // ever report that path again, so resolve them now rather than leave them open forever.
  std::vector<std::string> paths;
  for (const auto& p : cfg.paths) {
    paths.push_back(p.name);
  }
  manager->closeIncidentsOutside(paths);
  return manager;
}

Result<AlertReload> AlertReload::prepare(const config::Config& next, const AlertManager* current,
                                         const Clock& clock, const http::HttpClientFactory& http,
                                         AlertManager::EventSink sink, const EnvGetter& env) {
  AlertReload r;
  if (!next.alerts) {
    if (current != nullptr) {
      r.kind_ = Kind::Remove;
      r.summary_ = "alerts: turned off; " + std::to_string(current->outboxDepth()) +
                   " undelivered message(s) stay in " + current->outboxPath();
    }
    return r;
  }
  // Everything that can fail happens here, before the reload changes anything.
  auto channels = makeChannels(*next.alerts, clock, http, env);
  if (!channels) {
    return fail(channels.error());
  }
  std::string n = std::to_string(next.alerts->channels.size()) + " channel(s)";
  if (current != nullptr && current->outboxPath() == next.alerts->outbox) {
    r.kind_ = Kind::Reconfigure;
    for (const auto& p : next.paths) {
      r.paths_.push_back(p.name);
    }
    r.settings_ = *next.alerts;
    r.channels_ = std::move(*channels);
    r.summary_ = "alerts: " + n + ", outbox kept (" + std::to_string(current->outboxDepth()) +
                 " pending)";
    return r;
  }
  // A reload changes nothing when it fails: a bad new outbox file rejects it (the file stays
  // where it is, and the running outbox goes on) instead of being moved aside.
  std::string problem;
  auto outbox = openOutbox(*next.alerts, clock, problem, /*repair=*/false);
  if (!outbox) {
    return fail(outbox.error());
  }
  r.kind_ = Kind::Replace;
  for (const auto& p : next.paths) {
    r.paths_.push_back(p.name);
  }
  r.fresh_ = std::make_unique<AlertManager>(*next.alerts, next.site.name, std::move(*channels),
                                            std::move(*outbox), clock, std::move(sink));
  r.summary_ = "alerts: " + n + ", outbox " + next.alerts->outbox +
               (current != nullptr ? " (moved from " + current->outboxPath() +
                                         "; its undelivered messages stay there)"
                                   : std::string(" (alerts turned on)"));
  return r;
}

void AlertReload::apply(std::unique_ptr<AlertManager>& current) {
  switch (kind_) {
    case Kind::None:
      return;
    case Kind::Reconfigure:
      current->reconfigure(*settings_, std::move(channels_));
      current->closeIncidentsOutside(paths_);
      return;
    case Kind::Replace:
      if (current) {
        current->stop(Duration::zero());
      }
      current = std::move(fresh_);
      current->closeIncidentsOutside(paths_);
      current->start();
      return;
    case Kind::Remove:
      current->stop(Duration::zero());
      current.reset();
      return;
  }
}

Notification testNotification(const std::string& site, const std::string& channel,
                              WallTime now) {
  Notification n;
  n.channel = channel;
  n.fingerprint = site + "/test";
  n.status = AlertStatus::Firing;
  n.severity = journal::Severity::Info;
  n.site = site;
  n.kind = "alert_test";
  n.title = "[TEST] " + site + ": pathpilot test message for channel " + channel;
  n.body = "This is a test message from `pathpilot alerts test`.\nsite: " + site +
           "\nchannel: " + channel + "\ntime: " + formatRfc3339(now) +
           "\nIf you can read this, alerts from pathpilot reach this channel.";
  n.starts_at = now;
  n.created_at = now;
  n.test = true;
  return n;
}

}  // namespace pathpilot::alert
