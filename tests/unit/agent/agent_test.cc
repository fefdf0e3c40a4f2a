#include "agent/agent.h"

#include <httplib.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "fake_vici.h"
#include "fakes/fake_clock.h"
#include "vici_samples.h"

namespace pathpilot::agent {
namespace {

using testing::child;
using testing::conn;
using testing::sa;

class AgentTest : public ::testing::Test {
 protected:
  AgentTest() {
    config_.gateway = "strongswan-1";
    config_.site = "Beijing";
    config_.listen.reset();
    CloudWatchSettings cw;
    cw.region = "cn-north-1";
    cw.dimensions = {{"Site", "Beijing"}, {"Gateway", "strongswan-1"}};
    config_.cloudwatch = cw;
    vici_.conns = {conn("tunnel1", "tunnel1"), conn("tunnel2", "tunnel2")};
    vici_.sas = {sa("tunnel1", "1", "ESTABLISHED", {child("tunnel1", "1", "INSTALLED", 1000, 500)})};
    links_.links = {LinkStats{"lo", 1, true, 1, 1, 1, 1, 0, 0, 0, 0},
                    LinkStats{"ipsec0", 7, true, 4096, 2048, 40, 20, 0, 1, 2, 0}};
  }
  std::unique_ptr<Agent> make(MetricPublisher* publisher = nullptr) {
    return std::make_unique<Agent>(io_, config_, vici_, links_, clock_, publisher);
  }

