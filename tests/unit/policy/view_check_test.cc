// Tests for policy::ViewCheck: when the monitor doubts its own view of the paths.
#include "policy/view_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fakes/fake_clock.h"

namespace pathpilot::policy {
namespace {

using health::PathState;
using ::testing::HasSubstr;

class ViewCheckTest : public ::testing::Test {
 protected:
  ViewCheck view_{ViewCheckParams{}, {"dx", "vpn-a", "vpn-b"}};
  pathpilot::testing::FakeClock clock_;

  ViewChange set(std::size_t i, PathState s) { return view_.onPathState(i, s, clock_.now()); }
  void allUp() {
    for (std::size_t i = 0; i < 3; ++i) {
      set(i, PathState::Up);
    }
  }
};

TEST_F(ViewCheckTest, EveryPathDownAtOnceMakesTheViewSuspect) {
  allUp();
  EXPECT_FALSE(set(0, PathState::Down));
  clock_.advance(std::chrono::milliseconds(400));
  EXPECT_FALSE(set(1, PathState::Down));
  clock_.advance(std::chrono::milliseconds(800));
  ViewChange c = set(2, PathState::Down);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c.suspect);
  EXPECT_TRUE(view_.suspect());
  EXPECT_THAT(c.reason, HasSubstr("every path (dx, vpn-a, vpn-b) went down within 1.2 s"));
  EXPECT_EQ(view_.since(), clock_.now());
  // The first path back ends it.
  clock_.advance(std::chrono::seconds(10));
  c = set(1, PathState::Up);
  ASSERT_TRUE(c);
  EXPECT_FALSE(c.suspect);
  EXPECT_TRUE(c.reason.empty());
}

TEST_F(ViewCheckTest, PathsFailingOneAfterTheOtherAreBelieved) {
  allUp();
  set(0, PathState::Down);
  clock_.advance(std::chrono::minutes(2));
  set(1, PathState::Down);
  clock_.advance(std::chrono::seconds(1));
  EXPECT_FALSE(set(2, PathState::Down)) << "DX two minutes earlier: not one event";
  EXPECT_FALSE(view_.suspect());
}

TEST_F(ViewCheckTest, ADegradedOrUnknownPathIsNotDown) {
  allUp();
  set(0, PathState::Down);
  set(1, PathState::Down);
  EXPECT_FALSE(set(2, PathState::Degraded));
  EXPECT_FALSE(set(2, PathState::Unknown));
  EXPECT_FALSE(view_.suspect());
}

TEST_F(ViewCheckTest, AOnePathSiteNeverDoubtsItself) {
  ViewCheck one(ViewCheckParams{}, {"dx"});
  EXPECT_FALSE(one.onPathState(0, PathState::Down, clock_.now()));
  EXPECT_FALSE(one.suspect());
}

TEST_F(ViewCheckTest, ReferenceTargetsDownMakeTheViewSuspectWhateverThePathsSay) {
  allUp();
  ViewChange c = view_.onReferenceState(PathState::Down, "3 consecutive probes lost", clock_.now());
  ASSERT_TRUE(c);
  EXPECT_THAT(c.reason, HasSubstr("reference targets do not answer (3 consecutive probes lost)"));
  EXPECT_FALSE(set(0, PathState::Up)) << "a usable path does not clear a reference failure";
  c = view_.onReferenceState(PathState::Up, "", clock_.now());
  ASSERT_TRUE(c);
  EXPECT_FALSE(c.suspect);
}

TEST_F(ViewCheckTest, ACorrelatedOutageStaysSuspectWhenAPathFlapsDownAgainLater) {
  allUp();
  set(0, PathState::Down);
  set(1, PathState::Down);
  ASSERT_TRUE(set(2, PathState::Down));
  clock_.advance(std::chrono::seconds(30));
  set(2, PathState::Unknown);  // comes back through Unknown (not usable yet)
  clock_.advance(std::chrono::seconds(30));
  EXPECT_FALSE(set(2, PathState::Down)) << "still the same outage";
  EXPECT_TRUE(view_.suspect());
}

}  // namespace
}  // namespace pathpilot::policy
