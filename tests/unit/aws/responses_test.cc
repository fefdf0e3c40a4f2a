// Every recorded AWS response body under tests/data/aws/responses goes through the
// parsers. The directory is walked at run time: a file dropped in is tested by the kind its
// name announces (<Action>-..., Error-<Code>..., <Action>-error-<Code>-...). Specific
// assertions on known files follow.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "aws/cloudwatch.h"
#include "aws/ec2.h"
#include "aws/query.h"
#include "aws/retry.h"
#include "aws/sns.h"

namespace pathpilot::aws {
namespace {

namespace fs = std::filesystem;

const fs::path kResponses = fs::path(PP_SOURCE_DIR "/tests/data/aws/responses");

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    throw std::runtime_error("test data not readable: " + p.string());
  }
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string body(std::string_view rel) { return readFile(kResponses / rel); }

std::vector<fs::path> allResponseFiles() {
  std::vector<fs::path> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(kResponses, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file() && it->path().extension() == ".xml") {
      out.push_back(it->path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The AWS error code a file name announces, or "" for success bodies:
// "Error-InvalidRouteTableID.NotFound-moto-reconstructed.xml" → InvalidRouteTableID.NotFound,
// "Publish-error-Throttling-moto-reconstructed.xml" → Throttling.
std::string expectedErrorCode(const std::string& name) {
  std::string rest;
  if (name.rfind("Error-", 0) == 0) {
    rest = name.substr(6);
  } else if (auto pos = name.find("-error-"); pos != std::string::npos) {
    rest = name.substr(pos + 7);
  } else {
    return {};
  }
  if (rest.size() > 4 && rest.substr(rest.size() - 4) == ".xml") {
    rest.resize(rest.size() - 4);
  }
  return rest.substr(0, rest.find('-'));
}

class ResponseFileTest : public ::testing::TestWithParam<fs::path> {};

TEST_P(ResponseFileTest, ParsesAsItsNameSays) {
  const fs::path& path = GetParam();
  const std::string name = path.filename().string();
  const std::string xml = readFile(path);
  ASSERT_FALSE(xml.empty()) << path;

  // Whatever the file is, every parser copes with it without crashing, and the error
  // parser always yields something.
  (void)parseDescribeRouteTables(xml);
  (void)parseDescribeInstances(xml);
  (void)parseInstanceStateChanges(xml, "StopInstances");
  (void)parseReturn(xml, "CreateRoute");
  (void)parsePublish(xml);
  (void)parsePutMetricData(xml);
  AwsError generic = parseAwsError(400, xml);
  EXPECT_FALSE(generic.message.empty() && generic.code.empty());

  const std::string code = expectedErrorCode(name);
  if (!code.empty()) {
    SCOPED_TRACE("error body");
    EXPECT_TRUE(isAwsErrorDocument(xml));
    AwsError e = parseAwsError(400, xml);
    EXPECT_EQ(e.code, code);
    EXPECT_FALSE(e.message.empty());
    EXPECT_EQ(e.message.front() != ' ' && e.message.back() != ' ' && e.message.back() != '\n',
              true)
        << "message not trimmed: '" << e.message << "'";
    Error err = toError(e, "EC2", "Test");
    EXPECT_NE(err.message().find(code), std::string::npos);
    // A success parser fed an error body reports that error, with its mapped code.
    auto as_success = parseDescribeRouteTables(xml);
    ASSERT_FALSE(as_success);
    auto as_publish = parsePublish(xml);
    ASSERT_FALSE(as_publish);
    auto as_metrics = parsePutMetricData(xml);
    ASSERT_FALSE(as_metrics);
    EXPECT_EQ(as_publish.error().code(), mapAwsErrorCode(code, 200)) << name;
    EXPECT_EQ(as_metrics.error().code(), mapAwsErrorCode(code, 200)) << name;
    if (path.parent_path().filename() == "ec2") {
      EXPECT_EQ(as_success.error().code(), mapAwsErrorCode(code, 200)) << name;
      EXPECT_NE(as_success.error().message().find(code), std::string::npos);
    }
    return;
  }

  std::string action = name.substr(0, name.find('-'));
  EXPECT_FALSE(isAwsErrorDocument(xml));
  if (action == "DescribeRouteTables") {
    auto page = parseDescribeRouteTables(xml);
    ASSERT_TRUE(page) << page.error().message();
    ASSERT_FALSE(page->tables.empty());
    for (const VpcRouteTable& t : page->tables) {
      EXPECT_EQ(t.id.rfind("rtb-", 0), 0u) << t.id;
      EXPECT_FALSE(t.routes.empty());
      for (const Ec2Route& r : t.routes) {
        EXPECT_FALSE(r.destination.empty());
        EXPECT_NE(r.target.kind, RouteTargetKind::None) << r.destination;
        EXPECT_FALSE(r.target.id.empty());
      }
    }
  } else if (action == "DescribeInstances") {
    auto page = parseDescribeInstances(xml);
    ASSERT_TRUE(page) << page.error().message();
    for (const Ec2Instance& i : page->instances) {
      EXPECT_EQ(i.id.rfind("i-", 0), 0u) << i.id;
      EXPECT_GE(i.state.code, 0) << i.id;
      EXPECT_FALSE(i.state.name.empty()) << i.id;
    }
  } else if (action == "StartInstances" || action == "StopInstances") {
    auto changes = parseInstanceStateChanges(xml, action);
    ASSERT_TRUE(changes) << changes.error().message();
    ASSERT_FALSE(changes->empty());
    for (const InstanceStateChange& c : *changes) {
      EXPECT_EQ(c.instance_id.rfind("i-", 0), 0u);
      EXPECT_EQ(c.current.name, action == "StartInstances" ? "pending" : "stopping");
      EXPECT_EQ(c.previous.name, action == "StartInstances" ? "stopped" : "running");
    }
    // The wrong action is refused, naming both.
    auto wrong = parseInstanceStateChanges(
        xml, action == "StartInstances" ? "StopInstances" : "StartInstances");
    ASSERT_FALSE(wrong);
    EXPECT_NE(wrong.error().message().find(action + "Response"), std::string::npos);
  } else if (action == "CreateRoute" || action == "ReplaceRoute") {
    auto ret = parseReturn(xml, action);
    ASSERT_TRUE(ret) << ret.error().message();
    EXPECT_TRUE(*ret);
  } else if (action == "Publish") {
    auto r = parsePublish(xml);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_FALSE(r->message_id.empty());
    EXPECT_FALSE(r->request_id.empty());
  } else if (action == "PutMetricData") {
    auto r = parsePutMetricData(xml);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_FALSE(r->empty());
  } else {
    std::cout << "[   NOTE   ] " << name << ": no parser for action '" << action
              << "'; checked only that nothing crashes\n";
  }
}

std::string fileName(const ::testing::TestParamInfo<fs::path>& info) {
  std::string out;
  for (char c : info.param.parent_path().filename().string() + "_" +
                    info.param.stem().string()) {
    out.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Recorded, ResponseFileTest, ::testing::ValuesIn(allResponseFiles()),
                         fileName);

TEST(ResponseFilesTest, AllThreeServicesArePresent) {
  auto files = allResponseFiles();
  int ec2 = 0, sns = 0, cw = 0;
  for (const auto& f : files) {
    std::string dir = f.parent_path().filename().string();
    ec2 += dir == "ec2";
    sns += dir == "sns";
    cw += dir == "cloudwatch";
  }
  EXPECT_GE(ec2, 20);
  EXPECT_GE(sns, 5);
  EXPECT_GE(cw, 3);
}

// ---- specific files ----

TEST(Ec2ParseTest, BotocoreRouteTables) {
  auto page = parseDescribeRouteTables(body("ec2/DescribeRouteTables-botocore.xml"));
  ASSERT_TRUE(page);
  EXPECT_EQ(page->request_id, "0a0c3fc4-1246-463b-b276-2823b5bc38e6");
  ASSERT_EQ(page->tables.size(), 2u);
  const VpcRouteTable& t = page->tables[0];
  EXPECT_EQ(t.id, "rtb-2728114e");
  EXPECT_EQ(t.vpc_id, "vpc-8d2910e4");
  ASSERT_EQ(t.routes.size(), 2u);
  EXPECT_EQ(t.routes[0].target, (RouteTarget{RouteTargetKind::Gateway, "local"}));
  EXPECT_EQ(t.routes[1].destination, "0.0.0.0/0");
  EXPECT_EQ(t.routes[1].target, (RouteTarget{RouteTargetKind::Gateway, "igw-6228110b"}));
  EXPECT_TRUE(t.routes[1].active());
  EXPECT_EQ(t.routes[1].origin, "CreateRoute");
  ASSERT_EQ(t.associations.size(), 1u);
  EXPECT_EQ(t.associations[0].subnet_id, "subnet-812910e8");
  EXPECT_FALSE(t.associations[0].main);
  EXPECT_TRUE(page->tables[1].associations[0].main);
  ASSERT_NE(t.findRoute(*IpPrefix::parse("0.0.0.0/0")), nullptr);
  EXPECT_EQ(t.findRoute(*IpPrefix::parse("10.10.0.0/16")), nullptr);
}

TEST(Ec2ParseTest, MotoRouteTargetsAndTags) {
  auto page = parseDescribeRouteTables(body("ec2/DescribeRouteTables-moto-reconstructed.xml"));
  ASSERT_TRUE(page);
  const VpcRouteTable& t = page->tables.at(0);
  EXPECT_EQ(t.owner_id, "111122223333");
  ASSERT_EQ(t.routes.size(), 4u);
  EXPECT_EQ(t.routes[1].target, (RouteTarget{RouteTargetKind::NatGateway, "nat-0e1d2c3b4a5968778"}));
  EXPECT_EQ(t.routes[2].target,
            (RouteTarget{RouteTargetKind::NetworkInterface, "eni-0a0b0c0d0e0f01234"}));
  EXPECT_EQ(t.routes[3].target, (RouteTarget{RouteTargetKind::Instance, "i-0123456789abcdef0"}));
  ASSERT_EQ(t.tags.size(), 1u);
  EXPECT_EQ(t.tags[0], (std::pair<std::string, std::string>{"Name", "ha-private-a"}));
  EXPECT_EQ(t.associations.size(), 2u);
}

TEST(Ec2ParseTest, InvalidRouteStateIsKeptNotFatal) {
  auto page = parseDescribeRouteTables(body("ec2/DescribeRouteTables-jclouds-invalid-state.xml"));
  ASSERT_TRUE(page);
  ASSERT_EQ(page->tables.at(0).routes.size(), 1u);
  EXPECT_EQ(page->tables[0].routes[0].state, "bogus");
  EXPECT_FALSE(page->tables[0].routes[0].active());
  EXPECT_TRUE(page->tables[0].associations.empty());
}

TEST(Ec2ParseTest, NamespaceStrippedAndOldVersions) {
  EXPECT_TRUE(*parseReturn(body("ec2/ReplaceRoute-vmx-capture-nsstripped.xml"), "ReplaceRoute"));
  EXPECT_TRUE(
      *parseReturn(body("ec2/ReplaceRoute-vmx-capture-ns-restored.xml"), "ReplaceRoute"));
  auto old = parseInstanceStateChanges(body("ec2/StartInstances-jclouds-2009.xml"),
                                       "StartInstances");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->at(0).instance_id, "i-10a64379");
  EXPECT_EQ(old->at(0).previous, (InstanceState{80, "stopped"}));
  EXPECT_EQ(old->at(0).current, (InstanceState{0, "pending"}));
}

TEST(Ec2ParseTest, TwoInstancesStopped) {
  auto c = parseInstanceStateChanges(body("ec2/StopInstances-moto-reconstructed.xml"),
                                     "StopInstances");
  ASSERT_TRUE(c);
  ASSERT_EQ(c->size(), 2u);
  EXPECT_EQ(c->at(1).instance_id, "i-0aaaabbbbccccdddd");
  EXPECT_EQ(c->at(1).current.code, 64);
}

TEST(Ec2ParseTest, DescribeInstancesShapes) {
  auto b = parseDescribeInstances(body("ec2/DescribeInstances-botocore.xml"));
  ASSERT_TRUE(b);
  ASSERT_GE(b->instances.size(), 2u);
  EXPECT_EQ(b->instances[0].id, "i-fde9cece");
  EXPECT_EQ(b->instances[0].state, (InstanceState{80, "stopped"}));
  EXPECT_EQ(b->instances[0].availability_zone, "us-west-2a");
  EXPECT_NE(b->instances[0].state_reason.find("UserInitiatedShutdown"), std::string::npos);
  // Nested <item>s (groupSet, blockDeviceMapping, tagSet) are not mistaken for instances.
  for (const auto& i : b->instances) {
    EXPECT_EQ(i.id.rfind("i-", 0), 0u);
  }
  auto empty = parseDescribeInstances(body("ec2/DescribeInstances-jclouds-empty.xml"));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->instances.empty());
  auto pending = parseDescribeInstances(body("ec2/DescribeInstances-jclouds-pending.xml"));
  ASSERT_TRUE(pending);
  ASSERT_FALSE(pending->instances.empty());
  EXPECT_EQ(pending->instances[0].state.name, "pending");
  auto many = parseDescribeInstances(body("ec2/DescribeInstances-jclouds-many-terminated.xml"));
  ASSERT_TRUE(many);
  EXPECT_GT(many->instances.size(), 5u);
  auto latest = parseDescribeInstances(body("ec2/DescribeInstances-jclouds-latest.xml"));
  ASSERT_TRUE(latest);
  bool empty_tag_value = false;
  for (const auto& i : latest->instances) {
    for (const auto& [k, v] : i.tags) {
      empty_tag_value = empty_tag_value || v.empty();
    }
  }
  EXPECT_TRUE(empty_tag_value);
}

TEST(AwsErrorTest, RealCapturesMapToPathpilotCodes) {
  struct Case {
    const char* file;
    ErrorCode code;
  } cases[] = {
      {"ec2/Error-RequestLimitExceeded.xml", ErrorCode::Throttled},
      {"ec2/Error-RequestLimitExceeded-moto-reconstructed.xml", ErrorCode::Throttled},
      {"ec2/Error-InvalidRouteTableID.NotFound.xml", ErrorCode::NotFound},
      {"ec2/Error-InvalidInstanceID.NotFound-moto-reconstructed.xml", ErrorCode::NotFound},
      {"ec2/Error-UnauthorizedOperation-moto-reconstructed.xml", ErrorCode::PermissionDenied},
      {"ec2/Error-InsufficientInstanceCapacity.xml", ErrorCode::Unavailable},
      {"ec2/Error-InvalidInstanceID.Malformed-botocore.xml", ErrorCode::InvalidArgument},
      {"ec2/Error-DependencyViolation.xml", ErrorCode::InvalidArgument},
      {"sns/Publish-error-Throttling-moto-reconstructed.xml", ErrorCode::Throttled},
      {"sns/Publish-error-NotFound-moto-reconstructed.xml", ErrorCode::NotFound},
      {"sns/Publish-error-AuthorizationError-moto-reconstructed.xml",
       ErrorCode::PermissionDenied},
      {"cloudwatch/PutMetricData-error-Throttling-reconstructed-from-capture.xml",
       ErrorCode::Throttled},
      {"cloudwatch/PutMetricData-error-InvalidParameterValue-moto-reconstructed.xml",
       ErrorCode::InvalidArgument},
  };
  for (const Case& c : cases) {
    AwsError e = parseAwsError(400, body(c.file));
    EXPECT_EQ(mapAwsErrorCode(e.code, 400), c.code) << c.file;
  }
  AwsError real = parseAwsError(400, body("ec2/Error-InvalidRouteTableID.NotFound.xml"));
  EXPECT_EQ(real.message, "The routeTable ID 'rtb-509f1528' does not exist");
  EXPECT_EQ(real.request_id, "54256eb4-d706-4084-86dc-b7f581006f9f");
  Error err = toError(real, "EC2", "ReplaceRoute");
  EXPECT_EQ(err.code(), ErrorCode::NotFound);
  EXPECT_EQ(err.message(),
            "EC2 ReplaceRoute failed: InvalidRouteTableID.NotFound: The routeTable ID "
            "'rtb-509f1528' does not exist (HTTP 400, request id "
            "54256eb4-d706-4084-86dc-b7f581006f9f)");
  AwsError sns = parseAwsError(400, body("sns/Publish-error-InvalidParameter-moto-reconstructed.xml"));
  EXPECT_EQ(sns.type, "Sender");
  EXPECT_EQ(sns.request_id, "9dd01905-5012-5f99-8663-4b3ecd0dfaef");
  AwsError padded =
      parseAwsError(400, body("ec2/Error-IdempotentParameterMismatch-libcloud.xml"));
  EXPECT_EQ(padded.message.rfind("Arguments on this", 0), 0u);
}

TEST(AwsErrorTest, NonAwsBodies) {
  AwsError html = parseAwsError(502, "<html><body><h1>502 Bad Gateway</h1></body></html>");
  EXPECT_TRUE(html.code.empty());
  EXPECT_NE(html.message.find("502"), std::string::npos);
  EXPECT_EQ(mapAwsErrorCode(html.code, 502), ErrorCode::Unavailable);
  AwsError empty = parseAwsError(500, "");
  EXPECT_NE(empty.message.find("empty body"), std::string::npos);
  AwsError garbage = parseAwsError(403, std::string("\x00\x01\xff<<", 5));
  EXPECT_NE(garbage.message.find("not XML"), std::string::npos);
  EXPECT_EQ(mapAwsErrorCode(garbage.code, 403), ErrorCode::PermissionDenied);
  AwsError truncated = parseAwsError(400, "<Response><Errors><Error><Code>Thrott");
  EXPECT_NE(truncated.message.find("not XML"), std::string::npos);
  EXPECT_EQ(mapAwsErrorCode("", 429), ErrorCode::Throttled);
  EXPECT_EQ(mapAwsErrorCode("RouteAlreadyExists", 400), ErrorCode::AlreadyExists);
  EXPECT_EQ(mapAwsErrorCode("InvalidPermission.Duplicate", 400), ErrorCode::AlreadyExists);
  EXPECT_EQ(mapAwsErrorCode("ExpiredToken", 400), ErrorCode::PermissionDenied);
  EXPECT_EQ(mapAwsErrorCode("RequestTimeout", 400), ErrorCode::Timeout);
}

// The error mapping and the retry policy share one list of throttling codes: whatever the
// retry policy backs off as throttling is reported as Throttled, and nothing else is.
TEST(AwsErrorTest, ThrottlingCodesAgreeWithRetryPolicy) {
  for (std::string_view code :
       {"Throttling", "ThrottlingException", "RequestLimitExceeded", "SlowDown",
        "EC2ThrottledException", "PriorRequestNotComplete", "BandwidthLimitExceeded",
        "InternalError", "RouteAlreadyExists", "UnauthorizedOperation", ""}) {
    for (int status : {400, 503}) {
      bool throttling = classifyAwsError(status, code) == RetryKind::Throttling;
      EXPECT_EQ(mapAwsErrorCode(code, status) == ErrorCode::Throttled, throttling)
          << code << " " << status;
    }
  }
  EXPECT_EQ(mapAwsErrorCode("SlowDown", 503), ErrorCode::Throttled);
  EXPECT_EQ(mapAwsErrorCode("InternalError", 500), ErrorCode::Unavailable);
}

TEST(Ec2ParseTest, MalformedBodiesAreCleanErrors) {
  const std::string good = body("ec2/DescribeRouteTables-botocore.xml");
  std::vector<std::string> bad = {
      "",
      "   \n",
      "not xml at all",
      good.substr(0, good.size() / 2),  // truncated
      "<html><head><title>503 Service Unavailable</title></head></html>",
      "<DescribeInstancesResponse/>",  // wrong action
      "<?xml version=\"1.0\"?>",
      std::string(1, '\0'),
  };
  for (const std::string& b : bad) {
    auto r = parseDescribeRouteTables(b);
    ASSERT_FALSE(r) << b.substr(0, 40);
    EXPECT_EQ(r.error().code(), ErrorCode::Internal);
    EXPECT_NE(r.error().message().find("EC2 DescribeRouteTables"), std::string::npos);
  }
  // Unexpected elements anywhere are ignored.
  auto extra = parseDescribeRouteTables(
      "<ns:DescribeRouteTablesResponse xmlns:ns='urn:x'><surprise><item/></surprise>"
      "<ns:routeTableSet><ns:item><ns:routeTableId>rtb-1</ns:routeTableId><wat>1</wat>"
      "<ns:routeSet><ns:item><ns:destinationCidrBlock>10.10.0.0/16</ns:destinationCidrBlock>"
      "<ns:gatewayId>vgw-1</ns:gatewayId><ns:state>active</ns:state><x><y/></x></ns:item>"
      "</ns:routeSet></ns:item></ns:routeTableSet><nextToken>abc</nextToken>"
      "</ns:DescribeRouteTablesResponse>");
  ASSERT_TRUE(extra) << extra.error().message();
  ASSERT_EQ(extra->tables.size(), 1u);
  EXPECT_EQ(extra->next_token, "abc");
  EXPECT_EQ(extra->tables[0].routes.at(0).target.id, "vgw-1");
  auto ret = parseReturn("<CreateRouteResponse><return>maybe</return></CreateRouteResponse>",
                         "CreateRoute");
  ASSERT_FALSE(ret);
  EXPECT_NE(ret.error().message().find("<return>"), std::string::npos);
}

}  // namespace
}  // namespace pathpilot::aws
