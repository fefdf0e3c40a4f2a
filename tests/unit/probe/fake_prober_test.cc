#include "fakes/fake_prober.h"

#include <gtest/gtest.h>

#include "fakes/fake_clock.h"

namespace pathpilot::probe {
namespace {

TEST(FakeProberTest, DeliversScriptedResultsThroughTheSink) {
  testing::FakeClock clock;
  FakeProber prober;
  std::vector<ProbeResult> got;
  prober.setSink([&](const ProbeResult& r) { got.push_back(r); });
  TargetSpec t;
  t.path = "dx";
  t.address = IpAddress::parse("10.10.3.100").value();
  ASSERT_TRUE(prober.replaceTargets({t}));
  prober.start();
  EXPECT_TRUE(prober.running());
  prober.succeedForTest("dx", 0, clock.now(), std::chrono::milliseconds(3));
  prober.failForTest("dx", 0, clock.now());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[0].success);
  EXPECT_EQ(got[0].target, t.address);
  EXPECT_EQ(got[0].rtt, std::chrono::milliseconds(3));
  EXPECT_EQ(got[1].failure, FailureKind::Timeout);
  EXPECT_EQ(prober.counters().received, 1u);
  EXPECT_EQ(prober.counters().timed_out, 1u);
}

TEST(FakeProberTest, ValidatesAndScriptsReplaceErrors) {
  FakeProber prober;
  TargetSpec bad;
  bad.path = "dx";
  bad.address = IpAddress::parse("10.0.0.1").value();
  bad.interval = std::chrono::milliseconds(1);
  EXPECT_FALSE(prober.replaceTargets({bad}));
  prober.failNextReplaceForTest(Error(ErrorCode::Internal, "scripted"));
  auto r = prober.replaceTargets({});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "scripted");
  EXPECT_TRUE(prober.replaceTargets({}));
  EXPECT_EQ(prober.replaceCalls(), 1);
}

}  // namespace
}  // namespace pathpilot::probe
