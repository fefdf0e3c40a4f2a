// runtime/executor.h — running blocking work off the engine thread.
//
// Purpose: the reconciler and the recovery manager live on the engine thread and must never
// block it, yet their backends block (netlink round trips, HTTPS, child processes). They hand
// each blocking call to an Executor as a Job: the job's body runs on a worker and returns a
// completion, which the executor then runs back on the engine thread. Keeping the hand-off
// behind this interface lets unit tests run jobs inline, one by one, in any order they
// choose (tests/fakes/manual_executor.h), with no threads and no sleeps.
//
// Threading: run() is called on the engine thread. The body runs on an arbitrary worker
// thread; it must touch only what it captured (a RouteTable, a spec), never the caller's
// state. The completion runs on the engine thread and may touch the caller's state, but it
// can run after the caller has gone away, so callers guard it (see Reconciler).
//
// Metrics: none (callers measure their own latency).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace asio {
class io_context;
class thread_pool;
}  // namespace asio

namespace pathpilot::runtime {

// The engine-thread part of a job.
using Completion = std::function<void()>;
// The worker part of a job: does the blocking call, returns what to run on the engine thread.
using JobBody = std::function<Completion()>;

class Executor {
 public:
  virtual ~Executor() = default;

  // Queues `body` to run off the engine thread; its returned Completion is later run on the
  // engine thread. `lane` names the job's owner ("table rtb-1", "recovery vpn-a") for tests and
  // diagnostics; it does not serialise anything (callers keep at most one job per lane).
  virtual void run(std::string lane, JobBody body) = 0;
};

// Lets the owner of jobs (the reconciler, an action) be destroyed while its jobs are still
// queued or running, whatever order the daemon tears things down in. Jobs hold it through a
// shared_ptr; the owner calls close() in its destructor:
//   * a body that has not started yet does nothing (enter() is false);
//   * close() waits for bodies that are running, so that after it returns no worker touches
//     what the owner referenced (a RouteTable) any more;
//   * completions check alive() and do nothing once the owner is gone.
class JobGuard {
 public:
  // Worker side, around a body: false when the owner is gone (skip the body).
  bool enter();
  void leave();
  // Engine side, in a completion.
  bool alive() const;
  // Owner's destructor. Blocks until running bodies have left.
  void close();

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  int running_ = 0;
  bool closed_ = false;
};

// Wraps `body` so that it runs only while `guard` is open (see JobGuard).
JobBody guardedBody(std::shared_ptr<JobGuard> guard, JobBody body);

// The real executor: a fixed pool of worker threads; completions are posted to the engine's
// io_context. With N threads, up to N lanes make progress at once, so give it at least as many
// threads as lanes that may block for long (one per route table is the simple rule; the
// reconciler keeps one job per table in flight).
class ThreadPoolExecutor final : public Executor {
 public:
  // Requires: threads >= 1. `engine` outlives this executor.
  ThreadPoolExecutor(asio::io_context& engine, std::size_t threads);
  // Drops jobs not yet started and waits for running bodies to return (their completions are
  // still posted to the engine, which may or may not run them).
  ~ThreadPoolExecutor() override;

  ThreadPoolExecutor(const ThreadPoolExecutor&) = delete;
  ThreadPoolExecutor& operator=(const ThreadPoolExecutor&) = delete;

  // runtime::Executor
  void run(std::string lane, JobBody body) override;

 private:
  asio::io_context& engine_;
  std::unique_ptr<asio::thread_pool> pool_;
};

}  // namespace pathpilot::runtime
