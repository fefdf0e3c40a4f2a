// The engine with a real ec2-restart recovery (recovery::Ec2RestartAction → Ec2Client → curl →
// aws::FakeAwsEndpoint on 127.0.0.1, port 0): while the gateway instance is being stopped and
// started, the engine keeps probing, deciding and programming routes; the recovery ends when
// the probes see the gateway again. No threads of our own and no sleeps: route jobs and the
// restart job run on manual executors, and the restart's poll wait is where the test plays the
// probe rounds that happen "meanwhile".
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "aws/credential_providers.h"
#include "aws/ec2.h"
#include "aws/fake_endpoint.h"
#include "aws/query_client.h"
#include "config/loader.h"
#include "daemon/engine.h"
#include "fakes/fake_aws.h"
#include "fakes/fake_clock.h"
#include "fakes/fake_prober.h"
#include "fakes/fake_route_table.h"
#include "fakes/manual_executor.h"
#include "http/curl_http_client.h"
#include "recovery/ec2_restart_action.h"

namespace pathpilot::daemon {
namespace {

using journal::EventKind;
using namespace std::chrono_literals;

constexpr char kInstance[] = "i-0e1466e8a5dd4892c";

constexpr const char* kConfig = R"(
version: 1
site: {name: Lab, region: ap-southeast-1}
probe: {interval: 100ms, timeout: 80ms, jitter: 0}
health: {window: 10, rise: 3, fall: 3, damping: {enabled: false}}
policy: {failback_hold_down: 5s}
paths:
  - name: dx
    kind: dx
    probe: {targets: [10.10.3.100], source: 10.1.0.11}
    next_hop: {via: 10.255.1.2, dev: dx}
  - name: vpn-a
    kind: vpn
    az: ap-southeast-1a
    probe: {targets: [169.254.100.1], source: 10.1.0.12}
    next_hop: {via: 10.255.2.2, dev: gwa}
    recovery:
      action: ec2-restart
      instance_id: i-0e1466e8a5dd4892c
      after: 1s
      timeout: 5m
      backoff: {initial: 5s, max: 1m}
  - name: vpn-b
    kind: vpn
    az: ap-southeast-1b
    probe: {targets: [169.254.200.1], source: 10.1.0.13}
    next_hop: {via: 10.255.3.2, dev: gwb}
route_tables:
  - {id: rtb-a, table: 101, az: ap-southeast-1a, backend: linux, destinations: [10.10.0.0/16]}
  - {id: rtb-b, table: 102, az: ap-southeast-1b, backend: linux, destinations: [10.10.0.0/16]}
journal: {sqlite: "", jsonl: ""}
)";

const IpPrefix kOnPrem = *IpPrefix::parse("10.10.0.0/16");
const route::NextHop kDx = route::NextHop::gateway(*IpAddress::parse("10.255.1.2"), "dx");
const route::NextHop kVpnB = route::NextHop::gateway(*IpAddress::parse("10.255.3.2"), "gwb");

class EngineEc2RestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The fake's server threads time the instance transitions on aws_clock_.
    aws::FakeAwsOptions o;
    o.clock = &aws_clock_;
    o.transition = 10s;
    fake_ = testing::startFakeAws(o, {}, {{kInstance, "running", "ap-southeast-1a"}});
    ASSERT_TRUE(fake_);
    query_ = testing::fakeAwsQueryClient(fake_->url(), http_, creds_, aws_clock_);
    ec2_ = std::make_unique<aws::Ec2Client>(*query_);

