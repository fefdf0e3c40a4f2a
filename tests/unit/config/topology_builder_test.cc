// daemon::buildTopology: config → policy::Topology, and the ranking it yields.
#include <gtest/gtest.h>

#include "config/loader.h"
#include "config_test_util.h"
#include "daemon/topology_builder.h"
#include "policy/policy.h"

namespace pathpilot::daemon {
namespace {

using namespace std::chrono_literals;

config::Config loadSeed() {
  auto loaded = config::loadFile(std::string(PP_SOURCE_DIR) + "/examples/seed-2az.yaml");
  EXPECT_TRUE(loaded.has_value()) << loaded.error().message();
  return loaded.value_or(config::Config{});
}

TEST(TopologyBuilderTest, SeedScenarioBecomesTopology) {
  policy::Topology t = buildTopology(loadSeed());
  ASSERT_EQ(t.paths.size(), 3u);
  EXPECT_EQ(t.paths[0].name, "dx");
  EXPECT_EQ(t.paths[0].link, policy::LinkKind::Dx);
  EXPECT_EQ(t.paths[0].priority, 10);
  EXPECT_EQ(t.paths[1].name, "vpn-a");
  EXPECT_EQ(t.paths[1].link, policy::LinkKind::Vpn);
  EXPECT_EQ(t.paths[1].az, "ap-southeast-1a");
  EXPECT_EQ(t.paths[2].az, "ap-southeast-1b");
  ASSERT_EQ(t.tables.size(), 2u);
  EXPECT_EQ(t.tables[0].id, "rtb-468f5222");
  EXPECT_EQ(t.tables[0].az, "ap-southeast-1a");
  ASSERT_EQ(t.tables[0].destinations.size(), 1u);
  EXPECT_EQ(t.tables[0].destinations[0].toString(), "10.10.0.0/16");
  EXPECT_TRUE(t.tables[0].allowed_paths.empty());
  EXPECT_EQ(t.params.link_preference,
            (std::vector<policy::LinkKind>{policy::LinkKind::Dx, policy::LinkKind::Vpn}));
  EXPECT_TRUE(t.params.az_affinity);
  EXPECT_EQ(t.params.failback_hold_down, 60s);
  EXPECT_TRUE(t.params.fail_static);
}

TEST(TopologyBuilderTest, PolicySettingsAndRestrictionsAreCarriedOver) {
  std::string text = std::string(config::testing::kMinimal) +
                     "    paths: [vpn-a, dx]\n"
                     "policy: {preference: [vpn, dx], az_affinity: false, "
                     "failback_hold_down: 2m, fail_static: false}\n";
  auto loaded = config::loadString(text);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message();
  policy::Topology t = buildTopology(*loaded);
  EXPECT_EQ(t.params.link_preference,
            (std::vector<policy::LinkKind>{policy::LinkKind::Vpn, policy::LinkKind::Dx}));
  EXPECT_FALSE(t.params.az_affinity);
  EXPECT_EQ(t.params.failback_hold_down, 2min);
  EXPECT_FALSE(t.params.fail_static);
  EXPECT_EQ(t.tables[0].allowed_paths, (std::vector<std::string>{"vpn-a", "dx"}));
  auto ranked = policy::rankCandidates(t, t.tables[0]);
  ASSERT_EQ(ranked.size(), 2u);
  EXPECT_EQ(ranked[0].path, "vpn-a");
  EXPECT_EQ(ranked[1].path, "dx");
}

TEST(TopologyBuilderTest, EveryValidConfigGivesAValidPolicy) {
  for (const char* name : {"seed-2az.yaml", "linux-2az.yaml"}) {
    auto loaded = config::loadFile(std::string(PP_SOURCE_DIR) + "/examples/" + name);
    ASSERT_TRUE(loaded.has_value()) << loaded.error().message();
    policy::Topology t = buildTopology(*loaded);
    auto compiled = policy::Policy::create(t);
    EXPECT_TRUE(compiled.has_value()) << name << ": " << compiled.error().message();
    // Each table: DX first, then its own zone's gateway, then the other one.
    auto first = policy::rankCandidates(t, t.tables[0]);
    auto second = policy::rankCandidates(t, t.tables[1]);
    ASSERT_EQ(first.size(), 3u);
    ASSERT_EQ(second.size(), 3u);
    EXPECT_EQ(first[1].path, "vpn-a");
    EXPECT_EQ(second[1].path, "vpn-b");
  }
}

}  // namespace
}  // namespace pathpilot::daemon
