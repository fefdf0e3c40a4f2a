#include "base/ip.h"

#include <gtest/gtest.h>

namespace pathpilot {
namespace {

TEST(IpAddressTest, ParsesV4AndV6) {
  auto a = IpAddress::parse("10.10.3.100");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->isV4());
  EXPECT_EQ(a->toString(), "10.10.3.100");
  EXPECT_EQ(a->v4HostOrder(), 0x0a0a0364u);
  auto b = IpAddress::parse("2001:db8::1");
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->isV6());
  EXPECT_EQ(b->toString(), "2001:db8::1");
  EXPECT_TRUE(IpAddress::parse("127.0.0.1")->isLoopback());
  EXPECT_TRUE(IpAddress::parse("::1")->isLoopback());
  EXPECT_TRUE(IpAddress::parse("0.0.0.0")->isUnspecified());
}

TEST(IpAddressTest, RejectsMalformed) {
  for (const char* bad : {"", "10.1", "256.1.1.1", "10.0.0.1/24", "abc", "1:2:3:4:5:6:7:8:9",
                          "[::1]", " 10.0.0.1"}) {
    EXPECT_FALSE(IpAddress::parse(bad)) << bad;
  }
}

TEST(IpPrefixTest, ParsesAndChecksHostBits) {
  auto p = IpPrefix::parse("10.10.0.0/16");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->length(), 16);
  EXPECT_EQ(p->toString(), "10.10.0.0/16");
  auto host = IpPrefix::parse("10.10.3.100");
  ASSERT_TRUE(host);
  EXPECT_EQ(host->length(), 32);
  auto bad = IpPrefix::parse("10.10.0.1/16");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("did you mean 10.10.0.0/16"), std::string::npos);
  auto lax = IpPrefix::parse("10.10.0.1/16", /*strict=*/false);
  ASSERT_TRUE(lax);
  EXPECT_EQ(lax->toString(), "10.10.0.0/16");
  EXPECT_FALSE(IpPrefix::parse("10.0.0.0/33"));
  EXPECT_FALSE(IpPrefix::parse("10.0.0.0/"));
  EXPECT_FALSE(IpPrefix::parse("10.0.0.0/1a"));
  EXPECT_TRUE(IpPrefix::parse("2001:db8::/32"));
  EXPECT_TRUE(IpPrefix::parse("0.0.0.0/0")->isDefault());
}

TEST(IpPrefixTest, Contains) {
  auto p = *IpPrefix::parse("10.10.0.0/16");
  EXPECT_TRUE(p.contains(*IpAddress::parse("10.10.3.100")));
  EXPECT_FALSE(p.contains(*IpAddress::parse("10.11.0.1")));
  EXPECT_FALSE(p.contains(*IpAddress::parse("::1")));
  EXPECT_TRUE(p.contains(*IpPrefix::parse("10.10.4.0/24")));
  EXPECT_FALSE(p.contains(*IpPrefix::parse("10.0.0.0/8")));
}

}  // namespace
}  // namespace pathpilot
