// Tests for bfd/packet.h: the codec against hand-made packets (every §6.8.6 packet check) and
// against the captures in tests/data/bfd (tcpdump's test pcaps with its -v text, ryu's
// vectors).
#include "bfd/packet.h"

#include <array>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "capture.h"

namespace pathpilot::bfd {
namespace {

using ::testing::HasSubstr;
using namespace testing;  // capture helpers

ControlPacket upPacket() {
  ControlPacket p;
  p.state = State::Up;
  p.detect_mult = 3;
  p.my_discriminator = 0x11111111;
  p.your_discriminator = 0x22222222;
  p.desired_min_tx_us = 50000;
  p.required_min_rx_us = 60000;
  p.required_min_echo_rx_us = 0;
  return p;
}

std::vector<std::uint8_t> bytesOf(const ControlPacket& p) {
  std::vector<std::uint8_t> out(kMaxPacketSize);
  out.resize(encode(p, out));
  return out;
}

DropReason reasonOf(const std::vector<std::uint8_t>& bytes) {
  auto d = decode(bytes);
  EXPECT_FALSE(d.has_value());
  return d ? DropReason::AdminDown : d.error().reason;
}

TEST(BfdPacketTest, EncodesTheRfcLayout) {
  ControlPacket p = upPacket();
  p.diag = Diag::NeighborSignaledDown;
  p.poll = true;
  const auto b = bytesOf(p);
  ASSERT_EQ(b.size(), 24u);
  EXPECT_EQ(b[0], 0x23);  // version 1, diag 3
  EXPECT_EQ(b[1], 0xe0);  // Up (3) << 6 | P
  EXPECT_EQ(b[2], 3);
  EXPECT_EQ(b[3], 24);
  EXPECT_EQ(toHex(b.data() + 4, 20),
            "1111111122222222"
            "0000c350"
            "0000ea60"
            "00000000");
}

TEST(BfdPacketTest, RoundTripsEveryFlag) {
  for (int bits = 0; bits < 16; ++bits) {
    ControlPacket p = upPacket();
    p.poll = bits & 1;
    p.final = bits & 2;
    p.control_plane_independent = bits & 4;
    p.demand = bits & 8;
    auto d = decode(bytesOf(p));
    ASSERT_TRUE(d) << d.error().message();
    EXPECT_EQ(*d, p);
  }
}

TEST(BfdPacketTest, RoundTripsAuthSections) {
  ControlPacket p = upPacket();
  AuthSection a;
  a.type = AuthType::SimplePassword;
  a.key_id = 9;
  a.value_size = 16;
  a.value.fill('x');
  p.auth = a;
  auto d = decode(bytesOf(p));
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(*d, p);
  EXPECT_EQ(bytesOf(p).size(), 24u + 3 + 16);

  for (AuthType t : {AuthType::KeyedMd5, AuthType::MeticulousKeyedMd5, AuthType::KeyedSha1,
                     AuthType::MeticulousKeyedSha1}) {
    AuthSection k;
    k.type = t;
    k.key_id = 200;
    k.sequence = 0xfffffffe;
    k.value_size = (t == AuthType::KeyedMd5 || t == AuthType::MeticulousKeyedMd5) ? 16 : 20;
    for (std::size_t i = 0; i < k.value_size; ++i) {
      k.value[i] = static_cast<std::uint8_t>(i + 1);
    }
    p.auth = k;
    const auto b = bytesOf(p);
    EXPECT_EQ(b.size(), 24u + 8 + k.value_size);
    auto back = decode(b);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(*back, p) << authTypeName(t);
  }
}

TEST(BfdPacketTest, IgnoresBytesAfterLength) {
  auto b = bytesOf(upPacket());
  b.push_back(0xaa);
  b.push_back(0xbb);
  auto d = decode(b);
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(*d, upPacket());
}

// One test per §6.8.6 rule, in the RFC's order.
TEST(BfdPacketTest, RejectsEmptyAndShortInput) {
  EXPECT_EQ(reasonOf({}), DropReason::Truncated);
  EXPECT_EQ(reasonOf({0x20, 0xc0, 3}), DropReason::Truncated);
  auto b = bytesOf(upPacket());
  for (std::size_t n = 4; n < b.size(); ++n) {
    std::vector<std::uint8_t> cut(b.begin(), b.begin() + static_cast<long>(n));
    auto d = decode(cut);
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().reason, DropReason::Truncated) << n;
    EXPECT_THAT(d.error().message(), HasSubstr("beyond the " + std::to_string(n) + "-byte"));
  }
}

TEST(BfdPacketTest, RejectsOtherVersions) {
  auto b = bytesOf(upPacket());
  for (int v : {0, 2, 7}) {
    b[0] = static_cast<std::uint8_t>((v << 5) | (b[0] & 0x1f));
    auto d = decode(b);
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().reason, DropReason::Version);
    EXPECT_EQ(d.error().value, static_cast<std::uint32_t>(v));
    EXPECT_THAT(d.error().message(), HasSubstr("Version is " + std::to_string(v)));
  }
}

