// ProbeEngine with real sockets (private network namespace, root): RTT-adaptive timeouts and
// phase-locked targets, end to end through the engine's timer and sockets.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "engine_loop.h"
#include "netns.h"
#include "probe/probe_engine.h"

namespace pathpilot::probe {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class EngineTimingTest : public ::testing::Test, protected testing::EngineLoop {
 protected:
  void SetUp() override {
    const std::string why = testing::enterPrivateNetns();
    if (!why.empty()) {
      GTEST_SKIP() << why;
    }
    EngineOptions options;
    options.icmp_mode = IcmpMode::Ping;
    options.seed = 777;
    engine_ = std::make_unique<ProbeEngine>(io_, clock_, options);
    engine_->setSink([this](const ProbeResult& r) { results_.push_back(r); });
  }

  static TargetSpec target(const std::string& path, std::uint32_t index, const char* address,
                           Duration interval, Duration timeout) {
    TargetSpec s;
    s.path = path;
    s.index = index;
    s.address = IpAddress::parse(address).value();
    s.interval = interval;
    s.timeout = timeout;
    s.jitter_pct = 0;
    return s;
  }

  std::size_t successes(std::uint32_t index) const {
    std::size_t n = 0;
    for (const auto& r : results_) {
      n += r.success && r.target_index == index ? 1 : 0;
    }
    return n;
  }

};

// Loopback answers in microseconds: after a few replies the timeout is the 5 ms floor, not the
// configured 400 ms, and a dropped probe is reported after ~5 ms.
TEST_F(EngineTimingTest, AdaptiveTimeoutFollowsTheMeasuredRtt) {
  TargetSpec s = target("dx", 0, "127.0.0.6", milliseconds(20), milliseconds(400));
  s.adaptive_timeout = AdaptiveTimeoutParams{milliseconds(5), 4.0, milliseconds(1)};
  ASSERT_TRUE(engine_->replaceTargets({s}));
  engine_->start();
  ASSERT_TRUE(runUntil([&] { return successes(0) >= 10; }));
  ASSERT_TRUE(
      testing::sh("iptables -A INPUT -d 127.0.0.6 -p icmp --icmp-type echo-request -j DROP"));
  const std::size_t before = results_.size();
  const bool got = runUntil([&] {
    for (std::size_t i = before; i < results_.size(); ++i) {
      if (!results_[i].success) {
        return true;
      }
    }
    return false;
  });
  testing::sh("iptables -D INPUT -d 127.0.0.6 -p icmp --icmp-type echo-request -j DROP");
  ASSERT_TRUE(got);
  const ProbeResult* failed = nullptr;
  for (std::size_t i = before; i < results_.size() && failed == nullptr; ++i) {
    failed = results_[i].success ? nullptr : &results_[i];
  }
  EXPECT_EQ(failed->failure, FailureKind::Timeout);
  // Usually exactly the floor; on a loaded machine a sample delayed between the clock read and
  // the send can raise RTTVAR a little, hence no exact text.
  EXPECT_EQ(failed->error.rfind("icmp 127.0.0.6 via dx: timeout after ", 0), 0u) << failed->error;
  EXPECT_GE(failed->completed_at - failed->sent_at, milliseconds(5));
  EXPECT_LT(failed->completed_at - failed->sent_at, milliseconds(200));  // far below 400 ms
}

// Without a block the configured timeout stays in force.
TEST_F(EngineTimingTest, FixedTimeoutWithoutAdaptiveSettings) {
  ASSERT_TRUE(
      testing::sh("iptables -A INPUT -d 127.0.0.7 -p icmp --icmp-type echo-request -j DROP"));
  ASSERT_TRUE(
      engine_->replaceTargets({target("dx", 0, "127.0.0.7", milliseconds(50), milliseconds(30))}));
  engine_->start();
  const bool got = runUntil([&] { return !results_.empty(); });
  testing::sh("iptables -D INPUT -d 127.0.0.7 -p icmp --icmp-type echo-request -j DROP");
  ASSERT_TRUE(got);
  EXPECT_EQ(results_[0].error, "icmp 127.0.0.7 via dx: timeout after 30ms");
}

// For each send of target 1, the distance to the nearest send of target 0. Nearest rather than
// "the same round number": on a loaded machine a stalled loop can skip a round of one target
// only (the schedule skips missed rounds, never bursts), and counting rounds would then pair
// sends one interval apart.
std::vector<Duration> sendOffsets(const std::vector<ProbeResult>& results) {
  std::vector<MonoTime> a, b;
  for (const auto& r : results) {
    (r.target_index == 0 ? a : b).push_back(r.sent_at);
  }
  std::vector<Duration> out;
  for (MonoTime tb : b) {
    Duration best = Duration::max();
    for (MonoTime ta : a) {
      best = std::min(best, std::chrono::abs(tb - ta));
    }
    if (!a.empty()) {
      out.push_back(best);
    }
  }
  return out;
}

double medianMillis(std::vector<Duration> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 1e9 : toMillis(v[v.size() / 2]);
}

// Quorum 1 of 2: both targets in one slot, so each round's two probes leave together.
TEST_F(EngineTimingTest, TargetsInOneSlotProbeTogether) {
  TargetSpec a = target("vpn-a", 0, "127.0.0.2", milliseconds(40), milliseconds(30));
  TargetSpec b = target("vpn-a", 1, "127.0.0.3", milliseconds(40), milliseconds(30));
  a.phase = b.phase = PhaseSlot{0, 1};
  a.jitter_pct = b.jitter_pct = 10;
  ASSERT_TRUE(engine_->replaceTargets({a, b}));
  engine_->start();
  ASSERT_TRUE(runUntil([&] { return successes(0) >= 20 && successes(1) >= 20; }));
  // Each probe keeps its own ±2 ms jitter (10% of 40 ms / 2), but they never drift apart.
  // The median, so that one late wake-up on a loaded machine does not fail the test.
  EXPECT_LT(medianMillis(sendOffsets(results_)), 4.0);
}

// Quorum 2 of 2: two slots, half an interval apart.
TEST_F(EngineTimingTest, TwoSlotsAreHalfAnIntervalApart) {
  TargetSpec a = target("vpn-b", 0, "127.0.0.2", milliseconds(40), milliseconds(15));
  TargetSpec b = target("vpn-b", 1, "127.0.0.3", milliseconds(40), milliseconds(15));
  a.phase = PhaseSlot{0, 2};
  b.phase = PhaseSlot{1, 2};
  ASSERT_TRUE(engine_->replaceTargets({a, b}));
  engine_->start();
  ASSERT_TRUE(runUntil([&] { return successes(0) >= 20 && successes(1) >= 20; }));
  // b's slot is 20 ms after a's (and 20 ms before a's next one).
  EXPECT_NEAR(medianMillis(sendOffsets(results_)), 20.0, 3.0);
}

}  // namespace
}  // namespace pathpilot::probe
