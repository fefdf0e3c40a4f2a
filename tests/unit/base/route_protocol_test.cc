#include "base/route_protocol.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace pathpilot {
namespace {

TEST(RouteProtocolTest, PathpilotsNumberIsNobodysElse) {
  EXPECT_EQ(kRtprotPathpilot, 157);
  EXPECT_FALSE(knownRouteProtocol(kRtprotPathpilot).has_value());
  EXPECT_EQ(routeProtocolName(kRtprotPathpilot), "pathpilot");
  EXPECT_EQ(routeProtocolByName("pathpilot"), kRtprotPathpilot);
}

TEST(RouteProtocolTest, KnowsTheKernelsAndFrrsNumbers) {
  // FRR's zebra claims these in is_selfroute() (zebra/rt_netlink.c); 196 is its staticd, the
  // number pathpilot used to write.
  for (int n : {11, 42, 186, 187, 188, 189, 190, 191, 192, 193, 194, 195, 196, 197, 198}) {
    auto info = knownRouteProtocol(static_cast<std::uint8_t>(n));
    ASSERT_TRUE(info.has_value()) << n;
    EXPECT_EQ(info->owner, RouteProtocolOwner::Daemon) << n;
  }
  EXPECT_EQ(knownRouteProtocol(12)->name, "bird");
  EXPECT_EQ(knownRouteProtocol(2)->owner, RouteProtocolOwner::Kernel);
  EXPECT_EQ(knownRouteProtocol(3)->owner, RouteProtocolOwner::Administrator);
  EXPECT_EQ(knownRouteProtocol(4)->owner, RouteProtocolOwner::Administrator);
  EXPECT_FALSE(knownRouteProtocol(77).has_value());
}

TEST(RouteProtocolTest, NamesAndDescriptions) {
  EXPECT_EQ(routeProtocolByName("boot"), 3);
  EXPECT_EQ(routeProtocolByName("static"), 4);
  EXPECT_EQ(routeProtocolByName("zstatic"), 196);
  EXPECT_FALSE(routeProtocolByName("nonsense").has_value());
  EXPECT_EQ(routeProtocolName(3), "boot");
  EXPECT_EQ(routeProtocolName(77), "77");
  EXPECT_EQ(describeRouteProtocol(196), "proto 196 (FRR staticd, through zebra)");
  EXPECT_EQ(describeRouteProtocol(3),
            "proto boot (ip route without proto: hand edits and scripts)");
  EXPECT_EQ(describeRouteProtocol(77), "proto 77");
}

// The file `make install` puts in /etc/iproute2/rt_protos.d must name the number the code
// writes, or `ip route` would print some other name (or none) for pathpilot's routes.
TEST(RouteProtocolTest, DistributedRtProtosFileNamesTheDefault) {
  std::ifstream in(PP_SOURCE_DIR "/dist/iproute2/rt_protos.d/pathpilot.conf");
  ASSERT_TRUE(in) << "dist/iproute2/rt_protos.d/pathpilot.conf is missing";
  std::string line;
  int entries = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    std::istringstream words(line);
    int number = 0;
    std::string name;
    words >> number >> name;
    EXPECT_EQ(number, kRtprotPathpilot) << line;
    EXPECT_EQ(name, "pathpilot") << line;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

}  // namespace
}  // namespace pathpilot
