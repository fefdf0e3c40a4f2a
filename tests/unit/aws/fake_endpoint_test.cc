// End to end on loopback: the real CurlHttpClient, SigV4 and retries against the fake AWS
// endpoint, which verifies every signature. Time is a shared, thread-safe test clock; retry
// sleeps are recorded, not slept.
#include <mutex>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "aws/cloudwatch.h"
#include "aws/credential_providers.h"
#include "aws/ec2.h"
#include "aws/fake_endpoint.h"
#include "aws/sns.h"
#include "fakes/fake_aws.h"
#include "http/curl_http_client.h"

namespace pathpilot::aws {
namespace {

using namespace std::chrono_literals;

constexpr const char* kKey = testing::kAwsKeyId;
constexpr const char* kSecret = testing::kAwsSecret;

class FakeEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override { start({}); }

  void start(FakeAwsOptions options) {
    fake_.reset();
    options.clock = &clock_;
    options.transition = 10s;
    fake_ = testing::startFakeAws(options, {"rtb-468f5222", "rtb-4b8f522f"},
                                  {{"i-0e1466e8a5dd4892c", "running", "ap-southeast-1a"},
                                   {"i-0430fe110cdec5835", "running", "ap-southeast-1b"}});
    ASSERT_TRUE(fake_);
    fake_->putRoute("rtb-468f5222", "10.10.0.0/16", *RouteTarget::fromId("vgw-078bcc55"));
  }

  std::unique_ptr<QueryClient> client(std::string api, std::string service,
                                      std::string_view version,
                                      CredentialsProvider* creds = nullptr,
                                      std::string endpoint_url = {}) {
    return testing::fakeAwsQueryClient(endpoint_url.empty() ? fake_->url() : endpoint_url, http_,
                                       creds ? *creds : creds_, clock_,
                                       {std::move(api), std::move(service), version},
                                       [this](Duration d) { sleeps_.push_back(d); });
  }

  testing::SharedClock clock_;
  std::unique_ptr<FakeAwsEndpoint> fake_;
  http::CurlHttpClient http_;
  StaticCredentialsProvider creds_{Credentials(kKey, kSecret, "session-token-value")};
  std::vector<Duration> sleeps_;
};

TEST_F(FakeEndpointTest, RoutesEndToEnd) {
  auto q = client("EC2", "ec2", kEc2ApiVersion);
  Ec2Client ec2(*q);
  auto dst = *IpPrefix::parse("10.10.0.0/16");
  auto tables = ec2.describeRouteTables({"rtb-468f5222", "rtb-4b8f522f"});
  ASSERT_TRUE(tables) << tables.error().message();
  ASSERT_EQ(tables->size(), 2u);
  const Ec2Route* dx = (*tables)[0].findRoute(dst);
  ASSERT_NE(dx, nullptr);
  EXPECT_EQ(dx->target.id, "vgw-078bcc55");
  EXPECT_TRUE(dx->active());

  // Fail over to the AZ-a gateway, then create the route in the other table.
  auto vpn_a = *RouteTarget::fromId("i-0e1466e8a5dd4892c");
  ASSERT_TRUE(ec2.replaceRoute("rtb-468f5222", dst, vpn_a));
  auto missing = ec2.replaceRoute("rtb-4b8f522f", dst, vpn_a);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::NotFound);
  ASSERT_TRUE(ec2.createRoute("rtb-4b8f522f", dst, vpn_a));
  auto dup = ec2.createRoute("rtb-4b8f522f", dst, vpn_a);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code(), ErrorCode::AlreadyExists);
  EXPECT_EQ(fake_->routeTable("rtb-468f5222")->routes.at(0).target, vpn_a);
  EXPECT_EQ(fake_->routeTable("rtb-4b8f522f")->routes.at(0).target, vpn_a);

  auto gone = ec2.replaceRoute("rtb-00000000", dst, vpn_a);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), ErrorCode::NotFound);
  EXPECT_NE(gone.error().message().find("InvalidRouteTableID.NotFound"), std::string::npos);
  ASSERT_TRUE(ec2.deleteRoute("rtb-4b8f522f", dst));
  EXPECT_TRUE(fake_->routeTable("rtb-4b8f522f")->routes.empty());
  auto twice = ec2.deleteRoute("rtb-4b8f522f", dst);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code(), ErrorCode::NotFound);
  EXPECT_EQ(fake_->stats().rejected_signatures, 0u);
}