    for (const char* id : {"rtb-a", "rtb-b"}) {
      tables_[id] = new testing::FakeRouteTable(id);
      tables_[id]->setRoute(kOnPrem, kDx);
    }
    engine_ = std::make_unique<Engine>(
        io_, clock_, prober_, executor_,
        [this](const config::Config&,
               const config::RouteTableConfig& t) -> Result<std::unique_ptr<route::RouteTable>> {
          return std::unique_ptr<route::RouteTable>(tables_.at(t.id));
        },
        [this](const config::Config&,
               const config::PathConfig& p) -> Result<std::unique_ptr<recovery::RecoveryAction>> {
          recovery::Ec2RestartOptions options;
          options.instance_id = p.recovery->instance_id;
          options.timeout = p.recovery->timeout;
          return std::unique_ptr<recovery::RecoveryAction>(
              std::make_unique<recovery::Ec2RestartAction>(
                  options, *ec2_, recovery_executor_, aws_clock_,
                  [this](Duration d, const runtime::CancelToken& token) {
                    // The restart is waiting for EC2: the engine lives on meanwhile.
                    if (during_wait_) {
                      during_wait_();
                    }
                    aws_clock_.advance(d);
                    return !token.cancelled();
                  }));
        },
        [this](const journal::Event& e) { events_.push_back(e); });
    auto cfg = config::loadString(kConfig, "engine_ec2_restart_test.yaml");
    ASSERT_TRUE(cfg) << cfg.error().message();
    ASSERT_TRUE(engine_->start(std::move(*cfg)));
    settle();
  }

  void settle() {
    for (int i = 0; i < 100 && executor_.runNext(); ++i) {
    }
    engine_->runDue();
    for (int i = 0; i < 100 && executor_.runNext(); ++i) {
    }
  }

  void round(bool dx, bool vpn_a, bool vpn_b) {
    clock_.advance(100ms);
    auto result = [&](const char* path, bool ok) {
      if (ok) {
        prober_.succeedForTest(path, 0, clock_.now(), std::chrono::microseconds(600));
      } else {
        prober_.failForTest(path, 0, clock_.now(), probe::FailureKind::Timeout);
      }
    };
    result("dx", dx);
    result("vpn-a", vpn_a);
    result("vpn-b", vpn_b);
    settle();
  }

  std::vector<const journal::Event*> eventsOf(EventKind kind) const {
    std::vector<const journal::Event*> out;
    for (const auto& e : events_) {
      if (e.kind == kind) {
        out.push_back(&e);
      }
    }
    return out;
  }

  std::uint64_t calls(const std::string& action) { return fake_->stats().actions[action]; }

  testing::SharedClock aws_clock_;
  std::unique_ptr<aws::FakeAwsEndpoint> fake_;
  http::CurlHttpClient http_;
  aws::StaticCredentialsProvider creds_{
      aws::Credentials(testing::kAwsKeyId, testing::kAwsSecret, "")};
  std::unique_ptr<aws::QueryClient> query_;
  std::unique_ptr<aws::Ec2Client> ec2_;

  asio::io_context io_;
  testing::FakeClock clock_;
  probe::FakeProber prober_;
  testing::ManualExecutor executor_;           // route jobs
  testing::ManualExecutor recovery_executor_;  // the restart job
  std::map<std::string, testing::FakeRouteTable*> tables_;  // owned by the engine
  std::unique_ptr<Engine> engine_;
  std::vector<journal::Event> events_;
  std::function<void()> during_wait_;
};

