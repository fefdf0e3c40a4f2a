// agent/agent.h — the tunnel agent that runs on each strongSwan gateway (`pathpilot agent`).
//
// Purpose: report what the gateway knows and the monitor cannot see from outside: the state of
// every IPsec tunnel as charon has it, traffic per tunnel and per interface. Every
// poll_interval the agent asks charon over VICI (list-conns, list-sas) and the kernel over
// netlink (interface counters), and publishes an immutable AgentSnapshot that
//   - its own HTTP server serves as /metrics (Prometheus), /healthz and /api/v1/tunnels (JSON),
//   - a publisher thread sends to CloudWatch every cloudwatch.interval as TunnelState,
//     TunnelDataIn and TunnelDataOut (agent/agent_metrics.h).
//
// Failure model: charon may be missing (not started yet), restarting (socket gone, then a new
// one) or stuck. The agent keeps running: the poll reports vici_up=0 and every known tunnel as
// down, logs the reason once when it starts and once when charon is back, and the next poll
// reconnects. A CloudWatch outage never delays polling (its own thread, a bounded queue of
// batches; the oldest batch is dropped and counted when it overflows).
//
// Threading: the poll runs on the io_context's thread; HTTP on the server's threads; CloudWatch
// on the publisher thread. They share only the snapshot pointer and CloudWatch counters (each
// under its own mutex). start()/stop() on the loop thread or before/after io.run().
// Metrics: see agent/agent_metrics.h.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <asio.hpp>

#include "agent/agent_config.h"
#include "agent/agent_metrics.h"
#include "agent/cloudwatch_publisher.h"
#include "agent/link_stats.h"
#include "agent/tunnels.h"
#include "agent/vici_client.h"
#include "base/error.h"
#include "base/time.h"

namespace pathpilot::httpserver {
class GuardedServer;
struct TransportStats;
}  // namespace pathpilot::httpserver

namespace pathpilot::agent {

class Agent {
 public:
  // `vici`, `links`, `clock` and `publisher` (nullable: no CloudWatch) must outlive the agent.
  Agent(asio::io_context& io, AgentConfig config, ViciConnection& vici, LinkStatsSource& links,
        const Clock& clock, MetricPublisher* publisher);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Polls once, starts the HTTP server (when `listen` is set), the poll and publish timers and
  // the publisher thread. Errors: the listen address cannot be bound.
  [[nodiscard]] Result<void> start();
  // Stops timers, the server and the publisher thread (waits for an in-flight request).
  void stop();

  // One poll now (loop thread; tests call it directly).
  void pollNow();
  // One CloudWatch publish now: builds the batch and queues it for the publisher thread.
  void publishNow();

  // The latest snapshot (never null after construction).
  std::shared_ptr<const AgentSnapshot> snapshot() const;
  // The HTTP port, once started with `listen`.
  std::optional<std::uint16_t> port() const { return port_; }
  const AgentConfig& config() const { return config_; }

  // Waits until the publisher thread has handled every queued batch (tests).
  void drainPublisherForTest();

 private:
  // One PutMetricData payload (split into requests by the CloudWatch client).
  struct Batch {
    std::vector<aws::MetricDatum> data;
  };
  // One-shot timers re-armed by their handlers (docs/development.md).
  void armPoll();
  void armPublish();
  // The publisher thread: takes batches off queue_ until stop().
  void publisherLoop();
  // Binds `listen` and serves /metrics, /healthz, /api/v1/tunnels on the guarded transport.
  Result<void> startServer();

  asio::io_context& io_;
  AgentConfig config_;
  ViciConnection& vici_;
  LinkStatsSource& links_;
  const Clock& clock_;
  MetricPublisher* publisher_;

  // Poll state (loop thread).
  TrafficTotals traffic_;
  std::vector<std::string> known_tunnels_;  // names seen, reported down while charon is away
  std::map<std::string, std::string> ike_of_;
  std::map<std::string, Traffic> published_;  // totals at the previous CloudWatch publish
  bool baseline_set_ = false;
  bool vici_was_up_ = true;
  std::string last_vici_error_;
  std::string last_links_error_;

  mutable std::mutex snapshot_mutex_;
  std::shared_ptr<const AgentSnapshot> snapshot_;

  // CloudWatch publisher thread.
  std::mutex publish_mutex_;
  std::condition_variable publish_cv_;
  std::deque<Batch> queue_;
  bool publishing_ = false;
  bool stop_publisher_ = false;
  CloudWatchStats cw_stats_;  // guarded by publish_mutex_
  std::thread publisher_thread_;

  // Loop thread.
  asio::steady_timer poll_timer_;
  asio::steady_timer publish_timer_;
  // HTTP: its own threads, reading snapshot() only.
  std::unique_ptr<httpserver::TransportStats> transport_stats_;
  std::unique_ptr<httpserver::GuardedServer> http_;
  std::thread http_thread_;  // runs listen_after_bind()
  std::optional<std::uint16_t> port_;
  bool running_ = false;
  // Expires with the agent, so that a timer handler queued before destruction does nothing.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

// The agent's JSON view (GET /api/v1/tunnels).
std::string agentStatusJson(const AgentSnapshot& s);

}  // namespace pathpilot::agent
