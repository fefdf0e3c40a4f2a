// Real-socket tests of ProbeEngine inside a private network namespace (see netns.h).
#include "probe/probe_engine.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <asio/executor_work_guard.hpp>
#include <asio/ip/tcp.hpp>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <vector>

#include "engine_loop.h"
#include "netns.h"
#include "probe/icmp_codec.h"

namespace pathpilot::probe {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

IpAddress ip(const std::string& text) { return IpAddress::parse(text).value(); }

TargetSpec icmpTarget(const std::string& path, std::uint32_t index, const std::string& address,
                      Duration interval = milliseconds(20), Duration timeout = milliseconds(500)) {
  TargetSpec s;
  s.path = path;
  s.index = index;
  s.address = ip(address);
  s.interval = interval;
  s.timeout = timeout;
  return s;
}

class EngineTestBase : protected testing::EngineLoop {
 protected:
  void enter() {
    const std::string why = testing::enterPrivateNetns();
    if (!why.empty()) {
      GTEST_SKIP() << why;
    }
  }

  ProbeEngine& makeEngine(IcmpMode mode) {
    EngineOptions options;
    options.icmp_mode = mode;
    options.seed = 12345;
    options.reopen_backoff = milliseconds(20);
    engine_ = std::make_unique<ProbeEngine>(io_, clock_, options);
    engine_->setSink([this](const ProbeResult& r) {
      results_.push_back(r);
      if (on_result_) {
        on_result_(r);
      }
    });
    return *engine_;
  }

  std::size_t count(const std::string& path, std::uint32_t index, bool success) const {
    std::size_t n = 0;
    for (const auto& r : results_) {
      if (r.path == path && r.target_index == index && r.success == success) {
        ++n;
      }
    }
    return n;
  }

  const ProbeResult* firstFailure(const std::string& path) const {
    for (const auto& r : results_) {
      if (r.path == path && !r.success) {
        return &r;
      }
    }
    return nullptr;
  }