TEST_F(EngineEc2RestartTest, ProbingAndRoutingGoOnWhileTheGatewayIsRestarted) {
  for (int i = 0; i < 3; ++i) {
    round(true, true, true);
  }
  // vpn-a's tunnel dies; after `after` (1 s) Down, the engine starts ec2-restart.
  for (int i = 0; i < 30 && recovery_executor_.pending() == 0; ++i) {
    round(true, false, true);
  }
  ASSERT_EQ(recovery_executor_.lanes(), (std::vector<std::string>{"recovery vpn-a"}));
  ASSERT_EQ(eventsOf(EventKind::RecoveryStarted).size(), 1u);
  EXPECT_EQ(calls("DescribeInstances"), 0u) << "nothing blocking ran on the engine's turn";

  // While the restart waits for EC2, DX fails too: both tables must move to vpn-b at once.
  int rounds_during_restart = 0;
  // The events journalled while EC2 did not report the instance running yet: the action's own
  // success is no event (only the probes' confirmation is), so the fake's instance state marks
  // when the restart was over.
  std::size_t events_before_running = 0;
  during_wait_ = [&] {
    if (rounds_during_restart == 0) {
      EXPECT_EQ(fake_->instanceState(kInstance)->name, "stopping");
    }
    for (int i = 0; i < 3; ++i, ++rounds_during_restart) {
      round(false, false, true);
    }
    if (fake_->instanceState(kInstance)->name != "running") {
      events_before_running = events_.size();
    }
  };
  ASSERT_TRUE(recovery_executor_.runNext());  // the whole stop/start, with rounds in between
  during_wait_ = nullptr;
  settle();  // the action's completion reaches the manager on the engine's turn

  EXPECT_EQ(rounds_during_restart, 12);  // 4 waits (10 s stop + 10 s start at 5 s polls)
  // What happened while the restart ran, in order: DX found down and both tables moved, all
  // before EC2 reported the instance running.
  auto index = [&](EventKind kind, const std::string& path_or_table) {
    for (std::size_t i = 0; i < events_.size(); ++i) {
      if (events_[i].kind == kind &&
          (events_[i].path == path_or_table || events_[i].route_table == path_or_table)) {
        return static_cast<int>(i);
      }
    }
    return -1;
  };
  const int restarted = static_cast<int>(events_before_running);
  ASSERT_GT(restarted, 0);
  EXPECT_GE(index(EventKind::PathDown, "dx"), 0);
  EXPECT_LT(index(EventKind::PathDown, "dx"), restarted);
  EXPECT_GE(index(EventKind::RouteChanged, "rtb-a"), 0);
  EXPECT_LT(index(EventKind::RouteChanged, "rtb-a"), restarted);
  EXPECT_LT(index(EventKind::RouteChanged, "rtb-b"), restarted);
  EXPECT_EQ(tables_["rtb-a"]->routeFor(kOnPrem), kVpnB);
  EXPECT_EQ(tables_["rtb-b"]->routeFor(kOnPrem), kVpnB);
  EXPECT_EQ(calls("StopInstances"), 1u);
  EXPECT_EQ(calls("StartInstances"), 1u);
  EXPECT_EQ(fake_->instanceState(kInstance)->name, "running");
  // EC2 says running, but the tunnel is not back yet: no terminal event, the manager waits
  // for the probes (settling), and the status says so.
  EXPECT_TRUE(eventsOf(EventKind::RecoverySucceeded).empty());
  EXPECT_TRUE(eventsOf(EventKind::RecoveryFailed).empty());
  auto recovery = engine_->statusJson()["paths"][1]["recovery"];
  EXPECT_EQ(recovery["phase"], "settling") << recovery.dump();
  EXPECT_NE(recovery.value("detail", "").find("the ec2-restart action finished (attempt 1"),
            std::string::npos)
      << recovery.dump();

  // The tunnel comes back: the probes confirm the recovery — its one recovery_succeeded.
  for (int i = 0; i < 3; ++i) {
    round(false, true, true);
  }
  auto succeeded = eventsOf(EventKind::RecoverySucceeded);
  ASSERT_EQ(succeeded.size(), 1u);
  EXPECT_NE(succeeded[0]->message.find("the gateway came back"), std::string::npos)
      << succeeded[0]->message;
  EXPECT_NE(succeeded[0]->message.find("ec2-restart, attempt 1"), std::string::npos)
      << succeeded[0]->message;
  EXPECT_EQ(succeeded[0]->path, "vpn-a");
  EXPECT_EQ(eventsOf(EventKind::RecoveryStarted).size(), 1u);
  EXPECT_TRUE(eventsOf(EventKind::RecoveryFailed).empty());
  EXPECT_EQ(engine_->statusJson()["paths"][1]["recovery"]["phase"], "idle");
}

}  // namespace
}  // namespace pathpilot::daemon
