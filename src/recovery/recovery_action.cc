#include "recovery/recovery_action.h"

#include "base/check.h"

namespace pathpilot::recovery {

Result<void> CommandActionOptions::validate() const {
  if (argv.empty() || argv[0].empty()) {
    return fail(ErrorCode::InvalidArgument, "recovery command: argv is empty");
  }
  if (timeout <= Duration::zero()) {
    return fail(ErrorCode::InvalidArgument, "recovery command: timeout must be positive");
  }
  return ok();
}

CommandAction::CommandAction(CommandActionOptions options, runtime::Executor& executor,
                             runtime::ProcessRunner& runner)
    : options_(std::move(options)), executor_(executor), runner_(runner) {
  PP_CHECK_MSG(options_.validate().has_value(), "invalid recovery command options");
}

CommandAction::~CommandAction() {
  cancel();
  guard_->close();
}

void CommandAction::start(const RecoveryContext& context,
                          std::function<void(ActionOutcome)> done) {
  PP_CHECK_MSG(!running_, "recovery action started twice");
  running_ = true;
  token_ = std::make_shared<runtime::CancelToken>();

  runtime::ProcessSpec spec;
  spec.argv = options_.argv;
  spec.env = options_.env;
  spec.inherit = options_.inherit;
  spec.redactor = options_.redactor;
  spec.env.emplace_back("PATHPILOT_GATEWAY", context.gateway);
  spec.env.emplace_back("PATHPILOT_ATTEMPT", std::to_string(context.attempt));
  spec.env.emplace_back(
      "PATHPILOT_DOWN_FOR_SECONDS",
      std::to_string(std::chrono::duration_cast<seconds>(context.down_for).count()));
  spec.timeout = options_.timeout;
  spec.kill_grace = options_.kill_grace;

  std::shared_ptr<runtime::CancelToken> token = token_;
  runtime::ProcessRunner* runner = &runner_;
  Duration timeout = options_.timeout;
  executor_.run("recovery " + context.gateway,
                runtime::guardedBody(
                    guard_, [this, token, runner, spec, timeout, done]() -> runtime::Completion {
                      ActionOutcome outcome;
                      auto result = runner->run(spec, token.get());
                      if (!result) {
                        outcome.reason = result.error().toString();
                      } else {
                        outcome.success = result->success();
                        outcome.cancelled = result->cancelled;
                        outcome.timed_out = result->timed_out;
                        outcome.exit_code = result->exit_code;
                        outcome.stderr_tail = result->stderr_tail;
                        outcome.elapsed = result->elapsed;
                        if (!outcome.success) {
                          outcome.reason =
                              "command \"" + spec.argv[0] + "\" " + result->describe(timeout);
                        }
                      }
                      return [this, done, outcome]() {
                        running_ = false;
                        token_.reset();
                        done(outcome);
                      };
                    }));
}

void CommandAction::cancel() {
  if (running_ && token_) {
    token_->cancel();
  }
}

}  // namespace pathpilot::recovery