  std::function<void(const ProbeResult&)> on_result_;
};

class IcmpEngineTest : public EngineTestBase, public ::testing::TestWithParam<IcmpMode> {
 protected:
  void SetUp() override { enter(); }
};

class AutoModeTest : public EngineTestBase, public ::testing::Test {
 protected:
  void SetUp() override { enter(); }
};

INSTANTIATE_TEST_SUITE_P(Modes, IcmpEngineTest, ::testing::Values(IcmpMode::Ping, IcmpMode::Raw),
                         [](const ::testing::TestParamInfo<IcmpMode>& p) { return std::string(icmpModeName(p.param)); });

TEST_P(IcmpEngineTest, LoopbackRepliesAreCountedPerTarget) {
  auto& engine = makeEngine(GetParam());
  ASSERT_TRUE(engine.replaceTargets({icmpTarget("dx", 0, "127.0.0.1"),
                                     icmpTarget("dx", 1, "127.0.0.2"),
                                     icmpTarget("vpn-a", 0, "127.0.0.3")}));
  engine.start();
  ASSERT_TRUE(runUntil([&] {
    return count("dx", 0, true) >= 5 && count("dx", 1, true) >= 5 && count("vpn-a", 0, true) >= 5;
  })) << "received " << engine.counters().received;
  for (const auto& r : results_) {
    EXPECT_TRUE(r.success) << r.error;
    EXPECT_EQ(r.kind, ProbeKind::Icmp);
    EXPECT_GT(r.rtt, Duration::zero());
    EXPECT_LT(r.rtt, milliseconds(200));
    EXPECT_EQ(r.completed_at - r.sent_at, r.rtt);
  }
  const auto& r = results_.front();
  EXPECT_EQ(r.target, r.path == "vpn-a" ? ip("127.0.0.3")
                                        : ip(r.target_index == 0 ? "127.0.0.1" : "127.0.0.2"));
  const auto c = engine.counters();
  EXPECT_GE(c.sent, 15u);
  EXPECT_EQ(c.received, results_.size());
  EXPECT_EQ(c.timed_out, 0u);
  // All three targets share one pinning (none): one socket (raw: plus the receiver).
  EXPECT_EQ(engine.socketCount(), GetParam() == IcmpMode::Raw ? 2u : 1u);
  EXPECT_GT(c.timer_wakeups, 0u);
  EXPECT_LT(c.timer_wakeups, c.sent + 5);  // sends are batched, never more than one wake each
}

TEST_P(IcmpEngineTest, Ipv6LoopbackReplies) {
  auto& engine = makeEngine(GetParam());
  ASSERT_TRUE(engine.replaceTargets({icmpTarget("dx6", 0, "::1")}));
  engine.start();
  ASSERT_TRUE(runUntil([&] { return count("dx6", 0, true) >= 3; }))
      << (firstFailure("dx6") ? firstFailure("dx6")->error : "no result");
  EXPECT_EQ(engine.counters().timed_out, 0u);
}

TEST_P(IcmpEngineTest, DroppedRequestsTimeOut) {
  ASSERT_TRUE(testing::sh(
      "iptables -A INPUT -d 127.0.0.6 -p icmp --icmp-type echo-request -j DROP"));
  auto& engine = makeEngine(GetParam());
  ASSERT_TRUE(engine.replaceTargets(
      {icmpTarget("vpn-b", 0, "127.0.0.6", milliseconds(20), milliseconds(50))}));
  engine.start();
  const bool got = runUntil([&] { return count("vpn-b", 0, false) >= 2; });
  testing::sh("iptables -D INPUT -d 127.0.0.6 -p icmp --icmp-type echo-request -j DROP");
  ASSERT_TRUE(got);
  const ProbeResult* r = firstFailure("vpn-b");
  EXPECT_EQ(r->failure, FailureKind::Timeout);
  EXPECT_EQ(r->error, "icmp 127.0.0.6 via vpn-b: timeout after 50ms");
  EXPECT_GE(r->completed_at - r->sent_at, milliseconds(50));
  EXPECT_EQ(count("vpn-b", 0, true), 0u);
  EXPECT_GE(engine.counters().timed_out, 2u);
}

TEST_P(IcmpEngineTest, IcmpHostUnreachableBecomesAFailedResult) {
  ASSERT_TRUE(testing::sh("iptables -A INPUT -d 127.0.0.5 -p icmp --icmp-type echo-request "
                          "-j REJECT --reject-with icmp-host-unreachable"));
  auto& engine = makeEngine(GetParam());
  ASSERT_TRUE(engine.replaceTargets(
      {icmpTarget("vpn-a", 3, "127.0.0.5", milliseconds(20), milliseconds(500))}));
  engine.start();
  const bool got = runUntil([&] { return count("vpn-a", 3, false) >= 2; });
  testing::sh("iptables -D INPUT -d 127.0.0.5 -p icmp --icmp-type echo-request "
              "-j REJECT --reject-with icmp-host-unreachable");
  ASSERT_TRUE(got);
  const ProbeResult* r = firstFailure("vpn-a");
  EXPECT_EQ(r->failure, FailureKind::Unreachable);
  EXPECT_NE(r->error.find("destination unreachable (host unreachable)"), std::string::npos)
      << r->error;
  EXPECT_NE(r->error.find("127.0.0.5 via vpn-a"), std::string::npos) << r->error;
  EXPECT_LT(r->completed_at - r->sent_at, milliseconds(500));  // well before the timeout
  EXPECT_GE(engine.counters().unreachable, 2u);
  EXPECT_EQ(engine.counters().timed_out, 0u);
}

TEST_P(IcmpEngineTest, Icmpv6AddressUnreachableBecomesAFailedResult) {
  ASSERT_TRUE(testing::sh("ip -6 addr replace fd00:99::5/128 dev lo nodad"));
  ASSERT_TRUE(testing::sh("ip6tables -A INPUT -d fd00:99::5 -p icmpv6 --icmpv6-type "
                          "echo-request -j REJECT --reject-with icmp6-addr-unreachable"));
  auto& engine = makeEngine(GetParam());
  ASSERT_TRUE(engine.replaceTargets({icmpTarget("vpn-b", 1, "fd00:99::5")}));
  engine.start();
  const bool got = runUntil([&] { return count("vpn-b", 1, false) >= 2; });
  testing::sh("ip6tables -D INPUT -d fd00:99::5 -p icmpv6 --icmpv6-type echo-request -j REJECT "
              "--reject-with icmp6-addr-unreachable");
  ASSERT_TRUE(got);
  const ProbeResult* r = firstFailure("vpn-b");
  EXPECT_EQ(r->failure, FailureKind::Unreachable) << r->error;
  EXPECT_NE(r->error.find("destination unreachable (address unreachable)"), std::string::npos)
      << r->error;
  EXPECT_EQ(engine.counters().timed_out, 0u);
}

TEST_P(IcmpEngineTest, UnreachableRouteFailsAtSend) {
  ASSERT_TRUE(testing::sh("ip route replace unreachable 100.64.0.0/24"));
  auto& engine = makeEngine(GetParam());
  ASSERT_TRUE(engine.replaceTargets({icmpTarget("dx", 0, "100.64.0.1")}));
  engine.start();
  const bool got = runUntil([&] { return count("dx", 0, false) >= 3; });
  testing::sh("ip route del unreachable 100.64.0.0/24");
  ASSERT_TRUE(got);
  const ProbeResult* r = firstFailure("dx");
  EXPECT_TRUE(r->failure == FailureKind::SendError || r->failure == FailureKind::Unreachable)
      << failureKindName(r->failure);
  EXPECT_NE(r->error.find("100.64.0.1 via dx"), std::string::npos);
  EXPECT_NE(r->error.find("o route to host"), std::string::npos) << r->error;
  EXPECT_EQ(count("dx", 0, true), 0u);
}

TEST_P(IcmpEngineTest, FirewallDropOnOutputIsASendError) {
  ASSERT_TRUE(testing::sh("iptables -A OUTPUT -d 127.0.0.8 -p icmp -j DROP"));
  auto& engine = makeEngine(GetParam());
  ASSERT_TRUE(engine.replaceTargets({icmpTarget("dx", 0, "127.0.0.8")}));
  engine.start();
  const bool got = runUntil([&] { return count("dx", 0, false) >= 2; });
  testing::sh("iptables -D OUTPUT -d 127.0.0.8 -p icmp -j DROP");
  ASSERT_TRUE(got);
  const ProbeResult* r = firstFailure("dx");
  EXPECT_EQ(r->failure, FailureKind::SendError) << r->error;
  EXPECT_EQ(r->error,
            "icmp 127.0.0.8 via dx: send failed: Operation not permitted (blocked by a firewall "
            "rule or a prohibit route)");
  EXPECT_GE(engine.counters().send_errors, 2u);
}

TEST_P(IcmpEngineTest, PinningToMissingInterfaceIsAClearError) {
  auto& engine = makeEngine(GetParam());
  auto spec = icmpTarget("vpn-a", 0, "127.0.0.1");
  spec.pinning.interface = "nosuch0";
  ASSERT_TRUE(engine.replaceTargets({spec}));
  engine.start();
  ASSERT_TRUE(runUntil([&] { return count("vpn-a", 0, false) >= 3; }));
  const ProbeResult* r = firstFailure("vpn-a");
  EXPECT_EQ(r->failure, FailureKind::SocketError);
  EXPECT_NE(r->error.find("SO_BINDTODEVICE \"nosuch0\" (interface does not exist)"),
            std::string::npos)
      << r->error;
  EXPECT_NE(r->error.find("icmp 127.0.0.1 via vpn-a"), std::string::npos) << r->error;
  // Open attempts are rate-limited by reopen_backoff (20ms), not one per probe.
  EXPECT_LT(engine.counters().socket_errors, count("vpn-a", 0, false));
  EXPECT_EQ(engine.socketCount(), 0u);
}

TEST_P(IcmpEngineTest, InterfaceThatVanishesAndReturnsWorksAgain) {
  const std::string dev = GetParam() == IcmpMode::Ping ? "ppvan0" : "ppvan1";
  const std::string net = GetParam() == IcmpMode::Ping ? "192.0.2" : "198.18.0";
  auto up = [&] {
    return testing::sh("ip link add " + dev + " type bridge") &&
           testing::sh("ip addr add " + net + ".1/24 dev " + dev) &&
           testing::sh("ip link set " + dev + " up");
  };
  ASSERT_TRUE(up());
  auto& engine = makeEngine(GetParam());
  auto spec = icmpTarget("vpn-a", 0, net + ".1", milliseconds(10));
  spec.pinning.interface = dev;
  spec.pinning.source = ip(net + ".1");
  ASSERT_TRUE(engine.replaceTargets({spec}));
  engine.start();
  ASSERT_TRUE(runUntil([&] { return count("vpn-a", 0, true) >= 3; }))
      << (firstFailure("vpn-a") ? firstFailure("vpn-a")->error : "");

  ASSERT_TRUE(testing::sh("ip link del " + dev));
  results_.clear();
  ASSERT_TRUE(runUntil([&] { return count("vpn-a", 0, false) >= 3; }));
  const ProbeResult* r = firstFailure("vpn-a");
  EXPECT_NE(r->error.find("interface " + dev + " does not exist"), std::string::npos) << r->error;

  ASSERT_TRUE(up());
  results_.clear();
  ASSERT_TRUE(runUntil([&] { return count("vpn-a", 0, true) >= 3; }))
      << (firstFailure("vpn-a") ? firstFailure("vpn-a")->error : "");
  testing::sh("ip link del " + dev);
}

TEST_P(IcmpEngineTest, FwmarkSelectsThePolicyRoutingTable) {
  // Main table: the prefix is on a bridge with no hosts (probes time out). Table 100, chosen
  // by fwmark 0x64: unreachable. Different outcomes prove the mark is on the probe.
  const std::string dev = GetParam() == IcmpMode::Ping ? "ppfw0" : "ppfw1";
  const std::string net = GetParam() == IcmpMode::Ping ? "198.51.100" : "203.0.113";
  ASSERT_TRUE(testing::sh("ip link add " + dev + " type bridge"));
  ASSERT_TRUE(testing::sh("ip addr add " + net + ".1/24 dev " + dev));
  ASSERT_TRUE(testing::sh("ip link set " + dev + " up"));
  ASSERT_TRUE(testing::sh("ip route replace unreachable " + net + ".0/24 table 100"));
  ASSERT_TRUE(testing::sh("ip rule add fwmark 0x64 lookup 100 pref 10"));
  auto& engine = makeEngine(GetParam());
  auto marked = icmpTarget("vpn-a", 0, net + ".9", milliseconds(20), milliseconds(40));
  marked.pinning.fwmark = 0x64;
  auto plain = icmpTarget("dx", 0, net + ".9", milliseconds(20), milliseconds(40));
  ASSERT_TRUE(engine.replaceTargets({marked, plain}));
  engine.start();
  const bool got =
      runUntil([&] { return count("vpn-a", 0, false) >= 2 && count("dx", 0, false) >= 2; });
  testing::sh("ip rule del fwmark 0x64 lookup 100 pref 10");
  testing::sh("ip link del " + dev);
  ASSERT_TRUE(got);
  EXPECT_EQ(firstFailure("vpn-a")->failure, FailureKind::SendError) << firstFailure("vpn-a")->error;
  EXPECT_NE(firstFailure("vpn-a")->error.find("No route to host"), std::string::npos);
  EXPECT_EQ(firstFailure("dx")->failure, FailureKind::Timeout) << firstFailure("dx")->error;
  // Two pinnings, two sockets (raw: plus the receiver).
  EXPECT_EQ(engine.socketCount(), GetParam() == IcmpMode::Raw ? 3u : 2u);
}

TEST_P(IcmpEngineTest, SourcePinningBindsTheSourceAddress) {
  auto& engine = makeEngine(GetParam());
  auto good = icmpTarget("vpn-a", 0, "127.0.0.3");
  good.pinning.source = ip("127.0.0.2");
  auto bad = icmpTarget("vpn-b", 0, "127.0.0.3");
  bad.pinning.source = ip("192.0.2.77");  // not configured here
  ASSERT_TRUE(engine.replaceTargets({good, bad}));
  engine.start();
  ASSERT_TRUE(runUntil([&] { return count("vpn-a", 0, true) >= 2 && count("vpn-b", 0, false) >= 1; }));
  EXPECT_EQ(firstFailure("vpn-b")->failure, FailureKind::SocketError);
  EXPECT_NE(firstFailure("vpn-b")->error.find("bind to source 192.0.2.77 (address not configured"),
            std::string::npos)
      << firstFailure("vpn-b")->error;
}

// A raw socket in the test sees the engine's echo requests on loopback; with the kernel's own
// echo replies switched off it then forges replies: wrong nonce, wrong source, the right one,
// and one after the timeout.
class Forger {
 public:
  Forger() : fd_(::socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_ICMP)) {}
  ~Forger() { ::close(fd_); }
  bool ok() const { return fd_ >= 0; }

