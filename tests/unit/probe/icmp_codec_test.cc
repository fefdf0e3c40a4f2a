#include "probe/icmp_codec.h"

#include <gtest/gtest.h>

#include <array>
#include <random>
#include <vector>

namespace pathpilot::probe::icmp {
namespace {

IpAddress ip(const char* text) { return IpAddress::parse(text).value(); }

std::vector<std::uint8_t> echo(IpFamily f, std::uint16_t id, std::uint16_t seq, Cookie c,
                               std::size_t payload = 32) {
  std::vector<std::uint8_t> out(kHeaderSize + payload);
  out.resize(encodeEchoRequest(f, id, seq, c, payload, out));
  return out;
}

// A minimal IPv4 header (IHL 5) with the given protocol, source and destination.
std::vector<std::uint8_t> ipv4Header(std::uint8_t proto, const IpAddress& src,
                                     const IpAddress& dst, std::size_t payload) {
  std::vector<std::uint8_t> h(20, 0);
  h[0] = 0x45;
  const std::size_t total = 20 + payload;
  h[2] = static_cast<std::uint8_t>(total >> 8);
  h[3] = static_cast<std::uint8_t>(total);
  h[8] = 64;
  h[9] = proto;
  std::copy_n(src.bytes().begin(), 4, h.begin() + 12);
  std::copy_n(dst.bytes().begin(), 4, h.begin() + 16);
  return h;
}

TEST(IcmpChecksumTest, Rfc1071Example) {
  // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum (one's complement) to ddf2.
  const std::array<std::uint8_t, 8> data = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(internetChecksum(data), static_cast<std::uint16_t>(~0xddf2 & 0xffff));
}

TEST(IcmpChecksumTest, OddLengthPadsWithZero) {
  const std::array<std::uint8_t, 3> odd = {0x12, 0x34, 0x56};
  const std::array<std::uint8_t, 4> even = {0x12, 0x34, 0x56, 0x00};
  EXPECT_EQ(internetChecksum(odd), internetChecksum(even));
}

TEST(IcmpCodecTest, EncodedV4RequestHasValidChecksumAndFields) {
  const Cookie c{7, 0x0102030405060708ull, 123456789};
  auto pkt = echo(IpFamily::V4, 0xbeef, 42, c, 40);
  ASSERT_EQ(pkt.size(), 48u);
  EXPECT_EQ(pkt[0], kV4EchoRequest);
  EXPECT_EQ(pkt[1], 0);
  // A correct checksum makes the checksum over the whole message 0.
  EXPECT_EQ(internetChecksum(pkt), 0);
  auto m = parseMessage(IpFamily::V4, pkt, false);
  ASSERT_TRUE(m) << m.error().toString();
  EXPECT_EQ(m->kind, MessageKind::EchoRequest);
  EXPECT_EQ(m->ident, 0xbeef);
  EXPECT_EQ(m->seq, 42);
  ASSERT_TRUE(m->cookie);
  EXPECT_EQ(*m->cookie, c);
}

TEST(IcmpCodecTest, V6RequestLeavesChecksumToKernel) {
  auto pkt = echo(IpFamily::V6, 1, 2, Cookie{1, 2, 3});
  EXPECT_EQ(pkt[0], kV6EchoRequest);
  EXPECT_EQ(pkt[2], 0);
  EXPECT_EQ(pkt[3], 0);
}

TEST(IcmpCodecTest, ParsesV4ReplyBehindIpHeader) {
  const Cookie c{3, 99, 1000};
  auto reply = echo(IpFamily::V4, 0x1234, 7, c);
  reply[0] = kV4EchoReply;
  auto packet = ipv4Header(1, ip("10.0.0.1"), ip("10.0.0.2"), reply.size());
  packet.insert(packet.end(), reply.begin(), reply.end());
  auto m = parseMessage(IpFamily::V4, packet, true);
  ASSERT_TRUE(m) << m.error().toString();
  EXPECT_EQ(m->kind, MessageKind::EchoReply);
  EXPECT_EQ(m->ident, 0x1234);
  EXPECT_EQ(m->seq, 7);
  EXPECT_EQ(m->cookie, c);
}

TEST(IcmpCodecTest, ParsesV6Reply) {
  const Cookie c{3, 99, 1000};
  auto reply = echo(IpFamily::V6, 0x4321, 9, c);
  reply[0] = kV6EchoReply;
  auto m = parseMessage(IpFamily::V6, reply, false);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->kind, MessageKind::EchoReply);
  EXPECT_EQ(m->seq, 9);
  EXPECT_EQ(m->cookie, c);
}

TEST(IcmpCodecTest, ReplyWithoutMagicHasNoCookie) {
  auto reply = echo(IpFamily::V4, 1, 1, Cookie{});
  reply[0] = kV4EchoReply;
  reply[8] ^= 0xff;  // break the magic
  auto m = parseMessage(IpFamily::V4, reply, false);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->kind, MessageKind::EchoReply);
  EXPECT_FALSE(m->cookie);
}

