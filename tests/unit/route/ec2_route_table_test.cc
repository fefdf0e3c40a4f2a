// Ec2RouteTable / Ec2RouteBackend: route::RouteTable semantics on EC2 (FakeHttpClient), the
// reconciler driving it against the fake endpoint, and parallel programming with a
// concurrency bound over real loopback connections.
#include <thread>

#include <gtest/gtest.h>

#include "aws/fake_endpoint.h"
#include "fakes/fake_aws.h"
#include "fakes/fake_clock.h"
#include "fakes/fake_http_client.h"
#include "fakes/manual_executor.h"
#include "http/curl_http_client.h"
#include "route/aws/ec2_route_table.h"
#include "route/reconciler.h"

namespace pathpilot::aws {
namespace {

using namespace std::chrono_literals;
using route::Ec2RouteBackend;
using route::Ec2RouteBackendOptions;
using route::Ec2RouteTable;
using route::isStaticRoute;
using route::NextHop;
using route::RouteDelta;
using testing::FakeClock;
using testing::FakeHttpClient;
using testing::kAwsKeyId;
using testing::kAwsSecret;
using testing::SharedClock;

std::string error(std::string_view code, std::string_view message) {
  return "<Response><Errors><Error><Code>" + std::string(code) + "</Code><Message>" +
         std::string(message) + "</Message></Error></Errors><RequestID>r</RequestID></Response>";
}
std::string ok(std::string_view action) {
  return "<" + std::string(action) + "Response><return>true</return></" + std::string(action) +
         "Response>";
}

class Ec2RouteTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Ec2RouteBackendOptions o;
    o.region = "ap-southeast-1";
    auto b = Ec2RouteBackend::createForTest(o, http_, creds_, clock_,
                                            {[] { return 0.5; }, [](Duration) {}});
    ASSERT_TRUE(b) << b.error().message();
    backend_ = std::move(*b);
    auto t = backend_->openTable("rtb-468f5222");
    ASSERT_TRUE(t);
    table_ = std::move(*t);
  }

  static RouteDelta delta(std::string dst, std::optional<std::string> from,
                          std::optional<NextHop> to) {
    RouteDelta d;
    d.destination = *IpPrefix::parse(dst);
    if (from) {
      d.old_next_hop = NextHop::opaque(*from);
    }
    d.new_next_hop = std::move(to);
    return d;
  }
  std::vector<std::string> actions() {
    std::vector<std::string> out;
    for (const auto& r : http_.requests()) {
      out.push_back(r.body.substr(7, r.body.find('&') - 7));
    }
    return out;
  }

  FakeClock clock_;
  FakeHttpClient http_;
  StaticCredentialsProvider creds_{Credentials(kAwsKeyId, kAwsSecret)};
  std::unique_ptr<Ec2RouteBackend> backend_;
  std::unique_ptr<route::RouteTable> table_;
};

TEST_F(Ec2RouteTableTest, OpenTableValidatesIds) {
  EXPECT_EQ(backend_->kind(), "aws");
  EXPECT_TRUE(backend_->openTable("rtb-0a1b2c3d4e5f60718"));
  for (const char* bad :
       {"", "rtb-", "rtb-xyz12345", "101", "rtb-468f522", "RTB-468f5222", "rtb-468F5222"}) {
    auto t = backend_->openTable(bad);
    ASSERT_FALSE(t) << bad;
    EXPECT_EQ(t.error().code(), ErrorCode::InvalidArgument);
  }
  EXPECT_EQ(http_.requestCount(), 0u);  // no I/O when opening
  EXPECT_EQ(table_->id(), "rtb-468f5222");
  EXPECT_EQ(table_->kind(), "aws");
}

