// tests/unit/probe/engine_loop.h — the event loop shared by the real-socket ProbeEngine tests.
//
// A ProbeEngine on an io_context that the test thread runs in short slices until a condition
// holds; results are collected in order. Single-threaded: the engine's callbacks run inside
// runUntil() on the test thread. Real time (RealClock): the engine's timers drive the sockets.
#pragma once

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "probe/probe_engine.h"

namespace pathpilot::probe::testing {

class EngineLoop {
 protected:
  // Runs the event loop until `done` or `limit` of real time (2 ms slices: a loaded machine
  // still checks `done` often, and a condition already true returns at once).
  bool runUntil(const std::function<bool()>& done, Duration limit = std::chrono::seconds(5)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > end) {
        return false;
      }
      io_.run_for(std::chrono::milliseconds(2));
    }
    return true;
  }

  asio::io_context io_;
  // Keeps run_for() waiting for timers while the engine has nothing in flight.
  asio::executor_work_guard<asio::io_context::executor_type> guard_ = asio::make_work_guard(io_);
  RealClock clock_;
  std::unique_ptr<ProbeEngine> engine_;
  std::vector<ProbeResult> results_;
};

}  // namespace pathpilot::probe::testing
