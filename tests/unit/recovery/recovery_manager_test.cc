#include "recovery/recovery_manager.h"

#include <gtest/gtest.h>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <fstream>
#include <sstream>

#include "fakes/fake_clock.h"
#include "runtime/executor.h"
#include "runtime/process_runner.h"

namespace pathpilot::recovery {
namespace {

using health::PathState;
using pathpilot::testing::FakeClock;
using std::chrono::milliseconds;

// An action the test finishes by hand.
class FakeAction final : public RecoveryAction {
 public:
  std::string_view kind() const override { return "fake"; }
  void start(const RecoveryContext& context, std::function<void(ActionOutcome)> done) override {
    ASSERT_FALSE(done_) << "started while running";
    contexts.push_back(context);
    done_ = std::move(done);
  }
  void cancel() override {
    ++cancels;
    if (external_cancels != nullptr) {
      ++*external_cancels;
    }
  }

  bool running() const { return static_cast<bool>(done_); }
  void finish(ActionOutcome outcome) {
    auto done = std::move(done_);
    done_ = nullptr;
    done(outcome);
  }

  std::vector<RecoveryContext> contexts;
  int cancels = 0;
  int* external_cancels = nullptr;  // survives the action (for tests that destroy it)

 private:
  std::function<void(ActionOutcome)> done_;
};

RecoveryPolicy policy() {
  RecoveryPolicy p;
  p.after = seconds(30);
  p.backoff_initial = seconds(10);
  p.backoff_max = minutes(5);
  p.max_attempts_per_hour = 2;
  p.settle = seconds(60);
  return p;
}

class RecoveryManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RecoveryCallbacks callbacks;
    callbacks.started = [this](const RecoveryEvent& e) { record("started", e); };
    callbacks.succeeded = [this](const RecoveryEvent& e) { record("succeeded", e); };
    callbacks.failed = [this](const RecoveryEvent& e) { record("failed", e); };
    callbacks.cancelled = [this](const RecoveryEvent& e) { record("cancelled", e); };
    callbacks.confirmed = [this](const RecoveryEvent& e) { record("confirmed", e); };
    callbacks.wakeup = [this](MonoTime when) { wakeup = when; };
    manager = std::make_unique<RecoveryManager>(clock, callbacks);
    auto a = std::make_unique<FakeAction>();
    action_a = a.get();
    ASSERT_TRUE(manager->addGateway("vpn-a", policy(), std::move(a)));
    auto b = std::make_unique<FakeAction>();
    action_b = b.get();
    ASSERT_TRUE(manager->addGateway("vpn-b", policy(), std::move(b)));
  }

  void record(const std::string& kind, const RecoveryEvent& e) {
    kinds.push_back(kind + " " + e.gateway);
    events.push_back(e);
  }

  void advanceToWakeup() {
    ASSERT_NE(wakeup, MonoTime::max());
    clock.advance(wakeup - clock.now());
    manager->poll(clock.now());
  }

  FakeClock clock;
  std::unique_ptr<RecoveryManager> manager;
  FakeAction* action_a = nullptr;
  FakeAction* action_b = nullptr;
  std::vector<std::string> kinds;
  std::vector<RecoveryEvent> events;
  MonoTime wakeup = MonoTime::max();
};

TEST_F(RecoveryManagerTest, StartsAfterDownForAfterAndReportsSuccess) {
  manager->onGatewayState("vpn-a", PathState::Down, clock.now());
  EXPECT_EQ(wakeup, clock.now() + seconds(30));
  EXPECT_FALSE(action_a->running());
  advanceToWakeup();
  ASSERT_TRUE(action_a->running());
  EXPECT_EQ(action_a->contexts[0].gateway, "vpn-a");
  EXPECT_EQ(action_a->contexts[0].attempt, 1);
  EXPECT_EQ(action_a->contexts[0].down_for, seconds(30));
  EXPECT_FALSE(action_b->running()) << "only the dead gateway is touched";
  clock.advance(seconds(45));
  action_a->finish(ActionOutcome{true, false, false, 0, "", "", seconds(45)});
  EXPECT_EQ(kinds, (std::vector<std::string>{"started vpn-a", "succeeded vpn-a"}));
  EXPECT_EQ(events[1].elapsed, seconds(45));
  EXPECT_EQ(events[1].action, "fake");
  auto status = manager->snapshot(clock.now());
  EXPECT_EQ(status[0].phase, RecoveryPhase::Settling);
  // The probes see it come back: nothing more happens.
  manager->onGatewayState("vpn-a", PathState::Up, clock.now());
  EXPECT_EQ(wakeup, MonoTime::max());
}