TEST_F(Ec2RouteTableTest, ListReportsTargetsAsOpaqueNextHops) {
  http_.on("POST", "DescribeRouteTables",
           FakeHttpClient::response(
               200,
               "<DescribeRouteTablesResponse><routeTableSet><item><routeTableId>rtb-468f5222"
               "</routeTableId><routeSet>"
               "<item><destinationCidrBlock>172.31.0.0/16</destinationCidrBlock><gatewayId>local"
               "</gatewayId><state>active</state></item>"
               "<item><destinationCidrBlock>10.10.0.0/16</destinationCidrBlock><instanceId>"
               "i-0e1466e8a5dd4892c</instanceId><networkInterfaceId>eni-1</networkInterfaceId>"
               "<state>active</state></item>"
               "<item><destinationCidrBlock>10.20.0.0/16</destinationCidrBlock><state>blackhole"
               "</state></item>"
               "<item><destinationPrefixListId>pl-0123</destinationPrefixListId><gatewayId>"
               "vpce-1</gatewayId></item>"
               "<item><destinationIpv6CidrBlock>2001:db8::/56</destinationIpv6CidrBlock>"
               "<gatewayId>vgw-078bcc55</gatewayId></item>"
               "</routeSet></item></routeTableSet></DescribeRouteTablesResponse>"));
  auto routes = table_->list();
  ASSERT_TRUE(routes) << routes.error().message();
  ASSERT_EQ(routes->size(), 4u);
  EXPECT_EQ((*routes)[0].toString(), "172.31.0.0/16 local table rtb-468f5222");
  EXPECT_EQ((*routes)[1].next_hop, NextHop::opaque("i-0e1466e8a5dd4892c"));
  EXPECT_EQ((*routes)[2].next_hop, NextHop::opaque("blackhole"));
  EXPECT_EQ((*routes)[3].destination, *IpPrefix::parse("2001:db8::/56"));
  EXPECT_NE(http_.requests()[0].body.find("Filter.1.Value.1=rtb-468f5222"), std::string::npos);
}

// DescribeRouteTables lists a propagated route (the VGW's BGP routes) beside a static route of
// the same prefix. Only static routes are ours to program; the propagated ones are left out,
// whatever their order, and a prefix that only a propagated route covers reads as no route.
TEST_F(Ec2RouteTableTest, ListLeavesPropagatedRoutesOut) {
  http_.on("POST", "DescribeRouteTables",
           FakeHttpClient::response(
               200,
               "<DescribeRouteTablesResponse><routeTableSet><item><routeTableId>rtb-468f5222"
               "</routeTableId><routeSet>"
               "<item><destinationCidrBlock>172.31.0.0/16</destinationCidrBlock><gatewayId>local"
               "</gatewayId><state>active</state><origin>CreateRouteTable</origin></item>"
               "<item><destinationCidrBlock>10.10.0.0/16</destinationCidrBlock><gatewayId>"
               "vgw-078bcc55</gatewayId><state>active</state>"
               "<origin>EnableVgwRoutePropagation</origin></item>"
               "<item><destinationCidrBlock>10.10.0.0/16</destinationCidrBlock><instanceId>"
               "i-0e1466e8a5dd4892c</instanceId><state>active</state><origin>CreateRoute"
               "</origin></item>"
               "<item><destinationCidrBlock>10.20.0.0/16</destinationCidrBlock><gatewayId>"
               "vgw-078bcc55</gatewayId><state>active</state>"
               "<origin>EnableVgwRoutePropagation</origin></item>"
               "</routeSet></item></routeTableSet></DescribeRouteTablesResponse>"));
  auto routes = table_->list();
  ASSERT_TRUE(routes) << routes.error().message();
  ASSERT_EQ(routes->size(), 2u);
  EXPECT_EQ((*routes)[0].toString(), "172.31.0.0/16 local table rtb-468f5222");
  EXPECT_EQ((*routes)[1].destination, *IpPrefix::parse("10.10.0.0/16"));
  EXPECT_EQ((*routes)[1].next_hop, NextHop::opaque("i-0e1466e8a5dd4892c"));
  Ec2Route r;
  for (const char* origin : {"", "CreateRoute", "CreateRouteTable"}) {
    r.origin = origin;
    EXPECT_TRUE(isStaticRoute(r)) << origin;
  }
  for (const char* origin : {"EnableVgwRoutePropagation", "SomethingEc2AddsLater"}) {
    r.origin = origin;
    EXPECT_FALSE(isStaticRoute(r)) << origin;
  }
}

