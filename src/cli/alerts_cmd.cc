// `pathpilot alerts test CHANNEL -c CONFIG`: send a test message through one configured alert
// channel now, and say whether it arrived (exit 0) or why not (exit 1).
// `pathpilot alerts outbox -c CONFIG`: what the alert outbox holds (pending, sent, failed), and
// the open incidents kept in the same file (fired, awaiting their RESOLVED).
#include <cstdio>
#include <memory>
#include <string>

#include <fmt/core.h>

#include "alert/alert_manager.h"
#include "alert/outbox.h"
#include "cli/command.h"
#include "config/loader.h"
#include "http/curl_http_client.h"

namespace pathpilot::cli {
namespace {

struct AlertsOptions {
  std::string config;
  std::string channel;
  std::size_t limit = 20;
};

std::optional<config::Config> loadConfig(const std::string& path) {
  auto report = config::checkFile(path);
  if (!report.ok()) {
    std::fputs(report.format().c_str(), stderr);
    std::fputs("\n", stderr);
    return std::nullopt;
  }
  if (!report.config->alerts) {
    fmt::print(stderr, "pathpilot: {} has no alerts section\n", path);
    return std::nullopt;
  }
  return std::move(*report.config);
}

int runTest(const AlertsOptions& o) {
  auto cfg = loadConfig(o.config);
  if (!cfg) {
    return kExitFailure;
  }
  const config::AlertChannelConfig* c = cfg->alerts->findChannel(o.channel);
  if (c == nullptr) {
    std::string names;
    for (const auto& ch : cfg->alerts->channels) {
      names += (names.empty() ? "" : ", ") + ch.name;
    }
    fmt::print(stderr, "pathpilot: no alert channel named \"{}\" in {} (channels: {})\n",
               o.channel, o.config, names);
    return kExitFailure;
  }
  RealClock clock;
  auto channel = alert::makeChannel(*c, clock, http::curlClients(), alert::processEnv());
  if (!channel) {
    fmt::print(stderr, "pathpilot: {}\n", channel.error().toString());
    return kExitFailure;
  }
  auto n = alert::testNotification(cfg->site.name, c->name, clock.wallNow());
  MonoTime start = clock.now();
  auto result = (*channel)->deliver(n);
  double ms = toMillis(clock.now() - start);
  if (!result) {
    fmt::print(stderr, "FAILED  {} ({}): {} [{}] after {:.0f} ms\n", c->name,
               config::alertChannelKindName(c->kind), result.error().error.toString(),
               errorCodeName(result.error().error.code()), ms);
    return kExitFailure;
  }
  fmt::print("OK  {} ({}): {} in {:.0f} ms\n", c->name, config::alertChannelKindName(c->kind),
             *result, ms);
  return kExitOk;
}

int runOutbox(const AlertsOptions& o) {
  auto cfg = loadConfig(o.config);
  if (!cfg) {
    return kExitFailure;
  }
  auto box = alert::Outbox::open(cfg->alerts->outbox);
  if (!box) {
    fmt::print(stderr, "pathpilot: {}\n", box.error().toString());
    return kExitFailure;
  }
  auto rows = (*box)->list(o.limit);
  if (!rows) {
    fmt::print(stderr, "pathpilot: {}\n", rows.error().toString());
    return kExitFailure;
  }
  fmt::print("{} pending in {}\n", (*box)->pending(), cfg->alerts->outbox);
  fmt::print("{:>6}  {:<8} {:<14} {:>8}  {:<24}  {}\n", "ID", "STATE", "CHANNEL", "ATTEMPTS",
             "CREATED", "TITLE / LAST ERROR");
  for (const auto& r : *rows) {
    const char* state = r.state == alert::RowState::Pending ? "pending"
                        : r.state == alert::RowState::Sent  ? "sent"
                                                            : "failed";
    auto n = alert::parseNotification(r.payload);
    std::string title = n ? n->title : "<unreadable>";
    fmt::print("{:>6}  {:<8} {:<14} {:>8}  {:<24}  {}\n", r.id, state, r.channel, r.attempts,
               formatRfc3339(r.created), title);
    if (!r.last_error.empty() && r.state != alert::RowState::Sent) {
      fmt::print("{:>6}  {:<8} {:<14} {:>8}  {:<24}  ↳ {}\n", "", "", "", "", "", r.last_error);
    }
  }
  // Incidents that fired and await their RESOLVED (kept across daemon restarts).
  std::vector<std::string> bad;
  auto incidents = (*box)->incidents(&bad);
  if (!incidents) {
    fmt::print(stderr, "pathpilot: {}\n", incidents.error().toString());
    return kExitFailure;
  }
  fmt::print("\n{} open incident(s)\n", incidents->size() + bad.size());
  if (!incidents->empty()) {
    fmt::print("{:<32} {:<24}  {:<20}  {}\n", "INCIDENT", "SINCE", "FIRED ON", "SUMMARY");
  }
  for (const auto& i : *incidents) {
    std::string channels;
    for (const auto& c : i.channels) {
      channels += (channels.empty() ? "" : ",") + c;
    }
    fmt::print("{:<32} {:<24}  {:<20}  {}\n", i.key, formatRfc3339(i.started),
               channels.empty() ? "-" : channels, i.summary);
  }
  for (const auto& why : bad) {
    fmt::print("<unreadable> {}\n", why);
  }
  return kExitOk;
}

}  // namespace

Command addAlertsCommand(CLI::App& root) {
  auto options = std::make_shared<AlertsOptions>();
  auto* app = root.add_subcommand("alerts", "Alert channels and the alert outbox");
  app->require_subcommand(1);
  auto* test = app->add_subcommand("test", "Send a test message through one channel now");
  test->add_option("CHANNEL", options->channel, "channel name (alerts.channels[].name)")
      ->required();
  test->add_option("-c,--config", options->config, "config file")->required();
  auto* outbox = app->add_subcommand("outbox", "List the newest messages of the alert outbox");
  outbox->add_option("-c,--config", options->config, "config file")->required();
  outbox->add_option("--limit", options->limit, "newest N rows")->capture_default_str();
  return {app, [options, test] { return test->parsed() ? runTest(*options) : runOutbox(*options); }};
}

}  // namespace pathpilot::cli