TEST(BfdPacketTest, RejectsLengthBelowMinimum) {
  auto b = bytesOf(upPacket());
  b[3] = 23;
  EXPECT_EQ(reasonOf(b), DropReason::Length);
  // With the A bit the minimum is 26.
  b[1] |= 0x04;
  b[3] = 25;
  b.resize(30);
  auto d = decode(b);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().reason, DropReason::Length);
  EXPECT_THAT(d.error().message(), HasSubstr("Length is 25, below the minimum of 26"));
}

TEST(BfdPacketTest, RejectsLengthBeyondPayload) {
  auto b = bytesOf(upPacket());
  b[3] = 30;
  EXPECT_EQ(reasonOf(b), DropReason::Truncated);
}

TEST(BfdPacketTest, RejectsLengthWithoutAuthSection) {
  auto b = bytesOf(upPacket());
  b[3] = 28;
  b.resize(28);
  auto d = decode(b);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().reason, DropReason::Length);
  EXPECT_THAT(d.error().message(), HasSubstr("Length is 28, expected 24"));
}

TEST(BfdPacketTest, RejectsZeroDetectMult) {
  auto b = bytesOf(upPacket());
  b[2] = 0;
  auto d = decode(b);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().reason, DropReason::DetectMult);
  EXPECT_THAT(d.error().message(), HasSubstr("Detect Mult is 0"));
}

TEST(BfdPacketTest, RejectsMultipoint) {
  auto b = bytesOf(upPacket());
  b[1] |= 0x01;
  EXPECT_EQ(reasonOf(b), DropReason::Multipoint);
}

TEST(BfdPacketTest, RejectsZeroMyDiscriminator) {
  ControlPacket p = upPacket();
  p.my_discriminator = 0;
  EXPECT_EQ(reasonOf(bytesOf(p)), DropReason::MyDiscriminator);
}

TEST(BfdPacketTest, YourDiscriminatorZeroOnlyInDownOrAdminDown) {
  for (State s : {State::AdminDown, State::Down, State::Init, State::Up}) {
    ControlPacket p = upPacket();
    p.state = s;
    p.your_discriminator = 0;
    auto d = decode(bytesOf(p));
    if (s == State::AdminDown || s == State::Down) {
      EXPECT_TRUE(d) << stateName(s);
    } else {
      ASSERT_FALSE(d) << stateName(s);
      EXPECT_EQ(d.error().reason, DropReason::YourDiscriminator);
      EXPECT_THAT(d.error().message(), HasSubstr("while State is " + std::string(stateName(s))));
    }
  }
}

TEST(BfdPacketTest, RejectsUnknownAuthTypes) {
  ControlPacket p = upPacket();
  AuthSection a;
  a.type = AuthType::KeyedSha1;
  a.value_size = 20;
  p.auth = a;
  auto b = bytesOf(p);
  for (int t : {0, 6, 255}) {
    b[24] = static_cast<std::uint8_t>(t);
    auto d = decode(b);
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().reason, DropReason::AuthType);
    EXPECT_EQ(d.error().value, static_cast<std::uint32_t>(t));
  }
}

TEST(BfdPacketTest, AuthLenMustFitTypeAndPacket) {
  ControlPacket p = upPacket();
  AuthSection a;
  a.type = AuthType::MeticulousKeyedSha1;
  a.value_size = 20;
  p.auth = a;
  auto b = bytesOf(p);
  // SHA1 section claiming MD5's length (and Length following it).
  auto md5len = b;
  md5len[25] = 24;
  md5len[3] = 48;
  EXPECT_EQ(reasonOf(md5len), DropReason::AuthLength);
  // Auth Len right, Length not 24 + Auth Len.
  auto longer = b;
  longer.push_back(0);
  longer[3] = 53;
  EXPECT_EQ(reasonOf(longer), DropReason::Length);
  // Simple Password: Auth Len 3 (no password) and 20 (17 bytes) are invalid.
  ControlPacket s = upPacket();
  AuthSection pw;
  pw.type = AuthType::SimplePassword;
  pw.value_size = 4;
  s.auth = pw;
  auto sb = bytesOf(s);
  sb[25] = 3;
  sb[3] = 27;
  EXPECT_EQ(reasonOf(sb), DropReason::AuthLength);
  sb = bytesOf(s);
  sb.resize(44, 'p');
  sb[25] = 20;
  sb[3] = 44;
  EXPECT_EQ(reasonOf(sb), DropReason::AuthLength);
}