TEST_F(Ec2RouteTableTest, ListOfAMissingTableIsNotFound) {
  http_.on("POST", "DescribeRouteTables",
           FakeHttpClient::response(200,
                                    "<DescribeRouteTablesResponse><routeTableSet/>"
                                    "</DescribeRouteTablesResponse>"));
  auto routes = table_->list();
  ASSERT_FALSE(routes);
  EXPECT_EQ(routes.error().code(), ErrorCode::NotFound);
  EXPECT_NE(routes.error().message().find("rtb-468f5222"), std::string::npos);
}

TEST_F(Ec2RouteTableTest, MovingARouteIsOneReplaceRoute) {
  http_.on("POST", "ReplaceRoute", FakeHttpClient::response(200, ok("ReplaceRoute")));
  auto r =
      table_->apply(delta("10.10.0.0/16", "vgw-078bcc55", NextHop::opaque("i-0e1466e8a5dd4892c")));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(actions(), (std::vector<std::string>{"ReplaceRoute"}));
  EXPECT_NE(http_.requests()[0].body.find("InstanceId=i-0e1466e8a5dd4892c"), std::string::npos);
}

TEST_F(Ec2RouteTableTest, ReplaceFallsBackToCreate) {
  http_.on("POST", "ReplaceRoute",
           FakeHttpClient::response(
               400, error("InvalidParameterValue",
                          "There is no route defined for '10.10.0.0/16' in the route table. Use "
                          "CreateRoute instead.")));
  http_.on("POST", "CreateRoute", FakeHttpClient::response(200, ok("CreateRoute")));
  ASSERT_TRUE(table_->apply(delta("10.10.0.0/16", "vgw-1", NextHop::opaque("vgw-078bcc55"))));
  EXPECT_EQ(actions(), (std::vector<std::string>{"ReplaceRoute", "CreateRoute"}));
}

TEST_F(Ec2RouteTableTest, CreateFirstWhenNothingIsInstalledThenReplaceIfItExists) {
  http_.on("POST", "CreateRoute",
           FakeHttpClient::response(400, error("RouteAlreadyExists", "exists")));
  http_.on("POST", "ReplaceRoute", FakeHttpClient::response(200, ok("ReplaceRoute")));
  ASSERT_TRUE(table_->apply(delta("10.10.0.0/16", std::nullopt, NextHop::opaque("vgw-078bcc55"))));
  EXPECT_EQ(actions(), (std::vector<std::string>{"CreateRoute", "ReplaceRoute"}));
}

TEST_F(Ec2RouteTableTest, DeleteIsIdempotent) {
  http_.on("POST", "DeleteRoute",
           {FakeHttpClient::response(200, ok("DeleteRoute")),
            FakeHttpClient::response(400, error("InvalidRoute.NotFound",
                                                "no route with destination-cidr-block "
                                                "10.10.0.0/16 in route table rtb-468f5222"))});
  EXPECT_TRUE(table_->apply(delta("10.10.0.0/16", "vgw-1", std::nullopt)));
  EXPECT_TRUE(table_->apply(delta("10.10.0.0/16", "vgw-1", std::nullopt)));
  EXPECT_EQ(actions(), (std::vector<std::string>{"DeleteRoute", "DeleteRoute"}));
}

TEST_F(Ec2RouteTableTest, ErrorsNameTableDestinationAndTarget) {
  http_.on(
      "POST", "ReplaceRoute",
      FakeHttpClient::response(403, error("UnauthorizedOperation",
                                          "You are not authorized to perform this operation.")));
  auto r = table_->apply(delta("10.10.0.0/16", "vgw-1", NextHop::opaque("vgw-078bcc55")));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::PermissionDenied);
  EXPECT_EQ(r.error().message().rfind("aws rtb-468f5222 10.10.0.0/16 -> vgw-078bcc55: EC2 "
                                      "ReplaceRoute failed: UnauthorizedOperation",
                                      0),
            0u)
      << r.error().message();
  // A missing table is NotFound and is not "fixed" by a CreateRoute.
  http_.on("POST", "ReplaceRoute",
           FakeHttpClient::response(400, error("InvalidRouteTableID.NotFound", "gone")));
  FakeHttpClient http2;
  http2.on("POST", "ReplaceRoute",
           FakeHttpClient::response(400, error("InvalidRouteTableID.NotFound", "gone")));
  Ec2RouteBackendOptions o;
  o.region = "ap-southeast-1";
  auto b = Ec2RouteBackend::createForTest(o, http2, creds_, clock_);
  auto t = (*b)->openTable("rtb-468f5222");
  auto gone = (*t)->apply(delta("10.10.0.0/16", "vgw-1", NextHop::opaque("vgw-078bcc55")));
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), ErrorCode::NotFound);
  EXPECT_EQ(http2.requestCount(), 1u);
}

