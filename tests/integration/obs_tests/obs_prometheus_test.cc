// Real Prometheus and promtool against pathpilot's /metrics, rules and Grafana dashboard.
//
// A real ApiServer serves a scripted snapshot (what the engine would publish); a real
// Prometheus 2.42 scrapes it every second, loads examples/prometheus/rules.yml, and is asked
// PromQL questions about a path's state before and after the path goes down.
#include <httplib.h>

#include <regex>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "agent/agent_metrics.h"
#include "api/server.h"
#include "api/snapshot_builder.h"
#include "fakes/memory_event_log.h"
#include "journal/journal.h"
#include "obs_tests/process.h"
#include "probe/probe.h"
#include "route/reconciler.h"
#include "unit/api/sample_status.h"

namespace pathpilot::api {
namespace {

using nlohmann::json;
using obs_testing::Process;
using obs_testing::TempDir;

const std::string kSource = PP_SOURCE_DIR;

// A gateway agent snapshot with every family present (tunnels, interfaces, CloudWatch).
agent::AgentSnapshot sampleAgent() {
  agent::AgentSnapshot s;
  s.gateway = "strongswan-1";
  s.site = "Beijing";
  s.version = "0.1.0";
  s.vici_up = true;
  agent::TunnelStatus up;
  up.tunnel = "tunnel1";
  up.ike = "tunnel1";
  up.up = true;
  up.installed = 1;
  agent::TunnelStatus down;
  down.tunnel = "tunnel2";
  down.ike = "tunnel2";
  s.tunnels = {up, down};
  s.traffic["tunnel1"] = {1000, 2000, 10, 20};
  s.links = {agent::LinkStats{"ipsec0", 7, true, 1, 2, 3, 4, 0, 0, 0, 0}};
  s.cloudwatch_enabled = true;
  s.cloudwatch.ok = 3;
  s.cloudwatch.last_success = WallTime(std::chrono::seconds(1700000000));
  return s;
}

class ObsPrometheusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!obs_testing::haveProgram("promtool") || !obs_testing::haveProgram("prometheus")) {
      GTEST_SKIP() << "prometheus/promtool not installed (tools/deps.sh)";
    }
  }

  void publish(const std::string& dx_state) {
    auto status = testing::sampleStatus(dx_state);
    for (int i = 0; i < 50; ++i) {
      builder_.onProbe("dx", dx_state == "up", std::chrono::microseconds(800 + 37 * i),
                       clock_.now());
      builder_.onProbe("vpn-a", i % 10 != 0, std::chrono::milliseconds(12 + i % 5), clock_.now());
    }
    if (dx_state == "down") {
      auto e = journal::makeEvent(journal::EventKind::PathDown, clock_.wallNow(), "Singapore");
      e.path = "dx";
      e.to = "down";
      builder_.onEvent(e);
    }
    SnapshotInputs in;
    in.status = std::move(status);
    probe::ProbeCounters probes;
    probes.sent = 1000;
    in.module_families = probe::metricFamilies(probes);
    for (auto& f : route::metricFamilies(route::ReconcilerStats{})) {
      in.module_families.push_back(std::move(f));
    }
    for (auto& f : journal::metricFamilies(journal::JournalStats{})) {
      in.module_families.push_back(std::move(f));
    }
    in.alert_outbox_depth = 0;
    in.aws_calls.push_back({"ReplaceRoute", "ok", 3});
    builder_.observeLoopLag(std::chrono::microseconds(150));
    store_.publish(builder_.build(std::move(in), clock_.now(), clock_.wallNow()));
  }

  RealClock clock_;
  SnapshotStore store_;
  SnapshotBuilder builder_{clock_.now(), clock_.wallNow()};
};

