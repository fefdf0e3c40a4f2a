#include "metrics/path_recorder.h"

#include <gtest/gtest.h>

#include "fakes/fake_clock.h"

namespace pathpilot::metrics {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class PathRecorderTest : public ::testing::Test {
 protected:
  testing::FakeClock clock_;
  PathRecorder rec_{clock_.now(), clock_.wallNow(), {seconds(5), 4}};
};

TEST_F(PathRecorderTest, CountsSentLostAndRtt) {
  rec_.onProbe("dx", true, milliseconds(2), clock_.now());
  rec_.onProbe("dx", false, milliseconds(0), clock_.now());
  rec_.onProbe("dx", true, milliseconds(4), clock_.now());
  const PathTotals* t = rec_.totals("dx");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->sent, 3u);
  EXPECT_EQ(t->lost, 1u);
  EXPECT_EQ(t->rtt.count(), 2u);
  EXPECT_DOUBLE_EQ(t->rtt.sum(), 0.006);
  EXPECT_EQ(rec_.totals("vpn-a"), nullptr);
}

TEST_F(PathRecorderTest, TransitionsByNewStateAndUnknownNamesIgnored) {
  rec_.onTransition("dx", "down");
  rec_.onTransition("dx", "down");
  rec_.onTransition("dx", "up");
  rec_.onTransition("dx", "sideways");
  const PathTotals* t = rec_.totals("dx");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->transitions[*pathStateIndex("down")], 2u);
  EXPECT_EQ(t->transitions[*pathStateIndex("up")], 1u);
  EXPECT_EQ(t->transitions[*pathStateIndex("degraded")], 0u);
}

TEST_F(PathRecorderTest, RouteChangesPerTableAndDestination) {
  rec_.onRouteChange("rtb-1", "10.10.0.0/16");
  rec_.onRouteChange("rtb-1", "10.10.0.0/16");
  rec_.onRouteChange("rtb-2", "10.10.0.0/16");
  EXPECT_EQ(rec_.routeChanges("rtb-1", "10.10.0.0/16"), 2u);
  EXPECT_EQ(rec_.routeChanges("rtb-2", "10.10.0.0/16"), 1u);
  EXPECT_EQ(rec_.routeChanges("rtb-3", "10.10.0.0/16"), 0u);
}

TEST_F(PathRecorderTest, HistoryHasOnlyClosedBucketsWithMeanRtt) {
  rec_.onProbe("dx", true, milliseconds(2), clock_.now());
  rec_.onProbe("dx", true, milliseconds(4), clock_.now());
  rec_.onProbe("dx", false, milliseconds(0), clock_.now());
  EXPECT_TRUE(rec_.history().paths.at(0).points.empty());  // bucket 0 still open
  auto gen = rec_.historyGeneration();
  clock_.advance(seconds(5));
  rec_.advance(clock_.now());
  EXPECT_NE(rec_.historyGeneration(), gen);
  History h = rec_.history();
  ASSERT_EQ(h.paths.size(), 1u);
  ASSERT_EQ(h.paths[0].points.size(), 1u);
  const HistoryPoint& p = h.paths[0].points[0];
  EXPECT_EQ(p.index, 0);
  EXPECT_EQ(p.sent, 3u);
  EXPECT_EQ(p.lost, 1u);
  EXPECT_DOUBLE_EQ(p.rtt_mean_ms, 3.0);
  EXPECT_EQ(h.bucket, seconds(5));
  EXPECT_EQ(h.origin, clock_.wallNow() - seconds(5));
}

TEST_F(PathRecorderTest, HistoryKeepsTheLastNBucketsAndSkipsGaps) {
  for (int i = 0; i < 10; ++i) {
    if (i != 7) {
      rec_.onProbe("dx", true, milliseconds(i + 1), clock_.now());
    }
    clock_.advance(seconds(5));
  }
  rec_.advance(clock_.now());
  History h = rec_.history();
  EXPECT_EQ(h.first_index, 6);
  EXPECT_EQ(h.last_index, 9);
  ASSERT_EQ(h.paths[0].points.size(), 3u);  // 6, 8, 9 (7 had no probe)
  EXPECT_EQ(h.paths[0].points[0].index, 6);
  EXPECT_DOUBLE_EQ(h.paths[0].points[0].rtt_mean_ms, 7.0);
  EXPECT_EQ(h.paths[0].points[1].index, 8);
  EXPECT_EQ(h.paths[0].points[2].index, 9);
}

TEST_F(PathRecorderTest, AllLostBucketHasZeroRtt) {
  rec_.onProbe("vpn-a", false, milliseconds(0), clock_.now());
  clock_.advance(seconds(5));
  rec_.advance(clock_.now());
  auto h = rec_.history();
  ASSERT_EQ(h.paths[0].points.size(), 1u);
  EXPECT_EQ(h.paths[0].points[0].lost, 1u);
  EXPECT_EQ(h.paths[0].points[0].rtt_mean_ms, 0.0);
}

TEST_F(PathRecorderTest, RetainForgetsRemovedPathsAndRoutes) {
  rec_.onProbe("dx", true, milliseconds(1), clock_.now());
  rec_.onProbe("old", true, milliseconds(1), clock_.now());
  rec_.onRouteChange("rtb-1", "10.0.0.0/8");
  rec_.onRouteChange("rtb-old", "10.0.0.0/8");
  rec_.retain({"dx"}, {"rtb-1|10.0.0.0/8"});
  EXPECT_NE(rec_.totals("dx"), nullptr);
  EXPECT_EQ(rec_.totals("old"), nullptr);
  EXPECT_EQ(rec_.routeChanges("rtb-1", "10.0.0.0/8"), 1u);
  EXPECT_EQ(rec_.routeChanges("rtb-old", "10.0.0.0/8"), 0u);
}

}  // namespace
}  // namespace pathpilot::metrics
