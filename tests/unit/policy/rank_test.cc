// Tests for rankCandidates: the static preference order `pathpilot check` prints.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "policy/policy.h"
#include "unit/policy/reference_topology.h"

namespace pathpilot::policy {
namespace {

using testing::kAzA;
using testing::kAzB;
using testing::referenceTopology;

std::vector<std::string> names(const std::vector<RankedCandidate>& ranked) {
  std::vector<std::string> out;
  for (const auto& c : ranked) {
    out.push_back(c.path);
  }
  return out;
}

TEST(RankCandidatesTest, ReferenceScenarioOwnAzFirst) {
  const Topology t = referenceTopology();
  const auto rtb1 = rankCandidates(t, t.tables[0]);
  const auto rtb2 = rankCandidates(t, t.tables[1]);
  EXPECT_EQ(names(rtb1), (std::vector<std::string>{"dx", "vpn-a", "vpn-b"}));
  EXPECT_EQ(names(rtb2), (std::vector<std::string>{"dx", "vpn-b", "vpn-a"}));
  ASSERT_EQ(rtb1.size(), 3u);
  EXPECT_EQ(rtb1[0].why, "preferred link kind dx");
  EXPECT_EQ(rtb1[1].why, std::string("vpn gateway in the table's own AZ (") + kAzA +
                             "), after link kind dx");
  EXPECT_EQ(rtb1[2].why, std::string("vpn gateway in another AZ (") + kAzB +
                             "), cross-AZ, after link kind dx");
}

TEST(RankCandidatesTest, VpnFirstLinkPreference) {
  Topology t = referenceTopology();
  t.params.link_preference = {LinkKind::Vpn, LinkKind::Dx};
  EXPECT_EQ(names(rankCandidates(t, t.tables[0])),
            (std::vector<std::string>{"vpn-a", "vpn-b", "dx"}));
  const auto rtb2 = rankCandidates(t, t.tables[1]);
  EXPECT_EQ(names(rtb2), (std::vector<std::string>{"vpn-b", "vpn-a", "dx"}));
  EXPECT_EQ(rtb2[0].why, std::string("vpn gateway in the table's own AZ (") + kAzB + ")");
  EXPECT_EQ(rtb2[2].why, "fallback link kind dx");
}

TEST(RankCandidatesTest, LinkKindMissingFromPreferenceIsNeverACandidate) {
  Topology t = referenceTopology();
  t.params.link_preference = {LinkKind::Vpn};
  EXPECT_EQ(names(rankCandidates(t, t.tables[0])), (std::vector<std::string>{"vpn-a", "vpn-b"}));
}

TEST(RankCandidatesTest, AllowedPathsRestrict) {
  Topology t = referenceTopology();
  t.tables[0].allowed_paths = {"vpn-b", "dx", "no-such-path"};
  EXPECT_EQ(names(rankCandidates(t, t.tables[0])), (std::vector<std::string>{"dx", "vpn-b"}));
}

TEST(RankCandidatesTest, NoAffinityOrdersByPriorityThenName) {
  Topology t = referenceTopology();
  t.params.az_affinity = false;
  t.paths[2].priority = 50;  // vpn-b
  const auto rtb1 = rankCandidates(t, t.tables[0]);
  EXPECT_EQ(names(rtb1), (std::vector<std::string>{"dx", "vpn-b", "vpn-a"}));
  EXPECT_EQ(rtb1[1].why, std::string("fallback link kind vpn (gateway in ") + kAzB +
                             "), priority 50");
  t.paths[2].priority = 100;
  EXPECT_EQ(names(rankCandidates(t, t.tables[1])),
            (std::vector<std::string>{"dx", "vpn-a", "vpn-b"}));
}

TEST(RankCandidatesTest, TwoDxLinesTieBrokenByPriority) {
  Topology t = referenceTopology();
  t.paths.push_back({"dx-2", LinkKind::Dx, "", 10});
  const auto rtb1 = rankCandidates(t, t.tables[0]);
  EXPECT_EQ(names(rtb1), (std::vector<std::string>{"dx-2", "dx", "vpn-a", "vpn-b"}));
  EXPECT_EQ(rtb1[0].why, "preferred link kind dx, priority 10");
  EXPECT_EQ(rtb1[1].why, "preferred link kind dx, priority 100");
}

TEST(RankCandidatesTest, EmptyTopologyGivesEmptyRanking) {
  Topology t;
  TableSpec table{"rtb-x", kAzA, {}, {}};
  EXPECT_TRUE(rankCandidates(t, table).empty());
}

}  // namespace
}  // namespace pathpilot::policy
