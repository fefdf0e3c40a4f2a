#include "runtime/executor.h"

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/thread_pool.hpp>

#include "base/check.h"

namespace pathpilot::runtime {

bool JobGuard::enter() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (closed_) {
    return false;
  }
  ++running_;
  return true;
}

void JobGuard::leave() {
  std::lock_guard<std::mutex> lock(mutex_);
  --running_;
  cv_.notify_all();
}

bool JobGuard::alive() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return !closed_;
}

void JobGuard::close() {
  std::unique_lock<std::mutex> lock(mutex_);
  closed_ = true;
  cv_.wait(lock, [this] { return running_ == 0; });
}

JobBody guardedBody(std::shared_ptr<JobGuard> guard, JobBody body) {
  return [guard = std::move(guard), body = std::move(body)]() -> Completion {
    if (!guard->enter()) {
      return nullptr;
    }
    Completion done = body();
    guard->leave();
    if (!done) {
      return nullptr;
    }
    return [guard, done = std::move(done)]() {
      if (guard->alive()) {
        done();
      }
    };
  };
}

ThreadPoolExecutor::ThreadPoolExecutor(asio::io_context& engine, std::size_t threads)
    : engine_(engine) {
  PP_CHECK(threads >= 1);
  pool_ = std::make_unique<asio::thread_pool>(threads);
}

ThreadPoolExecutor::~ThreadPoolExecutor() {
  pool_->stop();
  pool_->join();
}

// A job in flight counts as outstanding work of the engine's io_context, as a pending asio
// operation does: otherwise a loop that runs until idle (run(), run_one_for()) could find no
// work while a backend call is still running, stop, and never run its completion. The daemon
// always has other work (sockets, signals); tests and benches that pump the loop do not.
void ThreadPoolExecutor::run(std::string /*lane*/, JobBody body) {
  asio::post(*pool_, [this, work = asio::make_work_guard(engine_), body = std::move(body)]() {
    Completion done = body();
    if (done) {
      // The io_context outlives this executor (constructor contract), and the pool is joined
      // before `this` goes away, so both references stay valid here.
      asio::post(engine_, std::move(done));
    }
  });
}

}  // namespace pathpilot::runtime
