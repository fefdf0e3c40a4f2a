// QueryClient and Ec2Client against FakeHttpClient: signing, retries with injected randomness
// and sleeps, clock-skew correction, error mapping and secret scrubbing, pagination.
#include <gtest/gtest.h>

#include "aws/credential_providers.h"
#include "aws/ec2.h"
#include "aws/query_client.h"
#include "aws/sigv4.h"
#include "fakes/fake_clock.h"
#include "fakes/fake_http_client.h"

namespace pathpilot::aws {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;
using testing::FakeHttpClient;

constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr char kToken[] = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN+/==";

const std::filesystem::path kEc2 =
    std::filesystem::path(PP_SOURCE_DIR "/tests/data/aws/responses/ec2");

class QueryClientTest : public ::testing::Test {
 protected:
  QueryClientTest()
      : creds_(Credentials("AKIDEXAMPLE", kSecret, kToken)),
        client_(http_, creds_, clock_, options(), hooks()) {}

  static QueryClientOptions options() {
    QueryClientOptions o;
    o.api_name = "EC2";
    o.endpoint = *resolveEndpoint("ec2", "ap-southeast-1");
    o.version = std::string(kEc2ApiVersion);
    return o;
  }
  RetryHooks hooks() {
    return {[this] { return random_; }, [this](Duration d) { sleeps_.push_back(d); }};
  }
  static http::Response xml(int status, std::string body, http::Headers headers = {}) {
    return FakeHttpClient::response(status, std::move(body), std::move(headers));
  }
  static std::string error(std::string_view code, std::string_view message) {
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>" +
           std::string(code) + "</Code><Message>" + std::string(message) +
           "</Message></Error></Errors><RequestID>req-1</RequestID></Response>";
  }
  static QueryRequest describe() {
    QueryRequest r;
    r.action = "DescribeRouteTables";
    return r;
  }

  FakeClock clock_;
  FakeHttpClient http_;
  StaticCredentialsProvider creds_;
  double random_ = 0.5;
  std::vector<Duration> sleeps_;
  QueryClient client_;
};

TEST_F(QueryClientTest, SendsASignedFormPost) {
  http_.on("POST", "Action=DescribeRouteTables",
           FakeHttpClient::fileResponse(200, kEc2 / "DescribeRouteTables-botocore.xml"));
  auto r = client_.call(describe());
  ASSERT_TRUE(r) << r.error().error.message();
  EXPECT_EQ(r->attempts, 1);
  auto reqs = http_.requests();
  ASSERT_EQ(reqs.size(), 1u);
  const http::Request& req = reqs[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.url, "https://ec2.ap-southeast-1.amazonaws.com/");
  EXPECT_EQ(req.body, "Action=DescribeRouteTables&Version=2016-11-15");
  EXPECT_EQ(http::findHeader(req.headers, "content-type"),
            "application/x-www-form-urlencoded; charset=utf-8");
  EXPECT_EQ(http::findHeader(req.headers, "host"), "ec2.ap-southeast-1.amazonaws.com");
  EXPECT_EQ(http::findHeader(req.headers, "x-amz-security-token"), kToken);
  // The signature verifies as AWS would verify it.
  auto url = http::parseUrl(req.url);
  SigV4Request sreq{req.method, url->path, url->query, req.headers, req.body};
  auto v = verifyHeaderSignature(
      sreq, [](std::string_view) { return std::optional<std::string>(kSecret); },
      clock_.wallNow());
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v->region, "ap-southeast-1");
  EXPECT_EQ(v->service, "ec2");
  EXPECT_NE(std::find(v->signed_headers.begin(), v->signed_headers.end(),
                      "x-amz-security-token"),
            v->signed_headers.end());
}

