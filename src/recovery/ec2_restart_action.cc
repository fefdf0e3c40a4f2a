#include "recovery/ec2_restart_action.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <thread>

#include "base/check.h"

namespace pathpilot::recovery {
namespace {

// The states EC2 reports (InstanceState::name).
constexpr std::string_view kRunning = "running";
constexpr std::string_view kStopped = "stopped";
constexpr std::string_view kStopping = "stopping";
constexpr std::string_view kPending = "pending";

// EC2 answers IncorrectInstanceState when the instance moved between our Describe and the
// call. Ec2Client keeps only the mapped Error (InvalidArgument for this 4xx), whose message
// carries the AWS code as "<Code>: <Message>" (aws/query.h toError), hence the text match.
bool isIncorrectState(const Error& e) {
  return e.message().find("IncorrectInstanceState") != std::string::npos;
}

// One attempt, as a small state machine on the worker. Each member function is one step of
// the diagram in the header; they return false when the attempt is over (outcome_ is set).
class Attempt {
 public:
  Attempt(const Ec2RestartOptions& options, aws::Ec2Client& ec2, const Clock& clock,
          const CancellableWait& wait, const runtime::CancelToken& token)
      : o_(options),
        ec2_(ec2),
        clock_(clock),
        wait_(wait),
        token_(token),
        started_(clock.now()),
        deadline_(started_ + options.timeout) {}

  ActionOutcome run() {
    if (!describe("DescribeInstances")) {
      return finish();
    }
    if (state_ == kRunning && !stop()) {
      return finish();
    }
    // Also after stop(): an IncorrectInstanceState answer re-reads the state, which may now be
    // anything.
    if (state_ == kPending) {
      // Someone (an operator, or our own attempt that timed out) is starting it already: a
      // fresh boot is what we wanted, so wait for it instead of stopping it again.
      if (waitFor(kRunning, "for the instance (already pending) to start")) {
        outcome_.success = true;
      }
      return finish();
    }
    if ((state_ == kRunning || state_ == kStopping) &&
        !waitFor(kStopped, "for the instance to stop")) {
      return finish();
    }
    if (state_ == kPending) {
      // Someone started it as soon as it had stopped: that is the restart we wanted.
      if (waitFor(kRunning, "for the instance (started by someone else) to start")) {
        outcome_.success = true;
      }
      return finish();
    }
    if (state_ != kStopped) {
      failed("cannot restart: the instance is " + state_);
      return finish();
    }
    if (startInstance() && waitFor(kRunning, "for the instance to start")) {
      outcome_.success = true;
    }
    return finish();
  }

 private:
  // Reads the instance's state into state_. False (outcome set) on an error or a state from
  // which no restart is possible.
  bool describe(std::string_view step) {
    // Filtered by instance-id: a deleted instance comes back as an empty list (or, from some
    // endpoints, InvalidInstanceID.NotFound); both mean there is nothing to restart.
    auto instances = ec2_.describeInstances({o_.instance_id});
    if (!instances) {
      if (instances.error().code() == ErrorCode::NotFound) {
        return failed("instance does not exist (" + instances.error().message() + ")");
      }
      return failed(std::string(step) + " failed: " + instances.error().message());
    }
    auto it = std::find_if(instances->begin(), instances->end(),
                           [&](const aws::Ec2Instance& i) { return i.id == o_.instance_id; });
    if (it == instances->end()) {
      return failed("instance does not exist (DescribeInstances returned no such instance)");
    }
    state_ = it->state.name;
    // Terminal: an Auto Scaling group or an operator replaces such an instance, not us; its
    // state reason ("Client.UserInitiatedShutdown") tells the operator who did it.
    if (state_ == "terminated" || state_ == "shutting-down") {
      return failed("cannot restart: the instance is " + state_ +
                    (it->state_reason.empty() ? "" : " (" + it->state_reason + ")"));
    }
    return true;
  }

