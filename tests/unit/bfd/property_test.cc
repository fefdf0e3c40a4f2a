// Property-style tests for the BFD codec and session: random bytes and mutated packets never
// crash or read out of bounds (run it under ASan), whatever decodes re-encodes to itself, and a
// session fed garbage only counts drops.
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "bfd/auth.h"
#include "bfd/packet.h"
#include "bfd/session.h"

namespace pathpilot::bfd {
namespace {

std::vector<std::uint8_t> randomBytes(std::mt19937& rng, std::size_t max) {
  std::uniform_int_distribution<std::size_t> len(0, max);
  std::vector<std::uint8_t> out(len(rng));
  for (auto& b : out) {
    b = static_cast<std::uint8_t>(rng());
  }
  return out;
}

void checkRoundTrip(const std::vector<std::uint8_t>& bytes) {
  auto p = decode(bytes);
  if (!p) {
    EXPECT_FALSE(p.error().message().empty());
    EXPECT_LT(static_cast<std::size_t>(p.error().reason), kDropReasonCount);
    return;
  }
  std::vector<std::uint8_t> out(kMaxPacketSize);
  out.resize(encode(*p, out));
  EXPECT_LE(out.size(), bytes.size());
  auto again = decode(out);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(*again, *p);
}

TEST(BfdPropertyTest, RandomBytesNeverCrashTheDecoder) {
  std::mt19937 rng(20240601);
  int decoded = 0;
  for (int i = 0; i < 200000; ++i) {
    auto bytes = randomBytes(rng, 64);
    // Half the inputs get a plausible first byte and Length so the deeper checks run too.
    if (i % 2 == 0 && bytes.size() >= 4) {
      bytes[0] = static_cast<std::uint8_t>(0x20 | (bytes[0] & 0x1f));
      bytes[3] = static_cast<std::uint8_t>(24 + (bytes[3] % 29));
    }
    checkRoundTrip(bytes);
    decoded += decode(bytes).has_value();
  }
  EXPECT_GT(decoded, 0);  // the biased half reaches valid packets
}

TEST(BfdPropertyTest, MutatedValidPacketsNeverCrash) {
  std::mt19937 rng(7);
  const AuthKey key{AuthType::MeticulousKeyedSha1, 3, "key"};
  ControlPacket p;
  p.state = State::Up;
  p.detect_mult = 3;
  p.my_discriminator = 1;
  p.your_discriminator = 2;
  p.desired_min_tx_us = 1000;
  p.required_min_rx_us = 1000;
  p.auth = authSectionFor(key, 9);
  std::vector<std::uint8_t> good(kMaxPacketSize);
  good.resize(encode(p, good));
  sign(good, key);
  for (int i = 0; i < 100000; ++i) {
    auto bytes = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      bytes[rng() % bytes.size()] = static_cast<std::uint8_t>(rng());
    }
    if (rng() % 4 == 0) {
      bytes.resize(rng() % (bytes.size() + 1));
    }
    checkRoundTrip(bytes);
    if (auto d = decode(bytes); d && bytes != good) {
      // Changed bytes never authenticate.
      EXPECT_NE(verify(bytes, *d, key), std::nullopt);
    }
  }
}

TEST(BfdPropertyTest, SessionSurvivesGarbage) {
  std::mt19937 rng(99);
  SessionConfig c;
  c.local_discriminator = 2;
  auto s = Session::create(
      c, [&rng] { return static_cast<std::uint32_t>(rng()); }, MonoTime());
  ASSERT_TRUE(s);
  MonoTime t = MonoTime();
  std::uint64_t accepted = 0;
  for (int i = 0; i < 50000; ++i) {
    auto bytes = randomBytes(rng, 40);
    if (bytes.size() >= 24) {
      bytes[0] = 0x20;
      bytes[3] = 24;
    }
    t += std::chrono::microseconds(rng() % 100000);
    Step st = s->onPacket(bytes, t);
    accepted += !st.dropped;
    if (st.next_deadline && *st.next_deadline <= t) {
      (void)s->tick(t);
    }
  }
  EXPECT_EQ(s->stats().rx_packets, 50000u);
  EXPECT_EQ(s->stats().rx_accepted, accepted);
  EXPECT_EQ(s->stats().droppedTotal() + accepted, 50000u);
}

}  // namespace
}  // namespace pathpilot::bfd
