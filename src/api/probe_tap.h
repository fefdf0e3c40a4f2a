// api/probe_tap.h — a Prober decorator that shows every probe result to an observer first.
//
// Purpose: per-path probe totals, RTT histograms and sparklines need every probe result, and
// the engine consumes results through the single ProbeSink it registers on its Prober. Rather
// than widen the engine, the daemon hands the engine a ProbeTap wrapped around the real
// prober: the tap installs its own sink on the inner prober, calls the observer with each
// result, then forwards the result to the engine's sink. Everything else is delegated.
//
// Threading: like every Prober, engine thread only; the observer runs there too and must be
// cheap (it is: a map lookup and a few additions).
// Metrics: none of its own; counters() is the inner prober's.
#pragma once

#include <functional>
#include <utility>
#include <vector>

#include "probe/probe.h"

namespace pathpilot::api {

class ProbeTap final : public probe::Prober {
 public:
  using Observer = std::function<void(const probe::ProbeResult&)>;

  // Requires: `inner` outlives the tap.
  ProbeTap(probe::Prober& inner, Observer observer)
      : inner_(inner), observer_(std::move(observer)) {}

  // probe::Prober
  void setSink(probe::ProbeSink sink) override {
    sink_ = std::move(sink);
    inner_.setSink([this](const probe::ProbeResult& r) {
      if (observer_) {
        observer_(r);
      }
      if (sink_) {
        sink_(r);
      }
    });
  }
  [[nodiscard]] Result<void> replaceTargets(std::vector<probe::TargetSpec> targets) override {
    return inner_.replaceTargets(std::move(targets));
  }
  void start() override { inner_.start(); }
  void stop() override { inner_.stop(); }
  probe::ProbeCounters counters() const override { return inner_.counters(); }

 private:
  probe::Prober& inner_;
  Observer observer_;
  probe::ProbeSink sink_;
};

}  // namespace pathpilot::api