  // Returns the latest captured echo request to `dst` carrying our cookie, if any.
  std::optional<std::vector<std::uint8_t>> capture(const IpAddress& dst) {
    std::uint8_t buf[2048];
    std::optional<std::vector<std::uint8_t>> found;
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        return found;
      }
      std::span<const std::uint8_t> pkt(buf, static_cast<std::size_t>(n));
      const std::size_t ihl = (pkt[0] & 0x0fu) * 4u;
      if (pkt.size() < ihl + 8 || IpAddress::v4(pkt.data() + 16) != dst) {
        continue;
      }
      auto m = icmp::parseMessage(IpFamily::V4, pkt, true);
      if (m && m->kind == icmp::MessageKind::EchoRequest && m->cookie) {
        found = std::vector<std::uint8_t>(pkt.begin() + static_cast<long>(ihl), pkt.end());
      }
    }
  }

  // Sends `request` turned into an echo reply, from `from` to 127.0.0.1, with the nonce
  // changed if `tamper`.
  void reply(std::vector<std::uint8_t> request, const IpAddress& from, bool tamper) {
    request[0] = icmp::kV4EchoReply;
    if (tamper) {
      request[20] ^= 0x5a;  // inside the nonce
    }
    request[2] = request[3] = 0;
    const std::uint16_t sum = icmp::internetChecksum(request);
    request[2] = static_cast<std::uint8_t>(sum >> 8);
    request[3] = static_cast<std::uint8_t>(sum);
    const int s = ::socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    std::memcpy(&src.sin_addr, from.bytes().data(), 4);
    ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&src), sizeof src), 0);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::sendto(s, request.data(), request.size(), 0, reinterpret_cast<sockaddr*>(&dst),
                       sizeof dst),
              static_cast<ssize_t>(request.size()));
    ::close(s);
  }

 private:
  int fd_;
};