TEST(IcmpCodecTest, ShortPayloadHasNoCookie) {
  std::vector<std::uint8_t> reply = {kV4EchoReply, 0, 0, 0, 0, 1, 0, 2, 0x50, 0x50};
  auto m = parseMessage(IpFamily::V4, reply, false);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->seq, 2);
  EXPECT_FALSE(m->cookie);
}

TEST(IcmpCodecTest, V4DestUnreachableQuotingOurRequest) {
  const Cookie c{5, 0xabcdef, 77};
  auto request = echo(IpFamily::V4, 0x0a0b, 300, c);
  auto quoted_ip = ipv4Header(1, ip("192.0.2.1"), ip("198.51.100.7"), request.size());
  std::vector<std::uint8_t> err = {kV4DestUnreachable, 1, 0, 0, 0, 0, 0, 0};
  err.insert(err.end(), quoted_ip.begin(), quoted_ip.end());
  err.insert(err.end(), request.begin(), request.end());
  auto m = parseMessage(IpFamily::V4, err, false);
  ASSERT_TRUE(m) << m.error().toString();
  EXPECT_EQ(m->kind, MessageKind::Error);
  EXPECT_EQ(m->type, kV4DestUnreachable);
  EXPECT_EQ(m->code, 1);
  EXPECT_EQ(m->ident, 0x0a0b);
  EXPECT_EQ(m->seq, 300);
  EXPECT_EQ(m->quoted_dst, ip("198.51.100.7"));
  EXPECT_EQ(m->cookie, c);
}

TEST(IcmpCodecTest, V4ErrorWithOnlyEightQuotedBytesHasNoCookie) {
  auto request = echo(IpFamily::V4, 1, 2, Cookie{1, 2, 3});
  request.resize(8);
  auto quoted_ip = ipv4Header(1, ip("192.0.2.1"), ip("198.51.100.7"), 8);
  std::vector<std::uint8_t> err = {kV4TimeExceeded, 0, 0, 0, 0, 0, 0, 0};
  err.insert(err.end(), quoted_ip.begin(), quoted_ip.end());
  err.insert(err.end(), request.begin(), request.end());
  auto m = parseMessage(IpFamily::V4, err, false);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->kind, MessageKind::Error);
  EXPECT_EQ(m->seq, 2);
  EXPECT_FALSE(m->cookie);
}

TEST(IcmpCodecTest, V4ErrorAboutUdpIsOther) {
  auto quoted_ip = ipv4Header(17, ip("192.0.2.1"), ip("198.51.100.7"), 8);
  std::vector<std::uint8_t> err = {kV4DestUnreachable, 3, 0, 0, 0, 0, 0, 0};
  err.insert(err.end(), quoted_ip.begin(), quoted_ip.end());
  err.insert(err.end(), 8, 0);
  auto m = parseMessage(IpFamily::V4, err, false);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->kind, MessageKind::Other);
}

