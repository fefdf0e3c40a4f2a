#include "agent/vici_message.h"

namespace pathpilot::agent {
namespace {

enum Element : std::uint8_t {
  kSectionStart = 1,
  kSectionEnd = 2,
  kKeyValue = 3,
  kListStart = 4,
  kListItem = 5,
  kListEnd = 6,
};

Result<void> putName(std::string& out, std::string_view name) {
  if (name.empty() || name.size() > 255) {
    return fail(ErrorCode::InvalidArgument,
                "vici: name \"" + std::string(name.substr(0, 40)) + "\" must be 1..255 bytes");
  }
  out += static_cast<char>(static_cast<std::uint8_t>(name.size()));
  out.append(name);
  return ok();
}

Result<void> putValue(std::string& out, std::string_view value) {
  if (value.size() > 65535) {
    return fail(ErrorCode::InvalidArgument, "vici: a value is longer than 65535 bytes");
  }
  out += static_cast<char>(static_cast<std::uint8_t>(value.size() >> 8));
  out += static_cast<char>(static_cast<std::uint8_t>(value.size() & 0xff));
  out.append(value);
  return ok();
}

Result<void> encodeSection(std::string& out, const ViciSection& s) {
  for (const auto& [k, v] : s.values) {
    out += static_cast<char>(kKeyValue);
    if (auto r = putName(out, k); !r) {
      return r;
    }
    if (auto r = putValue(out, v); !r) {
      return r;
    }
  }
  for (const auto& [k, items] : s.lists) {
    out += static_cast<char>(kListStart);
    if (auto r = putName(out, k); !r) {
      return r;
    }
    for (const auto& item : items) {
      out += static_cast<char>(kListItem);
      if (auto r = putValue(out, item); !r) {
        return r;
      }
    }
    out += static_cast<char>(kListEnd);
  }
  for (const auto& [k, sub] : s.sections) {
    out += static_cast<char>(kSectionStart);
    if (auto r = putName(out, k); !r) {
      return r;
    }
    if (auto r = encodeSection(out, sub); !r) {
      return r;
    }
    out += static_cast<char>(kSectionEnd);
  }
  return ok();
}

class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  bool done() const { return pos_ >= bytes_.size(); }
  std::size_t pos() const { return pos_; }

  Result<std::uint8_t> byte(const char* what) {
    if (pos_ + 1 > bytes_.size()) {
      return truncated(what);
    }
    return static_cast<std::uint8_t>(bytes_[pos_++]);
  }
  Result<std::string> name(const char* what) {
    auto len = byte(what);
    if (!len) {
      return fail(len.error());
    }
    if (*len == 0) {
      return fail(ErrorCode::InvalidArgument,
                  std::string("vici: empty ") + what + " at byte " + std::to_string(pos_ - 1));
    }
    return take(*len, what);
  }
  Result<std::string> value(const char* what) {
    if (pos_ + 2 > bytes_.size()) {
      return truncated(what);
    }
    std::size_t len = (static_cast<std::size_t>(static_cast<std::uint8_t>(bytes_[pos_])) << 8) |
                      static_cast<std::uint8_t>(bytes_[pos_ + 1]);
    pos_ += 2;
    return take(len, what);
  }

 private:
  Result<std::string> take(std::size_t len, const char* what) {
    if (pos_ + len > bytes_.size()) {
      return truncated(what);
    }
    std::string s(bytes_.substr(pos_, len));
    pos_ += len;
    return s;
  }
  tl::unexpected<Error> truncated(const char* what) const {
    return fail(ErrorCode::InvalidArgument, std::string("vici: message truncated in ") + what +
                                                " at byte " + std::to_string(pos_));
  }

  std::string_view bytes_;
  std::size_t pos_ = 0;
};

// Decodes elements into `into` until the matching SECTION_END (depth > 0) or the end.
Result<void> decodeSection(Reader& r, ViciSection& into, int depth) {
  while (!r.done()) {
    std::size_t at = r.pos();
    auto type = r.byte("element type");
    if (!type) {
      return fail(type.error());
    }
    switch (*type) {
      case kSectionStart: {
        if (depth + 1 > kMaxDepth) {
          return fail(ErrorCode::InvalidArgument, "vici: sections nested deeper than " +
                                                      std::to_string(kMaxDepth) + " at byte " +
                                                      std::to_string(at));
        }
        auto n = r.name("section name");
        if (!n) {
          return fail(n.error());
        }
        ViciSection sub;
        if (auto d = decodeSection(r, sub, depth + 1); !d) {
          return d;
        }
        into.sections.push_back({std::move(*n), std::move(sub)});
        break;
      }
      case kSectionEnd:
        if (depth == 0) {
          return fail(ErrorCode::InvalidArgument,
                      "vici: SECTION_END without a section at byte " + std::to_string(at));
        }
        return ok();
      case kKeyValue: {
        auto n = r.name("key name");
        if (!n) {
          return fail(n.error());
        }
        auto v = r.value("value");
        if (!v) {
          return fail(v.error());
        }
        into.values.emplace_back(std::move(*n), std::move(*v));
        break;
      }
      case kListStart: {
        auto n = r.name("list name");
        if (!n) {
          return fail(n.error());
        }
        std::vector<std::string> items;
        for (;;) {
          std::size_t item_at = r.pos();
          auto t = r.byte("list element");
          if (!t) {
            return fail(t.error());
          }
          if (*t == kListEnd) {
            break;
          }
          if (*t != kListItem) {
            return fail(ErrorCode::InvalidArgument,
                        "vici: element type " + std::to_string(*t) + " inside list \"" + *n +
                            "\" at byte " + std::to_string(item_at));
          }
          auto v = r.value("list item");
          if (!v) {
            return fail(v.error());
          }
          items.push_back(std::move(*v));
        }
        into.lists.emplace_back(std::move(*n), std::move(items));
        break;
      }
      case kListItem:
      case kListEnd:
        return fail(ErrorCode::InvalidArgument, "vici: list element outside a list at byte " +
                                                    std::to_string(at));
      default:
        return fail(ErrorCode::InvalidArgument, "vici: unknown element type " +
                                                    std::to_string(*type) + " at byte " +
                                                    std::to_string(at));
    }
  }
  if (depth > 0) {
    return fail(ErrorCode::InvalidArgument, "vici: a section is not closed at the end");
  }
  return ok();
}

}  // namespace