TEST_P(IcmpEngineTest, ForeignAndLateRepliesAreNeverCounted) {
  testing::writeSysctl("/proc/sys/net/ipv4/icmp_echo_ignore_all", "1");
  struct Restore {
    ~Restore() { testing::writeSysctl("/proc/sys/net/ipv4/icmp_echo_ignore_all", "0"); }
  } restore;
  Forger forger;
  ASSERT_TRUE(forger.ok());
  auto& engine = makeEngine(GetParam());
  const IpAddress target = ip("127.0.0.1");
  ASSERT_TRUE(engine.replaceTargets(
      {icmpTarget("dx", 0, "127.0.0.1", milliseconds(300), milliseconds(150))}));
  engine.start();

  std::optional<std::vector<std::uint8_t>> request;
  ASSERT_TRUE(runUntil([&] { return (request = forger.capture(target)).has_value(); }));
  forger.reply(*request, target, /*tamper=*/true);           // wrong nonce
  forger.reply(*request, ip("127.0.0.9"), /*tamper=*/false);  // wrong source
  ASSERT_TRUE(runUntil([&] { return engine.counters().foreign >= 2; }, milliseconds(100)))
      << "foreign " << engine.counters().foreign;
  EXPECT_TRUE(results_.empty());
  forger.reply(*request, target, false);  // the genuine one
  ASSERT_TRUE(runUntil([&] { return !results_.empty(); }, milliseconds(100)));
  EXPECT_TRUE(results_[0].success) << results_[0].error;
  forger.reply(*request, target, false);  // a duplicate
  ASSERT_TRUE(runUntil([&] { return engine.counters().foreign >= 3; }, milliseconds(100)));
  EXPECT_EQ(results_.size(), 1u);

  // The next probe times out; its reply arrives afterwards.
  request.reset();
  ASSERT_TRUE(runUntil([&] { return (request = forger.capture(target)).has_value(); }));
  ASSERT_TRUE(runUntil([&] { return results_.size() >= 2; }));
  EXPECT_EQ(results_[1].failure, FailureKind::Timeout);
  forger.reply(*request, target, false);
  ASSERT_TRUE(runUntil([&] { return engine.counters().late >= 1; }, milliseconds(100)));
  EXPECT_EQ(results_.size(), 2u);
  EXPECT_EQ(engine.counters().received, 1u);
}

