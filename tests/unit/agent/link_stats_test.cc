#include "agent/link_stats.h"

#include <algorithm>

#include <gtest/gtest.h>

namespace pathpilot::agent {
namespace {

// Reads the test's own network namespace over rtnetlink (no traffic is sent): loopback is
// always there, up, with a name and an index.
TEST(NetlinkLinkStatsTest, ReadsLoopback) {
  NetlinkLinkStats source;
  auto links = source.read();
  ASSERT_TRUE(links) << links.error().toString();
  auto lo = std::find_if(links->begin(), links->end(),
                         [](const LinkStats& l) { return l.name == "lo"; });
  ASSERT_NE(lo, links->end());
  EXPECT_GT(lo->index, 0u);
  EXPECT_TRUE(lo->oper_up);
  // Reading twice gives counters that never go backwards.
  auto again = source.read();
  ASSERT_TRUE(again);
  auto lo2 = std::find_if(again->begin(), again->end(),
                          [](const LinkStats& l) { return l.name == "lo"; });
  ASSERT_NE(lo2, again->end());
  EXPECT_GE(lo2->rx_bytes, lo->rx_bytes);
  EXPECT_GE(lo2->tx_packets, lo->tx_packets);
}

}  // namespace
}  // namespace pathpilot::agent
