#include "agent/agent.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "base/check.h"
#include "base/version.h"
#include "httpserver/guarded_server.h"

namespace pathpilot::agent {
namespace {

// Batches waiting for the publisher beyond this are dropped, oldest first: after a long
// CloudWatch outage the fresh data matters more than the backlog.
constexpr std::size_t kMaxQueuedBatches = 10;

}  // namespace

Agent::Agent(asio::io_context& io, AgentConfig config, ViciConnection& vici, LinkStatsSource& links,
             const Clock& clock, MetricPublisher* publisher)
    : io_(io),
      config_(std::move(config)),
      vici_(vici),
      links_(links),
      clock_(clock),
      publisher_(config_.cloudwatch ? publisher : nullptr),
      poll_timer_(io),
      publish_timer_(io),
      transport_stats_(std::make_unique<httpserver::TransportStats>()) {
  auto s = std::make_shared<AgentSnapshot>();
  s->gateway = config_.gateway;
  s->site = config_.site;
  s->version = std::string(kVersion);
  s->vici_error = "not polled yet";
  s->cloudwatch_enabled = publisher_ != nullptr;
  snapshot_ = s;
  known_tunnels_ = config_.tunnels;
}

Agent::~Agent() {
  stop();
  alive_.reset();
}

std::shared_ptr<const AgentSnapshot> Agent::snapshot() const {
  std::lock_guard<std::mutex> lock(snapshot_mutex_);
  return snapshot_;
}

void Agent::pollNow() {
  auto t0 = std::chrono::steady_clock::now();
  auto s = std::make_shared<AgentSnapshot>();
  s->gateway = config_.gateway;
  s->site = config_.site;
  s->version = std::string(kVersion);
  s->taken_at = clock_.wallNow();
  s->taken_mono = clock_.now();
  s->cloudwatch_enabled = publisher_ != nullptr;

  std::vector<ViciSection> conn_events;
  std::vector<ViciSection> sa_events;
  auto conns = vici_.call("list-conns", {}, "list-conn", &conn_events);
  Result<ViciSection> sas = conns ? vici_.call("list-sas", {}, "list-sa", &sa_events)
                                  : Result<ViciSection>(fail(conns.error()));
  if (conns && sas) {
    s->vici_up = true;
    s->tunnels = tunnelStatus(parseListConns(conn_events), parseListSas(sa_events),
                              config_.tunnels);
    for (const auto& t : s->tunnels) {
      if (std::find(known_tunnels_.begin(), known_tunnels_.end(), t.tunnel) ==
          known_tunnels_.end()) {
        known_tunnels_.push_back(t.tunnel);
      }
      if (!t.ike.empty()) {
        ike_of_[t.tunnel] = t.ike;
      }
    }
    traffic_.update(s->tunnels);
    if (!vici_was_up_) {
      spdlog::info("agent: charon answers again on {}; {} tunnel(s)", config_.vici_socket,
                   s->tunnels.size());
    }
    vici_was_up_ = true;
    last_vici_error_.clear();
  } else {
    // charon is away: every tunnel we know of is down (they are, without charon).
    s->vici_up = false;
    s->vici_error = sas ? conns.error().message() : sas.error().message();
    for (const auto& name : known_tunnels_) {
      TunnelStatus t;
      t.tunnel = name;
      auto it = ike_of_.find(name);
      t.ike = it == ike_of_.end() ? "" : it->second;
      s->tunnels.push_back(std::move(t));
    }
    if (vici_was_up_ || s->vici_error != last_vici_error_) {
      spdlog::warn("agent: cannot read tunnel state: {}; tunnels reported down, retrying every {}",
                   s->vici_error, formatDuration(config_.poll_interval));
    }
    vici_was_up_ = false;
    last_vici_error_ = s->vici_error;
  }
  for (const auto& t : s->tunnels) {
    s->traffic[t.tunnel] = traffic_.total(t.tunnel);
  }
  s->vici = vici_.stats();

  auto links = links_.read();
  if (links) {
    for (auto& l : *links) {
      bool wanted = config_.interfaces.empty()
                        ? l.name != "lo"
                        : std::find(config_.interfaces.begin(), config_.interfaces.end(),
                                    l.name) != config_.interfaces.end();
      if (wanted) {
        s->links.push_back(std::move(l));
      }
    }
    last_links_error_.clear();
  } else {
    s->links_error = links.error().toString();
    if (s->links_error != last_links_error_) {
      spdlog::warn("agent: interface counters unavailable: {}", s->links_error);
    }
    last_links_error_ = s->links_error;
  }
  if (!baseline_set_) {
    // The first publish reports traffic since now, not since the SAs were created.
    published_ = s->traffic;
    baseline_set_ = true;
  }
  {
    std::lock_guard<std::mutex> lock(publish_mutex_);
    s->cloudwatch = cw_stats_;
  }
  s->poll_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::lock_guard<std::mutex> lock(snapshot_mutex_);
  snapshot_ = std::move(s);
}

void Agent::publishNow() {
  if (publisher_ == nullptr) {
    return;
  }
  auto s = snapshot();
  Batch batch;
  batch.data = cloudWatchData(s->tunnels, s->traffic, published_, config_.cloudwatch->dimensions,
                              config_.cloudwatch->storage_resolution, clock_.wallNow());
  published_ = s->traffic;
  if (batch.data.empty()) {
    return;
  }
  {
    std::lock_guard<std::mutex> lock(publish_mutex_);
    if (queue_.size() >= kMaxQueuedBatches) {
      queue_.pop_front();
      ++cw_stats_.dropped_batches;
    }
    queue_.push_back(std::move(batch));
  }
  publish_cv_.notify_one();
}

void Agent::publisherLoop() {
  for (;;) {
    Batch batch;
    {
      std::unique_lock<std::mutex> lock(publish_mutex_);
      publish_cv_.wait(lock, [&] { return stop_publisher_ || !queue_.empty(); });
      if (queue_.empty()) {
        return;
      }
      batch = std::move(queue_.front());
      queue_.pop_front();
      publishing_ = true;
    }
    auto r = publisher_->put(config_.cloudwatch->metric_namespace, batch.data);
    {
      std::lock_guard<std::mutex> lock(publish_mutex_);
      publishing_ = false;
      if (r) {
        ++cw_stats_.ok;
        cw_stats_.datapoints += r->metrics;
        cw_stats_.last_success = clock_.wallNow();
        if (!cw_stats_.last_error.empty()) {
          spdlog::info("agent: CloudWatch accepts data again");
        }
        cw_stats_.last_error.clear();
      } else {
        ++cw_stats_.errors;
        if (cw_stats_.last_error != r.error().message()) {
          spdlog::warn("agent: CloudWatch PutMetricData failed: {}", r.error().toString());
        }
        cw_stats_.last_error = r.error().message();
      }
    }
    publish_cv_.notify_all();
  }
}

void Agent::drainPublisherForTest() {
  std::unique_lock<std::mutex> lock(publish_mutex_);
  publish_cv_.wait(lock, [&] { return queue_.empty() && !publishing_; });
}

void Agent::armPoll() {
  poll_timer_.expires_after(config_.poll_interval);
  poll_timer_.async_wait([this, alive = std::weak_ptr<int>(alive_)](const asio::error_code& ec) {
    if (ec || alive.expired() || !running_) {
      return;
    }
    pollNow();
    armPoll();
  });
}

void Agent::armPublish() {
  publish_timer_.expires_after(config_.cloudwatch->interval);
  publish_timer_.async_wait(
      [this, alive = std::weak_ptr<int>(alive_)](const asio::error_code& ec) {
        if (ec || alive.expired() || !running_) {
          return;
        }
        publishNow();
        armPublish();
      });
}

Result<void> Agent::startServer() {
  httpserver::TransportOptions t;
  // 4 workers: the per-client cap is threads - 1, and with 2 workers (cap 1) a client's next
  // request could be refused with 503 while the server was still closing its previous
  // connection (a scraper polling /metrics and /healthz one after the other).
  t.threads = 4;
  t.max_queued = 16;
  http_ = std::make_unique<httpserver::GuardedServer>(t, *transport_stats_);
  http_->set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  http_->set_payload_max_length(1024);
  auto json_error = [](httplib::Response& res, int status, const std::string& message) {
    res.status = status;
    res.set_header("Cache-Control", "no-store");
    res.set_content(nlohmann::json{{"error", message}}.dump(), "application/json");
  };
  http_->set_error_handler(httplib::Server::HandlerWithResponse(
      [json_error](const httplib::Request& req, httplib::Response& res) {
        if (res.body.empty()) {
          httpserver::GuardedServer::closeAfterResponse();
          json_error(res, res.status,
                     res.status == 404 ? "no such endpoint: " + req.path.substr(0, 200)
                                       : "bad request");
        }
        return httplib::Server::HandlerResponse::Handled;
      }));
  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    auto s = snapshot();
    auto text = std::make_shared<const std::string>(renderAgentMetrics(*s));
    res.set_header("Cache-Control", "no-store");
    res.set_content_provider(text->size(), "text/plain; version=0.0.4; charset=utf-8",
                             [text](size_t offset, size_t length, httplib::DataSink& sink) {
                               return sink.write(text->data() + offset, length);
                             });
  });
  http_->Get("/healthz", [this, json_error](const httplib::Request&, httplib::Response& res) {
    auto s = snapshot();
    if (!s->vici_up) {
      json_error(res, 503, "charon does not answer: " + s->vici_error);
      return;
    }
    res.set_header("Cache-Control", "no-store");
    res.set_content(nlohmann::json{{"status", "ok"}, {"tunnels", s->tunnels.size()}}.dump(),
                    "application/json");
  });
  http_->Get("/api/v1/tunnels", [this](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.set_content(agentStatusJson(*snapshot()), "application/json");
  });
  const auto& listen = *config_.listen;
  std::string host = listen.address.toString();
  int bound = listen.port == 0 ? http_->bind_to_any_port(host)
                               : (http_->bind_to_port(host, listen.port) ? listen.port : -1);
  if (bound <= 0) {
    int err = errno;
    return fail(ErrorCode::Unavailable,
                "agent: cannot listen on " + (host.find(':') != std::string::npos
                                                  ? "[" + host + "]"
                                                  : host) +
                    ":" + std::to_string(listen.port) + ": " + std::strerror(err),
                err);
  }
  port_ = static_cast<std::uint16_t>(bound);
  http_thread_ = std::thread([this] { http_->listen_after_bind(); });
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!http_->is_running() && std::chrono::steady_clock::now() < until) {
    std::this_thread::yield();
  }
  return ok();
}

