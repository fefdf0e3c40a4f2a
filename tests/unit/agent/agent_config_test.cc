#include "agent/agent_config.h"

#include <gtest/gtest.h>

namespace pathpilot::agent {
namespace {

TEST(AgentConfigTest, MinimalFileGetsDefaults) {
  auto c = parseAgentConfig("gateway: strongswan-1\n", "agent.yaml");
  ASSERT_TRUE(c) << c.error().toString();
  EXPECT_EQ(c->gateway, "strongswan-1");
  EXPECT_EQ(c->vici_socket, "unix:///var/run/charon.vici");
  EXPECT_EQ(c->vici_timeout, std::chrono::seconds(2));
  EXPECT_EQ(c->poll_interval, std::chrono::seconds(10));
  ASSERT_TRUE(c->listen);
  EXPECT_EQ(c->listen->address.toString(), "127.0.0.1");
  EXPECT_EQ(c->listen->port, 9181);
  EXPECT_FALSE(c->cloudwatch);
}

TEST(AgentConfigTest, FullFile) {
  auto c = parseAgentConfig(R"(
gateway: strongswan-2
site: Beijing
vici:
  socket: unix:///run/charon.vici
  timeout: 1500ms
poll_interval: 5s
tunnels: [tunnel2]
interfaces: [ipsec0, eth0]
listen: "[::1]:9200"
cloudwatch:
  region: cn-north-1
  namespace: Hybrid/Tunnels
  dimensions: {Site: Beijing, Gateway: strongswan-2}
  interval: 1m
  storage_resolution: 1
  profile: gateway
)", "agent.yaml");
  ASSERT_TRUE(c) << c.error().toString();
  EXPECT_EQ(c->site, "Beijing");
  EXPECT_EQ(c->vici_socket, "unix:///run/charon.vici");
  EXPECT_EQ(c->vici_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(c->tunnels, std::vector<std::string>{"tunnel2"});
  EXPECT_EQ(c->interfaces.size(), 2u);
  EXPECT_EQ(c->listen->address.toString(), "::1");
  EXPECT_EQ(c->listen->port, 9200);
  ASSERT_TRUE(c->cloudwatch);
  EXPECT_EQ(c->cloudwatch->region, "cn-north-1");
  EXPECT_EQ(c->cloudwatch->metric_namespace, "Hybrid/Tunnels");
  EXPECT_EQ(c->cloudwatch->dimensions.size(), 2u);
  EXPECT_EQ(c->cloudwatch->storage_resolution, 1);
  EXPECT_EQ(c->cloudwatch->profile, "gateway");
}

TEST(AgentConfigTest, DefaultDimensionsAreGatewayAndSite) {
  auto c = parseAgentConfig("gateway: g1\nsite: S\ncloudwatch: {region: ap-southeast-1}\n", "a");
  ASSERT_TRUE(c) << c.error().toString();
  EXPECT_EQ(c->cloudwatch->dimensions,
            (std::vector<std::pair<std::string, std::string>>{{"Gateway", "g1"}, {"Site", "S"}}));
}

TEST(AgentConfigTest, EmptyListenDisablesTheServer) {
  auto c = parseAgentConfig("gateway: g\nlisten: \"\"\n", "a");
  ASSERT_TRUE(c) << c.error().toString();
  EXPECT_FALSE(c->listen);
}

TEST(AgentConfigTest, ErrorsNameFileLineColumnAndKey) {
  struct Case {
    const char* text;
    const char* mentions;
  };
  for (const Case& c : {
           Case{"site: x\n", "gateway: required"},
           Case{"gateway: g\nvici:\n  timeout: soon\n", "agent.yaml:3:12: vici.timeout"},
           Case{"gateway: g\nvici:\n  socket: relative.vici\n", "vici.socket"},
           Case{"gateway: g\npoll_intervall: 5s\n", "agent.yaml:2:1: poll_intervall: unknown key"},
           Case{"gateway: g\npoll_interval: 1s\nvici: {timeout: 2s}\n", "shorter than poll_interval"},
           Case{"gateway: bad name\n", "gateway"},
           Case{"gateway: g\ntunnels: [a, a]\n", "listed twice"},
           Case{"gateway: g\ninterfaces: [averyveryverylongname]\n", "interface name"},
           Case{"gateway: g\nlisten: localhost:9181\n", "not an IP address"},
           Case{"gateway: g\nlisten: 127.0.0.1:99999\n", "1..65535"},
           Case{"gateway: g\ncloudwatch: {}\n", "cloudwatch.region: required"},
           Case{"gateway: g\ncloudwatch: {region: CN-NORTH-1}\n", "cloudwatch.region"},
           Case{"gateway: g\ncloudwatch: {region: cn-north-1, namespace: AWS/VPN}\n", "AWS/"},
           Case{"gateway: g\ncloudwatch: {region: cn-north-1, dimensions: {Tunnel: x}}\n",
                "set by the agent"},
           Case{"gateway: g\ncloudwatch: {region: cn-north-1, storage_resolution: 5}\n",
                "60 (standard) or 1"},
           Case{"gateway: g\ncloudwatch: {region: cn-north-1, interval: 1s}\n", "between"},
           Case{"gateway: [unterminated\n", "agent.yaml:"},
           Case{"- a\n- b\n", "expected a mapping"},
       }) {
    auto r = parseAgentConfig(c.text, "agent.yaml");
    ASSERT_FALSE(r) << c.text;
    EXPECT_NE(r.error().message().find(c.mentions), std::string::npos)
        << c.text << " -> " << r.error().message();
  }
}

TEST(AgentConfigTest, MissingFile) {
  auto r = loadAgentConfig("/nonexistent/agent.yaml");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::NotFound);
}

}  // namespace
}  // namespace pathpilot::agent

namespace pathpilot::agent {
namespace {

TEST(AgentConfigTest, ShippedExampleIsValid) {
  auto c = loadAgentConfig(std::string(PP_SOURCE_DIR) + "/examples/agent.yaml");
  ASSERT_TRUE(c) << c.error().toString();
  EXPECT_EQ(c->gateway, "strongswan-1");
  ASSERT_TRUE(c->cloudwatch);
  EXPECT_EQ(c->cloudwatch->region, "cn-north-1");
}

}  // namespace
}  // namespace pathpilot::agent