TEST_F(Ec2RouteTableTest, LinuxNextHopsAndUnknownTargetsAreRejected) {
  auto linux_hop = table_->apply(
      delta("10.10.0.0/16", "vgw-1", NextHop::gateway(*IpAddress::parse("169.254.100.1"), "vti0")));
  ASSERT_FALSE(linux_hop);
  EXPECT_EQ(linux_hop.error().code(), ErrorCode::InvalidArgument);
  EXPECT_NE(linux_hop.error().message().find("needs an EC2 target id"), std::string::npos);
  auto sg = table_->apply(delta("10.10.0.0/16", "vgw-1", NextHop::opaque("sg-12345678")));
  ASSERT_FALSE(sg);
  EXPECT_EQ(sg.error().code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(http_.requestCount(), 0u);
}

TEST(Ec2RouteBackendTest, BadOptionsAreRejected) {
  FakeClock clock;
  StaticCredentialsProvider creds{Credentials(kAwsKeyId, kAwsSecret)};
  Ec2RouteBackendOptions o;
  o.region = "ap-southeast1";
  auto bad_region = Ec2RouteBackend::create(o, http::curlClients(), creds, clock);
  ASSERT_FALSE(bad_region);
  EXPECT_NE(bad_region.error().message().find("aws backend"), std::string::npos);
  o.region = "ap-southeast-1";
  o.max_concurrency = 0;
  EXPECT_FALSE(Ec2RouteBackend::create(o, http::curlClients(), creds, clock));
  o.max_concurrency = 2;
  o.endpoint_url = "ftp://x";
  EXPECT_FALSE(Ec2RouteBackend::create(o, http::curlClients(), creds, clock));
}

// ---- against the fake endpoint over loopback ----

TEST(Ec2RouteTableEndToEndTest, ReconcilerAdoptsAndProgramsThroughEc2) {
  SharedClock clock;
  FakeAwsOptions fo;
  fo.clock = &clock;
  auto fake = testing::startFakeAws(fo, {"rtb-468f5222", "rtb-4b8f522f"},
                                    {{"i-0e1466e8a5dd4892c"}, {"i-0430fe110cdec5835"}});
  ASSERT_TRUE(fake);
  fake->putRoute("rtb-468f5222", "10.10.0.0/16", *RouteTarget::fromId("vgw-078bcc55"));

  StaticCredentialsProvider creds{Credentials(kAwsKeyId, kAwsSecret)};
  Ec2RouteBackendOptions o;
  o.region = "ap-southeast-1";
  o.endpoint_url = fake->url();
  o.max_concurrency = 2;
  auto backend = Ec2RouteBackend::create(o, http::curlClients(), creds, clock);
  ASSERT_TRUE(backend) << backend.error().message();
  auto a = (*backend)->openTable("rtb-468f5222");
  auto b = (*backend)->openTable("rtb-4b8f522f");
  ASSERT_TRUE(a && b);

  testing::ManualExecutor executor;
  std::vector<route::RouteChangedEvent> changes;
  std::vector<route::RouteErrorEvent> errors;
  route::ReconcilerCallbacks cb;
  cb.route_changed = [&](const route::RouteChangedEvent& e) { changes.push_back(e); };
  cb.route_error = [&](const route::RouteErrorEvent& e) { errors.push_back(e); };
  route::Reconciler reconciler(executor, clock, cb);
  reconciler.addTable(**a, clock.now());
  reconciler.addTable(**b, clock.now());
  auto dst = *IpPrefix::parse("10.10.0.0/16");
  // Table a already points at DX (adopted, no call); table b has no route yet (created).
  ASSERT_TRUE(reconciler.setDesired({"rtb-468f5222", dst}, {NextHop::opaque("vgw-078bcc55"), "dx"},
                                    clock.now()));
  ASSERT_TRUE(reconciler.setDesired(
      {"rtb-4b8f522f", dst}, {NextHop::opaque("i-0430fe110cdec5835"), "vpn-b"}, clock.now()));
  reconciler.start(clock.now());
  for (int i = 0; i < 20 && (executor.pending() > 0 || !reconciler.allSynced()); ++i) {
    reconciler.poll(clock.now());
    while (executor.runNext()) {
    }
  }
  EXPECT_TRUE(reconciler.allSynced());
  EXPECT_TRUE(errors.empty()) << errors[0].error.message();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].key.table, "rtb-4b8f522f");
  EXPECT_EQ(reconciler.stats().adopted, 1u);
  EXPECT_EQ(fake->routeTable("rtb-4b8f522f")->routes.at(0).target.id, "i-0430fe110cdec5835");

  // DX fails: move table a to the AZ-a gateway.
  ASSERT_TRUE(reconciler.setDesired(
      {"rtb-468f5222", dst}, {NextHop::opaque("i-0e1466e8a5dd4892c"), "vpn-a"}, clock.now()));
  reconciler.poll(clock.now());
  while (executor.runNext()) {
  }
  EXPECT_EQ(fake->routeTable("rtb-468f5222")->routes.at(0).target.id, "i-0e1466e8a5dd4892c");
  EXPECT_EQ(fake->stats().rejected_signatures, 0u);
}