TEST_F(ObsPrometheusTest, PromtoolAcceptsTheExposition) {
  publish("down");
  ApiOptions options;
  options.port = 0;
  ApiServer server(options, store_, clock_, nullptr, nullptr);
  TempDir dir;
  std::string text = server.renderMetrics(store_.current().get());
  obs_testing::writeFile(dir.file("metrics.txt"), text);
  std::string out;
  int rc = obs_testing::run({"promtool", "check", "metrics"}, out, "", dir.file("metrics.txt"));
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "") << out;  // no lint complaints either

  // Hostile label values: quotes, backslashes, newlines, invalid UTF-8 in the site name.
  auto status = testing::sampleStatus();
  status["site"] = std::string("Bei\"jing\\ \n\xff");
  SnapshotInputs in;
  in.status = status;
  store_.publish(builder_.build(std::move(in), clock_.now(), clock_.wallNow()));
  obs_testing::writeFile(dir.file("hostile.txt"), server.renderMetrics(store_.current().get()));
  rc = obs_testing::run({"promtool", "check", "metrics"}, out, "", dir.file("hostile.txt"));
  EXPECT_EQ(rc, 0) << out;

  // The gateway agent's exposition.
  obs_testing::writeFile(dir.file("agent.txt"), agent::renderAgentMetrics(sampleAgent()));
  rc = obs_testing::run({"promtool", "check", "metrics"}, out, "", dir.file("agent.txt"));
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "") << out;
}

TEST_F(ObsPrometheusTest, ExampleRulesPassPromtool) {
  std::string out;
  int rc = obs_testing::run({"promtool", "check", "rules", "rules.yml"}, out,
                            kSource + "/examples/prometheus");
  EXPECT_EQ(rc, 0) << out;
  rc = obs_testing::run({"promtool", "test", "rules", "rules_test.yml"}, out,
                        kSource + "/examples/prometheus");
  EXPECT_EQ(rc, 0) << out;
}

// Every metric the Grafana dashboard and the rules query is one pathpilot exports.
TEST_F(ObsPrometheusTest, DashboardAndRulesUseExportedMetricNames) {
  publish("up");
  ApiOptions options;
  ApiServer server(options, store_, clock_, nullptr, nullptr);
  // The daemon's families and the gateway agent's.
  std::string text = server.renderMetrics(store_.current().get()) +
                     agent::renderAgentMetrics(sampleAgent());
  std::set<std::string> exported;
  std::regex type_re(R"(# TYPE (\S+) (\S+))");
  for (std::sregex_iterator it(text.begin(), text.end(), type_re), end; it != end; ++it) {
    exported.insert((*it)[1]);
  }
  auto check = [&](const std::string& file) {
    std::ifstream in(file);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string content = ss.str();
    std::regex name_re(R"(\bpathpilot_[a-z0-9_]+)");
    int found = 0;
    for (std::sregex_iterator it(content.begin(), content.end(), name_re), end; it != end; ++it) {
      std::string name = (*it)[0];
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        std::string s = suffix;
        if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0 &&
            exported.count(name) == 0) {
          name = name.substr(0, name.size() - s.size());
        }
      }
      if (name.rfind("pathpilot_overview", 0) == 0) {
        continue;  // the dashboard uid
      }
      EXPECT_EQ(exported.count(name), 1u) << file << " uses " << name << ", which is not exported";
      ++found;
    }
    EXPECT_GT(found, 5) << file;
  };
  check(kSource + "/examples/grafana/pathpilot.json");
  check(kSource + "/examples/prometheus/rules.yml");
  // And the dashboard is valid JSON with panels that all have targets.
  std::ifstream in(kSource + "/examples/grafana/pathpilot.json");
  json dash = json::parse(in);
  ASSERT_TRUE(dash["panels"].is_array());
  for (const auto& p : dash["panels"]) {
    if (p["type"] != "row") {
      EXPECT_FALSE(p["targets"].empty()) << p["title"];
    }
  }
}

