// `pathpilot agent -c agent.yaml`: the tunnel agent on a strongSwan gateway (agent/agent.h).
//
//   pathpilot agent -c agent.yaml            run in the foreground until SIGTERM/SIGINT
//   pathpilot agent -c agent.yaml --check    validate the file and print what it will do
//   pathpilot agent -c agent.yaml --once     poll charon and the interfaces once, print JSON
//
// Exit codes: 0 ok; 1 invalid config, the listen address cannot be bound, CloudWatch cannot
// be set up, or (--once) charon did not answer; 2 usage error.
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include <asio.hpp>

#include "agent/agent.h"
#include "agent/agent_config.h"
#include "agent/cloudwatch_publisher.h"
#include "agent/link_stats.h"
#include "agent/vici_client.h"
#include "base/version.h"
#include "cli/command.h"
#include "daemon/logging.h"
#include "http/curl_http_client.h"

namespace pathpilot::cli {
namespace {

struct AgentOptions {
  std::string config;
  bool check = false;
  bool once = false;
  bool verbose = false;
};

void printPlan(const agent::AgentConfig& c) {
  std::printf("%s: valid\n", c.source.c_str());
  std::printf("  gateway %s%s%s\n", c.gateway.c_str(), c.site.empty() ? "" : ", site ",
              c.site.c_str());
  std::printf("  charon over VICI at %s (timeout %s), polled every %s\n", c.vici_socket.c_str(),
              formatDuration(c.vici_timeout).c_str(), formatDuration(c.poll_interval).c_str());
  std::string tunnels;
  for (const auto& t : c.tunnels) {
    tunnels += (tunnels.empty() ? "" : ", ") + t;
  }
  std::printf("  tunnels: %s\n", tunnels.empty() ? "every configured connection" : tunnels.c_str());
  std::string interfaces;
  for (const auto& i : c.interfaces) {
    interfaces += (interfaces.empty() ? "" : ", ") + i;
  }
  std::printf("  interfaces: %s\n", interfaces.empty() ? "all but lo" : interfaces.c_str());
  if (c.listen) {
    std::string host = c.listen->address.toString();
    if (host.find(':') != std::string::npos) {
      host = "[" + host + "]";
    }
    std::printf("  /metrics on http://%s:%u/metrics\n", host.c_str(), c.listen->port);
  } else {
    std::printf("  no HTTP listener\n");
  }
  if (c.cloudwatch) {
    std::string dims;
    for (const auto& [k, v] : c.cloudwatch->dimensions) {
      dims += (dims.empty() ? "" : ", ") + k + "=" + v;
    }
    std::printf("  CloudWatch %s, namespace %s, every %s: TunnelState, TunnelDataIn, "
                "TunnelDataOut with %s, Tunnel=<name>\n",
                c.cloudwatch->region.c_str(), c.cloudwatch->metric_namespace.c_str(),
                formatDuration(c.cloudwatch->interval).c_str(), dims.c_str());
  } else {
    std::printf("  no CloudWatch\n");
  }
}

int runAgent(const AgentOptions& o) {
  auto config = agent::loadAgentConfig(o.config);
  if (!config) {
    std::fprintf(stderr, "pathpilot agent: %s\n", config.error().message().c_str());
    return kExitFailure;
  }
  if (o.check) {
    printPlan(*config);
    return kExitOk;
  }
  daemon::setupLogging("pathpilot-agent", o.verbose);
  RealClock clock;
  agent::ViciClient vici(config->vici_socket, config->vici_timeout);
  agent::NetlinkLinkStats links;
  std::unique_ptr<agent::CloudWatchPublisher> publisher;
  if (config->cloudwatch && !o.once) {
    auto p = agent::CloudWatchPublisher::create(*config->cloudwatch, clock, http::curlClients());
    if (!p) {
      spdlog::error("agent: {}", p.error().toString());
      return kExitFailure;
    }
    publisher = std::move(*p);
  }
  asio::io_context io;
  if (o.once) {
    agent::AgentConfig once = *config;
    once.listen.reset();
    agent::Agent a(io, once, vici, links, clock, nullptr);
    a.pollNow();
    auto s = a.snapshot();
    std::printf("%s\n", agent::agentStatusJson(*s).c_str());
    if (!s->vici_up) {
      std::fprintf(stderr, "pathpilot agent: %s\n", s->vici_error.c_str());
      return kExitFailure;
    }
    return kExitOk;
  }
  agent::Agent a(io, *config, vici, links, clock, publisher.get());
  if (auto started = a.start(); !started) {
    spdlog::error("{}", started.error().toString());
    return kExitFailure;
  }
  spdlog::info("pathpilot agent {} running: gateway {}, charon at {}{}{}", kVersion,
               config->gateway, config->vici_socket,
               a.port() ? ", /metrics on port " + std::to_string(*a.port()) : std::string(),
               publisher ? ", CloudWatch " + publisher->endpointDescription() : std::string());
  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const asio::error_code& ec, int sig) {
    if (ec) {
      return;
    }
    spdlog::info("signal {}: stopping", sig);
    a.stop();
    io.stop();
  });
  io.run();
  a.stop();
  spdlog::info("stopped");
  return kExitOk;
}

}  // namespace

Command addAgentCommand(CLI::App& root) {
  auto* app = root.add_subcommand(
      "agent", "Run the tunnel agent on a strongSwan gateway (VICI state, /metrics, CloudWatch)");
  auto options = std::make_shared<AgentOptions>();
  app->add_option("-c,--config", options->config, "agent config file (agent.yaml)")->required();
  app->add_flag("--check", options->check, "validate the config and print what it will do");
  app->add_flag("--once", options->once, "poll once, print the tunnels as JSON and exit");
  app->add_flag("-v,--verbose", options->verbose, "debug logging");
  return {app, [options] { return runAgent(*options); }};
}

}  // namespace pathpilot::cli
