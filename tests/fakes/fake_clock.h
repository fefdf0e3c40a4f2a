// tests/fakes/fake_clock.h — a Clock that only moves when the test says so.
//
// Threading: reads and advance() may come from different threads (a journal's writer thread
// reads the wall clock while the test advances it); each clock is one atomic, so there is no
// data race, though a reader may see the monotonic and wall clocks of different advances.
#pragma once

#include <atomic>

#include "base/time.h"

namespace pathpilot::testing {

class FakeClock final : public Clock {
 public:
  FakeClock()
      : mono_(MonoTime(std::chrono::hours(1)).time_since_epoch().count()),
        wall_(WallTime(std::chrono::hours(490000)).time_since_epoch().count()) {}

  MonoTime now() const override {
    return MonoTime(MonoTime::duration(mono_.load(std::memory_order_acquire)));
  }
  WallTime wallNow() const override {
    return WallTime(WallTime::duration(wall_.load(std::memory_order_acquire)));
  }

  // Moves both clocks forward by `d`.
  void advance(Duration d) {
    mono_.fetch_add(std::chrono::duration_cast<MonoTime::duration>(d).count(),
                    std::memory_order_acq_rel);
    wall_.fetch_add(std::chrono::duration_cast<WallTime::duration>(d).count(),
                    std::memory_order_acq_rel);
  }

  // Steps the wall clock alone (forward or back), as NTP or an operator does; monotonic time
  // does not move.
  void stepWall(Duration d) {
    wall_.fetch_add(std::chrono::duration_cast<WallTime::duration>(d).count(),
                    std::memory_order_acq_rel);
  }

 private:
  std::atomic<MonoTime::rep> mono_;
  std::atomic<WallTime::rep> wall_;
};

}  // namespace pathpilot::testing