  asio::io_context io_;
  pathpilot::testing::FakeClock clock_;
  AgentConfig config_;
  testing::FakeVici vici_;
  testing::FakeLinks links_;
};

TEST_F(AgentTest, PollReportsTunnelsTrafficAndInterfaces) {
  auto agent = make();
  agent->pollNow();
  auto s = agent->snapshot();
  EXPECT_TRUE(s->vici_up);
  ASSERT_EQ(s->tunnels.size(), 2u);
  EXPECT_TRUE(s->tunnels[0].up);
  EXPECT_FALSE(s->tunnels[1].up);
  EXPECT_EQ(s->traffic.at("tunnel1").bytes_in, 1000u);
  ASSERT_EQ(s->links.size(), 1u);  // lo is left out by default
  EXPECT_EQ(s->links[0].name, "ipsec0");
  EXPECT_EQ(vici_.commands, (std::vector<std::string>{"list-conns", "list-sas"}));
  std::string text = renderAgentMetrics(*s);
  EXPECT_NE(text.find("pathpilot_tunnel_up{gateway=\"strongswan-1\",tunnel=\"tunnel1\",ike=\"tunnel1\"} 1\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find("pathpilot_tunnel_up{gateway=\"strongswan-1\",tunnel=\"tunnel2\",ike=\"tunnel2\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("pathpilot_tunnel_bytes_in_total{gateway=\"strongswan-1\",tunnel=\"tunnel1\",ike=\"tunnel1\"} 1000\n"),
            std::string::npos);
  EXPECT_NE(text.find("pathpilot_interface_receive_bytes_total{gateway=\"strongswan-1\",interface=\"ipsec0\"} 4096\n"),
            std::string::npos);
  EXPECT_NE(text.find("pathpilot_agent_vici_up{gateway=\"strongswan-1\"} 1\n"), std::string::npos);
}

TEST_F(AgentTest, InterfaceFilterFromConfig) {
  config_.interfaces = {"lo"};
  auto agent = make();
  agent->pollNow();
  ASSERT_EQ(agent->snapshot()->links.size(), 1u);
  EXPECT_EQ(agent->snapshot()->links[0].name, "lo");
}

TEST_F(AgentTest, CharonAwayMarksKnownTunnelsDownAndComesBack) {
  auto agent = make();
  agent->pollNow();
  vici_.down = true;
  agent->pollNow();
  auto s = agent->snapshot();
  EXPECT_FALSE(s->vici_up);
  EXPECT_NE(s->vici_error.find("No such file"), std::string::npos);
  ASSERT_EQ(s->tunnels.size(), 2u);
  EXPECT_FALSE(s->tunnels[0].up);
  EXPECT_EQ(s->tunnels[0].ike, "tunnel1");
  EXPECT_EQ(s->traffic.at("tunnel1").bytes_in, 1000u);  // totals survive
  EXPECT_NE(renderAgentMetrics(*s).find("pathpilot_agent_vici_up{gateway=\"strongswan-1\"} 0"),
            std::string::npos);
  // charon restarts: the new SA's counters start at zero; the total keeps growing.
  vici_.down = false;
  vici_.sas = {sa("tunnel1", "1", "ESTABLISHED", {child("tunnel1", "1", "INSTALLED", 300, 100)})};
  agent->pollNow();
  s = agent->snapshot();
  EXPECT_TRUE(s->vici_up);
  EXPECT_TRUE(s->tunnels[0].up);
  EXPECT_EQ(s->traffic.at("tunnel1").bytes_in, 1300u);
}

TEST_F(AgentTest, ConfiguredTunnelsAreReportedEvenBeforeCharonAnswers) {
  config_.tunnels = {"tunnel2"};
  vici_.down = true;
  auto agent = make();
  agent->pollNow();
  ASSERT_EQ(agent->snapshot()->tunnels.size(), 1u);
  EXPECT_EQ(agent->snapshot()->tunnels[0].tunnel, "tunnel2");
  EXPECT_FALSE(agent->snapshot()->tunnels[0].up);
}

TEST_F(AgentTest, CloudWatchGetsStateAndTrafficSinceThePreviousPublish) {
  testing::FakePublisher publisher;
  auto agent = make(&publisher);
  ASSERT_TRUE(agent->start());
  // The first poll sets the baseline: traffic from before the agent started is not published.
  vici_.sas = {sa("tunnel1", "1", "ESTABLISHED", {child("tunnel1", "1", "INSTALLED", 1600, 900)})};
  agent->pollNow();
  agent->publishNow();
  agent->drainPublisherForTest();
  {
    std::lock_guard<std::mutex> lock(publisher.mutex);
    ASSERT_EQ(publisher.batches.size(), 1u);
    EXPECT_EQ(publisher.namespaces[0], "pathpilot/Tunnels");
    const auto& data = publisher.batches[0];
    ASSERT_EQ(data.size(), 6u);  // 3 metrics × 2 tunnels
    EXPECT_EQ(data[0].name, "TunnelState");
    EXPECT_EQ(data[0].value, 1.0);
    EXPECT_EQ(data[0].dimensions.back().name, "Tunnel");
    EXPECT_EQ(data[0].dimensions.back().value, "tunnel1");
    EXPECT_EQ(data[0].dimensions[0].name, "Site");
    EXPECT_EQ(data[1].name, "TunnelDataIn");
    EXPECT_EQ(data[1].value, 600.0);
    EXPECT_EQ(data[1].unit, "Bytes");
    EXPECT_EQ(data[2].name, "TunnelDataOut");
    EXPECT_EQ(data[2].value, 400.0);
    EXPECT_EQ(data[3].name, "TunnelState");
    EXPECT_EQ(data[3].value, 0.0);
  }
  // Nothing moved: zero bytes in the next period.
  agent->publishNow();
  agent->drainPublisherForTest();
  {
    std::lock_guard<std::mutex> lock(publisher.mutex);
    EXPECT_EQ(publisher.batches[1][1].value, 0.0);
  }
  agent->pollNow();
  auto text = renderAgentMetrics(*agent->snapshot());
  EXPECT_NE(text.find("pathpilot_agent_cloudwatch_requests_total{gateway=\"strongswan-1\",outcome=\"ok\"} 2"),
            std::string::npos) << text;
  EXPECT_NE(text.find("pathpilot_agent_cloudwatch_datapoints_total{gateway=\"strongswan-1\"} 12"),
            std::string::npos);
  agent->stop();
}

TEST_F(AgentTest, CloudWatchFailuresAreCountedAndPollingGoesOn) {
  testing::FakePublisher publisher;
  publisher.fail = true;
  auto agent = make(&publisher);
  ASSERT_TRUE(agent->start());
  agent->publishNow();
  agent->drainPublisherForTest();
  agent->pollNow();
  auto s = agent->snapshot();
  EXPECT_EQ(s->cloudwatch.errors, 1u);
  EXPECT_NE(s->cloudwatch.last_error.find("Throttling"), std::string::npos);
  EXPECT_TRUE(s->vici_up);
  agent->stop();
}

TEST_F(AgentTest, ServesMetricsHealthzAndTunnels) {
  config_.listen = ListenAddress{IpAddress::v4FromHostOrder(0x7F000001), 0};
  config_.cloudwatch.reset();
  auto agent = make();
  ASSERT_TRUE(agent->start());
  ASSERT_TRUE(agent->port());
  httplib::Client client("127.0.0.1", *agent->port());
  auto r = client.Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(r->body.find("pathpilot_tunnel_up"), std::string::npos);
  r = client.Get("/healthz");
  EXPECT_EQ(r->status, 200);
  r = client.Get("/api/v1/tunnels");
  EXPECT_EQ(r->status, 200);
  auto j = nlohmann::json::parse(r->body);
  EXPECT_EQ(j["tunnels"][0]["tunnel"], "tunnel1");
  EXPECT_EQ(j["tunnels"][0]["up"], true);
  r = client.Get("/nope");
  EXPECT_EQ(r->status, 404);
  vici_.down = true;
  agent->pollNow();
  r = client.Get("/healthz");
  EXPECT_EQ(r->status, 503);
  EXPECT_NE(r->body.find("charon does not answer"), std::string::npos);
  agent->stop();
}

TEST_F(AgentTest, InterfaceErrorsDoNotStopTunnelReporting) {
  links_.fail_next = true;
  auto agent = make();
  agent->pollNow();
  auto s = agent->snapshot();
  EXPECT_TRUE(s->links.empty());
  EXPECT_NE(s->links_error.find("netlink"), std::string::npos);
  EXPECT_TRUE(s->tunnels[0].up);
}

}  // namespace
}  // namespace pathpilot::agent
