// tests/fakes/manual_executor.h — a runtime::Executor that runs nothing until the test says so.
//
// Jobs queue up; runNext(lane) runs the oldest job of a lane (its body, then its completion)
// on the test thread. Tests decide the order in which tables' calls finish, which makes
// "a slow table does not delay the others" a deterministic test with no threads and no sleeps.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/executor.h"

namespace pathpilot::testing {

class ManualExecutor final : public runtime::Executor {
 public:
  // runtime::Executor
  void run(std::string lane, runtime::JobBody body) override {
    jobs_.push_back(Job{std::move(lane), std::move(body)});
  }

  std::size_t pending() const { return jobs_.size(); }
  std::size_t pending(std::string_view lane) const {
    std::size_t n = 0;
    for (const Job& job : jobs_) {
      n += job.lane == lane ? 1 : 0;
    }
    return n;
  }
  std::vector<std::string> lanes() const {
    std::vector<std::string> out;
    for (const Job& job : jobs_) {
      out.push_back(job.lane);
    }
    return out;
  }

  // Runs the oldest job (of `lane`, if given): body then completion. False when none.
  bool runNext(std::string_view lane = {}) {
    for (auto it = jobs_.begin(); it != jobs_.end(); ++it) {
      if (lane.empty() || it->lane == lane) {
        runtime::JobBody body = std::move(it->body);
        jobs_.erase(it);
        runtime::Completion done = body();
        if (done) {
          done();
        }
        return true;
      }
    }
    return false;
  }

  // Runs the oldest job's body only and keeps its completion for later (deliverNext).
  bool runBodyOnly(std::string_view lane = {}) {
    for (auto it = jobs_.begin(); it != jobs_.end(); ++it) {
      if (lane.empty() || it->lane == lane) {
        runtime::JobBody body = std::move(it->body);
        jobs_.erase(it);
        completions_.push_back(body());
        return true;
      }
    }
    return false;
  }
  bool deliverNext() {
    if (completions_.empty()) {
      return false;
    }
    runtime::Completion done = std::move(completions_.front());
    completions_.pop_front();
    if (done) {
      done();
    }
    return true;
  }

  // Runs jobs, including those their completions queue, until none is left (at most `max`).
  std::size_t runAll(std::size_t max = 10000) {
    std::size_t n = 0;
    while (n < max && runNext()) {
      ++n;
    }
    return n;
  }

 private:
  struct Job {
    std::string lane;
    runtime::JobBody body;
  };
  std::deque<Job> jobs_;
  std::deque<runtime::Completion> completions_;
};

}  // namespace pathpilot::testing