// ec2-restart ends when EC2 says "running"; the recovery ends when the probes agree.
TEST_F(RecoveryManagerTest, ProbesSeeingTheGatewayBackConfirmTheRecovery) {
  manager->onGatewayState("vpn-a", PathState::Down, clock.now());
  advanceToWakeup();
  clock.advance(seconds(45));
  action_a->finish(ActionOutcome{true, false, false, std::nullopt, "", "", seconds(45)});
  clock.advance(seconds(5));
  // Meanwhile the status says what is going on: the action is done, the probes have to agree.
  auto settling = manager->snapshot(clock.now())[0];
  EXPECT_EQ(settling.phase, RecoveryPhase::Settling);
  EXPECT_EQ(settling.detail,
            "the fake action finished (attempt 1, took 45.0s) 5.0s ago; waiting for the probes "
            "to see the gateway back");
  clock.advance(seconds(15));  // strongSwan boots, the tunnel comes up, rise rounds pass
  manager->onGatewayState("vpn-a", PathState::Up, clock.now());
  EXPECT_EQ(kinds,
            (std::vector<std::string>{"started vpn-a", "succeeded vpn-a", "confirmed vpn-a"}));
  EXPECT_EQ(events[2].elapsed, seconds(65));  // from the start of the attempt
  // The daemon journals only this event as the recovery's success, so it carries the facts of
  // the action, too: how long it ran, how long the probes then took.
  EXPECT_TRUE(events[2].action_finished);
  EXPECT_EQ(events[2].action_elapsed, seconds(45));
  EXPECT_EQ(events[2].confirmed_after, seconds(20));
  EXPECT_EQ(events[2].action, "fake");
  EXPECT_EQ(events[2].attempt, 1);
  EXPECT_NE(events[2].reason.find("probes see the gateway up again"), std::string::npos)
      << events[2].reason;
  EXPECT_EQ(manager->snapshot(clock.now())[0].phase, RecoveryPhase::Idle);
  EXPECT_EQ(manager->snapshot(clock.now())[0].detail, "");
}

TEST_F(RecoveryManagerTest, ProbesNotSeeingTheGatewayBackIsAFailureBeforeTheNextAttempt) {
  manager->onGatewayState("vpn-a", PathState::Down, clock.now());
  advanceToWakeup();
  action_a->finish(ActionOutcome{true, false, false, std::nullopt, "", "", seconds(45)});
  advanceToWakeup();  // settle (60 s) passes, still Down
  ASSERT_EQ(kinds, (std::vector<std::string>{"started vpn-a", "succeeded vpn-a", "failed vpn-a",
                                             "started vpn-a"}));
  EXPECT_EQ(events[2].reason,
            "the fake action finished but the probes did not see vpn-a come back within 1m");
  EXPECT_EQ(events[2].attempt, 1);
  EXPECT_EQ(events[3].attempt, 2);
  EXPECT_EQ(manager->snapshot(clock.now())[0].last_failure, events[2].reason);
}

TEST_F(RecoveryManagerTest, FailureCarriesTheReasonAndTheNextAttempt) {
  manager->onGatewayState("vpn-a", PathState::Down, clock.now());
  advanceToWakeup();
  ActionOutcome outcome;
  outcome.exit_code = 3;
  outcome.stderr_tail = "instance i-0e1466e8a5dd4892c is locked\n";
  outcome.reason = "command \"restart-gw\" exited with status 3: instance is locked";
  action_a->finish(outcome);
  ASSERT_EQ(kinds.back(), "failed vpn-a");
  const RecoveryEvent& failed = events.back();
  EXPECT_EQ(failed.exit_code, 3);
  EXPECT_EQ(failed.stderr_tail, outcome.stderr_tail);
  EXPECT_EQ(failed.reason, outcome.reason);
  EXPECT_FALSE(failed.capped);
  ASSERT_TRUE(failed.next_attempt.has_value());
  EXPECT_EQ(*failed.next_attempt, clock.now() + seconds(10));
  EXPECT_EQ(manager->snapshot(clock.now())[0].last_failure, outcome.reason);
  advanceToWakeup();
  ASSERT_TRUE(action_a->running());
  EXPECT_EQ(action_a->contexts[1].attempt, 2);
}

