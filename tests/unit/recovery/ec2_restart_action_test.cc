// recovery::Ec2RestartAction against the real fake AWS endpoint (aws::FakeAwsEndpoint on
// 127.0.0.1, port 0, verifying every SigV4 signature), through the real QueryClient, curl and
// Ec2Client. Time is a shared atomic test clock that the fake's stop/start transitions read;
// the action's poll wait advances it instead of sleeping, so every test is deterministic.
#include "recovery/ec2_restart_action.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "aws/credential_providers.h"
#include "aws/ec2.h"
#include "aws/fake_endpoint.h"
#include "fakes/fake_aws.h"
#include "fakes/manual_executor.h"
#include "http/curl_http_client.h"

namespace pathpilot::recovery {
namespace {

using namespace std::chrono_literals;

constexpr char kInstance[] = "i-0e1466e8a5dd4892c";
constexpr char kToken[] = "session-token-value";

// Lets a test act just before a given EC2 action is sent (inject a fault for exactly that
// call, change the instance behind the action's back), then sends it for real.
class HookedHttp final : public http::HttpClient {
 public:
  Result<http::Response> send(const http::Request& request) override {
    for (auto& [action, hook] : hooks) {
      if (request.body.find("Action=" + action + "&") != std::string::npos && hook) {
        auto h = std::move(hook);
        hook = nullptr;  // once
        h();
      }
    }
    return real.send(request);
  }
  std::vector<std::pair<std::string, std::function<void()>>> hooks;
  http::CurlHttpClient real;
};

class Ec2RestartActionTest : public ::testing::Test {
 protected:
  void SetUp() override { startFake(10s); }

  void startFake(Duration transition, const std::string& state = "running") {
    aws::FakeAwsOptions o;
    o.clock = &clock_;
    o.transition = transition;
    fake_ = testing::startFakeAws(o, {}, {{kInstance, state, "ap-southeast-1a"}});
    ASSERT_TRUE(fake_);
    query_ = testing::fakeAwsQueryClient(fake_->url(), http_, creds_, clock_);
    ec2_ = std::make_unique<aws::Ec2Client>(*query_);
  }

  Ec2RestartOptions options(Duration timeout = 5min) {
    Ec2RestartOptions o;
    o.instance_id = kInstance;
    o.timeout = timeout;
    o.poll_interval = 5s;
    return o;
  }

  // The wait the action uses: records, lets the test act, moves the clock.
  CancellableWait waitHook() {
    return [this](Duration d, const runtime::CancelToken& token) {
      waits_.push_back(d);
      if (on_wait_) {
        on_wait_(static_cast<int>(waits_.size()));
      }
      clock_.advance(d);
      return !token.cancelled();
    };
  }

  ActionOutcome run(const Ec2RestartOptions& o) {
    return runEc2Restart(o, *ec2_, clock_, wait_, token_);
  }

  std::uint64_t calls(const std::string& action) { return fake_->stats().actions[action]; }
  std::string state() { return fake_->instanceState(kInstance)->name; }