TEST_P(IcmpEngineTest, ThousandTargetsOnLoopback) {
  auto& engine = makeEngine(GetParam());
  std::vector<TargetSpec> specs;
  for (std::uint32_t i = 0; i < 1000; ++i) {
    specs.push_back(icmpTarget("p" + std::to_string(i % 4), i,
                               "127.1." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1),
                               milliseconds(100), seconds(1)));
  }
  ASSERT_TRUE(engine.replaceTargets(specs));
  EXPECT_EQ(engine.targetCount(), 1000u);
  engine.start();
  std::map<std::uint32_t, int> per_target;
  on_result_ = [&](const ProbeResult& r) {
    if (r.success) {
      ++per_target[r.target_index];
    }
  };
  ASSERT_TRUE(runUntil([&] {
    if (per_target.size() < 1000) {
      return false;
    }
    for (const auto& [i, n] : per_target) {
      if (n < 3) {
        return false;
      }
    }
    return true;
  }, seconds(10))) << per_target.size() << " targets answered";
  const auto c = engine.counters();
  EXPECT_EQ(c.timed_out, 0u);
  EXPECT_EQ(c.send_errors, 0u);
  EXPECT_LE(engine.socketCount(), 3u);
}

// Issue 4: a thousand paths with a pinning each. Raw mode must not give every pinned socket a
// copy of every reply (a thousand copies per reply); the pinned raw sockets only send and one
// receiver reads for all. Ping mode has one socket per pinning, demultiplexed by the kernel.
TEST_P(IcmpEngineTest, Issue4ManyPinnedPathsShareOneRawReceiver) {
  auto& engine = makeEngine(GetParam());
  constexpr std::uint32_t kPaths = 200;
  std::vector<TargetSpec> specs;
  for (std::uint32_t i = 0; i < kPaths; ++i) {
    auto spec = icmpTarget("p" + std::to_string(i), 0, "127.2.0." + std::to_string(i % 250 + 1),
                           milliseconds(50), seconds(1));
    spec.pinning.fwmark = i + 1;  // no ip rule: every mark takes the main table
    specs.push_back(spec);
  }
  ASSERT_TRUE(engine.replaceTargets(specs));
  engine.start();
  std::set<std::string> answered;
  on_result_ = [&](const ProbeResult& r) {
    if (r.success) {
      answered.insert(r.path);
    }
  };
  ASSERT_TRUE(runUntil([&] { return answered.size() == kPaths; }, seconds(10)))
      << answered.size() << " paths answered";
  const auto c = engine.counters();
  EXPECT_EQ(c.timed_out, 0u);
  EXPECT_EQ(c.foreign, 0u);  // another group's reply on our socket would be foreign
  EXPECT_EQ(engine.socketCount(), GetParam() == IcmpMode::Raw ? kPaths + 1 : kPaths);
}