  // A plain stop, not Force: a forced stop skips the guest's shutdown (and may corrupt the
  // gateway's disk); a hung guest is still stopped by EC2 after its own shutdown timeout.
  bool stop() {
    if (token_.cancelled()) {
      return cancelled();
    }
    auto r = ec2_.stopInstances({o_.instance_id});
    if (!r) {
      if (isIncorrectState(r.error())) {
        // It moved (e.g. an operator stopped or started it meanwhile): continue from there.
        return describe("DescribeInstances after IncorrectInstanceState");
      }
      return failed("StopInstances failed: " + r.error().message());
    }
    stopped_by_us_ = true;
    // The answer's currentState is the freshest state we can get ("stopping", or "stopped"
    // for an instance that stops at once); Describe may lag behind it for a moment.
    state_ = r->empty() ? std::string(kStopping) : r->front().current.name;
    return true;
  }

  bool startInstance() {
    // Only ever after "stopped" (run() checks), so the only expected refusal is a race.
    // EC2 may still report IncorrectInstanceState for a moment after "stopped": retry at the
    // poll interval until the deadline.
    for (;;) {
      if (token_.cancelled()) {
        return cancelled();
      }
      auto r = ec2_.startInstances({o_.instance_id});
      if (r) {
        start_sent_ = true;
        state_ = r->empty() ? std::string(kPending) : r->front().current.name;
        return true;
      }
      if (!isIncorrectState(r.error())) {
        return failed("StartInstances failed: " + r.error().message());
      }
      if (!describe("DescribeInstances after IncorrectInstanceState")) {
        return false;
      }
      if (state_ == kPending || state_ == kRunning) {
        return true;  // someone else started it
      }
      waiting_ = "to retry StartInstances";
      if (!pause()) {
        return false;
      }
    }
  }

  // Polls until state_ == `want`, bounded by the deadline. The wait comes first: right after
  // Stop/Start the state cannot have changed yet, and EC2's read-after-write is eventual.
  bool waitFor(std::string_view want, std::string_view what) {
    waiting_ = std::string(what);
    while (state_ != want) {
      if (!pause()) {
        return false;
      }
      if (!describe("DescribeInstances")) {
        return false;
      }
      if (want == kStopped && state_ == kPending) {
        return true;  // stopped and started again by someone else meanwhile: run() decides
      }
      if (want == kRunning && (state_ == kStopped || state_ == kStopping)) {
        // Stopped again while we waited for it to boot (e.g. an operator, or the instance
        // failed to start: EC2 then reports stopped with a state reason).
        return failed("the instance went back to " + state_ + " while starting");
      }
    }
    return true;
  }

  // Waits one poll interval (cut to the deadline). False when cancelled or out of time. The
  // deadline is checked on both sides of the wait: a wait hook or a slow call may have used up
  // the time, and one more Describe after the deadline would only delay the failure report.
  bool pause() {
    MonoTime now = clock_.now();
    if (now >= deadline_) {
      return timedOut();
    }
    Duration d = std::min<Duration>(o_.poll_interval, deadline_ - now);
    if (!wait_(d, token_)) {
      return cancelled();
    }
    if (clock_.now() >= deadline_) {
      return timedOut();
    }
    return true;
  }

  bool cancelled() {
    outcome_.cancelled = true;
    outcome_.reason = "cancelled";
    return false;
  }

  bool timedOut() {
    outcome_.timed_out = true;
    outcome_.reason = "timed out after " + formatDuration(o_.timeout) + " waiting " +
                      waiting_ + " (last state " + state_ +
                      "; the next attempt continues from there)";
    return false;
  }

  bool failed(std::string why) {
    outcome_.reason = std::move(why);
    return false;
  }

  ActionOutcome finish() {
    // A cancel must not leave the gateway off because of us: if we stopped it and it is
    // stopped now, send one StartInstances (not waited for). While it is still "stopping" EC2
    // refuses a start, and waiting minutes would defeat the cancel; the next attempt (or the
    // operator) finds it stopped and starts it — the reason says so.
    if (outcome_.cancelled && stopped_by_us_ && !start_sent_) {
      if (state_ == kStopped) {
        auto r = ec2_.startInstances({o_.instance_id});
        outcome_.reason = r ? "cancelled after the stop; StartInstances sent so that the "
                              "instance does not stay stopped"
                            : "cancelled after the stop; StartInstances failed, the instance "
                              "stays stopped: " + r.error().message();
      } else {
        outcome_.reason = "cancelled while the instance was " + state_ +
                          " after our StopInstances: it stays stopped until the next attempt "
                          "or an operator starts it";
      }
    }
    if (!outcome_.success) {
      outcome_.reason = "ec2-restart " + o_.instance_id + ": " + outcome_.reason;
    }
    outcome_.elapsed = clock_.now() - started_;
    return outcome_;
  }

