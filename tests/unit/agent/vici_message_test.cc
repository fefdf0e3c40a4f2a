#include "agent/vici_message.h"

#include <gtest/gtest.h>

#include "vici_samples.h"

namespace pathpilot::agent {
namespace {

// The README's encoding example: key1 = value1, section1 = { sub-section = { key2 = value2 },
// list1 = [ item1, item2 ] }.
TEST(ViciMessageTest, ReadmeExampleBytes) {
  ViciSection sub;
  sub.set("key2", "value2");
  ViciSection section1;
  section1.add("sub-section", sub);
  section1.lists.emplace_back("list1", std::vector<std::string>{"item1", "item2"});
  ViciSection root;
  root.set("key1", "value1");
  root.add("section1", section1);
  auto bytes = encodeMessage(root);
  ASSERT_TRUE(bytes);
  std::string expected = std::string("\x03\x04key1\x00\x06value1", 14) +
                         std::string("\x01\x08section1", 10) +
                         std::string("\x04\x05list1\x05\x00\x05item1\x05\x00\x05item2\x06", 24) +
                         std::string("\x01\x0bsub-section\x03\x04key2\x00\x06value2\x02", 28) +
                         std::string("\x02", 1);
  EXPECT_EQ(*bytes, expected);
  auto back = decodeMessage(*bytes);
  ASSERT_TRUE(back) << back.error().toString();
  EXPECT_EQ(*back, root);
}

TEST(ViciMessageTest, PacketRoundTripWithLengthPrefix) {
  ViciPacket p{PacketType::Event, "list-sa", testing::sa("a", "3", "ESTABLISHED",
                                                          {testing::child("a", "5", "INSTALLED", 924, 1000)})};
  auto bytes = encodePacket(p);
  ASSERT_TRUE(bytes);
  std::uint32_t len = (static_cast<std::uint8_t>((*bytes)[0]) << 24) |
                      (static_cast<std::uint8_t>((*bytes)[1]) << 16) |
                      (static_cast<std::uint8_t>((*bytes)[2]) << 8) |
                      static_cast<std::uint8_t>((*bytes)[3]);
  EXPECT_EQ(len, bytes->size() - 4);
  EXPECT_EQ((*bytes)[4], 7);
  EXPECT_EQ((*bytes)[5], 7);  // name length
  auto back = decodePacket(std::string_view(*bytes).substr(4));
  ASSERT_TRUE(back) << back.error().toString();
  EXPECT_EQ(back->type, PacketType::Event);
  EXPECT_EQ(back->name, "list-sa");
  EXPECT_EQ(back->message, p.message);
}

TEST(ViciMessageTest, UnnamedPacketsHaveNoName) {
  auto bytes = encodePacket(ViciPacket{PacketType::CmdResponse, "ignored", {}});
  ASSERT_TRUE(bytes);
  EXPECT_EQ(bytes->size(), 5u);
  auto back = decodePacket(std::string_view(*bytes).substr(4));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->type, PacketType::CmdResponse);
  EXPECT_TRUE(back->name.empty());
}

TEST(ViciMessageTest, MalformedInputIsRejectedWithAPosition) {
  struct Case {
    std::string bytes;
    const char* mentions;
  };
  for (const Case& c : {
           Case{std::string("\x03\x04key1\x00", 7), "truncated in value"},
           Case{std::string("\x03\x00", 2), "empty key name"},
           Case{std::string("\x01\x01s", 3), "not closed"},
           Case{std::string("\x02", 1), "SECTION_END without a section"},
           Case{std::string("\x05\x00\x01x", 4), "outside a list"},
           Case{std::string("\x04\x01l\x03\x01k\x00\x00\x06", 9), "inside list"},
           Case{std::string("\x09", 1), "unknown element type 9"},
           Case{std::string("\x03\x10key", 5), "truncated"},
       }) {
    auto r = decodeMessage(c.bytes);
    ASSERT_FALSE(r) << c.mentions;
    EXPECT_NE(r.error().message().find(c.mentions), std::string::npos) << r.error().message();
  }
  EXPECT_FALSE(decodePacket(std::string("\x08", 1)));
  EXPECT_FALSE(decodePacket(std::string("\x00\x09list", 6)));
  EXPECT_FALSE(decodePacket(""));
}

TEST(ViciMessageTest, NestingIsBounded) {
  std::string deep;
  for (int i = 0; i < 100; ++i) {
    deep += std::string("\x01\x01s", 3);
  }
  for (int i = 0; i < 100; ++i) {
    deep += '\x02';
  }
  auto r = decodeMessage(deep);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("deeper than 16"), std::string::npos);
}

TEST(ViciMessageTest, EncodingRefusesOversizedNamesAndValues) {
  ViciSection s;
  s.set(std::string(256, 'k'), "v");
  EXPECT_FALSE(encodeMessage(s));
  ViciSection t;
  t.set("k", std::string(70000, 'v'));
  EXPECT_FALSE(encodeMessage(t));
}

TEST(ViciMessageTest, LookupHelpers) {
  ViciSection s = testing::conn("a", "a-child");
  const ViciSection* a = s.section("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(*a->value("version"), "IKEv2");
  EXPECT_EQ(a->list("remote_addrs")->at(0), "203.0.113.20");
  EXPECT_EQ(a->value("nope"), nullptr);
  EXPECT_EQ(a->section("children")->sections.at(0).first, "a-child");
}

}  // namespace
}  // namespace pathpilot::agent