TEST(BfdPacketTest, DiagnosticAndNames) {
  EXPECT_EQ(diagName(Diag::NeighborSignaledDown), "Neighbor Signaled Session Down");
  EXPECT_EQ(diagName(static_cast<Diag>(20)), "Reserved");
  EXPECT_EQ(stateName(State::AdminDown), "AdminDown");
  EXPECT_EQ(authTypeName(AuthType::MeticulousKeyedSha1), "Meticulous Keyed SHA1");
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < kDropReasonCount; ++i) {
    names.insert(dropReasonName(static_cast<DropReason>(i)));
  }
  EXPECT_EQ(names.size(), kDropReasonCount);
  EXPECT_EQ(names.count("unknown"), 0u);
  // A reserved diagnostic is decoded as it came.
  auto b = bytesOf(upPacket());
  b[0] = 0x20 | 20;
  auto d = decode(b);
  ASSERT_TRUE(d);
  EXPECT_EQ(static_cast<int>(d->diag), 20);
  const DecodeError e{DropReason::DetectMult, 0, 0};
  EXPECT_EQ(e.toError().code(), ErrorCode::InvalidArgument);
}

// ---- captures ----------------------------------------------------------------------------

struct CaptureCase {
  const char* pcap;
  const char* text;  // tcpdump -v output of the same pcap
};

class BfdCaptureTest : public ::testing::TestWithParam<CaptureCase> {};

