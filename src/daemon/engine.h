// daemon/engine.h — the controller loop: probe results → health → policy → reconciler.
//
// Purpose: the one place where the modules meet at run time (docs/development.md: all wiring sits
// in daemon/). The engine owns, per path, a health::LinkHealth and the operator's drain flag; the
// compiled policy::Policy; the route::Reconciler with one RouteTable per configured route
// table; and the recovery of failed gateways. Every probe result is fed to its path's health;
// a state change re-runs the policy at once, and every changed decision goes to the reconciler
// in the same call, so a decision is taken within microseconds of the result that triggers it.
// Every state change becomes one journal::Event.
//
// Threading: everything runs on the engine thread (the io_context's thread). Backend calls and
// recovery commands run on the Executor's workers and come back as completions. statusJson(),
// drain() and undrain() must be called on the engine thread (the control server and the API
// post them there).
//
// Metrics (EngineStats): probe results, decisions and their duration, events emitted, reloads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <asio.hpp>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/redact.h"
#include "base/time.h"
#include "config/config.h"
#include "daemon/state_file.h"
#include "health/link_health.h"
#include "journal/event.h"
#include "metrics/family.h"
#include "policy/evidence.h"
#include "policy/fail_static.h"
#include "policy/policy.h"
#include "policy/view_check.h"
#include "probe/probe.h"
#include "recovery/recovery_manager.h"
#include "route/reconciler.h"
#include "route/route_table.h"
#include "runtime/executor.h"

