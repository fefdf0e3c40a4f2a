// SNS Publish and CloudWatch PutMetricData: request building, limits, batching, clients.
#include <gtest/gtest.h>

#include "aws/cloudwatch.h"
#include "aws/endpoints.h"
#include "aws/sns.h"
#include "fakes/fake_clock.h"
#include "fakes/fake_http_client.h"

namespace pathpilot::aws {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;
using testing::FakeHttpClient;

const std::filesystem::path kResponses =
    std::filesystem::path(PP_SOURCE_DIR "/tests/data/aws/responses");

class ServiceClientTest : public ::testing::Test {
 protected:
  QueryClientOptions options(std::string api, std::string service, std::string region,
                             std::string_view version) {
    QueryClientOptions o;
    o.api_name = std::move(api);
    o.endpoint = *resolveEndpoint(service, region);
    o.version = std::string(version);
    return o;
  }
  RetryHooks hooks() {
    return {[] { return 0.5; }, [this](Duration d) { sleeps_.push_back(d); }};
  }

  FakeClock clock_;
  FakeHttpClient http_;
  StaticCredentialsProvider creds_{Credentials("AKIDEXAMPLE", "secret-key-value")};
  std::vector<Duration> sleeps_;
};

// ---- SNS ----

TEST(SnsTest, PublishRequestCarriesTopicSubjectMessage) {
  auto r = publishRequest({"arn:aws:sns:ap-southeast-1:111122223333:DCI-Status",
                           "[Singapore] dx down", "DX path down: loss 100% over 10 s"});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(encodeQueryBody(*r),
            "Action=Publish&Version=2010-03-31&TopicArn=arn%3Aaws%3Asns%3Aap-southeast-1%3A"
            "111122223333%3ADCI-Status&Subject=%5BSingapore%5D%20dx%20down&Message=DX%20path%20"
            "down%3A%20loss%20100%25%20over%2010%20s");
}

TEST(SnsTest, SubjectsAreMadeAcceptable) {
  EXPECT_EQ(sanitizeSnsSubject("  line1\nline2\ttab"), "line1 line2 tab");
  EXPECT_EQ(sanitizeSnsSubject(std::string(300, 'x')).size(), 99u);
  // 33 × 3-byte characters = 99 bytes; one more must not be cut in half.
  std::string chinese;
  for (int i = 0; i < 40; ++i) {
    chinese += "\xe5\x8c\x97";  // 北
  }
  std::string s = sanitizeSnsSubject(chinese);
  EXPECT_EQ(s.size(), 99u);
  EXPECT_EQ(s.substr(96), "\xe5\x8c\x97");
  EXPECT_EQ(sanitizeSnsSubject(""), "");
}

TEST(SnsTest, LongMessagesAreTruncatedAtACharacterBoundary) {
  std::string big(kSnsMaxMessageBytes + 10, 'a');
  big.replace(kSnsMaxMessageBytes - 13, 3, "\xe5\x8c\x97");
  std::string t = truncateSnsMessage(big);
  EXPECT_LE(t.size(), kSnsMaxMessageBytes);
  EXPECT_TRUE(t.ends_with("\n[truncated]"));
  EXPECT_EQ(truncateSnsMessage("short"), "short");
}

TEST(SnsTest, BadTopicsAndEmptyMessages) {
  for (const char* arn : {"", "DCI-Status", "arn:aws:sqs:us-east-1:1:q", "arn:aws:sns::1:t",
                          "arn:aws:sns:us-east-1::t", "arn:aws:sns:us-east-1:1"}) {
    auto r = publishRequest({arn, "s", "m"});
    ASSERT_FALSE(r) << arn;
    EXPECT_EQ(r.error().code(), ErrorCode::InvalidArgument);
  }
  auto empty = publishRequest({"arn:aws:sns:us-east-1:1:t", "s", ""});
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().message().find("empty"), std::string::npos);
}

