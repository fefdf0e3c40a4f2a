// Tests for bfd/auth.h: digests against ryu's vectors (computed with a known key), sign and
// verify for every type, rejections, and the sequence-number windows of RFC 5880 §6.7.3/§6.7.4.
#include "bfd/auth.h"

#include <array>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "capture.h"

namespace pathpilot::bfd {
namespace {

using testing::dataPath;
using testing::fromHex;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::readFile;

nlohmann::json ryuVectors() {
  const auto text = readFile(dataPath("ryu/ryu-bfd-vectors.json"));
  return nlohmann::json::parse(text.begin(), text.end());
}

// ryu's MD5 and SHA1 vectors were made with key id 2 and key "secret" (see SOURCES.md).
TEST(BfdAuthTest, RyuKeyedDigestsVerifyWithTheirKey) {
  int checked = 0;
  const auto json = ryuVectors();
  for (const auto& v : json["vectors"]) {
    if (!v.contains("auth")) {
      continue;
    }
    SCOPED_TRACE(v["name"].get<std::string>());
    const auto bytes = fromHex(v["bfd_hex"].get<std::string>());
    auto p = decode(bytes);
    ASSERT_TRUE(p) << p.error().message();
    AuthKey key{p->auth->type, 2, "secret"};
    EXPECT_EQ(verify(bytes, *p, key), std::nullopt);
    ++checked;
    AuthKey wrong = key;
    wrong.secret = "Secret";
    EXPECT_NE(verify(bytes, *p, wrong), std::nullopt);
    AuthKey other_id = key;
    other_id.key_id = 3;
    EXPECT_EQ(verify(bytes, *p, other_id), DropReason::AuthKeyId);
    // Signing the same packet again gives the same bytes.
    if (isKeyed(key.type)) {
      std::vector<std::uint8_t> again = bytes;
      sign(again, key);
      EXPECT_EQ(again, bytes);
    }
  }
  EXPECT_EQ(checked, 3);
}

// tcpdump's MD5 / SHA1 captures carry a placeholder digest: no key makes them verify.
TEST(BfdAuthTest, PlaceholderDigestsInCapturesDoNotVerify) {
  for (const char* name : {"tcpdump/bfd-raw-auth-sha1.pcap", "tcpdump/bfd-raw-auth-md5.pcap"}) {
    auto pcap = testing::readPcap(dataPath(name));
    ASSERT_TRUE(pcap);
    auto udp = testing::udpOf(pcap->records.at(0).frame);
    ASSERT_TRUE(udp);
    auto p = decode(udp->payload);
    ASSERT_TRUE(p);
    AuthKey key{p->auth->type, 2, "secret"};
    EXPECT_EQ(verify(udp->payload, *p, key), DropReason::AuthDigest) << name;
  }
  // The simple-password capture does verify with its password.
  auto pcap = testing::readPcap(dataPath("tcpdump/bfd-raw-auth-simple.pcap"));
  ASSERT_TRUE(pcap);
  auto udp = testing::udpOf(pcap->records.at(0).frame);
  auto p = decode(udp->payload);
  ASSERT_TRUE(p);
  EXPECT_EQ(verify(udp->payload, *p, AuthKey{AuthType::SimplePassword, 2, "secret"}), std::nullopt);
  EXPECT_EQ(verify(udp->payload, *p, AuthKey{AuthType::SimplePassword, 2, "secreT"}),
            DropReason::AuthPassword);
  EXPECT_EQ(verify(udp->payload, *p, AuthKey{AuthType::SimplePassword, 2, "secrets"}),
            DropReason::AuthLength);
  EXPECT_EQ(verify(udp->payload, *p, AuthKey{AuthType::KeyedSha1, 2, "secret"}),
            DropReason::AuthType);
}

std::vector<std::uint8_t> signedPacket(const AuthKey& key, std::uint32_t seq) {
  ControlPacket p;
  p.state = State::Up;
  p.detect_mult = 3;
  p.my_discriminator = 1;
  p.your_discriminator = 2;
  p.desired_min_tx_us = 300000;
  p.required_min_rx_us = 300000;
  p.auth = authSectionFor(key, seq);
  std::vector<std::uint8_t> out(kMaxPacketSize);
  out.resize(encode(p, out));
  sign(out, key);
  return out;
}

TEST(BfdAuthTest, SignThenVerifyEveryType) {
  for (AuthType t : {AuthType::SimplePassword, AuthType::KeyedMd5, AuthType::MeticulousKeyedMd5,
                     AuthType::KeyedSha1, AuthType::MeticulousKeyedSha1}) {
    SCOPED_TRACE(std::string(authTypeName(t)));
    AuthKey key{t, 7, "0123456789abcdef"};
    ASSERT_TRUE(validateAuthKey(key));
    const auto bytes = signedPacket(key, 77);
    auto p = decode(bytes);
    ASSERT_TRUE(p) << p.error().message();
    EXPECT_EQ(verify(bytes, *p, key), std::nullopt);
    if (isKeyed(t)) {
      // The key itself is not on the wire (§6.7.3: the digest replaces it).
      const std::string wire(bytes.begin(), bytes.end());
      EXPECT_THAT(wire, Not(HasSubstr(key.secret)));
      EXPECT_EQ(p->auth->sequence, 77u);
    }
  }
}

// Every single-bit change of a signed SHA1 packet is caught: by the decoder, or by the digest
// (which covers every byte, the Reserved one included).
TEST(BfdAuthTest, EveryBitFlipOfASignedPacketIsRejected) {
  for (AuthType t : {AuthType::MeticulousKeyedSha1, AuthType::KeyedMd5}) {
    AuthKey key{t, 1, "k"};
    const auto good = signedPacket(key, 1000);
    for (std::size_t bit = 0; bit < good.size() * 8; ++bit) {
      auto bad = good;
      bad[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
      auto p = decode(bad);
      if (!p) {
        continue;
      }
      EXPECT_NE(verify(bad, *p, key), std::nullopt) << "bit " << bit;
    }
  }
}

TEST(BfdAuthTest, KeyValidation) {
  EXPECT_TRUE(validateAuthKey({AuthType::SimplePassword, 0, std::string(16, 'a')}));
  EXPECT_FALSE(validateAuthKey({AuthType::SimplePassword, 0, std::string(17, 'a')}));
  EXPECT_FALSE(validateAuthKey({AuthType::SimplePassword, 0, ""}));
  EXPECT_TRUE(validateAuthKey({AuthType::KeyedMd5, 0, std::string(16, 'a')}));
  EXPECT_FALSE(validateAuthKey({AuthType::KeyedMd5, 0, std::string(17, 'a')}));
  EXPECT_TRUE(validateAuthKey({AuthType::KeyedSha1, 0, std::string(20, 'a')}));
  auto e = validateAuthKey({AuthType::MeticulousKeyedSha1, 0, "supersecretsupersecret!"});
  ASSERT_FALSE(e);
  EXPECT_THAT(e.error().message(), HasSubstr("1 to 20 bytes, got 23"));
  EXPECT_THAT(e.error().message(), Not(HasSubstr("supersecret")));
}

TEST(BfdAuthTest, SequenceWindows) {
  // Keyed: last .. last + 3 * mult (the same number again is fine).
  EXPECT_TRUE(sequenceInWindow(AuthType::KeyedSha1, 100, 100, 3));
  EXPECT_TRUE(sequenceInWindow(AuthType::KeyedSha1, 100, 109, 3));
  EXPECT_FALSE(sequenceInWindow(AuthType::KeyedSha1, 100, 110, 3));
  EXPECT_FALSE(sequenceInWindow(AuthType::KeyedSha1, 100, 99, 3));
  // Meticulous: strictly increasing, last + 1 .. last + 3 * mult.
  EXPECT_FALSE(sequenceInWindow(AuthType::MeticulousKeyedSha1, 100, 100, 3));
  EXPECT_TRUE(sequenceInWindow(AuthType::MeticulousKeyedSha1, 100, 101, 3));
  EXPECT_TRUE(sequenceInWindow(AuthType::MeticulousKeyedMd5, 100, 109, 3));
  EXPECT_FALSE(sequenceInWindow(AuthType::MeticulousKeyedMd5, 100, 110, 3));
  // Circular across 2^32.
  EXPECT_TRUE(sequenceInWindow(AuthType::MeticulousKeyedSha1, 0xffffffff, 0, 1));
  EXPECT_TRUE(sequenceInWindow(AuthType::MeticulousKeyedSha1, 0xfffffffe, 1, 1));
  EXPECT_FALSE(sequenceInWindow(AuthType::MeticulousKeyedSha1, 0, 0xffffffff, 255));
  // The window grows with the Detect Mult: 3 * 255.
  EXPECT_TRUE(sequenceInWindow(AuthType::KeyedMd5, 0, 765, 255));
  EXPECT_FALSE(sequenceInWindow(AuthType::KeyedMd5, 0, 766, 255));
}

}  // namespace
}  // namespace pathpilot::bfd
