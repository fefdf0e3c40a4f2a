// daemon/fenced.cc — see fenced.h.
#include "daemon/fenced.h"

#include <string>

namespace pathpilot::daemon {
namespace {

class FencedTable final : public route::RouteTable {
 public:
  FencedTable(std::unique_ptr<route::RouteTable> inner, WriteFence fence)
      : inner_(std::move(inner)), fence_(std::move(fence)) {}

  const std::string& id() const override { return inner_->id(); }
  std::string_view kind() const override { return inner_->kind(); }
  // Reading is never fenced: followers keep their picture of the tables current.
  Result<std::vector<route::Route>> list() override { return inner_->list(); }
  Result<void> apply(const route::RouteDelta& delta) override {
    if (auto allowed = fence_(); !allowed) {
      return allowed;
    }
    return inner_->apply(delta);
  }

 private:
  std::unique_ptr<route::RouteTable> inner_;
  WriteFence fence_;
};

class FencedAction final : public recovery::RecoveryAction {
 public:
  FencedAction(std::unique_ptr<recovery::RecoveryAction> inner, WriteFence fence,
               runtime::Executor& executor)
      : inner_(std::move(inner)), fence_(std::move(fence)), executor_(executor) {}
  ~FencedAction() override { guard_->close(); }

  std::string_view kind() const override { return inner_->kind(); }

  void start(const recovery::RecoveryContext& context,
             std::function<void(recovery::ActionOutcome)> done) override {
    cancelled_ = false;
    fencing_ = true;
    MonoTime started = std::chrono::steady_clock::now();
    executor_.run(
        "fence recovery " + context.gateway,
        runtime::guardedBody(
            guard_,
            [this, context, done = std::move(done), started]() mutable -> runtime::Completion {
              auto allowed = fence_();
              return [this, guard = guard_, allowed = std::move(allowed), context,
                      done = std::move(done), started]() mutable {
                if (!guard->alive()) {
                  return;
                }
                fencing_ = false;
                if (cancelled_ || !allowed) {
                  recovery::ActionOutcome out;
                  out.cancelled = cancelled_;
                  out.reason = cancelled_ ? std::string("cancelled before it started")
                                          : "not started: " + allowed.error().message();
                  out.elapsed = std::chrono::steady_clock::now() - started;
                  done(std::move(out));
                  return;
                }
                inner_->start(context, std::move(done));
              };
            }));
  }

  void cancel() override {
    if (fencing_) {
      cancelled_ = true;
      return;
    }
    inner_->cancel();
  }

 private:
  std::unique_ptr<recovery::RecoveryAction> inner_;
  WriteFence fence_;
  runtime::Executor& executor_;
  bool fencing_ = false;
  bool cancelled_ = false;
  std::shared_ptr<runtime::JobGuard> guard_ = std::make_shared<runtime::JobGuard>();
};

}  // namespace

std::unique_ptr<route::RouteTable> fencedTable(std::unique_ptr<route::RouteTable> table,
                                               WriteFence fence) {
  return std::make_unique<FencedTable>(std::move(table), std::move(fence));
}

std::unique_ptr<recovery::RecoveryAction> fencedAction(
    std::unique_ptr<recovery::RecoveryAction> action, WriteFence fence,
    runtime::Executor& executor) {
  return std::make_unique<FencedAction>(std::move(action), std::move(fence), executor);
}

}  // namespace pathpilot::daemon