// VGW route propagation: the propagated route is listed beside the static one with its own
// origin, comes and goes with the gateway's BGP session, and is never touched by
// Create/Replace/DeleteRoute, which act on the static route of the prefix only.
TEST_F(FakeEndpointTest, PropagatedRoutesComeAndGoWithBgpAndAreNeverTouched) {
  auto q = client("EC2", "ec2", kEc2ApiVersion);
  Ec2Client ec2(*q);
  auto dst = *IpPrefix::parse("10.10.0.0/16");
  auto vgw = *RouteTarget::fromId("vgw-078bcc55");
  auto vpn_b = *RouteTarget::fromId("i-0430fe110cdec5835");
  fake_->propagateRoute("rtb-4b8f522f", "10.10.0.0/16", "vgw-078bcc55");
  auto origins = [&](const std::string& table) {
    std::vector<std::string> out;
    auto t = ec2.describeRouteTables({table});
    EXPECT_TRUE(t) << t.error().message();
    for (const Ec2Route& r : t ? t->at(0).routes : std::vector<Ec2Route>{}) {
      out.push_back(r.destination + " " + r.target.id + " " + r.origin + " " + r.state);
    }
    return out;
  };
  EXPECT_EQ(origins("rtb-4b8f522f"),
            std::vector<std::string>{"10.10.0.0/16 vgw-078bcc55 EnableVgwRoutePropagation active"});
  EXPECT_EQ(ec2.describeRouteTables({"rtb-4b8f522f"})->at(0).propagating_vgws,
            std::vector<std::string>{"vgw-078bcc55"});
  EXPECT_EQ(ec2.describeRouteTables({"rtb-468f5222"})->at(0).propagating_vgws,
            std::vector<std::string>{});

  // Only a propagated route: Replace and Delete find no route; Create adds a static one.
  auto replaced = ec2.replaceRoute("rtb-4b8f522f", dst, vpn_b);
  ASSERT_FALSE(replaced);
  EXPECT_EQ(replaced.error().code(), ErrorCode::NotFound);
  auto deleted = ec2.deleteRoute("rtb-4b8f522f", dst);
  ASSERT_FALSE(deleted);
  EXPECT_EQ(deleted.error().code(), ErrorCode::NotFound);
  ASSERT_TRUE(ec2.createRoute("rtb-4b8f522f", dst, vpn_b));
  auto again = ec2.createRoute("rtb-4b8f522f", dst, vgw);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::AlreadyExists);
  EXPECT_EQ(origins("rtb-4b8f522f"),
            (std::vector<std::string>{"10.10.0.0/16 vgw-078bcc55 EnableVgwRoutePropagation active",
                                      "10.10.0.0/16 i-0430fe110cdec5835 CreateRoute active"}));

  // Replace and Delete act on the static route; the propagated one stays.
  ASSERT_TRUE(ec2.replaceRoute("rtb-4b8f522f", dst, vgw));
  ASSERT_TRUE(ec2.deleteRoute("rtb-4b8f522f", dst));
  EXPECT_EQ(origins("rtb-4b8f522f"),
            std::vector<std::string>{"10.10.0.0/16 vgw-078bcc55 EnableVgwRoutePropagation active"});

  // The BGP session drops: every route the gateway propagates vanishes, static ones to the
  // same gateway stay; it comes back with the session.
  fake_->setBgpSession("vgw-078bcc55", false);
  EXPECT_EQ(origins("rtb-4b8f522f"), std::vector<std::string>{});
  EXPECT_EQ(origins("rtb-468f5222"),
            std::vector<std::string>{"10.10.0.0/16 vgw-078bcc55 CreateRoute active"});
  EXPECT_TRUE(fake_->routeTable("rtb-4b8f522f")->routes.empty());
  fake_->setBgpSession("vgw-078bcc55", true);
  EXPECT_EQ(origins("rtb-4b8f522f").size(), 1u);
  EXPECT_TRUE(fake_->withdrawPropagatedRoute("rtb-4b8f522f", "10.10.0.0/16"));
  EXPECT_FALSE(fake_->withdrawPropagatedRoute("rtb-4b8f522f", "10.10.0.0/16"));
  EXPECT_EQ(origins("rtb-4b8f522f"), std::vector<std::string>{});
}

