// recovery/recovery_action.h — what is done to heal a gateway, behind one small interface.
//
// Purpose: the recovery manager decides *when*; a RecoveryAction does the healing. Actions are
// pluggable: CommandAction (below) runs an operator's command; the AWS work adds an
// `ec2-restart` action (stop/start of the instance) implementing the same interface; tests use
// a fake. An attempt never blocks the engine thread: start() returns at once and the outcome
// arrives later through the callback, on the engine thread.
//
// Threading: start()/cancel() and the callbacks are on the engine thread; the blocking part
// of an action runs on a runtime::Executor worker.
// Metrics: none (the manager reports attempts and outcomes as events).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/time.h"
#include "runtime/executor.h"
#include "runtime/process_runner.h"

namespace pathpilot::recovery {

// What an attempt is about, for the action (and the command's environment).
struct RecoveryContext {
  std::string gateway;  // the gateway's name in the config ("vpn-a")
  int attempt = 1;      // 1 for the first attempt of this outage
  Duration down_for{};  // how long the gateway has been Down
};

struct ActionOutcome {
  bool success = false;
  bool cancelled = false;
  bool timed_out = false;
  std::optional<int> exit_code;  // for commands
  std::string stderr_tail;       // for commands
  std::string reason;            // why it failed, in words ("exited with status 3: ...")
  Duration elapsed{};
};

class RecoveryAction {
 public:
  virtual ~RecoveryAction() = default;

  // "command", "ec2-restart", ... for events.
  virtual std::string_view kind() const = 0;

  // Starts one attempt and returns at once. `done` runs exactly once on the engine thread when
  // the attempt ends (also after cancel(), then with cancelled = true), unless the action is
  // destroyed first, and never from within start() itself.
  // Requires: no attempt of this action is running.
  virtual void start(const RecoveryContext& context, std::function<void(ActionOutcome)> done) = 0;

  // Asks the running attempt to stop as soon as it safely can. No-op when none runs.
  virtual void cancel() = 0;
};

struct CommandActionOptions {
  // argv, no shell. Requires: not empty.
  std::vector<std::string> argv;
  // A restart can take minutes; the default leaves room for an EC2 stop/start script.
  Duration timeout = std::chrono::minutes(5);
  Duration kill_grace = std::chrono::seconds(5);
  // Extra environment (never logged).
  std::vector<std::pair<std::string, std::string>> env;
  // The daemon's variables passed through besides PATH, LANG, LC_*, TZ (config
  // `paths[].recovery.env_passthrough`); the AWS keys and {env:} secrets never are.
  std::vector<std::string> inherit;
  // Secrets to remove from the command's stderr before it reaches events and the status.
  std::shared_ptr<const Redactor> redactor;

  // InvalidArgument for an empty argv or a non-positive timeout.
  [[nodiscard]] Result<void> validate() const;
};

// Runs a command with the ProcessRunner (own process group, timeout, SIGTERM then SIGKILL by
// PID); success = exit status 0. The command sees PATHPILOT_GATEWAY, PATHPILOT_ATTEMPT and
// PATHPILOT_DOWN_FOR_SECONDS in its environment, with PATH, LANG, LC_*, TZ and the `inherit`
// names of the daemon's (runtime/process_runner.h). cancel() kills its process group.
class CommandAction final : public RecoveryAction {
 public:
  // Requires: options valid (PP_CHECK); executor and runner outlive the action.
  CommandAction(CommandActionOptions options, runtime::Executor& executor,
                runtime::ProcessRunner& runner);
  // Cancels a running attempt and waits until its command is gone (at most kill_grace plus the
  // time to reap); its callback is then never called.
  ~CommandAction() override;

  // recovery::RecoveryAction
  std::string_view kind() const override { return "command"; }
  void start(const RecoveryContext& context, std::function<void(ActionOutcome)> done) override;
  void cancel() override;

  bool running() const { return running_; }

 private:
  CommandActionOptions options_;
  runtime::Executor& executor_;
  runtime::ProcessRunner& runner_;
  bool running_ = false;
  // The running attempt's token, shared with its worker job (which may outlive this object
  // for a moment during shutdown).
  std::shared_ptr<runtime::CancelToken> token_;
  // Shared with the attempt's job: the destructor cancels the command and waits for it to be
  // killed, so that no worker uses the runner after the action is gone.
  std::shared_ptr<runtime::JobGuard> guard_ = std::make_shared<runtime::JobGuard>();
};

}  // namespace pathpilot::recovery