TEST_F(QueryClientTest, ThrottlingIsRetriedWithBackoff) {
  http_.on("POST", "", {xml(503, error("RequestLimitExceeded", "Request limit exceeded.")),
                        xml(400, error("Throttling", "Rate exceeded")),
                        FakeHttpClient::fileResponse(200, kEc2 / "DescribeRouteTables-botocore.xml")});
  auto r = client_.call(describe());
  ASSERT_TRUE(r) << r.error().error.message();
  EXPECT_EQ(r->attempts, 3);
  EXPECT_EQ(http_.requestCount(), 3u);
  // 0.5 × 500 ms × 2^i
  EXPECT_EQ(sleeps_, (std::vector<Duration>{250ms, 500ms}));
  // Two retries took 5 tokens each; success returns what the last retry took.
  EXPECT_EQ(client_.retryQuota().available(), 495);
}

// Every attempt is reported (metrics): operation, outcome in the retry policy's terms, and
// how long the exchange took on the client's clock.
TEST_F(QueryClientTest, EveryAttemptIsReportedWithOutcomeAndDuration) {
  // Each exchange takes 40 ms of the injected clock.
  struct SlowHttp final : http::HttpClient {
    SlowHttp(http::HttpClient& inner, FakeClock& clock) : inner_(inner), clock_(clock) {}
    Result<http::Response> send(const http::Request& r) override {
      clock_.advance(40ms);
      return inner_.send(r);
    }
    http::HttpClient& inner_;
    FakeClock& clock_;
  } slow(http_, clock_);
  std::vector<std::string> seen;
  std::vector<Duration> took;
  QueryClientOptions o = options();
  o.on_attempt = [&](const QueryAttempt& a) {
    EXPECT_EQ(a.api, "EC2");
    seen.push_back(std::string(a.operation) + " " + std::string(a.outcome));
    took.push_back(a.duration);
  };
  QueryClient c(slow, creds_, clock_, o, hooks());
  http_.on("POST", "Action=DescribeRouteTables",
           {xml(503, error("RequestLimitExceeded", "Request limit exceeded.")),
            xml(500, error("InternalError", "oops")),
            FakeHttpClient::fileResponse(200, kEc2 / "DescribeRouteTables-botocore.xml")});
  ASSERT_TRUE(c.call(describe()));
  http_.on("POST", "Action=ReplaceRoute",
           {Result<http::Response>(fail(ErrorCode::Timeout, "timed out")),
            Result<http::Response>(fail(ErrorCode::Unavailable, "connection refused")),
            xml(400, error("InvalidParameterValue", "bad"))});
  QueryRequest replace;
  replace.action = "ReplaceRoute";
  ASSERT_FALSE(c.call(replace));
  http_.on("POST", "Action=DeleteRoute", xml(403, error("UnauthorizedOperation", "no")));
  QueryRequest del;
  del.action = "DeleteRoute";
  ASSERT_FALSE(c.call(del));
  EXPECT_EQ(seen,
            (std::vector<std::string>{"DescribeRouteTables throttled",
                                      "DescribeRouteTables server_error", "DescribeRouteTables ok",
                                      "ReplaceRoute timeout", "ReplaceRoute network_error",
                                      "ReplaceRoute client_error", "DeleteRoute auth_error"}));
  EXPECT_EQ(took, std::vector<Duration>(7, 40ms));  // backoff sleeps are not counted
}

TEST(AttemptOutcomeTest, NamesFollowTheRetryPolicy) {
  EXPECT_EQ(attemptOutcome(200, ""), "ok");
  EXPECT_EQ(attemptOutcome(503, "RequestLimitExceeded"), "throttled");
  EXPECT_EQ(attemptOutcome(400, "Throttling"), "throttled");
  EXPECT_EQ(attemptOutcome(429, ""), "throttled");
  EXPECT_EQ(attemptOutcome(503, ""), "server_error");
  EXPECT_EQ(attemptOutcome(400, "InternalError"), "server_error");
  EXPECT_EQ(attemptOutcome(403, "RequestTimeTooSkewed"), "auth_error");
  EXPECT_EQ(attemptOutcome(401, "AuthFailure"), "auth_error");
  EXPECT_EQ(attemptOutcome(400, "SignatureDoesNotMatch"), "auth_error");
  EXPECT_EQ(attemptOutcome(400, "InvalidRouteTableID.NotFound"), "client_error");
}

