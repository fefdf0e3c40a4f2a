// api/loop_call.h — run a function on the engine's thread from another thread, with a timeout.
//
// Purpose: drain and undrain change engine state, which only the engine thread may touch
// (daemon/engine.h). An API thread therefore posts the call to the engine's io_context and
// waits for its result — but never forever: if the engine is busy or stopping, the API thread
// gives up after `timeout` and answers 503, while the posted call still runs later (its
// result is then dropped). The engine never waits for the API.
//
// Threading: call from any thread EXCEPT the io_context's own (that would wait for itself:
// PP_CHECK). `fn` runs on the io_context's thread and must not throw (Result instead).
// Metrics: none.
#pragma once

#include <chrono>
#include <future>
#include <memory>
#include <string>

#include <asio.hpp>

#include "base/check.h"
#include "base/error.h"
#include "base/time.h"

namespace pathpilot::api {

// Runs `fn` (returning Result<T>) on `io`'s thread and waits up to `timeout` for its result.
// Errors: Timeout when the loop did not run it in time (it may still run later);
// Unavailable when the io_context was stopped; otherwise what `fn` returned.
template <class T, class F>
[[nodiscard]] Result<T> callOnLoop(asio::io_context& io, Duration timeout, F fn) {
  PP_CHECK_MSG(!io.get_executor().running_in_this_thread(),
               "callOnLoop from the loop thread would deadlock");
  if (io.stopped()) {
    return fail(ErrorCode::Unavailable, "the engine is stopping");
  }
  // Shared ownership: if we time out, the handler still holds the promise and fulfils it
  // later into a future nobody reads, instead of writing to a destroyed one.
  auto promise = std::make_shared<std::promise<Result<T>>>();
  std::future<Result<T>> future = promise->get_future();
  asio::post(io, [promise, fn = std::move(fn)]() mutable { promise->set_value(fn()); });
  if (future.wait_for(timeout) != std::future_status::ready) {
    return fail(ErrorCode::Timeout,
                "the engine did not answer within " +
                    formatDuration(std::chrono::duration_cast<std::chrono::milliseconds>(timeout)) +
                    " (busy or stopping); the request may still take effect");
  }
  try {
    return future.get();
  } catch (const std::future_error&) {
    // The io_context dropped the handler without running it (destroyed while stopping).
    return fail(ErrorCode::Unavailable, "the engine is stopping");
  }
}

}  // namespace pathpilot::api