  testing::SharedClock clock_;
  std::unique_ptr<aws::FakeAwsEndpoint> fake_;
  HookedHttp http_;
  aws::StaticCredentialsProvider creds_{aws::Credentials(testing::kAwsKeyId, testing::kAwsSecret, kToken)};
  std::unique_ptr<aws::QueryClient> query_;
  std::unique_ptr<aws::Ec2Client> ec2_;
  std::vector<Duration> waits_;
  std::function<void(int)> on_wait_;
  CancellableWait wait_ = waitHook();
  runtime::CancelToken token_;
};

TEST_F(Ec2RestartActionTest, StopsWaitsStartsAndWaitsForRunning) {
  ActionOutcome out = run(options());
  EXPECT_TRUE(out.success) << out.reason;
  EXPECT_FALSE(out.timed_out);
  EXPECT_EQ(out.reason, "");
  EXPECT_EQ(state(), "running");
  EXPECT_EQ(calls("StopInstances"), 1u);
  EXPECT_EQ(calls("StartInstances"), 1u);
  // 10 s to stop and 10 s to start, polled every 5 s: two waits each.
  EXPECT_EQ(waits_, (std::vector<Duration>{5s, 5s, 5s, 5s}));
  EXPECT_EQ(out.elapsed, 20s);
  EXPECT_EQ(calls("DescribeInstances"), 5u);  // the first look, then one per wait
}

TEST_F(Ec2RestartActionTest, AlreadyStoppedInstanceIsOnlyStarted) {
  startFake(10s, "stopped");
  ActionOutcome out = run(options());
  EXPECT_TRUE(out.success) << out.reason;
  EXPECT_EQ(calls("StopInstances"), 0u);
  EXPECT_EQ(calls("StartInstances"), 1u);
  EXPECT_EQ(state(), "running");
}

TEST_F(Ec2RestartActionTest, StoppingInstanceIsNotStoppedAgain) {
  startFake(10s, "stopping");
  ActionOutcome out = run(options());
  EXPECT_TRUE(out.success) << out.reason;
  EXPECT_EQ(calls("StopInstances"), 0u);
  EXPECT_EQ(calls("StartInstances"), 1u);
}

TEST_F(Ec2RestartActionTest, PendingInstanceIsWaitedForNotStopped) {
  startFake(10s, "pending");
  ActionOutcome out = run(options());
  EXPECT_TRUE(out.success) << out.reason;
  EXPECT_EQ(calls("StopInstances"), 0u);
  EXPECT_EQ(calls("StartInstances"), 0u);
  EXPECT_EQ(state(), "running");
}

TEST_F(Ec2RestartActionTest, StopFailureNamesTheAwsErrorAndNoSecret) {
  http_.hooks.emplace_back("StopInstances",
                           [this] { fake_->injectNext(aws::FakeAwsFault::ExpiredToken); });
  ActionOutcome out = run(options());
  EXPECT_FALSE(out.success);
  EXPECT_FALSE(out.timed_out);
  EXPECT_NE(out.reason.find("ec2-restart i-0e1466e8a5dd4892c: StopInstances failed"),
            std::string::npos)
      << out.reason;
  EXPECT_NE(out.reason.find("ExpiredToken"), std::string::npos) << out.reason;
  EXPECT_EQ(out.reason.find(testing::kAwsSecret), std::string::npos);
  EXPECT_EQ(out.reason.find(kToken), std::string::npos);
  EXPECT_EQ(state(), "running");  // nothing was changed
  EXPECT_EQ(calls("StartInstances"), 0u);
}

TEST_F(Ec2RestartActionTest, ThrottledCallsAreRetriedByTheClient) {
  http_.hooks.emplace_back("StopInstances",
                           [this] { fake_->injectNext(aws::FakeAwsFault::Throttle, 2); });
  ActionOutcome out = run(options());
  EXPECT_TRUE(out.success) << out.reason;
  EXPECT_EQ(state(), "running");
}

TEST_F(Ec2RestartActionTest, IncorrectInstanceStateContinuesFromTheNewState) {
  // Between our Describe ("running") and our StopInstances, someone else starts a stop/start
  // cycle: the instance is now "pending", so EC2 refuses the stop.
  http_.hooks.emplace_back("StopInstances",
                           [this] { fake_->addInstance(kInstance, "pending", "ap-southeast-1a"); });
  ActionOutcome out = run(options());
  EXPECT_TRUE(out.success) << out.reason;
  EXPECT_EQ(calls("StartInstances"), 0u);
  EXPECT_EQ(state(), "running");
}

TEST_F(Ec2RestartActionTest, InstanceStartedBySomeoneElseWhileWeWaitIsNotStartedAgain) {
  // Our stop completes at 10 s; right then an operator starts it (state pending).
  on_wait_ = [this](int n) {
    if (n == 2) {
      clock_.advance(5s);
      ASSERT_EQ(state(), "stopped");
      fake_->addInstance(kInstance, "pending", "ap-southeast-1a");
      clock_.advance(-5s);
    }
  };
  ActionOutcome out = run(options());
  EXPECT_TRUE(out.success) << out.reason;
  EXPECT_EQ(calls("StartInstances"), 0u);
  EXPECT_EQ(state(), "running");
}

TEST_F(Ec2RestartActionTest, TimesOutWhileStoppingAndSaysWhere) {
  startFake(10min);  // a stop that takes longer than the attempt may
  ActionOutcome out = run(options(1min));
  EXPECT_FALSE(out.success);
  EXPECT_TRUE(out.timed_out);
  EXPECT_EQ(out.elapsed, 1min);
  EXPECT_NE(out.reason.find("timed out after 1m waiting for the instance to stop (last state "
                            "stopping"),
            std::string::npos)
      << out.reason;
  EXPECT_EQ(calls("StartInstances"), 0u);
}

TEST_F(Ec2RestartActionTest, LastWaitIsCutToTheDeadline) {
  startFake(10min);
  Ec2RestartOptions o = options(12s);
  ActionOutcome out = run(o);
  EXPECT_TRUE(out.timed_out);
  EXPECT_EQ(waits_, (std::vector<Duration>{5s, 5s, 2s}));
}

TEST_F(Ec2RestartActionTest, CancelWhileStoppingEndsAtOnceAndSaysTheInstanceStaysStopped) {
  on_wait_ = [this](int n) {
    if (n == 1) {
      token_.cancel();
    }
  };
  ActionOutcome out = run(options());
  EXPECT_TRUE(out.cancelled);
  EXPECT_FALSE(out.success);
  EXPECT_EQ(waits_.size(), 1u);
  EXPECT_NE(out.reason.find("cancelled while the instance was stopping"), std::string::npos)
      << out.reason;
  EXPECT_EQ(calls("StartInstances"), 0u);  // EC2 would refuse it while stopping
}

TEST_F(Ec2RestartActionTest, CancelOnceStoppedStillStartsTheInstance) {
  startFake(10s, "stopped");
  // Stopped by someone else: a cancel before our start leaves it as it was.
  token_.cancel();
  ActionOutcome out = run(options());
  EXPECT_TRUE(out.cancelled);
  EXPECT_EQ(calls("StartInstances"), 0u);
  EXPECT_EQ(state(), "stopped");
}

TEST_F(Ec2RestartActionTest, CancelAfterOurStopCompletedSendsStart) {
  // An instant transition: StopInstances already answers "stopped". The cancel arrives while
  // the stop is on the wire, so the action stopped the instance and must not leave it off.
  startFake(0s);
  http_.hooks.emplace_back("StopInstances", [this] { token_.cancel(); });
  ActionOutcome out = run(options());
  EXPECT_TRUE(out.cancelled);
  EXPECT_EQ(calls("StopInstances"), 1u);
  EXPECT_EQ(calls("StartInstances"), 1u) << out.reason;
  EXPECT_NE(out.reason.find("StartInstances sent"), std::string::npos) << out.reason;
  EXPECT_NE(state(), "stopped");
}

TEST_F(Ec2RestartActionTest, UnknownInstanceFailsAtOnce) {
  Ec2RestartOptions o = options();
  o.instance_id = "i-0000000000000dead";
  ActionOutcome out = run(o);
  EXPECT_FALSE(out.success);
  EXPECT_NE(out.reason.find("does not exist"), std::string::npos) << out.reason;
  EXPECT_TRUE(waits_.empty());
}

// (A separate test: replacing a fake that curl holds a kept-alive connection to makes the
// server's shutdown wait for its keep-alive timeout.)
TEST_F(Ec2RestartActionTest, TerminatedInstanceFailsAtOnce) {
  startFake(10s, "terminated");
  ActionOutcome out = run(options());
  EXPECT_FALSE(out.success);
  EXPECT_NE(out.reason.find("cannot restart: the instance is terminated"), std::string::npos)
      << out.reason;
}

// The action as the recovery manager uses it: start() returns at once, the work runs as an
// executor job, the outcome comes back through the completion.
TEST_F(Ec2RestartActionTest, RunsOnTheExecutorAndReportsThroughTheCallback) {
  testing::ManualExecutor executor;
  Ec2RestartAction action(options(), *ec2_, executor, clock_, waitHook());
  std::vector<ActionOutcome> outcomes;
  action.start(RecoveryContext{"vpn-a", 1, 40s}, [&](ActionOutcome o) { outcomes.push_back(o); });
  EXPECT_TRUE(action.running());
  EXPECT_EQ(executor.lanes(), (std::vector<std::string>{"recovery vpn-a"}));
  EXPECT_EQ(calls("DescribeInstances"), 0u);  // nothing happened on the caller's thread
  ASSERT_TRUE(executor.runNext());
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_TRUE(outcomes[0].success) << outcomes[0].reason;
  EXPECT_FALSE(action.running());
  EXPECT_EQ(action.kind(), "ec2-restart");
}

TEST_F(Ec2RestartActionTest, CancelThroughTheActionInterruptsTheWait) {
  testing::ManualExecutor executor;
  Ec2RestartAction action(options(), *ec2_, executor, clock_, waitHook());
  std::vector<ActionOutcome> outcomes;
  action.start(RecoveryContext{"vpn-a", 1, 40s}, [&](ActionOutcome o) { outcomes.push_back(o); });
  on_wait_ = [&](int) { action.cancel(); };
  ASSERT_TRUE(executor.runNext());
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_TRUE(outcomes[0].cancelled);
  EXPECT_EQ(waits_.size(), 1u);
}

TEST(Ec2RestartOptionsTest, ValidateNamesTheField) {
  Ec2RestartOptions o;
  EXPECT_NE(o.validate().error().message().find("instance_id"), std::string::npos);
  o.instance_id = kInstance;
  o.poll_interval = 0s;
  EXPECT_NE(o.validate().error().message().find("poll_interval"), std::string::npos);
}

TEST(WaitUnlessCancelledTest, ReturnsAtOnceWhenCancelled) {
  runtime::CancelToken token;
  token.cancel();
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(waitUnlessCancelled(1h, token));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
}

}  // namespace
}  // namespace pathpilot::recovery
