// agent/vici_message.h — the strongSwan VICI wire format (encode and decode, no I/O).
//
// Purpose: the gateway agent reads strongSwan's SA state over VICI, the Versatile IKE Control
// Interface (strongSwan src/libcharon/plugins/vici/README.md). We speak the protocol ourselves
// rather than link libvici, which Debian does not ship as a -dev package. The format:
//
//   transport  every packet is a 32-bit big-endian length (of what follows, at most 512 KiB)
//              followed by the packet;
//   packet     one type byte (CMD_REQUEST 0, CMD_RESPONSE 1, CMD_UNKNOWN 2, EVENT_REGISTER 3,
//              EVENT_UNREGISTER 4, EVENT_CONFIRM 5, EVENT_UNKNOWN 6, EVENT 7); the named types
//              (0, 3, 4, 7) then carry an 8-bit length and the name; the rest is a message;
//   message    a sequence of elements: SECTION_START 1 (name), SECTION_END 2, KEY_VALUE 3
//              (name, value), LIST_START 4 (name), LIST_ITEM 5 (value), LIST_END 6. Names have
//              an 8-bit length, values a 16-bit big-endian length; sections nest, lists do not.
//
// Decoding is strict and bounded, because the bytes come from another process: every length is
// checked against what is left, sections must balance, lists may only hold items, nesting is
// limited to kMaxDepth, and errors say what was wrong at which byte offset. It never throws.
//
// Threading: pure functions and value types.
// Metrics: none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"

namespace pathpilot::agent {

// Largest transport segment charon accepts and sends (README: 512 KiB).
inline constexpr std::size_t kMaxSegment = 512 * 1024;
// Deepest section nesting we accept (charon's list-sas output is 4 levels deep).
inline constexpr int kMaxDepth = 16;

enum class PacketType : std::uint8_t {
  CmdRequest = 0,
  CmdResponse = 1,
  CmdUnknown = 2,
  EventRegister = 3,
  EventUnregister = 4,
  EventConfirm = 5,
  EventUnknown = 6,
  Event = 7,
};

// "CMD_REQUEST", ..., for messages.
std::string_view packetTypeName(PacketType type);
// Whether packets of `type` carry a name.
bool packetIsNamed(PacketType type);

struct ViciNamedSection;

// One section of a message: its key/values, lists and sub-sections, each in wire order.
struct ViciSection {
  std::vector<std::pair<std::string, std::string>> values;
  std::vector<std::pair<std::string, std::vector<std::string>>> lists;
  // Sub-sections as {name, section} (a struct rather than std::pair: a pair of an incomplete
  // type inside its own definition is not portable to clang/libstdc++).
  std::vector<ViciNamedSection> sections;

  // The first entry with that name, or nullptr.
  const std::string* value(std::string_view key) const;
  const std::vector<std::string>* list(std::string_view key) const;
  const ViciSection* section(std::string_view key) const;

  // Builders for requests.
  ViciSection& set(std::string key, std::string value);
  ViciSection& add(std::string name, ViciSection section);
  bool empty() const;
  friend bool operator==(const ViciSection& a, const ViciSection& b);
};

struct ViciNamedSection {
  std::string first;   // the section's name
  ViciSection second;  // its content
  friend bool operator==(const ViciNamedSection&, const ViciNamedSection&) = default;
};

struct ViciPacket {
  PacketType type = PacketType::CmdRequest;
  std::string name;     // named types only
  ViciSection message;  // empty for types that carry none
};

// Encodes a message (the elements only). Errors: InvalidArgument when a name is longer than
// 255 bytes or a value longer than 65535.
[[nodiscard]] Result<std::string> encodeMessage(const ViciSection& message);
// Decodes a message. Errors: InvalidArgument naming the problem and the byte offset.
[[nodiscard]] Result<ViciSection> decodeMessage(std::string_view bytes);

// The whole transport segment: length prefix, type, name, message.
[[nodiscard]] Result<std::string> encodePacket(const ViciPacket& packet);
// Decodes one packet (the bytes after the length prefix).
[[nodiscard]] Result<ViciPacket> decodePacket(std::string_view bytes);

}  // namespace pathpilot::agent