// Every BFD control packet tcpdump printed decodes to the fields it printed.
TEST_P(BfdCaptureTest, DecodesAsTcpdumpPrinted) {
  auto pcap = readPcap(dataPath(std::string("tcpdump/") + GetParam().pcap));
  ASSERT_TRUE(pcap);
  const auto printed = readTcpdumpV(dataPath(std::string("tcpdump/") + GetParam().text));
  ASSERT_EQ(printed.size(), pcap->records.size());
  for (std::size_t i = 0; i < printed.size(); ++i) {
    SCOPED_TRACE("packet " + std::to_string(printed[i].number));
    const Printed& want = printed[i];
    auto udp = udpOf(pcap->records[i].frame);
    ASSERT_TRUE(udp);
    auto got = decode(udp->payload);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(stateName(got->state), want.state);
    EXPECT_EQ(static_cast<unsigned>(got->diag), want.diag);
    EXPECT_EQ(got->detect_mult, want.detect_mult);
    EXPECT_EQ(encodedSize(*got), want.length);
    EXPECT_EQ(got->my_discriminator, want.my_disc);
    EXPECT_EQ(got->your_discriminator, want.your_disc);
    EXPECT_EQ(got->desired_min_tx_us / 1000, want.tx_ms);
    EXPECT_EQ(got->required_min_rx_us / 1000, want.rx_ms);
    EXPECT_EQ(got->required_min_echo_rx_us / 1000, want.echo_ms);
    std::vector<std::string> flags;
    if (got->poll) flags.push_back("Poll");
    if (got->final) flags.push_back("Final");
    if (got->control_plane_independent) flags.push_back("Control Plane Independent");
    if (got->auth) flags.push_back("Authentication Present");
    if (got->demand) flags.push_back("Demand");
    std::string joined;
    for (const auto& f : flags) {
      joined += (joined.empty() ? "" : ", ") + f;
    }
    EXPECT_EQ(joined.empty() ? "none" : joined, want.flags);
    ASSERT_EQ(got->auth.has_value(), want.auth_type.has_value());
    if (got->auth) {
      EXPECT_EQ(static_cast<unsigned>(got->auth->type), *want.auth_type);
      EXPECT_EQ(encodedSize(*got) - 24, *want.auth_len);
      EXPECT_EQ(got->auth->key_id, *want.key_id);
      if (got->auth->type == AuthType::SimplePassword) {
        EXPECT_EQ(
            std::string(got->auth->value.begin(), got->auth->value.begin() + got->auth->value_size),
            want.password);
      } else {
        EXPECT_EQ(got->auth->sequence, *want.sequence);
        EXPECT_EQ(toHex(got->auth->value.data(), got->auth->value_size), want.digest_hex);
      }
    }
    // Encoding the decoded packet gives the captured bytes back (the captures keep the
    // Reserved byte 0, as senders must).
    std::array<std::uint8_t, kMaxPacketSize> out{};
    const std::size_t n = encode(*got, out);
    ASSERT_LE(n, udp->payload.size());
    EXPECT_EQ(toHex(out.data(), n), toHex(udp->payload.data(), n));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Tcpdump, BfdCaptureTest,
    ::testing::Values(CaptureCase{"bfd-multihop.pcap", "bfd-multihop-v.out"},
                      CaptureCase{"bfd-lag.pcap", "bfd-lag-v.out"},
                      CaptureCase{"bfd-raw-auth-simple.pcap", "bfd-raw-auth-simple-v.out"},
                      CaptureCase{"bfd-raw-auth-md5.pcap", "bfd-raw-auth-md5-v.out"},
                      CaptureCase{"bfd-raw-auth-sha1.pcap", "bfd-raw-auth-sha1-v.out"},
                      CaptureCase{"bfd-sbfd.pcap", "bfd-sbfd-v.out"},
                      CaptureCase{"bfd_source_port_49152.pcap", "bfd_source_port_49152.out"}));

TEST(BfdCaptureFactsTest, MultihopUsesItsPortAndPacketFormat) {
  auto pcap = readPcap(dataPath("tcpdump/bfd-multihop.pcap"));
  ASSERT_TRUE(pcap);
  int single = 0, multi = 0;
  for (const auto& r : pcap->records) {
    auto udp = udpOf(r.frame);
    ASSERT_TRUE(udp);
    ASSERT_TRUE(decode(udp->payload));
    single += udp->dst_port == kSingleHopPort;
    multi += udp->dst_port == kMultihopPort;
    EXPECT_GE(udp->src_port, kSourcePortMin);
  }
  EXPECT_GT(single, 0);
  EXPECT_GT(multi, 0);
}

// tcpdump's heap-overread regression input: whatever UDP payloads can be found in it are
// rejected (they are not control packets), and the raw frames themselves too.
TEST(BfdCaptureFactsTest, MalformedCaptureIsRejected) {
  auto pcap = readPcap(dataPath("tcpdump/hoobr_bfd_print.pcap"));
  ASSERT_TRUE(pcap);
  ASSERT_FALSE(pcap->records.empty());
  for (const auto& r : pcap->records) {
    EXPECT_FALSE(decode(r.frame));
    for (std::size_t off = 0; off < r.frame.size(); ++off) {
      (void)decode(std::span<const std::uint8_t>(r.frame).subspan(off));
    }
    if (auto udp = udpOf(r.frame)) {
      EXPECT_FALSE(decode(udp->payload));
    }
  }
}

// ryu's vectors: the BFD payload inside each frame equals the given hex and decodes to the
// given fields.
TEST(BfdCaptureFactsTest, RyuVectorsDecode) {
  const auto text = readFile(dataPath("ryu/ryu-bfd-vectors.json"));
  const auto json = nlohmann::json::parse(text.begin(), text.end());
  auto pcap = readPcap(dataPath("ryu/ryu-bfd-vectors.pcap"));
  ASSERT_TRUE(pcap);
  ASSERT_EQ(pcap->records.size(), json["vectors"].size());
  std::size_t i = 0;
  for (const auto& v : json["vectors"]) {
    SCOPED_TRACE(v["name"].get<std::string>());
    const auto bfd = fromHex(v["bfd_hex"].get<std::string>());
    auto udp = udpOf(pcap->records[i++].frame);
    ASSERT_TRUE(udp);
    EXPECT_EQ(udp->payload, bfd);
    auto p = decode(bfd);
    ASSERT_TRUE(p) << p.error().message();
    const auto& f = v["bfd_fields"];
    EXPECT_EQ(static_cast<int>(p->diag), f["diag"].get<int>());
    EXPECT_EQ(static_cast<int>(p->state), f["state"].get<int>());
    EXPECT_EQ(p->detect_mult, f["detect_mult"].get<int>());
    EXPECT_EQ(encodedSize(*p), f["length"].get<std::size_t>());
    EXPECT_EQ(p->my_discriminator, f["my_discriminator"].get<std::uint32_t>());
    EXPECT_EQ(p->your_discriminator, f["your_discriminator"].get<std::uint32_t>());
    EXPECT_EQ(p->desired_min_tx_us, f["desired_min_tx_interval_us"].get<std::uint32_t>());
    EXPECT_EQ(p->required_min_rx_us, f["required_min_rx_interval_us"].get<std::uint32_t>());
    EXPECT_EQ(p->auth.has_value(), f["flags"]["A"].get<bool>());
    if (v.contains("auth")) {
      ASSERT_TRUE(p->auth);
      EXPECT_EQ(static_cast<int>(p->auth->type), v["auth"]["auth_type"].get<int>());
      EXPECT_EQ(p->auth->key_id, v["auth"]["auth_key_id"].get<int>());
      if (v["auth"].contains("sequence_number")) {
        EXPECT_EQ(p->auth->sequence, v["auth"]["sequence_number"].get<std::uint32_t>());
        EXPECT_EQ(toHex(p->auth->value.data(), p->auth->value_size),
                  v["auth"]["digest_hex"].get<std::string>());
      }
    }
  }
}

}  // namespace
}  // namespace pathpilot::bfd