TEST_F(QueryClientTest, GivesUpAfterThreeAttemptsWithAClearError) {
  http_.on("POST", "", xml(503, "<html><body>Service Unavailable</body></html>"));
  auto r = client_.call(describe());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().attempts, 3);
  EXPECT_EQ(r.error().error.code(), ErrorCode::Unavailable);
  const std::string& m = r.error().error.message();
  EXPECT_EQ(m.rfind("EC2 DescribeRouteTables failed: HTTP 503", 0), 0u) << m;
  EXPECT_NE(m.find("after 3 attempts"), std::string::npos) << m;
  EXPECT_EQ(sleeps_, (std::vector<Duration>{50ms, 100ms}));
  EXPECT_EQ(client_.retryQuota().available(), 490);
}

TEST_F(QueryClientTest, ClientErrorsAreNotRetried) {
  http_.on("POST", "",
           FakeHttpClient::fileResponse(400, kEc2 / "Error-InvalidRouteTableID.NotFound.xml"));
  auto r = client_.call(describe());
  ASSERT_FALSE(r);
  EXPECT_EQ(http_.requestCount(), 1u);
  EXPECT_TRUE(sleeps_.empty());
  EXPECT_EQ(r.error().error.code(), ErrorCode::NotFound);
  ASSERT_TRUE(r.error().aws);
  EXPECT_EQ(r.error().aws->code, "InvalidRouteTableID.NotFound");
  EXPECT_EQ(r.error().aws->request_id, "54256eb4-d706-4084-86dc-b7f581006f9f");
}

TEST_F(QueryClientTest, ExpiredCredentialsAreAClearPermissionError) {
  http_.on("POST", "", xml(400, error("RequestExpired", "Request has expired."),
                           {{"Date", formatHttpDate(clock_.wallNow())}}));
  auto r = client_.call(describe());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().error.code(), ErrorCode::PermissionDenied);
  EXPECT_EQ(http_.requestCount(), 1u);  // our clock agrees with AWS: no skew retry
  EXPECT_NE(r.error().error.message().find("RequestExpired"), std::string::npos);

  FakeHttpClient http;
  http.on("POST", "", xml(403, error("ExpiredToken", "The security token included in the "
                                                     "request is expired")));
  QueryClient c(http, creds_, clock_, options(), hooks());
  auto r2 = c.call(describe());
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().error.code(), ErrorCode::PermissionDenied);
  EXPECT_EQ(http.requestCount(), 1u);
}

TEST_F(QueryClientTest, TransportTimeoutsAreRetriedAndCostMore) {
  http_.on("POST", "", {Result<http::Response>(fail(ErrorCode::Timeout, "timed out")),
                        FakeHttpClient::fileResponse(200, kEc2 / "DescribeRouteTables-botocore.xml")});
  auto r = client_.call(describe());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(sleeps_, (std::vector<Duration>{50ms}));
}

TEST_F(QueryClientTest, DnsFailureOfTheEndpointIsUnavailable) {
  http_.on("POST", "", Result<http::Response>(fail(
                           ErrorCode::Unavailable,
                           "POST https://ec2.nowhere.invalid/ failed: cannot resolve host")));
  auto r = client_.call(describe());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().error.code(), ErrorCode::Unavailable);
  EXPECT_NE(r.error().error.message().find("cannot resolve host"), std::string::npos);
}