TEST_F(RecoveryManagerTest, HourlyCapIsReportedAsFailureOnce) {
  manager->onGatewayState("vpn-a", PathState::Down, clock.now());
  for (int i = 0; i < 2; ++i) {
    advanceToWakeup();
    action_a->finish(ActionOutcome{});
  }
  advanceToWakeup();
  EXPECT_FALSE(action_a->running());
  ASSERT_EQ(kinds.back(), "failed vpn-a");
  EXPECT_TRUE(events.back().capped);
  EXPECT_NE(events.back().reason.find("hourly cap"), std::string::npos);
  size_t reported = kinds.size();
  manager->poll(clock.now());
  EXPECT_EQ(kinds.size(), reported);
  EXPECT_EQ(manager->snapshot(clock.now())[0].phase, RecoveryPhase::Capped);
}

TEST_F(RecoveryManagerTest, GatewayBackUpCancelsTheRunningAttempt) {
  manager->onGatewayState("vpn-a", PathState::Down, clock.now());
  advanceToWakeup();
  ASSERT_TRUE(action_a->running());
  clock.advance(seconds(12));
  manager->onGatewayState("vpn-a", PathState::Up, clock.now());
  EXPECT_EQ(action_a->cancels, 1);
  ASSERT_EQ(kinds.back(), "cancelled vpn-a");
  // The outage is over (the daemon journals it as the recovery's success): say how.
  EXPECT_NE(events.back().reason.find("up again while the action was still running"),
            std::string::npos)
      << events.back().reason;
  EXPECT_FALSE(events.back().action_finished);
  EXPECT_EQ(events.back().elapsed, seconds(12));
  // It goes down again before the killed command has reported back: no second start yet.
  manager->onGatewayState("vpn-a", PathState::Down, clock.now());
  clock.advance(seconds(30));
  manager->poll(clock.now());
  EXPECT_EQ(action_a->contexts.size(), 1u);
  // The cancelled attempt's outcome is not reported as a failure; the next attempt follows.
  ActionOutcome killed;
  killed.cancelled = true;
  action_a->finish(killed);
  EXPECT_EQ(kinds.back(), "started vpn-a");
  EXPECT_EQ(action_a->contexts.size(), 2u);
}

TEST_F(RecoveryManagerTest, FollowersStartNothing) {
  manager->setWriteAllowed(false, clock.now());
  manager->onGatewayState("vpn-a", PathState::Down, clock.now());
  clock.advance(minutes(5));
  manager->poll(clock.now());
  EXPECT_FALSE(action_a->running());
  EXPECT_EQ(wakeup, MonoTime::max());
  manager->setWriteAllowed(true, clock.now());
  EXPECT_TRUE(action_a->running());
}

// The monitor doubts its own view (every path down at once): no gateway is "healed" for it,
// however long it lasts, and the status says why.
TEST_F(RecoveryManagerTest, AHeldManagerStartsNothingAndSaysWhy) {
  manager->setHeld(std::string("every path went down within 0.3 s"), clock.now());
  manager->onGatewayState("vpn-a", PathState::Down, clock.now());
  manager->onGatewayState("vpn-b", PathState::Down, clock.now());
  for (int i = 0; i < 10; ++i) {
    clock.advance(minutes(10));
    manager->poll(clock.now());
  }
  EXPECT_FALSE(action_a->running());
  EXPECT_FALSE(action_b->running());
  EXPECT_TRUE(kinds.empty());
  auto status = manager->snapshot(clock.now());
  EXPECT_EQ(status[0].detail, "held back: every path went down within 0.3 s");
  // The view is trusted again and vpn-b came back meanwhile. vpn-a, still Down, is not
  // restarted at once: what the probes saw while in doubt is no evidence; it waits its whole
  // `after` delay from the release (found in the lab: the other paths answer again a few
  // milliseconds after the first, and were restarted at that instant).
  manager->onGatewayState("vpn-b", PathState::Up, clock.now());
  manager->setHeld(std::nullopt, clock.now());
  EXPECT_FALSE(action_a->running());
  EXPECT_FALSE(action_b->running());
  EXPECT_TRUE(manager->snapshot(clock.now())[0].detail.empty());
  EXPECT_EQ(wakeup, clock.now() + policy().after);
  clock.advance(policy().after - milliseconds(1));
  manager->poll(clock.now());
  EXPECT_FALSE(action_a->running());
  clock.advance(milliseconds(1));
  manager->poll(clock.now());
  EXPECT_TRUE(action_a->running()) << "still Down a whole `after` after the release";
  EXPECT_FALSE(action_b->running());
}

