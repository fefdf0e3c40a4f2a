#include "api/daemon_api.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>

#include "api/auth.h"
#include "api/loop_call.h"

namespace pathpilot::api {

Result<ApiOptions> apiOptionsFromConfig(const config::ApiSettings& settings, ApiOptions base) {
  base.host = settings.address.toString();
  base.port = settings.port;
  base.read_limit = RateLimit{settings.read_limit.per_second, settings.read_limit.burst};
  base.write_limit = RateLimit{settings.write_limit.per_second, settings.write_limit.burst};
  // Documented override of api.rate_limit.read_per_second for one run (bench/api_load.py lifts
  // the limit without editing the config); the config key is the normal way.
  if (const char* rate = std::getenv("PATHPILOT_API_READ_RATE"); rate != nullptr) {
    char* end = nullptr;
    double v = std::strtod(rate, &end);
    if (end == rate || *end != '\0' || !(v >= 0)) {
      return fail(ErrorCode::InvalidArgument,
                  std::string("PATHPILOT_API_READ_RATE must be a number >= 0 (0 = unlimited), "
                              "not \"") +
                      rate + "\"");
    }
    base.read_limit.per_second = v;
    base.read_limit.burst = std::max(base.read_limit.burst, 2 * v);
  }
  auto token = resolveToken(settings.auth_token);
  if (!token) {
    return fail(token.error());
  }
  base.token = std::move(*token);
  base.allowed_hosts = settings.allowed_hosts;
  base.auth_reads = settings.auth_reads;
  base.max_connections_per_client = static_cast<std::size_t>(settings.max_connections_per_client);
  base.max_queued_per_client = static_cast<std::size_t>(settings.max_queued_per_client);
  base.request_timeout = settings.request_timeout;
  base.response_timeout = settings.response_timeout;
  return base;
}

DaemonApi::DaemonApi(asio::io_context& io, const Clock& clock, DaemonApiOptions options)
    : io_(io),
      clock_(clock),
      options_(std::move(options)),
      builder_(clock.now(), clock.wallNow(), options_.history),
      timer_(io),
      soon_timer_(io) {}

DaemonApi::~DaemonApi() {
  stop();
  alive_.reset();
}

probe::Prober& DaemonApi::tap(probe::Prober& inner) {
  PP_CHECK(!tap_);
  tap_ = std::make_unique<ProbeTap>(inner, [this](const probe::ProbeResult& r) {
    // completed_at is the engine's clock; fall back to now for probers that leave it unset.
    MonoTime at = r.completed_at == MonoTime{} ? clock_.now() : r.completed_at;
    builder_.onProbe(r.path, r.success, r.rtt, at);
  });
  return *tap_;
}

void DaemonApi::onEvent(const journal::Event& event) {
  builder_.onEvent(event);
  requestPublish();
}

Result<void> DaemonApi::start(const config::ApiSettings& settings, DaemonApiSources sources,
                              journal::EventLog* events) {
  PP_CHECK(!running_);
  auto opts = apiOptionsFromConfig(settings, options_.server);
  if (!opts) {
    return fail(opts.error());
  }
  sources_ = std::move(sources);
  bool writes = opts->token.has_value();
  server_ = std::make_unique<ApiServer>(
      std::move(*opts), store_, clock_, events,
      [this, timeout = options_.server.control_timeout](ControlAction action,
                                                        const std::string& path) {
        return callOnLoop<std::string>(io_, timeout, [this, action, path]() -> Result<std::string> {
          if (!sources_.control) {
            return fail(ErrorCode::Unavailable, "control is not wired");
          }
          auto r = sources_.control(action, path);
          publishNow();
          return r;
        });
      });
  running_ = true;
  publishNow();  // the first snapshot exists before the first request can arrive
  if (auto s = server_->start(); !s) {
    running_ = false;
    server_.reset();
    return s;
  }
  armTimer();
  spdlog::info("api: listening on http://{}{}{}:{}/ (writes {})",
               settings.address.toString().find(':') != std::string::npos ? "[" : "",
               settings.address.toString(),
               settings.address.toString().find(':') != std::string::npos ? "]" : "",
               server_->port(), writes ? "need the bearer token" : "disabled: no api.auth_token");
  return ok();
}

void DaemonApi::stop() {
  if (server_) {
    server_->stop();
  }
  running_ = false;
  timer_.cancel();
  soon_timer_.cancel();
}

std::optional<std::uint16_t> DaemonApi::port() const {
  if (!server_) {
    return std::nullopt;
  }
  return server_->port();
}

void DaemonApi::armTimer() {
  auto cost = std::chrono::duration_cast<Duration>((last_status_cost_ + last_build_cost_) *
                                                   options_.cost_factor);
  interval_ = std::max(options_.publish_interval, cost);
  timer_deadline_ = std::chrono::steady_clock::now() + interval_;
  timer_.expires_at(timer_deadline_);
  timer_.async_wait([this, alive = std::weak_ptr<int>(alive_)](const asio::error_code& ec) {
    if (ec || alive.expired() || !running_) {
      return;
    }
    // The timer is the loop-lag probe: how late did the engine thread get to it?
    builder_.observeLoopLag(std::chrono::steady_clock::now() - timer_deadline_);
    publishNow();
    armTimer();
  });
}

void DaemonApi::requestPublish() {
  if (!running_ || soon_pending_) {
    return;
  }
  soon_pending_ = true;
  // Coalesce bursts (a failover emits a dozen events in one handler): publish once, at least
  // min_publish_gap after the previous snapshot.
  // Bursts of changes are limited to a quarter of the engine thread: the gap after a snapshot
  // is at least 4 × what that snapshot cost.
  auto gap =
      std::max<Duration>(options_.min_publish_gap, 4 * (last_status_cost_ + last_build_cost_));
  auto at = std::max(std::chrono::steady_clock::now(), last_publish_ + gap);
  soon_timer_.expires_at(at);
  soon_timer_.async_wait([this, alive = std::weak_ptr<int>(alive_)](const asio::error_code& ec) {
    if (alive.expired()) {
      return;
    }
    soon_pending_ = false;
    if (ec || !running_) {
      return;
    }
    publishNow();
  });
}

void DaemonApi::publishNow() {
  if (!running_) {
    return;
  }
  auto t0 = std::chrono::steady_clock::now();
  SnapshotInputs in;
  if (sources_.status) {
    in.status = sources_.status();
  }
  if (sources_.counters) {
    sources_.counters(in);
  }
  auto t1 = std::chrono::steady_clock::now();
  in.previous_status_seconds = std::chrono::duration<double>(last_status_cost_).count();
  in.previous_build_seconds = std::chrono::duration<double>(last_build_cost_).count();
  in.interval_seconds = std::chrono::duration<double>(interval_).count();
  store_.publish(builder_.build(std::move(in), clock_.now(), clock_.wallNow()));
  auto t2 = std::chrono::steady_clock::now();
  last_status_cost_ = t1 - t0;
  last_build_cost_ = t2 - t1;
  last_publish_ = t2;
}

}  // namespace pathpilot::api