Result<void> Agent::start() {
  PP_CHECK(!running_);
  pollNow();
  if (config_.listen) {
    if (auto r = startServer(); !r) {
      return r;
    }
  }
  running_ = true;
  armPoll();
  if (publisher_ != nullptr) {
    stop_publisher_ = false;
    publisher_thread_ = std::thread([this] { publisherLoop(); });
    armPublish();
  }
  return ok();
}

void Agent::stop() {
  running_ = false;
  poll_timer_.cancel();
  publish_timer_.cancel();
  if (http_) {
    http_->stop();
    if (http_thread_.joinable()) {
      http_thread_.join();
    }
  }
  {
    std::lock_guard<std::mutex> lock(publish_mutex_);
    stop_publisher_ = true;
  }
  publish_cv_.notify_all();
  if (publisher_thread_.joinable()) {
    publisher_thread_.join();
  }
}

std::string agentStatusJson(const AgentSnapshot& s) {
  nlohmann::json j;
  j["gateway"] = s.gateway;
  j["site"] = s.site;
  j["version"] = s.version;
  j["time"] = formatRfc3339(s.taken_at);
  j["vici_up"] = s.vici_up;
  if (!s.vici_up) {
    j["vici_error"] = s.vici_error;
  }
  nlohmann::json tunnels = nlohmann::json::array();
  for (const auto& t : s.tunnels) {
    Traffic tr;
    if (auto it = s.traffic.find(t.tunnel); it != s.traffic.end()) {
      tr = it->second;
    }
    tunnels.push_back({{"tunnel", t.tunnel},
                       {"ike", t.ike},
                       {"up", t.up},
                       {"ike_state", t.ike_state},
                       {"child_state", t.child_state},
                       {"remote_host", t.remote_host},
                       {"established_seconds", t.established_seconds},
                       {"installed_child_sas", t.installed},
                       {"bytes_in", tr.bytes_in},
                       {"bytes_out", tr.bytes_out},
                       {"packets_in", tr.packets_in},
                       {"packets_out", tr.packets_out}});
  }
  j["tunnels"] = tunnels;
  nlohmann::json links = nlohmann::json::array();
  for (const auto& l : s.links) {
    links.push_back({{"interface", l.name},
                     {"up", l.oper_up},
                     {"rx_bytes", l.rx_bytes},
                     {"tx_bytes", l.tx_bytes},
                     {"rx_packets", l.rx_packets},
                     {"tx_packets", l.tx_packets}});
  }
  j["interfaces"] = links;
  if (s.cloudwatch_enabled) {
    j["cloudwatch"] = {{"ok", s.cloudwatch.ok},
                       {"errors", s.cloudwatch.errors},
                       {"datapoints", s.cloudwatch.datapoints},
                       {"last_error", s.cloudwatch.last_error}};
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace pathpilot::agent
