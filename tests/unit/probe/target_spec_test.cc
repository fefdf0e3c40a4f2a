#include <gtest/gtest.h>

#include "probe/probe.h"

namespace pathpilot::probe {
namespace {

TargetSpec valid() {
  TargetSpec s;
  s.path = "vpn-a";
  s.index = 2;
  s.address = IpAddress::parse("169.254.100.1").value();
  return s;
}

void expectInvalid(const TargetSpec& s, const std::string& needle) {
  auto r = validateTarget(s);
  ASSERT_FALSE(r) << "expected an error containing: " << needle;
  EXPECT_EQ(r.error().code(), ErrorCode::InvalidArgument);
  EXPECT_NE(r.error().message().find(needle), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("vpn-a[2]"), std::string::npos) << r.error().message();
}

TEST(TargetSpecTest, DefaultsAreValid) { EXPECT_TRUE(validateTarget(valid())); }

TEST(TargetSpecTest, RejectsOutOfRangeValues) {
  auto s = valid();
  s.interval = std::chrono::milliseconds(5);
  expectInvalid(s, "below the minimum of 10ms");
  s = valid();
  s.timeout = Duration::zero();
  expectInvalid(s, "timeout must be positive");
  s = valid();
  s.jitter_pct = 80;
  expectInvalid(s, "jitter 80%");
  s = valid();
  s.payload_size = 8;
  expectInvalid(s, "payload size 8");
  s = valid();
  s.kind = ProbeKind::Tcp;
  expectInvalid(s, "TCP probes need a port");
  s = valid();
  s.address = IpAddress();
  expectInvalid(s, "unspecified");
}

TEST(TargetSpecTest, RejectsInconsistentPinning) {
  auto s = valid();
  s.pinning.source = IpAddress::parse("2001:db8::1").value();
  expectInvalid(s, "address family");
  s = valid();
  s.pinning.interface = "a-very-long-interface-name";
  expectInvalid(s, "longer than 15");
  s = valid();
  s.pinning.interface = "eth 0";
  expectInvalid(s, "not valid");
  s = valid();
  s.address = IpAddress::parse("fe80::1").value();
  expectInvalid(s, "link-local target needs an interface");
  s.pinning.interface = "vti1";
  EXPECT_TRUE(validateTarget(s));
}

TEST(TargetSpecTest, PinningText) {
  Pinning p;
  EXPECT_EQ(p.toString(), "unpinned");
  p.source = IpAddress::parse("169.254.100.2").value();
  p.interface = "vti1";
  p.fwmark = 100;
  EXPECT_EQ(p.toString(), "source 169.254.100.2, interface vti1, fwmark 0x64");
}

TEST(TargetSpecTest, Names) {
  EXPECT_EQ(probeKindName(ProbeKind::Tcp), "tcp");
  EXPECT_EQ(failureKindName(FailureKind::SocketError), "socket_error");
  EXPECT_EQ(icmpModeName(IcmpMode::Raw), "raw");
}

// The prober describes its own Prometheus families (metrics/family.h).
TEST(ProbeMetricFamiliesTest, EveryCounterIsAFamilyWithItsValue) {
  ProbeCounters c;
  c.sent = 10;
  c.received = 9;
  c.timer_wakeups = 4;
  c.timer_lag_ns = 1'500'000'000;
  auto all = metricFamilies(c);
  EXPECT_EQ(all.size(), 11u);
  const auto* sent = metrics::findFamily(all, "pathpilot_probe_sent_total");
  ASSERT_NE(sent, nullptr);
  EXPECT_EQ(sent->type, metrics::MetricType::Counter);
  EXPECT_DOUBLE_EQ(sent->samples.at(0).value, 10);
  const auto* lag = metrics::findFamily(all, "pathpilot_probe_timer_lag_seconds_total");
  ASSERT_NE(lag, nullptr);
  EXPECT_DOUBLE_EQ(lag->samples.at(0).value, 1.5);
  for (const auto& f : all) {
    EXPECT_FALSE(f.help.empty()) << f.name;
  }
}

}  // namespace
}  // namespace pathpilot::probe
