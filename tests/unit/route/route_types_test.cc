#include <gtest/gtest.h>

#include "route/reconciler.h"
#include "route/route.h"

namespace pathpilot::route {
namespace {

TEST(NextHopTest, ParsesAndPrintsBothForms) {
  auto gw = parseNextHop("via 169.254.100.1 dev vti0");
  ASSERT_TRUE(gw) << gw.error().message();
  EXPECT_EQ(gw->via, *IpAddress::parse("169.254.100.1"));
  EXPECT_EQ(gw->dev, "vti0");
  EXPECT_EQ(gw->toString(), "via 169.254.100.1 dev vti0");

  EXPECT_EQ(parseNextHop("dev tun0")->toString(), "dev tun0");
  EXPECT_EQ(parseNextHop("  via   10.0.0.1 ")->toString(), "via 10.0.0.1");
  EXPECT_EQ(parseNextHop("10.0.0.1")->toString(), "via 10.0.0.1");
  EXPECT_EQ(parseNextHop("dev eth0 via 2001:db8::1")->toString(), "via 2001:db8::1 dev eth0");

  auto target = parseNextHop("vgw-078bcc55");
  ASSERT_TRUE(target);
  EXPECT_TRUE(target->isTarget());
  EXPECT_EQ(target->toString(), "vgw-078bcc55");
}

TEST(NextHopTest, RejectsMalformedInputWithTheInputQuoted) {
  for (const char* bad : {"", "   ", "via", "via 300.1.1.1", "dev", "via 10.0.0.1 via 10.0.0.2",
                          "dev a dev b", "via 10.0.0.1 foo bar", "dev averyveryverylongname0"}) {
    auto r = parseNextHop(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::InvalidArgument);
    EXPECT_NE(r.error().message().find(std::string("\"") + bad + "\""), std::string::npos)
        << r.error().message();
  }
}

TEST(NextHopTest, ValidateChecksFormAndFamily) {
  EXPECT_FALSE(validateNextHop(NextHop{}));
  NextHop mixed = NextHop::opaque("vgw-1");
  mixed.dev = "eth0";
  EXPECT_FALSE(validateNextHop(mixed));
  NextHop v6 = NextHop::gateway(*IpAddress::parse("2001:db8::1"));
  EXPECT_TRUE(validateNextHop(v6, IpFamily::V6));
  EXPECT_FALSE(validateNextHop(v6, IpFamily::V4));
  EXPECT_TRUE(validateNextHop(NextHop::device("vti0"), IpFamily::V4));
}

TEST(RouteTest, DescribesChanges) {
  RouteDelta delta;
  delta.destination = *IpPrefix::parse("10.10.0.0/16");
  delta.old_next_hop = NextHop::opaque("vgw-1");
  delta.new_next_hop = NextHop::opaque("eni-2");
  EXPECT_EQ(delta.toString(), "10.10.0.0/16: vgw-1 -> eni-2");
  delta.new_next_hop.reset();
  EXPECT_TRUE(delta.isDelete());
  EXPECT_EQ(delta.toString(), "10.10.0.0/16: vgw-1 -> (delete)");
  EXPECT_EQ((RouteKey{"rtb-1", delta.destination}).toString(), "rtb-1 10.10.0.0/16");
}

// The reconciler describes its own Prometheus families (metrics/family.h).
TEST(ReconcilerMetricFamiliesTest, EveryCounterIsAFamilyWithItsValue) {
  ReconcilerStats s;
  s.applies = 3;
  s.drifts = 1;
  auto all = metricFamilies(s);
  EXPECT_EQ(all.size(), 6u);
  const auto* applies = metrics::findFamily(all, "pathpilot_reconciler_applies_total");
  ASSERT_NE(applies, nullptr);
  EXPECT_DOUBLE_EQ(applies->samples.at(0).value, 3);
  const auto* drifts = metrics::findFamily(all, "pathpilot_reconciler_drifts_total");
  ASSERT_NE(drifts, nullptr);
  EXPECT_DOUBLE_EQ(drifts->samples.at(0).value, 1);
}

}  // namespace
}  // namespace pathpilot::route