// VGW route propagation on, as in the classic set-up: the reconciler, driving the real backend
// against the fake, programs static routes over the propagated one and never replaces or
// deletes it — at start (a table with only the propagated route gets ONE CreateRoute; a table
// with our static route beside it is adopted with no call), when DX's BGP session drops before
// the probes see DX down (no drift, no call), at failover and failback (ONE ReplaceRoute each,
// of the static route).
TEST(Ec2RouteTableEndToEndTest, PropagatedRoutesAreFactsNotOurs) {
  SharedClock clock;
  FakeAwsOptions fo;
  fo.clock = &clock;
  const std::string a = "rtb-468f5222";
  const std::string b = "rtb-4b8f522f";
  const std::string vgw = "vgw-078bcc55";
  const std::string gw_a = "i-0e1466e8a5dd4892c";
  auto fake = testing::startFakeAws(fo, {a, b}, {{gw_a}});
  ASSERT_TRUE(fake);
  // Both tables learn 10.10.0.0/16 from the VGW; b also holds a static route to DX (ours, from
  // before a restart), listed after the propagated one.
  fake->propagateRoute(a, "10.10.0.0/16", vgw);
  fake->propagateRoute(b, "10.10.0.0/16", vgw);
  fake->putRoute(b, "10.10.0.0/16", *RouteTarget::fromId(vgw));

  StaticCredentialsProvider creds{Credentials(kAwsKeyId, kAwsSecret)};
  Ec2RouteBackendOptions o;
  o.region = "ap-southeast-1";
  o.endpoint_url = fake->url();
  auto backend = Ec2RouteBackend::create(o, http::curlClients(), creds, clock);
  ASSERT_TRUE(backend) << backend.error().message();
  auto ta = (*backend)->openTable(a);
  auto tb = (*backend)->openTable(b);
  ASSERT_TRUE(ta && tb);

  testing::ManualExecutor executor;
  std::vector<route::RouteChangedEvent> changes;
  std::vector<route::RouteDriftEvent> drifts;
  std::vector<route::RouteErrorEvent> errors;
  route::ReconcilerCallbacks cb;
  cb.route_changed = [&](const route::RouteChangedEvent& e) { changes.push_back(e); };
  cb.route_drift = [&](const route::RouteDriftEvent& e) { drifts.push_back(e); };
  cb.route_error = [&](const route::RouteErrorEvent& e) { errors.push_back(e); };
  route::Reconciler reconciler(executor, clock, cb);
  reconciler.addTable(**ta, clock.now());
  reconciler.addTable(**tb, clock.now());
  auto dst = *IpPrefix::parse("10.10.0.0/16");
  auto settle = [&] {
    for (int i = 0; i < 20; ++i) {
      reconciler.poll(clock.now());
      while (executor.runNext()) {
      }
      if (executor.pending() == 0 && reconciler.allSynced()) {
        break;
      }
    }
  };
  // The route changes the fake saw since `seq`: "Action table target".
  auto mutations = [&](std::uint64_t seq) {
    std::vector<std::string> out;
    for (const FakeAwsCall& c : fake->calls(seq)) {
      if (c.action != "DescribeRouteTables") {
        out.push_back(c.action + " " + c.route_table_id + " " + c.target);
      }
    }
    return out;
  };
  auto lastSeq = [&] {
    auto calls = fake->calls();
    return calls.empty() ? std::uint64_t{0} : calls.back().seq;
  };
  // What the fake's table holds for the prefix: "target origin", in its order.
  auto held = [&](const std::string& table) {
    std::vector<std::string> out;
    const auto held_table = fake->routeTable(table);
    for (const Ec2Route& r : held_table->routes) {
      out.push_back(r.target.id + " " + r.origin);
    }
    return out;
  };
  auto desire = [&](const std::string& table, const std::string& target, const char* path) {
    ASSERT_TRUE(reconciler.setDesired({table, dst}, {NextHop::opaque(target), path}, clock.now()));
    settle();
  };

  // Start on DX: a gets a static route over the propagated one; b's is adopted.
  ASSERT_TRUE(reconciler.setDesired({a, dst}, {NextHop::opaque(vgw), "dx"}, clock.now()));
  ASSERT_TRUE(reconciler.setDesired({b, dst}, {NextHop::opaque(vgw), "dx"}, clock.now()));
  reconciler.start(clock.now());
  settle();
  EXPECT_TRUE(reconciler.allSynced());
  EXPECT_EQ(mutations(0), std::vector<std::string>{"CreateRoute " + a + " " + vgw});
  EXPECT_EQ(reconciler.stats().adopted, 1u);
  EXPECT_EQ(held(a),
            (std::vector<std::string>{vgw + " EnableVgwRoutePropagation", vgw + " CreateRoute"}));

  // DX's BGP session drops before the probes notice: the propagated routes vanish. That is
  // not drift (our static routes are unchanged) and costs no call.
  std::uint64_t seq = lastSeq();
  fake->setBgpSession(vgw, false);
  reconciler.requestVerify("", clock.now());
  settle();
  EXPECT_TRUE(drifts.empty()) << drifts[0].key.toString();
  EXPECT_EQ(mutations(seq), std::vector<std::string>{});
  EXPECT_EQ(held(a), std::vector<std::string>{vgw + " CreateRoute"});

  // Failover: one ReplaceRoute of the static route per table.
  seq = lastSeq();
  desire(a, gw_a, "vpn-a");
  desire(b, gw_a, "vpn-a");
  EXPECT_EQ(mutations(seq), (std::vector<std::string>{"ReplaceRoute " + a + " " + gw_a,
                                                      "ReplaceRoute " + b + " " + gw_a}));

  // BGP comes back (DX is repaired), the propagated route reappears beside ours: no drift.
  seq = lastSeq();
  fake->setBgpSession(vgw, true);
  clock.advance(std::chrono::minutes(2));  // the periodic check of every table runs
  settle();
  EXPECT_EQ(reconciler.stats().lists, 6u);  // 2 at start, 2 verifies, 2 periodic checks
  EXPECT_TRUE(drifts.empty());
  EXPECT_EQ(mutations(seq), std::vector<std::string>{});

  // Failback: one ReplaceRoute each, back to the VGW; the propagated route is still there.
  seq = lastSeq();
  desire(a, vgw, "dx");
  desire(b, vgw, "dx");
  EXPECT_EQ(mutations(seq), (std::vector<std::string>{"ReplaceRoute " + a + " " + vgw,
                                                      "ReplaceRoute " + b + " " + vgw}));
  EXPECT_EQ(held(a),
            (std::vector<std::string>{vgw + " EnableVgwRoutePropagation", vgw + " CreateRoute"}));

  // Withdrawing deletes our static route only.
  seq = lastSeq();
  ASSERT_TRUE(reconciler.withdraw({b, dst}, clock.now()));
  settle();
  EXPECT_EQ(mutations(seq), std::vector<std::string>{"DeleteRoute " + b + " "});
  EXPECT_EQ(held(b), std::vector<std::string>{vgw + " EnableVgwRoutePropagation"});
  // ... and a table that holds only the propagated route has nothing left to delete.
  seq = lastSeq();
  reconciler.requestVerify(b, clock.now());
  settle();
  EXPECT_EQ(mutations(seq), std::vector<std::string>{});
  EXPECT_TRUE(errors.empty()) << errors[0].error.message();
  EXPECT_EQ(changes.size(), 6u);
}

