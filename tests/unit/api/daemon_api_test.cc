#include "api/daemon_api.h"

#include <httplib.h>
#include <sys/stat.h>

#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "config/loader.h"
#include "fakes/fake_prober.h"
#include "sample_status.h"
#include "test_util.h"

namespace pathpilot::api {
namespace {

constexpr const char* kToken = "0123456789abcdef0123456789abcdef";

class DaemonApiTest : public ::testing::Test {
 protected:
  DaemonApiTest() {
    DaemonApiOptions options;
    options.server.read_limit = {0, 1};
    options.publish_interval = std::chrono::milliseconds(20);
    api_ = std::make_unique<DaemonApi>(io_, clock_, options);
    settings_.port = 0;
    settings_.read_limit = {0, 1};  // api.rate_limit.read_per_second: 0 (unlimited)
    settings_.auth_token = config::SecretRef{config::SecretRef::Source::Inline, kToken};
    sources_.status = [this] {
      ++status_calls_;
      return testing::sampleStatus(dx_state_);
    };
    sources_.counters = [](SnapshotInputs& in) {
      in.module_families = {metrics::counterFamily("pathpilot_probe_sent_total", "Sent.", 5)};
    };
    sources_.control = [this](ControlAction action, const std::string& path) -> Result<std::string> {
      control_thread_ = std::this_thread::get_id();
      dx_state_ = action == ControlAction::Drain ? "down" : "up";
      return std::string(path + " done");
    };
  }
  ~DaemonApiTest() override { stopLoop(); }

  void runLoop() {
    loop_ = std::thread([this] { io_.run(); });
  }
  void stopLoop() {
    if (loop_.joinable()) {
      asio::post(io_, [this] { api_->stop(); });
      work_.reset();
      io_.stop();
      loop_.join();
    }
    api_->stop();
  }

