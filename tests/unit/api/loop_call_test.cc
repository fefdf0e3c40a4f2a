#include "api/loop_call.h"

#include <thread>

#include <gtest/gtest.h>

namespace pathpilot::api {
namespace {

TEST(LoopCallTest, RunsOnTheLoopThreadAndReturnsItsResult) {
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::thread loop([&] { io.run(); });
  std::thread::id ran_on;
  auto r = callOnLoop<int>(io, std::chrono::seconds(5), [&]() -> Result<int> {
    ran_on = std::this_thread::get_id();
    return 42;
  });
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 42);
  EXPECT_EQ(ran_on, loop.get_id());
  auto e = callOnLoop<int>(io, std::chrono::seconds(5),
                           []() -> Result<int> { return fail(ErrorCode::NotFound, "x"); });
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code(), ErrorCode::NotFound);
  guard.reset();
  io.stop();
  loop.join();
}

TEST(LoopCallTest, BusyLoopTimesOut) {
  asio::io_context io;  // never run: the call cannot be served
  auto r = callOnLoop<int>(io, std::chrono::milliseconds(20), []() -> Result<int> { return 1; });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::Timeout);
}

TEST(LoopCallTest, StoppedLoopIsUnavailable) {
  asio::io_context io;
  io.stop();
  auto r = callOnLoop<int>(io, std::chrono::seconds(5), []() -> Result<int> { return 1; });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::Unavailable);
}

}  // namespace
}  // namespace pathpilot::api