TEST(IcmpCodecTest, V6DestUnreachableQuotingOurRequest) {
  const Cookie c{5, 0x1234, 77};
  auto request = echo(IpFamily::V6, 0x0102, 5, c);
  std::vector<std::uint8_t> ip6(40, 0);
  ip6[0] = 0x60;
  ip6[6] = 58;
  ip6[7] = 64;
  const auto dst = ip("2001:db8::7");
  std::copy(dst.bytes().begin(), dst.bytes().end(), ip6.begin() + 24);
  std::vector<std::uint8_t> err = {kV6DestUnreachable, 3, 0, 0, 0, 0, 0, 0};
  err.insert(err.end(), ip6.begin(), ip6.end());
  err.insert(err.end(), request.begin(), request.end());
  auto m = parseMessage(IpFamily::V6, err, false);
  ASSERT_TRUE(m) << m.error().toString();
  EXPECT_EQ(m->kind, MessageKind::Error);
  EXPECT_EQ(m->quoted_dst, dst);
  EXPECT_EQ(m->ident, 0x0102);
  EXPECT_EQ(m->cookie, c);
}

TEST(IcmpCodecTest, TruncatedInputsAreErrorsNamingTheProblem) {
  std::vector<std::uint8_t> tiny = {0, 0, 0};
  auto a = parseMessage(IpFamily::V4, tiny, false);
  ASSERT_FALSE(a);
  EXPECT_NE(a.error().message().find("truncated"), std::string::npos);
  auto b = parseMessage(IpFamily::V4, tiny, true);
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().message().find("IPv4 header"), std::string::npos);
  std::vector<std::uint8_t> bad_ihl(24, 0);
  bad_ihl[0] = 0x4f;  // IHL 60 > length
  bad_ihl[9] = 1;
  EXPECT_FALSE(parseMessage(IpFamily::V4, bad_ihl, true));
  std::vector<std::uint8_t> err6 = {kV6DestUnreachable, 0, 0, 0, 0, 0, 0, 0, 0x60};
  EXPECT_FALSE(parseMessage(IpFamily::V6, err6, false));
}

TEST(IcmpCodecTest, RandomBytesNeverCrash) {
  std::mt19937 gen(1234);
  std::vector<std::uint8_t> buf;
  for (int i = 0; i < 20000; ++i) {
    buf.resize(gen() % 128);
    for (auto& b : buf) {
      b = static_cast<std::uint8_t>(gen());
    }
    if (!buf.empty() && i % 2 == 0) {
      buf[0] = static_cast<std::uint8_t>(i % 4 == 0 ? 3 : 0x45);  // steer into the error paths
    }
    (void)parseMessage(i % 3 == 0 ? IpFamily::V6 : IpFamily::V4, buf, i % 5 == 0);
  }
  SUCCEED();
}

TEST(IcmpCodecTest, DescribesErrors) {
  EXPECT_EQ(describeError(IpFamily::V4, 3, 1), "destination unreachable (host unreachable)");
  EXPECT_EQ(describeError(IpFamily::V4, 3, 13),
            "destination unreachable (communication administratively prohibited)");
  EXPECT_EQ(describeError(IpFamily::V4, 11, 0), "time exceeded (TTL exceeded in transit)");
  EXPECT_EQ(describeError(IpFamily::V6, 1, 3), "destination unreachable (address unreachable)");
  EXPECT_EQ(describeError(IpFamily::V4, 3, 99), "destination unreachable (code 99)");
  EXPECT_TRUE(isErrorType(IpFamily::V6, kV6PacketTooBig));
  EXPECT_FALSE(isErrorType(IpFamily::V4, kV4EchoReply));
}

}  // namespace
}  // namespace pathpilot::probe::icmp