// The same over the control interface a test process (and the lab) uses.
TEST_F(FakeEndpointTest, PropagationAndBgpOverHttp) {
  httplib::Client http("127.0.0.1", fake_->port());
  auto add = http.Post("/_fake/propagation",
                       R"({"route_table_id": "rtb-4b8f522f", "destination": "10.10.0.0/16",
                           "gateway_id": "vgw-078bcc55", "present": true})",
                       "application/json");
  ASSERT_TRUE(add);
  EXPECT_EQ(add->status, 200) << add->body;
  auto routes = [&] {
    auto j = nlohmann::json::parse(http.Get("/_fake/state")->body);
    std::vector<std::string> out;
    for (const auto& t : j["route_tables"]) {
      for (const auto& r : t["routes"]) {
        out.push_back(t["id"].get<std::string>() + " " + r["target"].get<std::string>() + " " +
                      r["origin"].get<std::string>());
      }
    }
    return out;
  };
  EXPECT_EQ(routes(),
            (std::vector<std::string>{"rtb-468f5222 vgw-078bcc55 CreateRoute",
                                      "rtb-4b8f522f vgw-078bcc55 EnableVgwRoutePropagation"}));
  ASSERT_EQ(
      http.Post("/_fake/bgp", R"({"gateway_id": "vgw-078bcc55", "up": false})", "application/json")
          ->status,
      200);
  EXPECT_EQ(routes(), std::vector<std::string>{"rtb-468f5222 vgw-078bcc55 CreateRoute"});
  EXPECT_EQ(nlohmann::json::parse(http.Get("/_fake/state")->body)["bgp_down"],
            nlohmann::json::array({"vgw-078bcc55"}));
  ASSERT_EQ(
      http.Post("/_fake/bgp", R"({"gateway_id": "vgw-078bcc55", "up": true})", "application/json")
          ->status,
      200);
  EXPECT_EQ(routes().size(), 2u);
  auto remove = http.Post("/_fake/propagation",
                          R"({"route_table_id": "rtb-4b8f522f", "destination": "10.10.0.0/16",
                              "present": false})",
                          "application/json");
  EXPECT_EQ(remove->status, 200) << remove->body;
  EXPECT_EQ(routes(), std::vector<std::string>{"rtb-468f5222 vgw-078bcc55 CreateRoute"});
  // Bad requests are 400s naming the problem.
  EXPECT_EQ(http.Post("/_fake/propagation", R"({"x": 1})", "application/json")->status, 400);
  auto not_vgw = http.Post("/_fake/propagation",
                           R"({"route_table_id": "rtb-4b8f522f", "destination": "10.10.0.0/16",
                               "gateway_id": "i-0430fe110cdec5835"})",
                           "application/json");
  EXPECT_EQ(not_vgw->status, 400);
  EXPECT_NE(not_vgw->body.find("vgw-"), std::string::npos);
  EXPECT_EQ(http.Post("/_fake/propagation",
                      R"({"route_table_id": "rtb-4b8f522f", "destination": "10.10.0.0/16",
                          "present": false})",
                      "application/json")
                ->status,
            400);
  EXPECT_EQ(
      http.Post("/_fake/bgp", R"({"gateway_id": "vgw-078bcc55"})", "application/json")->status,
      400);
}

TEST_F(FakeEndpointTest, DescribeRouteTablesPagesThroughManyTables) {
  for (int i = 0; i < 130; ++i) {
    fake_->addRouteTable("rtb-" + std::to_string(100000 + i));
  }
  auto q = client("EC2", "ec2", kEc2ApiVersion);
  auto tables = Ec2Client(*q).describeRouteTables({});
  ASSERT_TRUE(tables) << tables.error().message();
  EXPECT_EQ(tables->size(), 132u);
  EXPECT_EQ(fake_->stats().actions["DescribeRouteTables"], 2u);
}