TEST_F(QueryClientTest, ClockSkewIsCorrectedFromTheDateHeader) {
  const WallTime server_now = clock_.wallNow() + 17min;
  http_.on("POST", "",
           {xml(403,
                error("RequestTimeTooSkewed",
                      "The difference between the request time and the current time is too "
                      "large."),
                {{"Date", formatHttpDate(server_now)}}),
            FakeHttpClient::fileResponse(200, kEc2 / "DescribeRouteTables-botocore.xml")});
  auto r = client_.call(describe());
  ASSERT_TRUE(r) << r.error().error.message();
  EXPECT_EQ(r->attempts, 2);
  EXPECT_TRUE(sleeps_.empty());  // retried at once
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(client_.clockOffset()), 17min);
  auto reqs = http_.requests();
  EXPECT_EQ(http::findHeader(reqs[0].headers, "x-amz-date"), formatAmzDate(clock_.wallNow()));
  EXPECT_EQ(http::findHeader(reqs[1].headers, "x-amz-date"), formatAmzDate(server_now));
  // Later calls keep the offset.
  ASSERT_TRUE(client_.call(describe()));
  EXPECT_EQ(http::findHeader(http_.requests()[2].headers, "x-amz-date"),
            formatAmzDate(server_now));
}

TEST_F(QueryClientTest, AuthFailureWithASkewedDateIsRetriedOnce) {
  http_.on("POST", "",
           xml(401, error("AuthFailure", "AWS was not able to validate the provided access credentials"),
               {{"Date", formatHttpDate(clock_.wallNow() - 1h)}}));
  auto r = client_.call(describe());
  ASSERT_FALSE(r);
  // First answer teaches the offset (retry); the second has the same Date: no new offset,
  // no further retry.
  EXPECT_EQ(http_.requestCount(), 2u);
  EXPECT_EQ(r.error().error.code(), ErrorCode::PermissionDenied);
}

TEST_F(QueryClientTest, SkewWithoutDateHeaderIsNotRetried) {
  http_.on("POST", "", xml(403, error("RequestTimeTooSkewed", "too skewed")));
  auto r = client_.call(describe());
  ASSERT_FALSE(r);
  EXPECT_EQ(http_.requestCount(), 1u);
}

TEST_F(QueryClientTest, EchoedSecretsAreScrubbed) {
  std::string echoed = "The request signature we calculated does not match. The Canonical "
                       "String for this request should have been 'POST\n/\n\nx-amz-security-token:" +
                       std::string(kToken) + "\n' secret " + kSecret + " enc " +
                       uriEncode(kToken, false);
  http_.on("POST", "", xml(403, error("SignatureDoesNotMatch", echoed)));
  auto r = client_.call(describe());
  ASSERT_FALSE(r);
  const std::string& m = r.error().error.message();
  EXPECT_EQ(m.find(kToken), std::string::npos);
  EXPECT_EQ(m.find(kSecret), std::string::npos);
  EXPECT_EQ(m.find(uriEncode(kToken, false)), std::string::npos);
  EXPECT_NE(m.find("<redacted>"), std::string::npos);
  ASSERT_TRUE(r.error().aws);
  EXPECT_EQ(r.error().aws->message.find(kToken), std::string::npos);
}

TEST_F(QueryClientTest, OkStatusWithAnErrorDocumentIsAnError) {
  http_.on("POST", "", xml(200, error("UnauthorizedOperation", "You are not authorized")));
  auto r = client_.call(describe());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().error.code(), ErrorCode::PermissionDenied);
}

TEST_F(QueryClientTest, CredentialFailuresAreReportedWithContext) {
  FakeHttpClient imds;
  imds.on("", "", Result<http::Response>(fail(ErrorCode::Timeout, "connect timed out")));
  ImdsCredentialsProvider provider(imds, clock_, {});
  QueryClient c(http_, provider, clock_, options(), hooks());
  auto r = c.call(describe());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().error.code(), ErrorCode::Timeout);
  EXPECT_EQ(r.error().error.message().rfind("EC2 DescribeRouteTables: EC2 instance metadata", 0),
            0u)
      << r.error().error.message();
  EXPECT_EQ(http_.requestCount(), 0u);
}