TEST_P(IcmpEngineTest, ReplaceKeepsUnchangedTargetsAndDropsRemovedOnes) {
  auto& engine = makeEngine(GetParam());
  ASSERT_TRUE(engine.replaceTargets({icmpTarget("a", 0, "127.0.0.1"), icmpTarget("b", 0, "127.0.0.2")}));
  engine.start();
  ASSERT_TRUE(runUntil([&] { return count("a", 0, true) >= 2 && count("b", 0, true) >= 2; }));
  // Invalid sets are refused whole.
  auto bad = engine.replaceTargets({icmpTarget("b", 0, "127.0.0.2"), icmpTarget("b", 0, "127.0.0.3")});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("b[0] is listed twice"), std::string::npos);
  EXPECT_EQ(engine.targetCount(), 2u);

  ASSERT_TRUE(engine.replaceTargets({icmpTarget("b", 0, "127.0.0.2"), icmpTarget("c", 0, "127.0.0.3")}));
  const std::size_t mark = results_.size();
  ASSERT_TRUE(runUntil([&] { return count("c", 0, true) >= 3; }));
  for (std::size_t i = mark; i < results_.size(); ++i) {
    EXPECT_NE(results_[i].path, "a") << "result for a removed target";
  }
  EXPECT_GE(count("b", 0, true), 4u);
  EXPECT_EQ(engine.targetCount(), 2u);
  EXPECT_FALSE(engine.removeTarget("a", 0));
  EXPECT_TRUE(engine.removeTarget("c", 0));
}