// An SMS straight to a phone, as `aws sns publish --phone-number` in the classic script: no
// topic, no subject, the SMS type attribute, exactly these parameters in this order.
TEST(SnsTest, PublishToAPhoneCarriesTheExactQueryParameters) {
  SnsMessage m;
  m.phone_number = "+15555550100";
  m.subject = "[Singapore] dx down";  // an SMS has no subject: not sent
  m.message = "[FIRING] dx down";
  auto r = publishRequest(m);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(encodeQueryBody(*r),
            "Action=Publish&Version=2010-03-31&PhoneNumber=%2B15555550100"
            "&Message=%5BFIRING%5D%20dx%20down"
            "&MessageAttributes.entry.1.Name=AWS.SNS.SMS.SMSType"
            "&MessageAttributes.entry.1.Value.DataType=String"
            "&MessageAttributes.entry.1.Value.StringValue=Transactional");
}

TEST(SnsTest, SmsAreCutAtSixteenHundredBytesOnACharacterBoundary) {
  SnsMessage m;
  m.phone_number = "+8613800138000";
  m.message = std::string(kSnsMaxSmsBytes - 13, 'a') + "\xe5\x8c\x97" + std::string(50, 'b');
  auto r = publishRequest(m);
  ASSERT_TRUE(r);
  std::string sent = r->param("Message");
  EXPECT_LE(sent.size(), kSnsMaxSmsBytes);
  EXPECT_TRUE(sent.ends_with("\n[truncated]")) << sent.substr(sent.size() - 20);
  EXPECT_EQ(sent.find("\xe5"), std::string::npos) << "no half character";
  m.message = std::string(kSnsMaxSmsBytes, 'x');
  EXPECT_EQ(publishRequest(m)->param("Message"), m.message) << "exactly at the limit: whole";
}

TEST(SnsTest, BadPhoneNumbersAndTwoTargets) {
  for (const char* n : {"15555550100", "+1 555 555 0100", "+0155555501", "+1234567890123456", "+1",
                        "+1555abc0100"}) {
    SnsMessage m;
    m.phone_number = n;
    m.message = "m";
    auto r = publishRequest(m);
    ASSERT_FALSE(r) << n;
    EXPECT_EQ(r.error().code(), ErrorCode::InvalidArgument);
    EXPECT_NE(r.error().message().find("E.164"), std::string::npos);
  }
  EXPECT_TRUE(isE164PhoneNumber("+15555550100"));
  EXPECT_TRUE(isE164PhoneNumber("+123456789012345"));
  SnsMessage both{"arn:aws:sns:us-east-1:111122223333:t", "s", "m", "+15555550100"};
  auto r = publishRequest(both);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("one target"), std::string::npos);
  SnsMessage empty;
  empty.phone_number = "+15555550100";
  EXPECT_FALSE(publishRequest(empty));
  // Errors and receipts show the number masked.
  EXPECT_EQ(maskPhoneNumber("+15555550100"), "+1555…0100");
  EXPECT_EQ(maskPhoneNumber("+1234"), "+12…");
}

TEST_F(ServiceClientTest, SmsThroughTheClient) {
  http_.on("POST", "Action=Publish",
           FakeHttpClient::fileResponse(200, kResponses / "sns/Publish-awsdocs-example1.xml"));
  QueryClient q(http_, creds_, clock_, options("SNS", "sns", "ap-southeast-1", kSnsApiVersion),
                hooks());
  SnsClient sns(q);
  SnsMessage m;
  m.phone_number = "+15555550100";
  m.message = "dx down";
  auto r = sns.publish(m);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->message_id, "567910cd-659e-55d4-8ccb-5aaf14679dc0");
  ASSERT_EQ(http_.requestCount(), 1u);
  EXPECT_EQ(http_.requests().at(0).url, "https://sns.ap-southeast-1.amazonaws.com/");
  EXPECT_NE(http_.requests().at(0).body.find("PhoneNumber=%2B15555550100"), std::string::npos);
}