// ---- Ec2Client ----

class Ec2ClientTest : public QueryClientTest {
 protected:
  Ec2Client ec2_{client_};
};

TEST_F(Ec2ClientTest, DescribeRouteTablesFollowsPages) {
  std::string page1 =
      "<DescribeRouteTablesResponse><routeTableSet><item><routeTableId>rtb-468f5222"
      "</routeTableId><routeSet><item><destinationCidrBlock>10.10.0.0/16</destinationCidrBlock>"
      "<gatewayId>vgw-078bcc55</gatewayId><state>active</state></item></routeSet></item>"
      "</routeTableSet><nextToken>T2</nextToken></DescribeRouteTablesResponse>";
  std::string page2 =
      "<DescribeRouteTablesResponse><routeTableSet><item><routeTableId>rtb-4b8f522f"
      "</routeTableId><routeSet><item><destinationCidrBlock>10.10.0.0/16</destinationCidrBlock>"
      "<instanceId>i-0430fe110cdec5835</instanceId><networkInterfaceId>eni-1</networkInterfaceId>"
      "<state>active</state></item></routeSet></item></routeTableSet>"
      "</DescribeRouteTablesResponse>";
  http_.on("POST", "NextToken=T2", xml(200, page2));
  http_.on("POST", "DescribeRouteTables", xml(200, page1));
  auto tables = ec2_.describeRouteTables({"rtb-468f5222", "rtb-4b8f522f"});
  ASSERT_TRUE(tables) << tables.error().message();
  ASSERT_EQ(tables->size(), 2u);
  EXPECT_EQ((*tables)[1].routes[0].target,
            (RouteTarget{RouteTargetKind::Instance, "i-0430fe110cdec5835"}));
  EXPECT_EQ((*tables)[1].routes[0].network_interface_id, "eni-1");
  auto reqs = http_.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].body,
            "Action=DescribeRouteTables&Version=2016-11-15&Filter.1.Name=route-table-id&"
            "Filter.1.Value.1=rtb-468f5222&Filter.1.Value.2=rtb-4b8f522f&MaxResults=100");
  EXPECT_NE(reqs[1].body.find("&NextToken=T2"), std::string::npos);
}

TEST_F(Ec2ClientTest, ARepeatedNextTokenStopsPaging) {
  http_.on("POST", "", xml(200, "<DescribeRouteTablesResponse><nextToken>same</nextToken>"
                                "</DescribeRouteTablesResponse>"));
  auto tables = ec2_.describeRouteTables({});
  ASSERT_FALSE(tables);
  EXPECT_NE(tables.error().message().find("repeated a NextToken"), std::string::npos);
  EXPECT_EQ(http_.requestCount(), 2u);
}

TEST_F(Ec2ClientTest, RouteRequestsNameTheTargetParameter) {
  auto dst = *IpPrefix::parse("10.10.0.0/16");
  struct Case {
    const char* id;
    const char* param;
  } cases[] = {{"vgw-078bcc55", "GatewayId"},
               {"eni-0a0b0c0d0e0f01234", "NetworkInterfaceId"},
               {"i-0e1466e8a5dd4892c", "InstanceId"},
               {"tgw-0123456789abcdef0", "TransitGatewayId"}};
  for (const Case& c : cases) {
    auto target = RouteTarget::fromId(c.id);
    ASSERT_TRUE(target);
    QueryRequest r = routeRequest(true, "rtb-468f5222", dst, *target);
    EXPECT_EQ(encodeQueryBody(r), "Action=ReplaceRoute&Version=2016-11-15&RouteTableId=rtb-468f5222"
                                  "&DestinationCidrBlock=10.10.0.0%2F16&" +
                                      std::string(c.param) + "=" + c.id);
  }
  QueryRequest v6 = routeRequest(false, "rtb-1", *IpPrefix::parse("2001:db8::/32"),
                                 *RouteTarget::fromId("vgw-1"));
  EXPECT_EQ(v6.param("DestinationIpv6CidrBlock"), "2001:db8::/32");
  EXPECT_FALSE(RouteTarget::fromId("sg-123"));
  EXPECT_FALSE(RouteTarget::fromId(""));
}