TEST_F(FakeEndpointTest, StopStartTakesTheConfiguredTime) {
  auto q = client("EC2", "ec2", kEc2ApiVersion);
  Ec2Client ec2(*q);
  fake_->putRoute("rtb-4b8f522f", "10.10.0.0/16", *RouteTarget::fromId("i-0430fe110cdec5835"));
  auto stopping = ec2.stopInstances({"i-0430fe110cdec5835"});
  ASSERT_TRUE(stopping) << stopping.error().message();
  EXPECT_EQ(stopping->at(0).previous.name, "running");
  EXPECT_EQ(stopping->at(0).current.name, "stopping");
  // Starting a stopping instance is refused, as EC2 does.
  auto early = ec2.startInstances({"i-0430fe110cdec5835"});
  ASSERT_FALSE(early);
  EXPECT_NE(early.error().message().find("IncorrectInstanceState"), std::string::npos);
  clock_.advance(10s);
  auto described = ec2.describeInstances({"i-0430fe110cdec5835"});
  ASSERT_TRUE(described);
  EXPECT_EQ(described->at(0).state, (InstanceState{80, "stopped"}));
  EXPECT_EQ(described->at(0).availability_zone, "ap-southeast-1b");
  EXPECT_EQ(fake_->routeTable("rtb-4b8f522f")->routes.at(0).state, "blackhole");
  auto pending = ec2.startInstances({"i-0430fe110cdec5835"});
  ASSERT_TRUE(pending);
  EXPECT_EQ(pending->at(0).current.name, "pending");
  clock_.advance(9s);
  EXPECT_EQ(fake_->instanceState("i-0430fe110cdec5835")->name, "pending");
  clock_.advance(1s);
  EXPECT_EQ(fake_->instanceState("i-0430fe110cdec5835")->name, "running");
  EXPECT_EQ(fake_->routeTable("rtb-4b8f522f")->routes.at(0).state, "active");
  auto unknown = ec2.stopInstances({"i-0badc0ffee0000000"});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), ErrorCode::NotFound);
}

TEST_F(FakeEndpointTest, BadSignaturesAreRejected) {
  StaticCredentialsProvider wrong_secret{Credentials(kKey, "not-the-secret")};
  auto q = client("EC2", "ec2", kEc2ApiVersion, &wrong_secret);
  auto r = Ec2Client(*q).replaceRoute("rtb-468f5222", *IpPrefix::parse("10.10.0.0/16"),
                                      *RouteTarget::fromId("vgw-1"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::PermissionDenied);
  EXPECT_NE(r.error().message().find("SignatureDoesNotMatch"), std::string::npos);
  EXPECT_EQ(r.error().message().find("not-the-secret"), std::string::npos);
  EXPECT_EQ(fake_->routeTable("rtb-468f5222")->routes.at(0).target.id, "vgw-078bcc55");

  StaticCredentialsProvider unknown_key{Credentials("AKIDUNKNOWN00000", kSecret)};
  auto q2 = client("EC2", "ec2", kEc2ApiVersion, &unknown_key);
  auto r2 = Ec2Client(*q2).describeRouteTables({});
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().message().find("AuthFailure"), std::string::npos);
  EXPECT_EQ(fake_->stats().rejected_signatures, 2u);
}

TEST_F(FakeEndpointTest, InjectedThrottlingIsRetried) {
  fake_->injectNext(FakeAwsFault::Throttle, 2);
  auto q = client("EC2", "ec2", kEc2ApiVersion);
  auto r = Ec2Client(*q).describeRouteTables({"rtb-468f5222"});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(sleeps_, (std::vector<Duration>{250ms, 500ms}));
  EXPECT_EQ(fake_->stats().injected_faults, 2u);
}

