// fakes/fake_prober.h — an in-memory probe::Prober for tests of the modules above probe.
//
// Purpose: lets daemon/health wiring tests drive probe results without sockets or time:
// the test calls succeedForTest()/failForTest() and the registered sink receives the result
// synchronously, exactly as the engine would deliver it on the loop thread. replaceTargets()
// validates like the real engine and records the set; a scripted error can be injected.
// Threading: single-threaded, like the real engine. Metrics: counters() reflect emitted results.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "probe/probe.h"

namespace pathpilot::probe {

class FakeProber final : public Prober {
 public:
  // probe::Prober
  void setSink(ProbeSink sink) override { sink_ = std::move(sink); }

  Result<void> replaceTargets(std::vector<TargetSpec> targets) override {
    if (next_replace_error_) {
      Error e = std::move(*next_replace_error_);
      next_replace_error_.reset();
      return fail(std::move(e));
    }
    for (const auto& t : targets) {
      if (auto v = validateTarget(t); !v) {
        return v;
      }
    }
    targets_ = std::move(targets);
    ++replace_calls_;
    return ok();
  }

  void start() override { running_ = true; }
  void stop() override { running_ = false; }
  ProbeCounters counters() const override { return counters_; }

  // ---- test hooks ----

  const std::vector<TargetSpec>& targets() const { return targets_; }
  bool running() const { return running_; }
  int replaceCalls() const { return replace_calls_; }

  // Makes the next replaceTargets() fail with `error` (and leave the targets unchanged).
  void failNextReplaceForTest(Error error) { next_replace_error_ = std::move(error); }

  // Delivers `result` to the sink as is, counting it like the engine would.
  void emitForTest(const ProbeResult& result) {
    ++counters_.sent;
    if (result.success) {
      ++counters_.received;
    } else if (result.failure == FailureKind::Timeout) {
      ++counters_.timed_out;
    } else if (result.failure == FailureKind::Unreachable) {
      ++counters_.unreachable;
    } else if (result.failure == FailureKind::SendError) {
      ++counters_.send_errors;
    }
    if (sink_) {
      sink_(result);
    }
  }

  // A successful probe of target (path, index) that completed at `now` after `rtt`.
  // Requires: the target is in the current set.
  void succeedForTest(const std::string& path, std::uint32_t index, MonoTime now, Duration rtt) {
    ProbeResult r = base(path, index);
    r.success = true;
    r.rtt = rtt;
    r.sent_at = now - rtt;
    r.completed_at = now;
    emitForTest(r);
  }

  // A failed probe of target (path, index) at `now`.
  void failForTest(const std::string& path, std::uint32_t index, MonoTime now,
                   FailureKind kind = FailureKind::Timeout, std::string error = "timeout") {
    ProbeResult r = base(path, index);
    r.failure = kind;
    r.error = std::move(error);
    r.sent_at = now;
    r.completed_at = now;
    emitForTest(r);
  }

 private:
  ProbeResult base(const std::string& path, std::uint32_t index) const {
    ProbeResult r;
    r.path = path;
    r.target_index = index;
    auto it = std::find_if(targets_.begin(), targets_.end(),
                           [&](const TargetSpec& t) { return t.path == path && t.index == index; });
    if (it != targets_.end()) {
      r.target = it->address;
      r.kind = it->kind;
    }
    return r;
  }

  ProbeSink sink_;
  std::vector<TargetSpec> targets_;
  std::optional<Error> next_replace_error_;
  ProbeCounters counters_;
  bool running_ = false;
  int replace_calls_ = 0;
};

}  // namespace pathpilot::probe
