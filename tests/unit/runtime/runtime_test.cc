// runtime/: back-off, the thread-pool executor and the wake-up timer (the process runner has
// process_runner_test.cc).
#include <gtest/gtest.h>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <future>
#include <thread>

#include "fakes/fake_clock.h"
#include "runtime/backoff.h"
#include "runtime/executor.h"
#include "runtime/wakeup_timer.h"

namespace pathpilot::runtime {
namespace {

TEST(BackoffTest, DoublesUpToTheCap) {
  BackoffPolicy policy;
  policy.initial = milliseconds(500);
  policy.max = seconds(30);
  EXPECT_EQ(backoffDelay(policy, 0), Duration::zero());
  EXPECT_EQ(backoffDelay(policy, 1), milliseconds(500));
  EXPECT_EQ(backoffDelay(policy, 2), seconds(1));
  EXPECT_EQ(backoffDelay(policy, 7), seconds(30));
  EXPECT_EQ(backoffDelay(policy, 1000), seconds(30)) << "no overflow";
}

TEST(BackoffTest, JitterStaysWithinBoundsAndIsReproducible) {
  BackoffPolicy policy;
  policy.jitter = 0.2;
  Backoff a(policy, 42);
  Backoff b(policy, 42);
  bool varied = false;
  Duration first = a.delay(3);
  EXPECT_EQ(first, b.delay(3));
  for (int i = 0; i < 200; ++i) {
    Duration d = a.delay(3);
    EXPECT_GE(d, milliseconds(1600));
    EXPECT_LE(d, milliseconds(2400));
    varied = varied || d != first;
  }
  EXPECT_TRUE(varied);
}

TEST(BackoffTest, ValidateRejectsNonsense) {
  BackoffPolicy p;
  EXPECT_TRUE(p.validate());
  p.initial = Duration::zero();
  EXPECT_FALSE(p.validate());
  p = {};
  p.max = milliseconds(1);
  EXPECT_FALSE(p.validate());
  p = {};
  p.multiplier = 0.5;
  EXPECT_FALSE(p.validate());
  p = {};
  p.jitter = 1.5;
  EXPECT_FALSE(p.validate());
}

// Issue 4 (bench/route_latency saw no initial install): a job in flight is outstanding work of
// the engine's io_context, like a pending asio operation, so a loop pumped until idle neither
// stops while the backend call runs nor loses its completion.
TEST(ThreadPoolExecutorTest, Issue4JobInFlightKeepsTheLoopAlive) {
  asio::io_context io;
  std::promise<void> gate;
  std::shared_future<void> open = gate.get_future().share();
  bool done = false;
  {
    ThreadPoolExecutor executor(io, 1);
    executor.run("lane", [open, &done]() -> Completion {
      open.wait();  // the backend call is still running while the loop looks for work
      return [&done] { done = true; };
    });
    io.poll();
    EXPECT_FALSE(io.stopped()) << "the loop ran out of work while a job was in flight";
    gate.set_value();
    io.run_for(seconds(10));  // returns once the completion has run and no work is left
  }
  EXPECT_TRUE(done);
}

TEST(ThreadPoolExecutorTest, RunsBodyOffThreadAndCompletionOnTheEngine) {
  asio::io_context io;
  std::thread::id engine = std::this_thread::get_id();
  std::thread::id body_thread;
  std::thread::id completion_thread;
  bool done = false;
  auto work = asio::make_work_guard(io);
  {
    ThreadPoolExecutor executor(io, 1);
    executor.run("lane", [&]() -> Completion {
      body_thread = std::this_thread::get_id();
      return [&] {
        completion_thread = std::this_thread::get_id();
        done = true;
      };
    });
    auto deadline = std::chrono::steady_clock::now() + seconds(10);
    while (!done && std::chrono::steady_clock::now() < deadline) {
      io.run_one_for(milliseconds(100));
    }
  }
  ASSERT_TRUE(done);
  EXPECT_NE(body_thread, engine);
  EXPECT_EQ(completion_thread, engine);
}

TEST(WakeupTimerTest, FiresOnceAtTheArmedTimeAndCanBeReplaced) {
  asio::io_context io;
  RealClock clock;
  int fired = 0;
  WakeupTimer timer(io, clock, [&](MonoTime) { ++fired; });
  timer.arm(clock.now() + hours(1));
  EXPECT_EQ(io.poll(), 0u);
  timer.arm(clock.now());  // replaces the hour
  io.run_for(seconds(5));
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(timer.armedAt(), MonoTime::max());
  timer.arm(clock.now());
  timer.arm(MonoTime::max());  // cancelled
  io.restart();
  io.run_for(milliseconds(20));
  EXPECT_EQ(fired, 1);
}

}  // namespace
}  // namespace pathpilot::runtime