TEST_F(FakeEndpointTest, LoadBalancerPagesAndServerErrorsGiveUpClearly) {
  fake_->injectNext(FakeAwsFault::Unavailable, 3);
  auto q = client("EC2", "ec2", kEc2ApiVersion);
  auto r = Ec2Client(*q).describeInstances({});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::Unavailable);
  EXPECT_NE(r.error().message().find("failed: HTTP 503 with an XML body <html> that is not an "
                                     "AWS error [after 3 attempts"),
            std::string::npos)
      << r.error().message();
  EXPECT_NE(r.error().message().find("after 3 attempts"), std::string::npos);
  fake_->injectNext(FakeAwsFault::ServerError, 1);
  EXPECT_TRUE(Ec2Client(*q).describeInstances({}));
}

TEST_F(FakeEndpointTest, ExpiredTokenIsNotRetried) {
  fake_->injectNext(FakeAwsFault::ExpiredToken, 1);
  auto q = client("EC2", "ec2", kEc2ApiVersion);
  auto r = Ec2Client(*q).describeInstances({});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::PermissionDenied);
  EXPECT_NE(r.error().message().find("ExpiredToken"), std::string::npos);
  EXPECT_EQ(fake_->stats().requests, 1u);
}

TEST_F(FakeEndpointTest, ClockSkewIsLearnedFromTheServer) {
  FakeAwsOptions o;
  o.clock_offset = 20min;  // the server's clock is 20 minutes ahead of ours
  start(o);
  auto q = client("EC2", "ec2", kEc2ApiVersion);
  auto r = Ec2Client(*q).describeRouteTables({"rtb-468f5222"});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(fake_->stats().rejected_signatures, 1u);  // the first, skewed attempt
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::minutes>(q->clockOffset()), 20min);
  EXPECT_TRUE(sleeps_.empty());
}

TEST_F(FakeEndpointTest, RandomFaultsAreSeededAndSurvivable) {
  FakeAwsOptions o;
  o.faults.throttle_rate = 0.3;
  o.faults.error_rate = 0.1;
  o.seed = 7;
  start(o);
  auto q = client("EC2", "ec2", kEc2ApiVersion);
  Ec2Client ec2(*q);
  int ok_calls = 0;
  for (int i = 0; i < 40; ++i) {
    auto r = ec2.describeRouteTables({"rtb-468f5222"});
    if (r) {
      ++ok_calls;
    } else {
      EXPECT_TRUE(r.error().code() == ErrorCode::Throttled ||
                  r.error().code() == ErrorCode::Unavailable)
          << r.error().message();
    }
  }
  EXPECT_GT(fake_->stats().injected_faults, 5u);
  EXPECT_GE(ok_calls, 30);  // 3 attempts make a 40 % failure rate mostly survivable
}

TEST_F(FakeEndpointTest, SnsPublishIsRecorded) {
  fake_->addTopic("arn:aws:sns:ap-southeast-1:111122223333:DCI-Status");
  auto q = client("SNS", "sns", kSnsApiVersion);
  SnsClient sns(*q);
  auto r = sns.publish({"arn:aws:sns:ap-southeast-1:111122223333:DCI-Status",
                        "[Singapore] DX down", "rtb-468f5222 10.10.0.0/16: dx -> vpn-a"});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(r->message_id.empty());
  auto published = fake_->publishes();
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].subject, "[Singapore] DX down");
  EXPECT_EQ(published[0].message, "rtb-468f5222 10.10.0.0/16: dx -> vpn-a");
  EXPECT_EQ(published[0].access_key_id, kKey);
  auto missing = sns.publish({"arn:aws:sns:ap-southeast-1:111122223333:Other", "s", "m"});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::NotFound);
  fake_->injectNext(FakeAwsFault::Throttle, 1);
  EXPECT_TRUE(sns.publish({"arn:aws:sns:ap-southeast-1:111122223333:DCI-Status", "", "again"}));
}