TEST_F(ServiceClientTest, SmsThroughAChinaEndpointIsRefusedBeforeSending) {
  QueryClient q(http_, creds_, clock_, options("SNS", "sns", "cn-north-1", kSnsApiVersion),
                hooks());
  SnsMessage m;
  m.phone_number = "+8613800138000";
  m.message = "dx down";
  auto r = SnsClient(q).publish(m);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::InvalidArgument);
  EXPECT_NE(r.error().message().find("no SMS in the China regions"), std::string::npos);
  EXPECT_EQ(r.error().message().find("13800138000"), std::string::npos);
  EXPECT_EQ(http_.requestCount(), 0u);
}

TEST_F(ServiceClientTest, PublishThroughTheClient) {
  http_.on("POST", "Action=Publish",
           FakeHttpClient::fileResponse(200, kResponses / "sns/Publish-awsdocs-example1.xml"));
  QueryClient q(http_, creds_, clock_, options("SNS", "sns", "cn-north-1", kSnsApiVersion),
                hooks());
  SnsClient sns(q);
  auto r = sns.publish({"arn:aws-cn:sns:cn-north-1:111122223333:DCI-Status", "s", "m"});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->message_id, "567910cd-659e-55d4-8ccb-5aaf14679dc0");
  EXPECT_EQ(r->request_id, "d74b8436-ae13-5ab4-a9ff-ce54dfea72a0");
  EXPECT_EQ(http_.requests().at(0).url, "https://sns.cn-north-1.amazonaws.com.cn/");
}