// The lab case: the view is trusted again at the first path's answer, and the others answer
// a moment later. Nothing is restarted.
TEST_F(RecoveryManagerTest, GatewaysAnsweringRightAfterTheReleaseAreNotRestarted) {
  manager->setHeld(std::string("every path went down within 0.1 s"), clock.now());
  manager->onGatewayState("vpn-a", PathState::Down, clock.now());
  manager->onGatewayState("vpn-b", PathState::Down, clock.now());
  clock.advance(seconds(10));
  manager->poll(clock.now());
  manager->setHeld(std::nullopt, clock.now());
  clock.advance(milliseconds(20));
  manager->onGatewayState("vpn-a", PathState::Up, clock.now());
  manager->onGatewayState("vpn-b", PathState::Up, clock.now());
  clock.advance(minutes(10));
  manager->poll(clock.now());
  EXPECT_FALSE(action_a->running());
  EXPECT_FALSE(action_b->running());
  EXPECT_TRUE(kinds.empty());
}

TEST_F(RecoveryManagerTest, RejectsBadGateways) {
  EXPECT_EQ(manager->addGateway("vpn-a", policy(), std::make_unique<FakeAction>()).error().code(),
            ErrorCode::AlreadyExists);
  EXPECT_EQ(manager->addGateway("", policy(), std::make_unique<FakeAction>()).error().code(),
            ErrorCode::InvalidArgument);
  EXPECT_EQ(manager->addGateway("vpn-c", policy(), nullptr).error().code(),
            ErrorCode::InvalidArgument);
  RecoveryPolicy bad = policy();
  bad.max_attempts_per_hour = 0;
  auto r = manager->addGateway("vpn-c", bad, std::make_unique<FakeAction>());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("vpn-c"), std::string::npos);
  manager->onGatewayState("no-such-gateway", PathState::Down, clock.now());  // ignored
}

TEST_F(RecoveryManagerTest, RemovedGatewayIsCancelledSilently) {
  int cancels = 0;
  action_a->external_cancels = &cancels;
  manager->onGatewayState("vpn-a", PathState::Down, clock.now());
  advanceToWakeup();
  size_t reported = kinds.size();
  manager->removeGateway("vpn-a", clock.now());  // destroys the action
  action_a = nullptr;
  EXPECT_EQ(cancels, 1);
  EXPECT_EQ(kinds.size(), reported);
  ASSERT_EQ(manager->snapshot(clock.now()).size(), 1u);
  EXPECT_EQ(manager->snapshot(clock.now())[0].gateway, "vpn-b");
}

// CommandAction with real processes, worker threads and an io_context as the engine loop.
class CommandActionTest : public ::testing::Test {
 protected:
  ActionOutcome runOnce(CommandAction& action, RecoveryContext context = {"vpn-a", 2, seconds(95)},
                        bool cancel_at_once = false) {
    std::optional<ActionOutcome> result;
    action.start(context, [&](ActionOutcome o) { result = o; });
    if (cancel_at_once) {
      action.cancel();
    }
    auto deadline = std::chrono::steady_clock::now() + seconds(20);
    while (!result && std::chrono::steady_clock::now() < deadline) {
      io.run_one_for(milliseconds(50));
    }
    EXPECT_TRUE(result.has_value());
    return result.value_or(ActionOutcome{});
  }

  static CommandActionOptions sh(const std::string& script) {
    CommandActionOptions options;
    options.argv = {"/bin/sh", "-c", script};
    options.timeout = seconds(20);
    return options;
  }

  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  runtime::PosixProcessRunner runner;
  runtime::ThreadPoolExecutor executor{io, 2};
};

TEST_F(CommandActionTest, ExitZeroIsSuccessAndTheCommandKnowsTheContext) {
  std::string out = ::testing::TempDir() + "pp_recovery_env_" + std::to_string(::getpid());
  CommandAction action(sh("printf '%s %s %s' \"$PATHPILOT_GATEWAY\" \"$PATHPILOT_ATTEMPT\" "
                          "\"$PATHPILOT_DOWN_FOR_SECONDS\" > '" +
                          out + "'"),
                       executor, runner);
  ActionOutcome outcome = runOnce(action);
  EXPECT_TRUE(outcome.success) << outcome.reason;
  EXPECT_FALSE(action.running());
  std::ifstream in(out);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "vpn-a 2 95");
  std::remove(out.c_str());
}