TEST_P(IcmpEngineTest, SinkMayRemoveTargetsAndStopLeavesNoResults) {
  auto& engine = makeEngine(GetParam());
  ASSERT_TRUE(engine.replaceTargets({icmpTarget("a", 0, "127.0.0.1"), icmpTarget("b", 0, "127.0.0.2")}));
  on_result_ = [&](const ProbeResult& r) {
    if (r.path == "a") {
      engine.removeTarget("a", 0);
    }
  };
  engine.start();
  ASSERT_TRUE(runUntil([&] { return count("b", 0, true) >= 5; }));
  EXPECT_EQ(count("a", 0, true), 1u);
  EXPECT_EQ(engine.targetCount(), 1u);

  engine.stop();
  EXPECT_FALSE(engine.running());
  EXPECT_EQ(engine.socketCount(), 0u);
  const std::size_t mark = results_.size();
  runUntil([] { return false; }, milliseconds(100));
  EXPECT_EQ(results_.size(), mark);
  engine.start();
  ASSERT_TRUE(runUntil([&] { return results_.size() >= mark + 2; }));
}

TEST_P(IcmpEngineTest, AddTargetRejectsDuplicatesAndBadSpecs) {
  auto& engine = makeEngine(GetParam());
  ASSERT_TRUE(engine.addTarget(icmpTarget("a", 0, "127.0.0.1")));
  auto dup = engine.addTarget(icmpTarget("a", 0, "127.0.0.2"));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code(), ErrorCode::AlreadyExists);
  auto bad = engine.addTarget(icmpTarget("a", 1, "127.0.0.2", milliseconds(1)));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::InvalidArgument);
}

TEST_F(AutoModeTest, FallsBackToRawWhenPingSocketsAreNotAllowed) {
  testing::writeSysctl("/proc/sys/net/ipv4/ping_group_range", "1 0");
  struct Restore {
    ~Restore() { testing::writeSysctl("/proc/sys/net/ipv4/ping_group_range", "0 2147483647"); }
  } restore;
  auto& ping_only = makeEngine(IcmpMode::Ping);
  ASSERT_TRUE(ping_only.replaceTargets({icmpTarget("dx", 0, "127.0.0.1")}));
  ping_only.start();
  ASSERT_TRUE(runUntil([&] { return count("dx", 0, false) >= 1; }));
  EXPECT_EQ(firstFailure("dx")->failure, FailureKind::SocketError);
  EXPECT_NE(firstFailure("dx")->error.find("net.ipv4.ping_group_range"), std::string::npos)
      << firstFailure("dx")->error;
  ping_only.stop();
  results_.clear();

  auto& automatic = makeEngine(IcmpMode::Auto);  // root: raw sockets are allowed
  ASSERT_TRUE(automatic.replaceTargets({icmpTarget("dx", 0, "127.0.0.1")}));
  automatic.start();
  ASSERT_TRUE(runUntil([&] { return count("dx", 0, true) >= 2; }))
      << (firstFailure("dx") ? firstFailure("dx")->error : "");
}