TEST_F(ServiceClientTest, PublishToATopicInAnotherRegionIsRefused) {
  QueryClient q(http_, creds_, clock_, options("SNS", "sns", "cn-north-1", kSnsApiVersion),
                hooks());
  SnsClient sns(q);
  auto r = sns.publish({"arn:aws:sns:ap-southeast-1:111122223333:DCI-Status", "s", "m"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::InvalidArgument);
  EXPECT_NE(r.error().message().find("aws/ap-southeast-1"), std::string::npos);
  EXPECT_EQ(http_.requestCount(), 0u);
}

TEST_F(ServiceClientTest, PublishErrorsAreMapped) {
  http_.on("POST", "",
           FakeHttpClient::fileResponse(
               404, kResponses / "sns/Publish-error-NotFound-moto-reconstructed.xml"));
  QueryClient q(http_, creds_, clock_, options("SNS", "sns", "us-east-1", kSnsApiVersion),
                hooks());
  auto r = SnsClient(q).publish({"arn:aws:sns:us-east-1:111122223333:gone", "s", "m"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::NotFound);
  EXPECT_NE(r.error().message().find("SNS Publish failed: NotFound: Topic does not exist"),
            std::string::npos);
}

// ---- CloudWatch ----

MetricDatum datum(std::string name, double value) {
  MetricDatum d;
  d.name = std::move(name);
  d.value = value;
  d.unit = "Count";
  d.dimensions = {{"Site", "Singapore"}, {"Path", "dx"}};
  return d;
}

TEST(CloudWatchTest, OneRequestEncodesEverything) {
  MetricDatum d = datum("PathUp", 1);
  d.timestamp = WallTime(1764075172s) + 123ms;
  d.storage_resolution = 1;
  MetricDatum rtt = datum("RttMs", 12.25);
  rtt.unit = "Milliseconds";
  rtt.dimensions = {};
  auto reqs = putMetricDataRequests("Pathpilot", {d, rtt});
  ASSERT_TRUE(reqs) << reqs.error().message();
  ASSERT_EQ(reqs->size(), 1u);
  const QueryRequest& r = reqs->at(0);
  EXPECT_EQ(r.action, "PutMetricData");
  EXPECT_EQ(r.version, "2010-08-01");
  EXPECT_EQ(r.param("Namespace"), "Pathpilot");
  EXPECT_EQ(r.param("MetricData.member.1.MetricName"), "PathUp");
  EXPECT_EQ(r.param("MetricData.member.1.Value"), "1");
  EXPECT_EQ(r.param("MetricData.member.1.Unit"), "Count");
  EXPECT_EQ(r.param("MetricData.member.1.Timestamp"), "2025-11-25T12:52:52.123Z");
  EXPECT_EQ(r.param("MetricData.member.1.StorageResolution"), "1");
  EXPECT_EQ(r.param("MetricData.member.1.Dimensions.member.1.Name"), "Site");
  EXPECT_EQ(r.param("MetricData.member.1.Dimensions.member.2.Value"), "dx");
  EXPECT_EQ(r.param("MetricData.member.2.Value"), "12.25");
  EXPECT_EQ(r.param("MetricData.member.2.Unit"), "Milliseconds");
  EXPECT_EQ(r.param("MetricData.member.2.Dimensions.member.1.Name"), "");
}

TEST(CloudWatchTest, BatchesByCount) {
  std::vector<MetricDatum> data;
  for (int i = 0; i < 2500; ++i) {
    data.push_back(datum("M" + std::to_string(i), i));
  }
  auto reqs = putMetricDataRequests("Pathpilot", data);
  ASSERT_TRUE(reqs);
  ASSERT_EQ(reqs->size(), 3u);
  EXPECT_EQ(reqs->at(0).param("MetricData.member.1000.MetricName"), "M999");
  EXPECT_EQ(reqs->at(0).param("MetricData.member.1001.MetricName"), "");
  EXPECT_EQ(reqs->at(1).param("MetricData.member.1.MetricName"), "M1000");
  EXPECT_EQ(reqs->at(2).param("MetricData.member.500.MetricName"), "M2499");
  PutMetricDataLimits old_limits{20, 40 * 1024};
  auto small = putMetricDataRequests("Pathpilot", data, old_limits);
  ASSERT_TRUE(small);
  EXPECT_EQ(small->size(), 125u);
}

TEST(CloudWatchTest, BatchesByBodySize) {
  std::vector<MetricDatum> data;
  for (int i = 0; i < 50; ++i) {
    MetricDatum d = datum("Big" + std::to_string(i), 1);
    d.dimensions.push_back({"Note", std::string(1000, 'n')});
    data.push_back(d);
  }
  PutMetricDataLimits limits{1000, 8 * 1024};
  auto reqs = putMetricDataRequests("Pathpilot", data, limits);
  ASSERT_TRUE(reqs);
  EXPECT_GT(reqs->size(), 1u);
  std::size_t total = 0;
  for (const QueryRequest& r : *reqs) {
    EXPECT_LE(encodeQueryBody(r).size(), limits.max_body_bytes);
    for (const auto& [k, v] : r.params) {
      total += k.ends_with(".MetricName") ? 1 : 0;
    }
  }
  EXPECT_EQ(total, 50u);
  PutMetricDataLimits tiny{1000, 200};
  auto too_big = putMetricDataRequests("Pathpilot", data, tiny);
  ASSERT_FALSE(too_big);
  EXPECT_NE(too_big.error().message().find("alone exceeds"), std::string::npos);
}

TEST(CloudWatchTest, BadDataIsNamed) {
  struct Case {
    MetricDatum d;
    const char* expect;
  };
  MetricDatum nan = datum("Loss", std::nan(""));
  MetricDatum inf = datum("Loss", HUGE_VAL);
  MetricDatum huge = datum("Loss", std::ldexp(1.0, 400));
  MetricDatum unit = datum("Loss", 1);
  unit.unit = "Furlongs";
  MetricDatum dims = datum("Loss", 1);
  dims.dimensions.assign(31, {"k", "v"});
  MetricDatum empty_dim = datum("Loss", 1);
  empty_dim.dimensions.push_back({"Site", ""});
  MetricDatum res = datum("Loss", 1);
  res.storage_resolution = 5;
  MetricDatum noname = datum("", 1);
  for (const Case& c : {Case{nan, "finite"}, Case{inf, "finite"}, Case{huge, "2^360"},
                        Case{unit, "StandardUnit"}, Case{dims, "at most 30"},
                        Case{empty_dim, "dimension 'Site'"}, Case{res, "resolution"},
                        Case{noname, "1 to 255"}}) {
    auto r = putMetricDataRequests("Pathpilot", {datum("Ok", 1), c.d});
    ASSERT_FALSE(r) << c.expect;
    EXPECT_EQ(r.error().code(), ErrorCode::InvalidArgument);
    EXPECT_NE(r.error().message().find(c.expect), std::string::npos) << r.error().message();
  }
  for (const char* ns : {"", "AWS/EC2", ":x"}) {
    EXPECT_FALSE(putMetricDataRequests(ns, {datum("Ok", 1)})) << ns;
  }
  auto none = putMetricDataRequests("Pathpilot", {});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_F(ServiceClientTest, PutMetricDataSendsEveryBatch) {
  http_.on("POST", "Action=PutMetricData",
           FakeHttpClient::fileResponse(
               200, kResponses / "cloudwatch/PutMetricData-capture-idredacted.xml"));
  QueryClient q(http_, creds_, clock_,
                options("CloudWatch", "monitoring", "ap-southeast-1", kCloudWatchApiVersion),
                hooks());
  CloudWatchClient cw(q, {20, 1024 * 1024});
  std::vector<MetricDatum> data;
  for (int i = 0; i < 45; ++i) {
    data.push_back(datum("M" + std::to_string(i), i));
  }
  auto r = cw.putMetricData("Pathpilot", data);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->requests, 3u);
  EXPECT_EQ(r->metrics, 45u);
  ASSERT_EQ(http_.requestCount(), 3u);
  EXPECT_EQ(http_.requests()[0].url, "https://monitoring.ap-southeast-1.amazonaws.com/");
}

TEST_F(ServiceClientTest, AFailedBatchSaysWhatWasAccepted) {
  http_.on("POST", "Action=PutMetricData",
           {FakeHttpClient::fileResponse(
                200, kResponses / "cloudwatch/PutMetricData-moto-reconstructed.xml"),
            FakeHttpClient::fileResponse(
                400,
                kResponses /
                    "cloudwatch/PutMetricData-error-InvalidParameterValue-moto-reconstructed.xml")});
  QueryClient q(http_, creds_, clock_,
                options("CloudWatch", "monitoring", "us-east-1", kCloudWatchApiVersion),
                hooks());
  CloudWatchClient cw(q, {20, 1024 * 1024});
  std::vector<MetricDatum> data(30, datum("M", 1));
  auto r = cw.putMetricData("Pathpilot", data);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::InvalidArgument);
  EXPECT_NE(r.error().message().find("batch 2 of 2 (20 of 30 data points already accepted)"),
            std::string::npos)
      << r.error().message();
}

TEST_F(ServiceClientTest, ThrottledPutMetricDataIsRetried) {
  http_.on("POST", "",
           {FakeHttpClient::fileResponse(
                400, kResponses /
                         "cloudwatch/PutMetricData-error-Throttling-reconstructed-from-capture.xml"),
            FakeHttpClient::fileResponse(
                200, kResponses / "cloudwatch/PutMetricData-moto-reconstructed.xml")});
  QueryClient q(http_, creds_, clock_,
                options("CloudWatch", "monitoring", "us-east-1", kCloudWatchApiVersion),
                hooks());
  auto r = CloudWatchClient(q).putMetricData("Pathpilot", {datum("M", 1)});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(sleeps_, (std::vector<Duration>{250ms}));
}

TEST(ArnTest, ParsesAndRejects) {
  auto a = parseArn("arn:aws-cn:sns:cn-north-1:111122223333:DCI-Status");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->partition, "aws-cn");
  EXPECT_EQ(a->service, "sns");
  EXPECT_EQ(a->region, "cn-north-1");
  EXPECT_EQ(a->account, "111122223333");
  EXPECT_EQ(a->resource, "DCI-Status");
  auto colon = parseArn("arn:aws:iam::111122223333:role/x:y");
  ASSERT_TRUE(colon);
  EXPECT_EQ(colon->resource, "role/x:y");
  EXPECT_FALSE(parseArn("arn:aws:sns"));
  EXPECT_FALSE(parseArn("nra:aws:sns:r:a:b"));
}

}  // namespace
}  // namespace pathpilot::aws