// Publish with PhoneNumber: recorded as an SMS; what SNS itself refuses, the fake refuses too
// (requests built by hand here, since SnsClient never sends them).
TEST_F(FakeEndpointTest, SnsSmsIsRecordedAndCheckedLikeSns) {
  fake_->addTopic("arn:aws:sns:ap-southeast-1:111122223333:DCI-Status");  // not needed by SMS
  auto q = client("SNS", "sns", kSnsApiVersion);
  SnsMessage m;
  m.phone_number = "+15555550100";
  m.message = "[FIRING] dx down";
  auto r = SnsClient(*q).publish(m);
  ASSERT_TRUE(r) << r.error().message();
  auto published = fake_->publishes();
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].phone_number, "+15555550100");
  EXPECT_EQ(published[0].sms_type, "Transactional");
  EXPECT_EQ(published[0].topic_arn, "");
  EXPECT_EQ(published[0].message, "[FIRING] dx down");

  auto raw = [&](std::vector<std::pair<std::string, std::string>> params) {
    QueryRequest req;
    req.action = "Publish";
    req.version = std::string(kSnsApiVersion);
    req.params = std::move(params);
    return q->callOrError(std::move(req));
  };
  auto too_long = raw({{"PhoneNumber", "+15555550100"}, {"Message", std::string(1601, 'x')}});
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error().code(), ErrorCode::InvalidArgument);
  auto bad_number = raw({{"PhoneNumber", "5550100"}, {"Message", "m"}});
  ASSERT_FALSE(bad_number);
  EXPECT_NE(bad_number.error().message().find("PhoneNumber"), std::string::npos);
  auto both = raw({{"TopicArn", "arn:aws:sns:ap-southeast-1:111122223333:DCI-Status"},
                   {"PhoneNumber", "+15555550100"},
                   {"Message", "m"}});
  ASSERT_FALSE(both);
  auto bad_type = raw({{"PhoneNumber", "+15555550100"},
                       {"Message", "m"},
                       {"MessageAttributes.entry.1.Name", "AWS.SNS.SMS.SMSType"},
                       {"MessageAttributes.entry.1.Value.DataType", "String"},
                       {"MessageAttributes.entry.1.Value.StringValue", "Urgent"}});
  ASSERT_FALSE(bad_type);
  EXPECT_EQ(fake_->publishes().size(), 1u);
}

TEST_F(FakeEndpointTest, PutMetricDataIsRecordedInBatches) {
  auto q = client("CloudWatch", "monitoring", kCloudWatchApiVersion);
  CloudWatchClient cw(*q);
  std::vector<MetricDatum> data;
  for (int i = 0; i < 2100; ++i) {
    MetricDatum d;
    d.name = "PathRttMs";
    d.value = 10.5 + i;
    d.unit = "Milliseconds";
    d.dimensions = {{"Site", "Singapore"}, {"Path", i % 2 ? "vpn-a" : "dx"}};
    data.push_back(d);
  }
  auto r = cw.putMetricData("Pathpilot", data);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->requests, 3u);
  auto recorded = fake_->metrics();
  ASSERT_EQ(recorded.size(), 2100u);
  EXPECT_EQ(recorded[1].metric_namespace, "Pathpilot");
  EXPECT_EQ(recorded[1].value, 11.5);
  EXPECT_EQ(recorded[1].unit, "Milliseconds");
  EXPECT_EQ(recorded[1].dimensions,
            (std::vector<std::pair<std::string, std::string>>{{"Site", "Singapore"},
                                                              {"Path", "vpn-a"}}));
}

TEST_F(FakeEndpointTest, UnresolvableEndpointFailsFastWithoutTraffic) {
  auto q = client("EC2", "ec2", kEc2ApiVersion, nullptr, "https://ec2.lab.invalid");
  auto r = Ec2Client(*q).describeRouteTables({});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::Unavailable);
  EXPECT_NE(r.error().message().find("cannot resolve host 'ec2.lab.invalid'"),
            std::string::npos);
  EXPECT_EQ(fake_->stats().requests, 0u);
}

TEST_F(FakeEndpointTest, UnreachableImdsIsAClearError) {
  // A port that was just freed: connection refused.
  int port = fake_->port();
  fake_.reset();
  ImdsOptions o;
  o.endpoint = "http://127.0.0.1:" + std::to_string(port);
  o.timeout = 500ms;
  ImdsCredentialsProvider imds(http_, clock_, o);
  auto c = imds.credentials();
  ASSERT_FALSE(c);
  EXPECT_TRUE(c.error().retryable());
  EXPECT_NE(c.error().message().find("instance metadata service at http://127.0.0.1:"),
            std::string::npos);
}