TEST_F(Ec2ClientTest, ReplaceRouteWithoutARouteIsNotFound) {
  http_.on("POST", "ReplaceRoute",
           xml(400, error("InvalidParameterValue",
                          "There is no route defined for '10.10.0.0/16' in the route table. "
                          "Use CreateRoute instead.")));
  http_.on("POST", "CreateRoute",
           FakeHttpClient::fileResponse(200, kEc2 / "CreateRoute-jclouds.xml"));
  auto dst = *IpPrefix::parse("10.10.0.0/16");
  auto target = *RouteTarget::fromId("vgw-078bcc55");
  auto replaced = ec2_.replaceRoute("rtb-468f5222", dst, target);
  ASSERT_FALSE(replaced);
  EXPECT_EQ(replaced.error().code(), ErrorCode::NotFound);
  EXPECT_TRUE(ec2_.createRoute("rtb-468f5222", dst, target));
}

TEST_F(Ec2ClientTest, CreateRouteThatExistsIsAlreadyExists) {
  http_.on("POST", "", xml(400, error("RouteAlreadyExists",
                                      "The route identified by 10.10.0.0/16 already exists.")));
  auto r = ec2_.createRoute("rtb-1", *IpPrefix::parse("10.10.0.0/16"),
                            *RouteTarget::fromId("vgw-1"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::AlreadyExists);
}

TEST_F(Ec2ClientTest, InstancesStopStartDescribe) {
  http_.on("POST", "Action=StopInstances",
           FakeHttpClient::fileResponse(200, kEc2 / "StopInstances-botocore.xml"));
  http_.on("POST", "Action=StartInstances",
           FakeHttpClient::fileResponse(200, kEc2 / "StartInstances-botocore.xml"));
  http_.on("POST", "Action=DescribeInstances",
           FakeHttpClient::fileResponse(200, kEc2 / "DescribeInstances-libcloud.xml"));
  auto stopped = ec2_.stopInstances({"i-10a64379"}, true);
  ASSERT_TRUE(stopped) << stopped.error().message();
  EXPECT_EQ(stopped->at(0).current.name, "stopping");
  auto started = ec2_.startInstances({"i-10a64379"});
  ASSERT_TRUE(started);
  EXPECT_EQ(started->at(0).current.name, "pending");
  auto described = ec2_.describeInstances({"i-4382922a"});
  ASSERT_TRUE(described) << described.error().message();
  EXPECT_FALSE(described->empty());
  auto reqs = http_.requests();
  EXPECT_EQ(reqs[0].body,
            "Action=StopInstances&Version=2016-11-15&InstanceId.1=i-10a64379&Force=true");
  EXPECT_EQ(reqs[1].body, "Action=StartInstances&Version=2016-11-15&InstanceId.1=i-10a64379");
  EXPECT_NE(reqs[2].body.find("Filter.1.Name=instance-id&Filter.1.Value.1=i-4382922a"),
            std::string::npos);
  EXPECT_FALSE(ec2_.stopInstances({}));
}

TEST_F(Ec2ClientTest, GarbageBodyOnSuccessIsAnInternalError) {
  http_.on("POST", "", xml(200, "<html>captive portal</html>"));
  auto r = ec2_.describeRouteTables({"rtb-1"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::Internal);
  EXPECT_NE(r.error().message().find("expected <DescribeRouteTablesResponse>"),
            std::string::npos);
}

}  // namespace
}  // namespace pathpilot::aws
