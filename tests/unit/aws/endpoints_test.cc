#include <gtest/gtest.h>

#include "aws/endpoints.h"

namespace pathpilot::aws {
namespace {

struct RegionCase {
  const char* region;
  const char* partition;
  const char* ec2_host;
};

class PartitionTest : public ::testing::TestWithParam<RegionCase> {};

TEST_P(PartitionTest, RegionMapsToPartitionAndHost) {
  const RegionCase& c = GetParam();
  auto p = partitionForRegion(c.region);
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->id, c.partition);
  auto e = resolveEndpoint("ec2", c.region);
  ASSERT_TRUE(e) << e.error().message();
  EXPECT_EQ(e->url.host, c.ec2_host);
  EXPECT_EQ(e->url.scheme, "https");
  EXPECT_EQ(e->url.port, 443);
  EXPECT_EQ(e->url.path, "/");
  EXPECT_EQ(e->url.hostHeader(), c.ec2_host);
  EXPECT_EQ(e->signing_region, c.region);
  EXPECT_EQ(e->signing_name, "ec2");
}

INSTANTIATE_TEST_SUITE_P(
    Regions, PartitionTest,
    ::testing::Values(
        RegionCase{"us-east-1", "aws", "ec2.us-east-1.amazonaws.com"},
        RegionCase{"ap-southeast-1", "aws", "ec2.ap-southeast-1.amazonaws.com"},
        RegionCase{"il-central-1", "aws", "ec2.il-central-1.amazonaws.com"},
        RegionCase{"cn-north-1", "aws-cn", "ec2.cn-north-1.amazonaws.com.cn"},
        RegionCase{"cn-northwest-1", "aws-cn", "ec2.cn-northwest-1.amazonaws.com.cn"},
        RegionCase{"us-gov-west-1", "aws-us-gov", "ec2.us-gov-west-1.amazonaws.com"},
        RegionCase{"us-gov-east-1", "aws-us-gov", "ec2.us-gov-east-1.amazonaws.com"},
        RegionCase{"us-iso-east-1", "aws-iso", "ec2.us-iso-east-1.c2s.ic.gov"},
        RegionCase{"us-isob-east-1", "aws-iso-b", "ec2.us-isob-east-1.sc2s.sgov.gov"},
        RegionCase{"xx-newregion-7", "aws", "ec2.xx-newregion-7.amazonaws.com"}));

TEST(EndpointsTest, OtherServicesInChina) {
  EXPECT_EQ(resolveEndpoint("sns", "cn-north-1")->url.toString(),
            "https://sns.cn-north-1.amazonaws.com.cn/");
  EXPECT_EQ(resolveEndpoint("monitoring", "cn-northwest-1")->url.toString(),
            "https://monitoring.cn-northwest-1.amazonaws.com.cn/");
}

TEST(EndpointsTest, MalformedRegionsAreRejected) {
  for (const char* bad : {"", "us-east1", "US-EAST-1", "us-east-", "useast-1", "us--east-1",
                          "us-east-1a", "u-east-1", "us-east-1234", "cn-north-1 "}) {
    auto e = resolveEndpoint("ec2", bad);
    ASSERT_FALSE(e) << bad;
    EXPECT_EQ(e.error().code(), ErrorCode::InvalidArgument);
    EXPECT_NE(e.error().message().find("region"), std::string::npos);
  }
}

TEST(EndpointsTest, EndpointUrlOverrideKeepsSigningRegion) {
  auto e = resolveEndpoint("ec2", "cn-north-1",
                           "https://vpce-0abc-xyz.ec2.cn-north-1.vpce.amazonaws.com.cn");
  ASSERT_TRUE(e) << e.error().message();
  EXPECT_EQ(e->url.host, "vpce-0abc-xyz.ec2.cn-north-1.vpce.amazonaws.com.cn");
  EXPECT_EQ(e->url.path, "/");
  EXPECT_EQ(e->signing_region, "cn-north-1");
  EXPECT_EQ(e->partition.id, "aws-cn");

  auto local = resolveEndpoint("ec2", "us-east-1", "http://127.0.0.1:40123");
  ASSERT_TRUE(local);
  EXPECT_EQ(local->url.scheme, "http");
  EXPECT_EQ(local->url.port, 40123);
  EXPECT_EQ(local->url.hostHeader(), "127.0.0.1:40123");
  EXPECT_EQ(local->url.toString(), "http://127.0.0.1:40123/");
}

TEST(EndpointsTest, BadEndpointUrlsAreRejected) {
  for (const char* bad : {"ec2.amazonaws.com", "ftp://host/", "https://", "https://h:99999/",
                          "https://h/?x=1"}) {
    auto e = resolveEndpoint("ec2", "us-east-1", bad);
    ASSERT_FALSE(e) << bad;
    EXPECT_EQ(e.error().code(), ErrorCode::InvalidArgument) << bad;
    EXPECT_NE(e.error().message().find("endpoint_url"), std::string::npos) << bad;
  }
  EXPECT_FALSE(resolveEndpoint("EC2!", "us-east-1"));
}

TEST(EndpointsTest, ArnsCarryThePartition) {
  auto cn = partitionForRegion("cn-north-1");
  EXPECT_EQ(makeArn(*cn, "sns", "cn-north-1", "111122223333", "DCI-Status"),
            "arn:aws-cn:sns:cn-north-1:111122223333:DCI-Status");
  auto gov = partitionForRegion("us-gov-west-1");
  EXPECT_EQ(makeArn(*gov, "ec2", "us-gov-west-1", "1", "route-table/rtb-1"),
            "arn:aws-us-gov:ec2:us-gov-west-1:1:route-table/rtb-1");
}

}  // namespace
}  // namespace pathpilot::aws