TEST_F(CommandActionTest, CommandSeesNoSecretOfTheDaemonAndItsStderrIsRedacted) {
  ::setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", 1);
  ::setenv("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEXAMPLESESSIONTOKEN", 1);
  ::setenv("PP_RECOVERY_SMTP_PASSWORD", "smtp-Passw0rd-value", 1);  // an {env:} secret
  ::setenv("PP_RECOVERY_SSH_HOST", "gw-a.example.net", 1);          // listed
  std::string out = ::testing::TempDir() + "pp_recovery_fullenv_" + std::to_string(::getpid());
  CommandActionOptions options =
      sh("env > '" + out + "'; echo 'relay said: bad password smtp-Passw0rd-value' >&2; exit 3");
  options.inherit = {"PP_RECOVERY_SSH_HOST"};
  auto redactor = std::make_shared<Redactor>();
  redactor->add("smtp-Passw0rd-value");
  options.redactor = redactor;
  CommandAction action(options, executor, runner);
  ActionOutcome outcome = runOnce(action);
  EXPECT_FALSE(outcome.success);
  std::ifstream in(out);
  std::stringstream text;
  text << in.rdbuf();
  std::string env = text.str();
  for (const char* secret : {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI", "FwoGZXIvYXdz",
                             "smtp-Passw0rd-value", "AWS_", "PP_RECOVERY_SMTP_PASSWORD"}) {
    EXPECT_EQ(env.find(secret), std::string::npos) << secret << " in\n" << env;
  }
  EXPECT_NE(env.find("PP_RECOVERY_SSH_HOST=gw-a.example.net\n"), std::string::npos) << env;
  EXPECT_NE(env.find("PATHPILOT_GATEWAY=vpn-a\n"), std::string::npos) << env;
  EXPECT_EQ(outcome.stderr_tail, "relay said: bad password <redacted>\n");
  EXPECT_EQ(outcome.reason.find("smtp-Passw0rd-value"), std::string::npos) << outcome.reason;
  std::remove(out.c_str());
  for (const char* name : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                           "PP_RECOVERY_SMTP_PASSWORD", "PP_RECOVERY_SSH_HOST"}) {
    ::unsetenv(name);
  }
}

TEST_F(CommandActionTest, FailureCarriesExitCodeAndStderr) {
  CommandAction action(sh("echo 'cannot reach EC2 API' >&2; exit 7"), executor, runner);
  ActionOutcome outcome = runOnce(action);
  EXPECT_FALSE(outcome.success);
  EXPECT_EQ(outcome.exit_code, 7);
  EXPECT_EQ(outcome.stderr_tail, "cannot reach EC2 API\n");
  EXPECT_NE(outcome.reason.find("exited with status 7: cannot reach EC2 API"), std::string::npos)
      << outcome.reason;
}

TEST_F(CommandActionTest, TimeoutIsAFailure) {
  CommandActionOptions options = sh("sleep 30");
  options.timeout = milliseconds(200);
  CommandAction action(options, executor, runner);
  ActionOutcome outcome = runOnce(action);
  EXPECT_FALSE(outcome.success);
  EXPECT_TRUE(outcome.timed_out);
  EXPECT_NE(outcome.reason.find("timed out after 200ms"), std::string::npos) << outcome.reason;
}

TEST_F(CommandActionTest, CancelStopsTheCommand) {
  CommandAction action(sh("sleep 30"), executor, runner);
  auto started = std::chrono::steady_clock::now();
  ActionOutcome outcome = runOnce(action, {"vpn-a", 1, seconds(60)}, true);
  EXPECT_TRUE(outcome.cancelled);
  EXPECT_FALSE(outcome.success);
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(10));
}

TEST_F(CommandActionTest, MissingCommandIsAFailureNotACrash) {
  CommandActionOptions options;
  options.argv = {"/nonexistent/restart-gateway"};
  CommandAction action(options, executor, runner);
  ActionOutcome outcome = runOnce(action);
  EXPECT_FALSE(outcome.success);
  EXPECT_NE(outcome.reason.find("/nonexistent/restart-gateway"), std::string::npos);
}

}  // namespace
}  // namespace pathpilot::recovery
