// api/daemon_api.h — the daemon's observability wiring in one object.
//
// Purpose: keeps daemon.cc's part of the HTTP API to a few lines. DaemonApi owns the snapshot
// builder and store, the publish timer on the engine's io_context and the ApiServer:
//   - tap(prober) returns a Prober to give the engine instead of the real one, so that every
//     probe result also reaches the per-path recorder (api/probe_tap.h);
//   - onEvent(e) is called with every engine event (counts transitions, route changes and
//     errors, and asks for a prompt snapshot so the API shows a change within ~50 ms);
//   - start() resolves the config's api settings (address, bearer token file with its 0600
//     check), starts the publish timer (every `publish_interval`, which also measures the
//     engine loop's lag) and the server;
//   - drain/undrain requests from API threads run on the engine thread through callOnLoop
//     (api/loop_call.h), and a snapshot is published right after them.
// The engine never waits for the API: publishing builds a snapshot on the engine thread (the
// status document, the metrics model) and swaps a pointer; API threads do the rest.
//
// Threading: construct, tap, onEvent, start, stop on the engine thread (the io_context's;
// start/stop may also run before/after io.run()).
// Metrics: pathpilot_engine_loop_lag_seconds (publish timer lateness) and everything in
// metrics/daemon_metrics.h and api/server.h.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <asio.hpp>
#include <nlohmann/json.hpp>

#include "api/probe_tap.h"
#include "api/server.h"
#include "api/snapshot.h"
#include "api/snapshot_builder.h"
#include "base/error.h"
#include "base/time.h"
#include "config/config.h"
#include "journal/event.h"
#include "journal/event_log.h"
#include "journal/journal.h"
#include "probe/probe.h"
#include "route/reconciler.h"

namespace pathpilot::api {

// What the daemon provides; every function runs on the engine thread.
struct DaemonApiSources {
  // The status document (`pathpilot status --json`): Engine::statusJson() plus "version" and
  // "journal", as the control socket serves it.
  std::function<nlohmann::json()> status;
  // Fills the counter parts of the inputs (probe, reconciler, engine, journal, hooks).
  std::function<void(SnapshotInputs&)> counters;
  // Performs a drain or undrain (Engine::drain / undrain).
  std::function<Result<std::string>(ControlAction, const std::string& path)> control;
};

struct DaemonApiOptions {
  // Periodic snapshots. Stretched to `cost_factor` × what the previous snapshot cost the engine
  // thread, so that snapshots never take more than 1/cost_factor of it (at 1,000 paths × 1,000
  // route tables a snapshot costs ~10-30 ms: every 250 ms would be over 10%).
  Duration publish_interval = std::chrono::milliseconds(250);
  double cost_factor = 20;
  // Shortest gap between two snapshots published because of events (also at least 4 × the
  // cost of the previous snapshot, so a burst of changes cannot take over the engine thread).
  Duration min_publish_gap = std::chrono::milliseconds(50);
  metrics::PathRecorderOptions history;
  // Server settings; host, port and token are taken from the config in start().
  ApiOptions server;
};

class DaemonApi {
 public:
  DaemonApi(asio::io_context& io, const Clock& clock, DaemonApiOptions options = {});
  ~DaemonApi();
  DaemonApi(const DaemonApi&) = delete;
  DaemonApi& operator=(const DaemonApi&) = delete;

  // A Prober that feeds the recorder, then the engine. Call once, before the engine starts.
  probe::Prober& tap(probe::Prober& inner);

  // Every event the engine emits.
  void onEvent(const journal::Event& event);

  // Starts publishing and serving on the configured address. `events` (nullable) is searched
  // by /api/v1/events. Errors: the token cannot be resolved (missing env variable, token file
  // missing or accessible by group/others), or the address cannot be bound.
  [[nodiscard]] Result<void> start(const config::ApiSettings& settings, DaemonApiSources sources,
                                   journal::EventLog* events);
  // Stops the server and the timers. Idempotent.
  void stop();

  // Builds and publishes a snapshot now (engine thread).
  void publishNow();

  const SnapshotStore& store() const { return store_; }
  // The bound port, once started.
  std::optional<std::uint16_t> port() const;

 private:
  void armTimer();
  void requestPublish();

  asio::io_context& io_;
  const Clock& clock_;
  DaemonApiOptions options_;
  SnapshotBuilder builder_;
  SnapshotStore store_;
  DaemonApiSources sources_;
  std::unique_ptr<ProbeTap> tap_;
  std::unique_ptr<ApiServer> server_;
  asio::steady_timer timer_;
  asio::steady_timer soon_timer_;
  MonoTime timer_deadline_{};
  MonoTime last_publish_{};
  Duration last_status_cost_{0};  // engine-thread time of the previous snapshot, by phase
  Duration last_build_cost_{0};
  Duration interval_ = options_.publish_interval;
  bool soon_pending_ = false;
  bool running_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

// The API options for `settings`: address, port, rate limits (api.rate_limit) and the resolved
// token on top of `base`. The environment variable PATHPILOT_API_READ_RATE (requests per second
// per client address, 0 = unlimited) overrides api.rate_limit.read_per_second (and raises the
// burst to twice that); errors name it when it is not a number.
[[nodiscard]] Result<ApiOptions> apiOptionsFromConfig(const config::ApiSettings& settings,
                                                      ApiOptions base = {});

}  // namespace pathpilot::api
