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
  // Keeps the engine's sink and installs the tap's own on the inner prober; the observer sees
  // each result before the engine does, so a snapshot built in the same handler counts it.
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
  // Delegated unchanged: the tap never filters or alters targets or results.
  [[nodiscard]] Result<void> replaceTargets(std::vector<probe::TargetSpec> targets) override {
    return inner_.replaceTargets(std::move(targets));
  }
  void start() override { inner_.start(); }
  void stop() override { inner_.stop(); }
  probe::ProbeCounters counters() const override { return inner_.counters(); }

 private:
  probe::Prober& inner_;     // the real prober (ProbeEngine), not owned
  Observer observer_;        // the recorder's feed (DaemonApi)
  probe::ProbeSink sink_;    // the engine's sink, called after the observer
};

}  // namespace pathpilot::api