  RealClock clock_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::unique_ptr<DaemonApi> api_;
  config::ApiSettings settings_;
  DaemonApiSources sources_;
  std::string dx_state_ = "up";
  std::atomic<int> status_calls_{0};
  std::thread::id control_thread_;
  std::thread loop_;
};

TEST_F(DaemonApiTest, TapFeedsTheRecorderAndForwardsToTheEngine) {
  probe::FakeProber fake;
  probe::Prober& tapped = api_->tap(fake);
  std::vector<std::string> engine_saw;
  tapped.setSink([&](const probe::ProbeResult& r) { engine_saw.push_back(r.path); });
  ASSERT_TRUE(api_->start(settings_, sources_, nullptr));
  probe::ProbeResult r;
  r.path = "dx";
  r.success = true;
  r.rtt = std::chrono::milliseconds(3);
  fake.emitForTest(r);
  r.success = false;
  fake.emitForTest(r);
  EXPECT_EQ(engine_saw, (std::vector<std::string>{"dx", "dx"}));
  EXPECT_EQ(tapped.counters().sent, 2u);
  api_->publishNow();
  auto snap = api_->store().current();
  ASSERT_NE(snap, nullptr);
  EXPECT_EQ(snap->metrics.paths[0].totals.sent, 2u);
  EXPECT_EQ(snap->metrics.paths[0].totals.lost, 1u);
  ASSERT_EQ(snap->metrics.module_families.size(), 1u);
  EXPECT_DOUBLE_EQ(snap->metrics.module_families[0].samples.at(0).value, 5);
}

TEST_F(DaemonApiTest, ServesSnapshotsAndRunsDrainOnTheLoop) {
  ASSERT_TRUE(api_->start(settings_, sources_, nullptr));
  ASSERT_TRUE(api_->port());
  runLoop();
  httplib::Client client("127.0.0.1", *api_->port());
  auto r = client.Get("/api/v1/status");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(nlohmann::json::parse(r->body)["paths"][0]["state"], "up");
  r = client.Post("/api/v1/paths/dx/drain", {{"Authorization", std::string("Bearer ") + kToken}},
                  "", "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(control_thread_, loop_.get_id());
  // A snapshot is published right after the drain: the next read already shows it.
  r = client.Get("/api/v1/status");
  EXPECT_EQ(nlohmann::json::parse(r->body)["paths"][0]["state"], "down");
  r = client.Get("/metrics");
  EXPECT_NE(r->body.find("pathpilot_engine_loop_lag_seconds_bucket"), std::string::npos);
}

TEST_F(DaemonApiTest, PeriodicPublishingMeasuresLoopLag) {
  ASSERT_TRUE(api_->start(settings_, sources_, nullptr));
  runLoop();
  // Wait (bounded) until the 20 ms publish timer has fired a few times.
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::shared_ptr<const Snapshot> snap;
  while (std::chrono::steady_clock::now() < until) {
    snap = api_->store().current();
    if (snap && snap->metrics.loop_lag.count() >= 3) {
      break;
    }
    std::this_thread::yield();
  }
  ASSERT_NE(snap, nullptr);
  EXPECT_GE(snap->metrics.loop_lag.count(), 3u);
  EXPECT_GE(status_calls_.load(), 4);
}

TEST_F(DaemonApiTest, EventsTriggerAPromptSnapshot) {
  ASSERT_TRUE(api_->start(settings_, sources_, nullptr));
  auto first = api_->store().current()->generation;
  auto e = journal::makeEvent(journal::EventKind::PathDown, clock_.wallNow(), "Singapore");
  e.path = "dx";
  e.to = "down";
  asio::post(io_, [&] { api_->onEvent(e); });
  runLoop();
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < until &&
         api_->store().current()->generation == first) {
    std::this_thread::yield();
  }
  auto snap = api_->store().current();
  EXPECT_GT(snap->generation, first);
  EXPECT_EQ(snap->metrics.paths[0].totals.transitions[3], 1u);
}

// api.rate_limit reaches the server; PATHPILOT_API_READ_RATE overrides only the read rate.
TEST(ApiOptionsFromConfigTest, RateLimitsComeFromTheConfigAndTheEnvOverride) {
  config::ApiSettings settings;
  settings.read_limit = {50, 80};
  settings.write_limit = {0.5, 3};
  ::unsetenv("PATHPILOT_API_READ_RATE");
  auto options = apiOptionsFromConfig(settings);
  ASSERT_TRUE(options) << options.error().toString();
  EXPECT_EQ(options->read_limit.per_second, 50);
  EXPECT_EQ(options->read_limit.burst, 80);
  EXPECT_EQ(options->write_limit.per_second, 0.5);
  EXPECT_EQ(options->write_limit.burst, 3);

  ::setenv("PATHPILOT_API_READ_RATE", "0", 1);
  options = apiOptionsFromConfig(settings);
  ASSERT_TRUE(options);
  EXPECT_EQ(options->read_limit.per_second, 0);  // unlimited for this run
  EXPECT_EQ(options->write_limit.per_second, 0.5);

  ::setenv("PATHPILOT_API_READ_RATE", "fast", 1);
  options = apiOptionsFromConfig(settings);
  ::unsetenv("PATHPILOT_API_READ_RATE");
  ASSERT_FALSE(options);
  EXPECT_NE(options.error().message().find("PATHPILOT_API_READ_RATE"), std::string::npos);
}

// api.max_connections_per_client, max_queued_per_client, request_timeout and response_timeout:
// decoded, bounded
// (the cap stays below the 4 workers) and passed to the server.
TEST(ApiOptionsFromConfigTest, ConnectionLimitsAndBudgets) {
  const std::string base =
      "site: {name: Test, region: ap-southeast-1}\n"
      "paths:\n"
      "  - {name: dx, kind: dx, probe: {targets: [10.10.3.100], fwmark: 100},\n"
      "     next_hop: {gateway_id: vgw-078bcc55}}\n"
      "  - {name: vpn-a, kind: vpn, az: ap-southeast-1a,\n"
      "     probe: {targets: [169.254.100.1], fwmark: 101},\n"
      "     next_hop: {instance_id: i-0e1466e8a5dd4892c}}\n"
      "route_tables:\n"
      "  - {id: rtb-468f5222, az: ap-southeast-1a, destinations: [10.10.0.0/16]}\n";
  ::unsetenv("PATHPILOT_API_READ_RATE");
  auto defaults = config::checkString(base + "api: {}\n");
  ASSERT_TRUE(defaults.ok()) << defaults.format();
  auto options = apiOptionsFromConfig(*defaults.config->api);
  ASSERT_TRUE(options);
  EXPECT_EQ(options->max_connections_per_client, 3u);
  EXPECT_LT(options->max_connections_per_client, options->threads);
  EXPECT_EQ(options->max_queued_per_client, 12u);
  EXPECT_EQ(options->request_timeout, std::chrono::seconds(10));
  EXPECT_EQ(options->response_timeout, std::chrono::seconds(10));

  auto set = config::checkString(
      base +
      "api: {max_connections_per_client: 1, max_queued_per_client: 0, request_timeout: 3s,\n"
      "      response_timeout: 2s}\n");
  ASSERT_TRUE(set.ok()) << set.format();
  options = apiOptionsFromConfig(*set.config->api);
  ASSERT_TRUE(options);
  EXPECT_EQ(options->max_connections_per_client, 1u);
  EXPECT_EQ(options->max_queued_per_client, 0u);
  EXPECT_EQ(options->request_timeout, std::chrono::seconds(3));
  EXPECT_EQ(options->response_timeout, std::chrono::seconds(2));

  for (const char* bad : {"max_connections_per_client: 4", "max_connections_per_client: 0",
                          "max_queued_per_client: 65", "max_queued_per_client: -1",
                          "request_timeout: 500ms", "response_timeout: 2m"}) {
    auto report = config::checkString(base + "api: {" + bad + "}\n");
    EXPECT_FALSE(report.ok()) << bad;
    EXPECT_NE(report.format().find(std::string("api.") + std::string(bad).substr(
                                                           0, std::string(bad).find(':'))),
              std::string::npos)
        << report.format();
  }
}

TEST_F(DaemonApiTest, BadTokenFileStopsTheStart) {
  testing::TempDir dir;
  std::string path = dir.file("token");
  {
    std::ofstream out(path);
    out << kToken;
  }
  ::chmod(path.c_str(), 0644);
  settings_.auth_token = config::SecretRef{config::SecretRef::Source::File, path};
  auto r = api_->start(settings_, sources_, nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::PermissionDenied);
  EXPECT_NE(r.error().message().find("chmod 600"), std::string::npos);
  EXPECT_FALSE(api_->port());
}

TEST_F(DaemonApiTest, PortInUseStopsTheStart) {
  ASSERT_TRUE(api_->start(settings_, sources_, nullptr));
  DaemonApi second(io_, clock_);
  config::ApiSettings same = settings_;
  same.port = *api_->port();
  auto r = second.start(same, sources_, nullptr);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("cannot listen on 127.0.0.1:"), std::string::npos);
}

}  // namespace
}  // namespace pathpilot::api