class TcpEngineTest : public EngineTestBase, public ::testing::Test {
 protected:
  void SetUp() override { enter(); }

  TargetSpec tcpTarget(const std::string& address, std::uint16_t port,
                       Duration timeout = milliseconds(500)) {
    auto s = icmpTarget("dx", 0, address, milliseconds(20), timeout);
    s.kind = ProbeKind::Tcp;
    s.port = port;
    return s;
  }
};

TEST_F(TcpEngineTest, ConnectToListenerSucceeds) {
  asio::ip::tcp::acceptor acceptor(io_, {asio::ip::make_address("127.0.0.1"), 0});
  auto& engine = makeEngine(IcmpMode::Auto);
  ASSERT_TRUE(engine.replaceTargets({tcpTarget("127.0.0.1", acceptor.local_endpoint().port())}));
  engine.start();
  ASSERT_TRUE(runUntil([&] { return count("dx", 0, true) >= 3; }))
      << (firstFailure("dx") ? firstFailure("dx")->error : "");
  EXPECT_FALSE(results_[0].refused);
  EXPECT_EQ(results_[0].kind, ProbeKind::Tcp);
  EXPECT_GT(results_[0].rtt, Duration::zero());
}

TEST_F(TcpEngineTest, RefusedConnectCountsAsReachable) {
  std::uint16_t port;
  {
    asio::ip::tcp::acceptor a(io_, {asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }  // closed: the kernel answers SYNs with RST
  auto& engine = makeEngine(IcmpMode::Auto);
  ASSERT_TRUE(engine.replaceTargets({tcpTarget("127.0.0.1", port)}));
  engine.start();
  ASSERT_TRUE(runUntil([&] { return count("dx", 0, true) >= 2; }));
  EXPECT_TRUE(results_[0].refused);
  EXPECT_EQ(engine.counters().refused, engine.counters().received);
}

TEST_F(TcpEngineTest, SilentHostTimesOut) {
  ASSERT_TRUE(testing::sh("iptables -A INPUT -d 127.0.0.7 -p tcp -j DROP"));
  auto& engine = makeEngine(IcmpMode::Auto);
  ASSERT_TRUE(engine.replaceTargets({tcpTarget("127.0.0.7", 9, milliseconds(50))}));
  engine.start();
  const bool got = runUntil([&] { return count("dx", 0, false) >= 2; });
  testing::sh("iptables -D INPUT -d 127.0.0.7 -p tcp -j DROP");
  ASSERT_TRUE(got);
  EXPECT_EQ(firstFailure("dx")->failure, FailureKind::Timeout);
  EXPECT_EQ(firstFailure("dx")->error, "tcp 127.0.0.7:9 via dx: timeout after 50ms");
}

TEST_F(TcpEngineTest, MissingInterfaceIsASocketError) {
  auto& engine = makeEngine(IcmpMode::Auto);
  auto spec = tcpTarget("127.0.0.1", 22);
  spec.pinning.interface = "nosuch1";
  ASSERT_TRUE(engine.replaceTargets({spec}));
  engine.start();
  ASSERT_TRUE(runUntil([&] { return count("dx", 0, false) >= 1; }));
  EXPECT_EQ(firstFailure("dx")->failure, FailureKind::SocketError);
  EXPECT_NE(firstFailure("dx")->error.find("nosuch1"), std::string::npos);
}

}  // namespace
}  // namespace pathpilot::probe