TEST_F(ObsPrometheusTest, RealPrometheusScrapesAndAnswersPromQL) {
  publish("up");
  ApiOptions options;
  options.port = 0;
  options.read_limit = {0, 1};
  ApiServer server(options, store_, clock_, nullptr, nullptr);
  ASSERT_TRUE(server.start());

  TempDir dir;
  int prom_port = obs_testing::freePort();
  obs_testing::writeFile(dir.file("prometheus.yml"),
                         "global:\n"
                         "  scrape_interval: 1s\n"
                         "  evaluation_interval: 1s\n"
                         "rule_files: [\"" + kSource + "/examples/prometheus/rules.yml\"]\n"
                         "scrape_configs:\n"
                         "  - job_name: pathpilot\n"
                         "    static_configs:\n"
                         "      - targets: [\"127.0.0.1:" + std::to_string(server.port()) + "\"]\n");
  Process prom({"prometheus", "--config.file=" + dir.file("prometheus.yml"),
                "--storage.tsdb.path=" + dir.file("data"),
                "--web.listen-address=127.0.0.1:" + std::to_string(prom_port),
                "--log.level=warn"},
               dir.file("prometheus.log"));
  httplib::Client api("127.0.0.1", prom_port);
  api.set_read_timeout(5, 0);
  auto query = [&](const std::string& promql) -> json {
    auto r = api.Get("/api/v1/query", httplib::Params{{"query", promql}}, httplib::Headers{});
    if (!r || r->status != 200) {
      return json();
    }
    auto j = json::parse(r->body, nullptr, false);
    return j.is_discarded() ? json() : j["data"]["result"];
  };
  auto value = [&](const std::string& promql) -> std::optional<double> {
    auto result = query(promql);
    if (!result.is_array() || result.empty()) {
      return std::nullopt;
    }
    return std::stod(result[0]["value"][1].get<std::string>());
  };

  // First scrape lands ~5-6 s after start (lab/README.md).
  ASSERT_TRUE(obs_testing::waitFor(
      [&] { return value(R"(pathpilot_path_state{path="dx",state="up"})") == 1.0; },
      std::chrono::seconds(40)))
      << prom.log();
  EXPECT_EQ(value(R"(up{job="pathpilot"})"), 1.0);
  EXPECT_EQ(value(R"(pathpilot_path_up{path="dx"})"), 1.0);
  EXPECT_EQ(value(R"(pathpilot_route_on_preferred_path{route_table="rtb-4b8f522f"})"), 0.0);
  auto rtt = value(
      R"(histogram_quantile(0.5, pathpilot_path_probe_rtt_seconds_bucket{path="vpn-a"}))");
  ASSERT_TRUE(rtt);
  EXPECT_GT(*rtt, 0.005);
  EXPECT_LT(*rtt, 0.025);

  // The path goes down: Prometheus sees it at the next scrape, and the alert rule fires
  // (pending first: it has `for: 30s`).
  publish("down");
  ASSERT_TRUE(obs_testing::waitFor(
      [&] { return value(R"(pathpilot_path_state{path="dx",state="down"})") == 1.0; },
      std::chrono::seconds(15)));
  EXPECT_EQ(value(R"(pathpilot_path_up{path="dx"})"), 0.0);
  EXPECT_EQ(value(R"(pathpilot_path_transitions_total{path="dx",to="down"})"), 1.0);
  ASSERT_TRUE(obs_testing::waitFor(
      [&] {
        auto r = api.Get("/api/v1/alerts");
        return r && r->body.find("\"PathpilotPathDown\"") != std::string::npos;
      },
      std::chrono::seconds(15)));

  // Every rule loaded and evaluated without error against real pathpilot series.
  auto rules = api.Get("/api/v1/rules");
  ASSERT_TRUE(rules);
  auto groups = json::parse(rules->body)["data"]["groups"];
  int count = 0;
  for (const auto& g : groups) {
    for (const auto& r : g["rules"]) {
      EXPECT_EQ(r["health"], "ok") << r["name"] << ": " << r.value("lastError", "");
      ++count;
    }
  }
  EXPECT_EQ(count, 19);
  server.stop();
}

}  // namespace
}  // namespace pathpilot::api