TEST_F(FakeEndpointTest, StateJsonForLabScripts) {
  std::string json = fake_->stateJson();
  EXPECT_NE(json.find("\"rtb-468f5222\""), std::string::npos);
  EXPECT_NE(json.find("\"vgw-078bcc55\""), std::string::npos);
  EXPECT_NE(json.find("\"i-0e1466e8a5dd4892c\""), std::string::npos);
  EXPECT_EQ(json.find(kSecret), std::string::npos);
}

// The call log that end-to-end tests count with: every request, in order, with its table,
// destination, target and outcome — in the same words as the client's own metrics.
TEST_F(FakeEndpointTest, CallLogRecordsEveryRequestWithItsOutcome) {
  std::mutex mu;
  std::vector<std::string> client_outcomes;
  QueryClientOptions o;
  o.api_name = "EC2";
  o.endpoint = *resolveEndpoint("ec2", "ap-southeast-1", fake_->url());
  o.version = std::string(kEc2ApiVersion);
  o.on_attempt = [&](const QueryAttempt& a) {
    std::lock_guard lock(mu);
    client_outcomes.push_back(std::string(a.operation) + " " + std::string(a.outcome));
  };
  QueryClient q(http_, creds_, clock_, o, RetryHooks{[] { return 0.5; }, [](Duration) {}});
  Ec2Client ec2(q);
  const auto dst = *IpPrefix::parse("10.10.0.0/16");
  fake_->injectNext(FakeAwsFault::Throttle, 1);
  ASSERT_TRUE(ec2.replaceRoute("rtb-468f5222", dst, *RouteTarget::fromId("i-0e1466e8a5dd4892c")));
  fake_->injectNext(FakeAwsFault::ServerError, 1);
  ASSERT_TRUE(ec2.stopInstances({"i-0430fe110cdec5835"}));
  ASSERT_FALSE(ec2.replaceRoute("rtb-4b8f522f", dst, *RouteTarget::fromId("vgw-078bcc55")));

  auto calls = fake_->calls();
  ASSERT_EQ(calls.size(), 5u);
  EXPECT_EQ(calls[0].seq, 1u);
  EXPECT_EQ(calls[0].action, "ReplaceRoute");
  EXPECT_EQ(calls[0].route_table_id, "rtb-468f5222");
  EXPECT_EQ(calls[0].destination, "10.10.0.0/16");
  EXPECT_EQ(calls[0].target, "i-0e1466e8a5dd4892c");
  EXPECT_EQ(calls[0].status, 503);
  EXPECT_EQ(calls[0].code, "RequestLimitExceeded");
  EXPECT_EQ(calls[0].outcome, "throttled");
  EXPECT_EQ(calls[1].outcome, "ok");
  EXPECT_EQ(calls[1].status, 200);
  EXPECT_EQ(calls[2].action, "StopInstances");
  EXPECT_EQ(calls[2].instance_ids, "i-0430fe110cdec5835");
  EXPECT_EQ(calls[2].target, "");
  EXPECT_EQ(calls[2].outcome, "server_error");
  EXPECT_EQ(calls[3].outcome, "ok");
  // ReplaceRoute on a table without that route: a client error (the client then creates it).
  EXPECT_EQ(calls[4].outcome, "client_error");
  EXPECT_EQ(calls[4].code, "InvalidParameterValue");
  EXPECT_EQ(fake_->calls(4).size(), 1u);

  auto stats = fake_->stats();
  EXPECT_EQ(stats.outcomes["ReplaceRoute"]["throttled"], 1u);
  EXPECT_EQ(stats.outcomes["ReplaceRoute"]["ok"], 1u);
  EXPECT_EQ(stats.outcomes["ReplaceRoute"]["client_error"], 1u);
  EXPECT_EQ(stats.outcomes["StopInstances"]["server_error"], 1u);
  // The client saw the same outcomes in the same order.
  std::vector<std::string> from_log;
  for (const auto& c : calls) {
    from_log.push_back(c.action + " " + c.outcome);
  }
  EXPECT_EQ(client_outcomes, from_log);

  auto j = nlohmann::json::parse(fake_->callsJson(3));
  EXPECT_EQ(j["last_seq"], 5);
  EXPECT_EQ(j["calls"].size(), 2u);
  EXPECT_EQ(j["counts"]["ReplaceRoute"]["ok"], 1);
}