std::string_view packetTypeName(PacketType type) {
  switch (type) {
    case PacketType::CmdRequest:
      return "CMD_REQUEST";
    case PacketType::CmdResponse:
      return "CMD_RESPONSE";
    case PacketType::CmdUnknown:
      return "CMD_UNKNOWN";
    case PacketType::EventRegister:
      return "EVENT_REGISTER";
    case PacketType::EventUnregister:
      return "EVENT_UNREGISTER";
    case PacketType::EventConfirm:
      return "EVENT_CONFIRM";
    case PacketType::EventUnknown:
      return "EVENT_UNKNOWN";
    case PacketType::Event:
      return "EVENT";
  }
  return "UNKNOWN";
}

bool packetIsNamed(PacketType type) {
  return type == PacketType::CmdRequest || type == PacketType::EventRegister ||
         type == PacketType::EventUnregister || type == PacketType::Event;
}

const std::string* ViciSection::value(std::string_view key) const {
  for (const auto& [k, v] : values) {
    if (k == key) {
      return &v;
    }
  }
  return nullptr;
}

const std::vector<std::string>* ViciSection::list(std::string_view key) const {
  for (const auto& [k, v] : lists) {
    if (k == key) {
      return &v;
    }
  }
  return nullptr;
}

const ViciSection* ViciSection::section(std::string_view key) const {
  for (const auto& [k, v] : sections) {
    if (k == key) {
      return &v;
    }
  }
  return nullptr;
}

bool ViciSection::empty() const { return values.empty() && lists.empty() && sections.empty(); }

bool operator==(const ViciSection& a, const ViciSection& b) {
  return a.values == b.values && a.lists == b.lists && a.sections == b.sections;
}

ViciSection& ViciSection::add(std::string name, ViciSection section) {
  sections.push_back({std::move(name), std::move(section)});
  return *this;
}

ViciSection& ViciSection::set(std::string key, std::string value) {
  values.emplace_back(std::move(key), std::move(value));
  return *this;
}

Result<std::string> encodeMessage(const ViciSection& message) {
  std::string out;
  if (auto r = encodeSection(out, message); !r) {
    return fail(r.error());
  }
  return out;
}

Result<ViciSection> decodeMessage(std::string_view bytes) {
  Reader r(bytes);
  ViciSection s;
  if (auto d = decodeSection(r, s, 0); !d) {
    return fail(d.error());
  }
  return s;
}

Result<std::string> encodePacket(const ViciPacket& packet) {
  std::string body;
  body += static_cast<char>(packet.type);
  if (packetIsNamed(packet.type)) {
    if (auto r = putName(body, packet.name); !r) {
      return fail(r.error());
    }
  }
  auto message = encodeMessage(packet.message);
  if (!message) {
    return fail(message.error());
  }
  body += *message;
  if (body.size() > kMaxSegment) {
    return fail(ErrorCode::InvalidArgument, "vici: packet larger than 512 KiB");
  }
  std::string out;
  out.reserve(body.size() + 4);
  auto n = static_cast<std::uint32_t>(body.size());
  out += static_cast<char>(static_cast<std::uint8_t>(n >> 24));
  out += static_cast<char>(static_cast<std::uint8_t>((n >> 16) & 0xff));
  out += static_cast<char>(static_cast<std::uint8_t>((n >> 8) & 0xff));
  out += static_cast<char>(static_cast<std::uint8_t>(n & 0xff));
  out += body;
  return out;
}

Result<ViciPacket> decodePacket(std::string_view bytes) {
  if (bytes.empty()) {
    return fail(ErrorCode::InvalidArgument, "vici: empty packet");
  }
  auto type = static_cast<std::uint8_t>(bytes[0]);
  if (type > static_cast<std::uint8_t>(PacketType::Event)) {
    return fail(ErrorCode::InvalidArgument, "vici: unknown packet type " + std::to_string(type));
  }
  ViciPacket p;
  p.type = static_cast<PacketType>(type);
  std::size_t pos = 1;
  if (packetIsNamed(p.type)) {
    if (bytes.size() < 2) {
      return fail(ErrorCode::InvalidArgument, "vici: packet truncated in its name length");
    }
    std::size_t len = static_cast<std::uint8_t>(bytes[1]);
    if (bytes.size() < 2 + len) {
      return fail(ErrorCode::InvalidArgument, "vici: packet truncated in its name");
    }
    p.name = std::string(bytes.substr(2, len));
    pos = 2 + len;
  }
  auto message = decodeMessage(bytes.substr(pos));
  if (!message) {
    return fail(message.error().withContext(std::string(packetTypeName(p.type)) +
                                            (p.name.empty() ? "" : " " + p.name)));
  }
  p.message = std::move(*message);
  return p;
}

}  // namespace pathpilot::agent