TEST(Ec2RouteTableEndToEndTest, TablesAreProgrammedInParallelWithinTheBound) {
  SharedClock clock;
  FakeAwsOptions fo;
  fo.clock = &clock;
  fo.faults.latency_rate = 1.0;  // every request takes 30 ms at the "service"
  fo.faults.latency = 30ms;
  constexpr int kTables = 8;
  std::vector<std::string> ids;
  for (int i = 0; i < kTables; ++i) {
    ids.push_back("rtb-" + std::to_string(10000000 + i));
  }
  auto fake = testing::startFakeAws(fo, ids);
  ASSERT_TRUE(fake);
  for (const auto& id : ids) {
    fake->putRoute(id, "10.10.0.0/16", *RouteTarget::fromId("vgw-078bcc55"));
  }
  StaticCredentialsProvider creds{Credentials(kAwsKeyId, kAwsSecret)};
  Ec2RouteBackendOptions o;
  o.region = "ap-southeast-1";
  o.endpoint_url = fake->url();
  o.max_concurrency = 3;
  auto backend = Ec2RouteBackend::create(o, http::curlClients(), creds, clock);
  ASSERT_TRUE(backend);
  std::vector<std::unique_ptr<route::RouteTable>> tables;
  for (const auto& id : ids) {
    tables.push_back(std::move(*(*backend)->openTable(id)));
  }
  // One worker per table, as the reconciler's executor does.
  std::vector<std::thread> workers;
  std::vector<Result<void>> results(kTables, pathpilot::ok());
  for (int i = 0; i < kTables; ++i) {
    workers.emplace_back([&, i] {
      RouteDelta d;
      d.destination = *IpPrefix::parse("10.10.0.0/16");
      d.old_next_hop = NextHop::opaque("vgw-078bcc55");
      d.new_next_hop = NextHop::opaque("tgw-0123456789abcdef0");
      results[static_cast<std::size_t>(i)] = tables[static_cast<std::size_t>(i)]->apply(d);
    });
  }
  for (auto& w : workers) {
    w.join();
  }
  for (int i = 0; i < kTables; ++i) {
    ASSERT_TRUE(results[static_cast<std::size_t>(i)])
        << results[static_cast<std::size_t>(i)].error().message();
    EXPECT_EQ(fake->routeTable(ids[static_cast<std::size_t>(i)])->routes.at(0).target.id,
              "tgw-0123456789abcdef0");
  }
  // Parallel, but never more than the bound.
  EXPECT_LE(fake->stats().max_in_flight, 3u);
  EXPECT_GE(fake->stats().max_in_flight, 2u);
  ASSERT_NE((*backend)->pool(), nullptr);
  EXPECT_LE((*backend)->pool()->maxInFlight(), 3u);
  EXPECT_EQ((*backend)->pool()->inFlight(), 0u);
}

}  // namespace
}  // namespace pathpilot::aws