  const Ec2RestartOptions& o_;
  aws::Ec2Client& ec2_;
  const Clock& clock_;
  const CancellableWait& wait_;
  const runtime::CancelToken& token_;
  MonoTime started_;
  MonoTime deadline_;
  std::string state_ = "unknown";
  std::string waiting_;  // what pause() waits for, for the timeout message
  bool stopped_by_us_ = false;
  bool start_sent_ = false;
  ActionOutcome outcome_;
};

}  // namespace

Result<void> Ec2RestartOptions::validate() const {
  if (instance_id.empty()) {
    return fail(ErrorCode::InvalidArgument, "ec2-restart: instance_id is empty");
  }
  if (timeout <= Duration::zero()) {
    return fail(ErrorCode::InvalidArgument, "ec2-restart: timeout must be positive");
  }
  if (poll_interval <= Duration::zero()) {
    return fail(ErrorCode::InvalidArgument, "ec2-restart: poll_interval must be positive");
  }
  return ok();
}

// Real time on purpose: this is how long a worker thread blocks. The attempt's deadline is on
// the injected Clock (Attempt::pause), so tests that replace this wait stay deterministic.
bool waitUnlessCancelled(Duration d, const runtime::CancelToken& token) {
  MonoTime until = std::chrono::steady_clock::now() + d;
  while (!token.cancelled()) {
    auto left = std::chrono::duration_cast<milliseconds>(until - std::chrono::steady_clock::now());
    if (left <= milliseconds::zero()) {
      return true;
    }
    if (token.fd() >= 0) {
      // The eventfd becomes readable on cancel(): the wait ends at once.
      // +1 ms rounds up, so that we never spin on a sub-millisecond remainder; at most a minute
      // per poll(2) so that the int cannot overflow. EINTR just loops.
      pollfd p{token.fd(), POLLIN, 0};
      int ms = static_cast<int>(std::min<milliseconds::rep>(left.count() + 1, 60'000));
      ::poll(&p, 1, ms);
    } else {
      std::this_thread::sleep_for(std::min<Duration>(left, milliseconds(100)));
    }
  }
  return false;
}

ActionOutcome runEc2Restart(const Ec2RestartOptions& options, aws::Ec2Client& ec2,
                            const Clock& clock, const CancellableWait& wait,
                            const runtime::CancelToken& token) {
  return Attempt(options, ec2, clock, wait, token).run();
}

Ec2RestartAction::Ec2RestartAction(Ec2RestartOptions options, aws::Ec2Client& ec2,
                                   runtime::Executor& executor, const Clock& clock,
                                   CancellableWait wait)
    : options_(std::move(options)),
      ec2_(ec2),
      executor_(executor),
      clock_(clock),
      wait_(std::move(wait)) {
  PP_CHECK_MSG(options_.validate().has_value(), "invalid ec2-restart options");
}

Ec2RestartAction::~Ec2RestartAction() {
  if (token_) {
    token_->cancel();
  }
  guard_->close();
}

void Ec2RestartAction::start(const RecoveryContext& context,
                             std::function<void(ActionOutcome)> done) {
  PP_CHECK_MSG(!running_, "ec2-restart: start() while an attempt runs");
  running_ = true;
  token_ = std::make_shared<runtime::CancelToken>();
  std::shared_ptr<runtime::CancelToken> token = token_;
  // The body captures copies (options, wait) and references that outlive the action's jobs
  // (ec2, clock: owned by the daemon; the guard makes the destructor wait for the body).
  executor_.run("recovery " + context.gateway,
                runtime::guardedBody(guard_, [this, token, done]() -> runtime::Completion {
                  ActionOutcome outcome = runEc2Restart(options_, ec2_, clock_, wait_, *token);
                  return [this, done, outcome]() {
                    running_ = false;
                    token_.reset();
                    done(outcome);
                  };
                }));
}

void Ec2RestartAction::cancel() {
  if (running_ && token_) {
    token_->cancel();
  }
}

}  // namespace pathpilot::recovery
