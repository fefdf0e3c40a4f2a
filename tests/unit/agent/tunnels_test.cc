#include "agent/tunnels.h"

#include <gtest/gtest.h>

#include "vici_samples.h"

namespace pathpilot::agent {
namespace {

using testing::child;
using testing::conn;
using testing::sa;

TEST(TunnelsTest, ParsesListSasAndListConns) {
  auto sas = parseListSas({sa("a", "3", "ESTABLISHED", {child("a", "5", "INSTALLED", 924, 1200)})});
  ASSERT_EQ(sas.size(), 1u);
  EXPECT_EQ(sas[0].name, "a");
  EXPECT_EQ(sas[0].state, "ESTABLISHED");
  EXPECT_EQ(sas[0].remote_host, "203.0.113.20");
  EXPECT_EQ(sas[0].established_seconds, 42u);
  ASSERT_EQ(sas[0].children.size(), 1u);
  EXPECT_EQ(sas[0].children[0].name, "a");
  EXPECT_EQ(sas[0].children[0].bytes_in, 924u);
  EXPECT_EQ(sas[0].children[0].packets_out, 12u);
  EXPECT_EQ(sas[0].children[0].local_ts.at(0), "10.1.1.0/24");
  auto conns = parseListConns({conn("a", "a"), conn("b", "b-child")});
  ASSERT_EQ(conns.size(), 2u);
  EXPECT_EQ(conns[1].children.at(0), "b-child");
}

TEST(TunnelsTest, MissingOrBadCountersReadAsZero) {
  ViciSection c = child("a", "5", "INSTALLED", 1, 1);
  c.values.erase(c.values.begin() + 7);  // bytes-in
  for (auto& [k, v] : c.values) {
    if (k == "bytes-out") {
      v = "12x";
    }
  }
  auto sas = parseListSas({sa("a", "3", "ESTABLISHED", {c})});
  EXPECT_EQ(sas[0].children[0].bytes_in, 0u);
  EXPECT_EQ(sas[0].children[0].bytes_out, 0u);
}

TEST(TunnelsTest, ConfiguredTunnelWithoutSaIsDown) {
  auto conns = parseListConns({conn("a", "a"), conn("b", "b")});
  auto sas = parseListSas({sa("a", "3", "ESTABLISHED", {child("a", "5", "INSTALLED", 10, 20)})});
  auto t = tunnelStatus(conns, sas);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].tunnel, "a");
  EXPECT_TRUE(t[0].up);
  EXPECT_EQ(t[0].installed, 1u);
  EXPECT_EQ(t[0].ike_state, "ESTABLISHED");
  EXPECT_EQ(t[1].tunnel, "b");
  EXPECT_FALSE(t[1].up);
  EXPECT_EQ(t[1].ike_state, "");
}

TEST(TunnelsTest, ConnectingIkeOrNotInstalledChildIsDown) {
  auto conns = parseListConns({conn("a", "a")});
  auto t = tunnelStatus(conns, parseListSas({sa("a", "3", "CONNECTING", {})}));
  EXPECT_FALSE(t[0].up);
  EXPECT_EQ(t[0].ike_state, "CONNECTING");
  t = tunnelStatus(conns, parseListSas({sa("a", "3", "ESTABLISHED",
                                            {child("a", "5", "CREATED", 0, 0)})}));
  EXPECT_FALSE(t[0].up);
  EXPECT_EQ(t[0].child_state, "CREATED");
}

TEST(TunnelsTest, RekeyingShowsTwoInstalledChildren) {
  auto sas = parseListSas({sa("a", "3", "ESTABLISHED", {child("a", "5", "INSTALLED", 100, 100),
                                                        child("a", "6", "INSTALLED", 10, 10)})});
  auto t = tunnelStatus(parseListConns({conn("a", "a")}), sas);
  EXPECT_TRUE(t[0].up);
  EXPECT_EQ(t[0].installed, 2u);
  EXPECT_EQ(t[0].sas.size(), 2u);
}

TEST(TunnelsTest, WantedRestrictsAndReportsUnknownNamesDown) {
  auto conns = parseListConns({conn("a", "a"), conn("b", "b")});
  auto t = tunnelStatus(conns, {}, {"b", "ghost"});
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].tunnel, "b");
  EXPECT_EQ(t[0].ike, "b");
  EXPECT_EQ(t[1].tunnel, "ghost");
  EXPECT_FALSE(t[1].up);
}

TEST(TunnelsTest, SaOfAnUnconfiguredConnectionStillAppears) {
  auto sas = parseListSas({sa("x", "9", "ESTABLISHED", {child("x", "1", "INSTALLED", 5, 5)})});
  auto t = tunnelStatus({}, sas);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].tunnel, "x");
  EXPECT_TRUE(t[0].up);
}

TEST(TunnelsTest, TrafficIsMonotonicAcrossRekeysAndRestarts) {
  auto conns = parseListConns({conn("a", "a")});
  TrafficTotals totals;
  auto poll = [&](std::vector<ViciSection> children) {
    totals.update(tunnelStatus(conns, parseListSas({sa("a", "3", "ESTABLISHED", children)})));
    return totals.total("a");
  };
  EXPECT_EQ(poll({child("a", "5", "INSTALLED", 1000, 2000)}).bytes_in, 1000u);
  EXPECT_EQ(poll({child("a", "5", "INSTALLED", 1500, 2100)}).bytes_in, 1500u);
  // Rekey: old SA still there and a new one counting from zero.
  EXPECT_EQ(poll({child("a", "5", "INSTALLED", 1600, 2100), child("a", "6", "INSTALLED", 50, 0)})
                .bytes_in,
            1650u);
  // Old SA gone.
  EXPECT_EQ(poll({child("a", "6", "INSTALLED", 80, 10)}).bytes_in, 1680u);
  // charon restarted: unique ids start over and counters are smaller → treated as new SA.
  Traffic t = poll({child("a", "6", "INSTALLED", 30, 5)});
  EXPECT_EQ(t.bytes_in, 1710u);
  EXPECT_EQ(t.bytes_out, 2100u + 10u + 5u);
  // Charon away: nothing counted, nothing lost.
  totals.update({});
  EXPECT_EQ(totals.total("a").bytes_in, 1710u);
  EXPECT_EQ(totals.total("nope"), Traffic{});
}

}  // namespace
}  // namespace pathpilot::agent