// The control routes a test process uses over HTTP: faults changed at run time, the call log.
TEST_F(FakeEndpointTest, FaultsAndCallsOverHttp) {
  httplib::Client http("127.0.0.1", fake_->port());
  auto set = http.Post("/_fake/faults", R"({"throttle_rate": 1.0})", "application/json");
  ASSERT_TRUE(set);
  EXPECT_EQ(set->status, 200);
  auto q = client("EC2", "ec2", kEc2ApiVersion);
  auto r = Ec2Client(*q).describeRouteTables({});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::Throttled);
  // An empty object clears every fault.
  ASSERT_EQ(http.Post("/_fake/faults", "{}", "application/json")->status, 200);
  EXPECT_TRUE(Ec2Client(*q).describeRouteTables({}));

  auto calls = http.Get("/_fake/calls?since=2");
  ASSERT_TRUE(calls);
  auto j = nlohmann::json::parse(calls->body);
  EXPECT_EQ(j["last_seq"], 4);
  ASSERT_EQ(j["calls"].size(), 2u);
  EXPECT_EQ(j["calls"][0]["outcome"], "throttled");
  EXPECT_EQ(j["calls"][1]["outcome"], "ok");
  EXPECT_EQ(j["counts"]["DescribeRouteTables"]["throttled"], 3);

  // Bad control requests are 400s with a JSON error, never a crash.
  EXPECT_EQ(http.Post("/_fake/faults", "{not json", "application/json")->status, 400);
  EXPECT_EQ(http.Post("/_fake/faults", R"({"error_rate": 2})", "application/json")->status, 400);
  EXPECT_EQ(http.Get("/_fake/calls?since=x")->status, 400);
}

}  // namespace
}  // namespace pathpilot::aws

namespace pathpilot::aws {
namespace {

// Several clients on one fake, one access key each: the call log names who made each call
// (an HA test checks that only the leader's key wrote).
TEST_F(FakeEndpointTest, CallLogNamesTheCallersAccessKey) {
  FakeAwsOptions options;
  options.keys = {{kKey, kSecret}, {"AKIDMONITORB", "secretOfMonitorB0123456789"}};
  start(options);
  StaticCredentialsProvider other{Credentials("AKIDMONITORB", "secretOfMonitorB0123456789", "")};
  StaticCredentialsProvider wrong{Credentials("AKIDUNKNOWN", "whatever0123456789", "")};
  auto qa = client("EC2", "ec2", kEc2ApiVersion);
  Ec2Client a(*qa);
  auto qb = client("EC2", "ec2", kEc2ApiVersion, &other);
  auto qw = client("EC2", "ec2", kEc2ApiVersion, &wrong);
  const auto dst = *IpPrefix::parse("10.10.0.0/16");
  ASSERT_TRUE(a.replaceRoute("rtb-468f5222", dst, *RouteTarget::fromId("vgw-078bcc55")));
  ASSERT_TRUE(Ec2Client(*qb).replaceRoute("rtb-468f5222", dst,
                                          *RouteTarget::fromId("i-0e1466e8a5dd4892c")));
  ASSERT_FALSE(
      Ec2Client(*qw).replaceRoute("rtb-468f5222", dst, *RouteTarget::fromId("vgw-078bcc55")));
  auto calls = fake_->calls();
  ASSERT_GE(calls.size(), 3u);
  EXPECT_EQ(calls[0].caller, kKey);
  EXPECT_EQ(calls[1].caller, "AKIDMONITORB");
  EXPECT_EQ(calls.back().caller, "") << "an unverified signature names nobody";
  EXPECT_EQ(calls.back().outcome, "auth_error");
  EXPECT_NE(fake_->callsJson(0).find("\"caller\": \"AKIDMONITORB\""), std::string::npos);
}

}  // namespace
}  // namespace pathpilot::aws
