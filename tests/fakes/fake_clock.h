// tests/fakes/fake_clock.h — a Clock that only moves when the test says so.
#pragma once

#include "base/time.h"

namespace pathpilot::testing {

class FakeClock final : public Clock {
 public:
  FakeClock() : mono_(MonoTime(std::chrono::hours(1))), wall_(WallTime(std::chrono::hours(490000))) {}

  MonoTime now() const override { return mono_; }
  WallTime wallNow() const override { return wall_; }

  // Moves both clocks forward by `d`.
  void advance(Duration d) {
    mono_ += d;
    wall_ += std::chrono::duration_cast<WallTime::duration>(d);
  }

 private:
  MonoTime mono_;
  WallTime wall_;
};

}  // namespace pathpilot::testing