namespace pathpilot::daemon {

// Opens the RouteTable for one configured route table (real backends in daemon.cc, fakes in
// tests). Called on the engine thread at start and reload.
using TableFactory = std::function<Result<std::unique_ptr<route::RouteTable>>(
    const config::Config&, const config::RouteTableConfig&)>;

// Creates the recovery action of one path that has a `recovery` section (command or
// ec2-restart). Errors name what is missing.
using RecoveryFactory = std::function<Result<std::unique_ptr<recovery::RecoveryAction>>(
    const config::Config&, const config::PathConfig&)>;

// Receives every event the engine emits (the journal, the log, later alerts and metrics).
using EventSink = std::function<void(const journal::Event&)>;

struct EngineStats {
  std::uint64_t probe_results = 0;
  std::uint64_t unknown_results = 0;  // results for paths no longer configured
  std::uint64_t transitions = 0;
  std::uint64_t decisions = 0;
  std::uint64_t route_changes = 0;
  std::uint64_t events = 0;
  std::uint64_t reloads = 0;
  Duration last_decision_time{0};  // wall time the last policy run took
  Duration max_decision_time{0};
};

// The Prometheus families of `s` (pathpilot_engine_*, pathpilot_config_reloads_total;
// metrics/family.h).
std::vector<metrics::MetricFamily> metricFamilies(const EngineStats& s);

class Engine {
 public:
  // Requires: every reference outlives the engine.
  Engine(asio::io_context& io, const Clock& clock, probe::Prober& prober,
         runtime::Executor& executor, TableFactory tables, RecoveryFactory recoveries,
         EventSink events);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Builds health, policy and route tables from `config`, lists every table (adopting what is
  // programmed), starts probing. Errors name the table or path that could not be set up.
  [[nodiscard]] Result<void> start(config::Config config);

  // Applies a new config atomically: every part is built first; if anything fails the old
  // config keeps running and the error is returned. Paths whose probe and health settings are
  // unchanged keep their health state; decisions carry over by (table, destination).
  [[nodiscard]] Result<void> reload(config::Config config);

  // Stops probing and recovery, lets in-flight route changes finish (up to `grace`), then calls
  // `done` on the engine thread.
  void shutdown(Duration grace, std::function<void()> done);

  // What survived the last run (daemon/state_file.h): drains and recovery limits, applied by
  // start(). Call before start().
  void restoreState(PersistentState state);
  // A takeover in a group of monitors (docs/ha.md): the recovery limits the previous leader
  // kept (attempts in the last hour, back-off), merged into this engine's
  // (recovery::GatewayRecoveryPlan::adopt). Engine thread.
  void adoptRecovery(const std::map<std::string, StoredRecovery>& recovery);
  // Receives the state to keep whenever it changes (a drain, a recovery attempt, a reload).
  // Engine thread; must not block (StateFile::save queues).
  void setStateSink(std::function<void(const PersistentState&)> sink);

  // Operator drain: traffic moves off `path` at once and stays off until undrain. `by` says
  // who asked ("control socket: uid 1000 (alice), pid 4242"); it goes into the event's reason
  // and message.
  [[nodiscard]] Result<std::string> drain(const std::string& path, const std::string& by = "");
  [[nodiscard]] Result<std::string> undrain(const std::string& path, const std::string& by = "");

  // High availability (ha/ha_node.h): whether this monitor may write — program routes and
  // start gateway recoveries. Alone it always may (the default). Set it false before start()
  // when a group elects the writer; true on promotion makes the monitor start over like a
  // restart: every table is listed again and what it holds becomes the starting point
  // (hold-downs included) before any route moves, so a takeover by itself moves nothing.
  void setWriteAllowed(bool allowed);
  bool writeAllowed() const { return write_allowed_; }
  // HA: no gateway recovery starts while held, even when writes are allowed — a new leader
  // holds it until it has taken over its predecessor's recovery limits (adoptRecovery), so
  // that it does not restart a gateway the old leader restarted a moment ago.
  void holdRecovery(bool held);

  // HA, monitors checking each other (docs/ha.md): the paths this monitor sees failing that
  // most of the group's other monitors see up, each with who sees it up. Such a failure is
  // evidence of this monitor's own trouble, not the path's: the path counts as Unknown for
  // decisions (a route through it is kept, nothing fails over because of it) and gateway
  // recovery is held back while any path is disputed. A change is logged and journalled
  // (monitor_suspect / monitor_trusted, unless the monitor doubts its view anyway).
  void setDisputed(std::map<std::string, std::string> disputed);
  const std::map<std::string, std::string>& disputed() const { return disputed_; }
  // With `required`, a path this monitor sees failing counts for decisions only once the group
  // has confirmed it (setConfirmed: the paths most other monitors see failing too, or that no
  // other monitor reports). Until then it is no evidence, like a disputed path, but without an
  // event or a recovery hold (a recovery waits its `after` anyway). Off by default.
  void requireConfirmation(bool required);
  void setConfirmed(std::set<std::string> confirmed);

  // The content of `pathpilot status --json`.
  nlohmann::json statusJson() const;

  // Secrets to scrub from every event (its text fields) before it is logged or reaches the
  // sink (daemon/secrets.h); null = none. The daemon sets it at start and on reload.
  void setRedactor(std::shared_ptr<const Redactor> redactor) { redactor_ = std::move(redactor); }

  const config::Config& config() const { return *config_; }
  const EngineStats& stats() const { return stats_; }
  // The reconciler, for tests and metrics. Requires: start() succeeded.
  const route::Reconciler& reconciler() const { return *reconciler_; }

  // Feeds one probe result as if the prober had produced it (tests, and the prober's sink).
  void onProbeResult(const probe::ProbeResult& result);

  // Runs whatever is due at clock.now(): an expired hold-down, damping reuse, reconciler
  // retries. The engine's timers call it; tests with a FakeClock call it after advancing.
  void runDue();

  // A backend noticed a route change in one of our tables (netlink notification): the
  // reconciler verifies the table and repairs drift.
  void onRouteNotice(const route::RouteNotice& notice);

 private:
  struct PathRuntime;
  struct TableRuntime;

  // A config is applied in two steps (at start and on every reload): prepare() builds
  // everything that can fail aside, without touching the running state (a rejected reload
  // leaves the old config in charge); commit() installs it and cannot fail. build() runs
  // both, with the probe engine's replaceTargets() (the one fallible step with an effect)
  // between them.
  struct Plan;
  Result<void> build(config::Config config, bool is_reload);
  [[nodiscard]] Result<Plan> prepare(config::Config config, bool is_reload) const;
  [[nodiscard]] Result<void> checkReloadable(const config::Config& cfg, bool is_reload) const;
  void commit(Plan plan);
  void ensureReconciler(MonoTime now);
  void ensureRecoveryManager(MonoTime now);
  void commitRecoveries(Plan& plan, MonoTime now);
  void observeNewRecoveries(const Plan& plan, MonoTime now);
  void commitTables(Plan& plan, MonoTime now);
  void resetViewCheck(std::optional<health::LinkHealth> monitor_health, MonoTime now);
  void announceConfig(bool is_reload);
  void decide(const char* trigger);
  void applyDecision(const policy::RouteDecision& decision);
  void scheduleDecision(std::optional<MonoTime> when);
  void scheduleHealthTick();
  void scheduleReconcile(MonoTime when);
  void scheduleRecovery(MonoTime when);
  void onRecovery(journal::EventKind kind, const recovery::RecoveryEvent& r);
  void onHealthTransition(std::size_t index, const health::Transition& tr);
  // The monitor's reference targets (config `monitor.probe`) answered or not.
  void onMonitorProbe(const probe::ProbeResult& result);
  // The verdict on the monitor's own view changed: event, and gateway recovery held or not.
  void applyViewChange(const policy::ViewChange& change);
  // Hands the current drains and recovery memory to the state sink.
  void saveState();
  void adoptStartingPoint();
  std::string pathForNextHop(const TableRuntime& table, const route::NextHop& hop) const;
  route::NextHop nextHopFor(const TableRuntime& table, const config::PathConfig& path) const;
  const PathRuntime* findPath(std::string_view name) const;
  PathRuntime* findPath(std::string_view name);
  // The table with configured id `id`, or nullptr. O(log n): with 1,000 tables the per-route
  // lookups of status, adoption and decisions were 10^6 string comparisons each.
  TableRuntime* findTable(std::string_view id) const;
  std::vector<probe::TargetSpec> targetSpecs(const config::Config& config) const;
  journal::Event event(journal::EventKind kind) const;
  journal::Link linkOf(const std::string& path) const;
  void emit(journal::Event e);
  // reconciler callbacks
  void onRouteChanged(const route::RouteChangedEvent& e);
  void onRouteError(const route::RouteErrorEvent& e);
  void onRouteDrift(const route::RouteDriftEvent& e);

  asio::io_context& io_;
  const Clock& clock_;
  probe::Prober& prober_;
  runtime::Executor& executor_;
  TableFactory table_factory_;
  RecoveryFactory recovery_factory_;
  EventSink sink_;
  std::shared_ptr<const Redactor> redactor_;

  std::unique_ptr<config::Config> config_;
  std::vector<std::unique_ptr<PathRuntime>> paths_;
  std::map<std::string, std::size_t, std::less<>> path_index_;
  std::vector<std::unique_ptr<TableRuntime>> tables_;
  std::map<std::string, std::size_t, std::less<>> table_index_;  // table id → tables_ index
  std::unique_ptr<policy::Policy> policy_;
  std::unique_ptr<route::Reconciler> reconciler_;
  std::unique_ptr<recovery::RecoveryManager> recovery_;
  // Does the monitor trust its own view of the paths (policy/view_check.h)?
  std::unique_ptr<policy::ViewCheck> view_;
  // Health of the monitor's reference targets (config `monitor.probe`), if any.
  std::optional<health::LinkHealth> monitor_health_;
  std::optional<PersistentState> restore_;  // until the first build() applied it
  std::function<void(const PersistentState&)> state_sink_;
  std::vector<policy::PathStatus> statuses_;
  std::vector<policy::PathStatus> policy_input_;  // statuses_ with fresh-evidence applied
  policy::DecisionSet previous_;
  policy::DecisionSet next_;
  bool started_ = false;
  bool stopping_ = false;
  bool write_allowed_ = true;
  bool recovery_held_ = false;  // holdRecovery()
  // Promoted: the tables' next lists are adopted as the starting point, before decisions.
  bool adopt_programmed_ = false;
  std::map<std::string, std::string> disputed_;  // path → who sees it up (setDisputed)
  bool require_confirmation_ = false;
  std::set<std::string> confirmed_;  // setConfirmed
  void updateRecoveryHold(MonoTime now);
  policy::FailStaticReport fail_static_;
  // Reused by decide() (no allocation per decision once sized).
  std::vector<policy::PathEvidence> evidence_;
  std::vector<bool> listed_;  // per decided route: its table has been listed
  std::vector<std::string> table_ids_;
  // The path last handed to the reconciler per "table|destination".
  std::map<std::string, std::string, std::less<>> desired_sent_;
  // Reason of the decision that made the reconciler change a route, by RouteKey string.
  std::map<std::string, std::string, std::less<>> change_reasons_;
  WallTime started_at_{};

  asio::steady_timer decision_timer_;
  asio::steady_timer health_timer_;
  asio::steady_timer reconcile_timer_;
  asio::steady_timer recovery_timer_;
  MonoTime recovery_at_ = MonoTime::max();
  std::optional<MonoTime> decision_at_;
  MonoTime reconcile_at_ = MonoTime::max();
  EngineStats stats_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace pathpilot::daemon
