// recovery/ec2_restart_action.h — the `ec2-restart` recovery action: stop and start a hung
// strongSwan gateway instance through the EC2 API.
//
// Purpose: an instance whose charon or kernel hangs is usually healed by an EC2 stop/start
// (a reboot keeps a wedged host; stop/start moves it to healthy hardware). One attempt:
//
//   DescribeInstances ─ running ──► StopInstances ─► poll DescribeInstances until "stopped"
//                     ├ stopping ─────────────────► (no second stop) poll until "stopped"
//                     ├ stopped ──────────────────────────────────────────┐
//                     └ pending ─► poll until "running" (someone already starts it) ─► done
//   StartInstances ◄───────────────────────────────────────────────────────┘
//        └─► poll DescribeInstances until "running" ─► done (success)
//
// Waiting for the gateway's probes to see the tunnel again is the recovery manager's part
// (RecoveryPolicy::settle): this action ends when EC2 says "running".
//
// Rules that matter in production:
//   * the whole attempt is bounded by `timeout` (of the injected clock); polls run every
//     `poll_interval`, and the last wait is cut to what is left;
//   * IncorrectInstanceState from StopInstances/StartInstances (the instance moved between our
//     Describe and the call, e.g. another operator stopped it) is not a failure: the state is
//     read again and the attempt goes on from there; throttling and 5xx are retried by the
//     QueryClient (standard retry mode);
//   * cancel() is honoured between steps and interrupts a poll wait at once — but once this
//     attempt has stopped the instance, a cancel still sends StartInstances once (without
//     waiting for "running"): a cancelled attempt must never leave a gateway powered off;
//   * a terminated / shutting-down instance, or one that does not exist, fails at once with
//     that reason; every failure names the step, the instance, the state it was left in, and
//     the AWS error code and message (never credentials: QueryClient scrubs them).
//
// Threading: start()/cancel() and the done callback on the engine thread; all EC2 calls and
// waits run on a runtime::Executor worker (the daemon's recovery executor), never on the engine
// thread. The Ec2Client is shared with the route tables and is thread-safe.
// Metrics: none of its own (the QueryClient counts EC2 calls; the manager reports outcomes).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "aws/ec2.h"
#include "base/error.h"
#include "base/time.h"
#include "recovery/recovery_action.h"
#include "runtime/executor.h"
#include "runtime/process_runner.h"

namespace pathpilot::recovery {

struct Ec2RestartOptions {
  std::string instance_id;                       // i-…; required
  Duration timeout = std::chrono::minutes(5);    // one whole attempt, > 0
  Duration poll_interval = std::chrono::seconds(5);  // DescribeInstances cadence, > 0

  // InvalidArgument naming the field: empty instance id, non-positive timeout or interval.
  [[nodiscard]] Result<void> validate() const;
};

// How the worker waits between polls: wait `d`, or less when `token` is cancelled first;
// returns false when cancelled. The default blocks on the token's eventfd; tests pass a wait
// that advances their clock and returns at once.
using CancellableWait = std::function<bool(Duration d, const runtime::CancelToken& token)>;

// The default CancellableWait (poll(2) on token.fd(), 100 ms slices when it has none).
bool waitUnlessCancelled(Duration d, const runtime::CancelToken& token);

class Ec2RestartAction final : public RecoveryAction {
 public:
  // Requires: options valid (PP_CHECK); ec2, executor and clock outlive the action.
  Ec2RestartAction(Ec2RestartOptions options, aws::Ec2Client& ec2, runtime::Executor& executor,
                   const Clock& clock, CancellableWait wait = waitUnlessCancelled);
  // Cancels a running attempt and waits until its worker has left the EC2 calls (one HTTP
  // exchange at most, plus the restart-after-stop safety call); its callback is never called.
  ~Ec2RestartAction() override;

  Ec2RestartAction(const Ec2RestartAction&) = delete;
  Ec2RestartAction& operator=(const Ec2RestartAction&) = delete;

  // recovery::RecoveryAction
  std::string_view kind() const override { return "ec2-restart"; }
  void start(const RecoveryContext& context, std::function<void(ActionOutcome)> done) override;
  void cancel() override;

  bool running() const { return running_; }
  const Ec2RestartOptions& options() const { return options_; }

 private:
  Ec2RestartOptions options_;
  aws::Ec2Client& ec2_;
  runtime::Executor& executor_;
  const Clock& clock_;
  CancellableWait wait_;
  bool running_ = false;
  std::shared_ptr<runtime::CancelToken> token_;
  std::shared_ptr<runtime::JobGuard> guard_ = std::make_shared<runtime::JobGuard>();
};

// The blocking attempt itself (what the worker runs), public for tests that drive it without
// an executor. Never throws; `token` may be cancelled from another thread.
ActionOutcome runEc2Restart(const Ec2RestartOptions& options, aws::Ec2Client& ec2,
                            const Clock& clock, const CancellableWait& wait,
                            const runtime::CancelToken& token);

}  // namespace pathpilot::recovery
