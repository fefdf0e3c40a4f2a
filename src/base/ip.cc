#include "base/ip.h"

#include <arpa/inet.h>

#include <cstring>

namespace pathpilot {
namespace {

void clearHostBits(std::array<std::uint8_t, 16>& bytes, int length, int bit_length) {
  for (int bit = length; bit < bit_length; ++bit) {
    bytes[static_cast<size_t>(bit / 8)] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
  }
}

bool hasHostBits(const std::array<std::uint8_t, 16>& bytes, int length, int bit_length) {
  for (int bit = length; bit < bit_length; ++bit) {
    if (bytes[static_cast<size_t>(bit / 8)] & (0x80u >> (bit % 8))) {
      return true;
    }
  }
  return false;
}

}  // namespace

Result<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() > 45) {
    return fail(ErrorCode::InvalidArgument, "invalid IP address \"" + std::string(text) + "\"");
  }
  std::string s(text);
  std::uint8_t buf[16];
  if (s.find(':') == std::string::npos) {
    if (inet_pton(AF_INET, s.c_str(), buf) == 1) {
      return v4(buf);
    }
  } else if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    return v6(buf);
  }
  return fail(ErrorCode::InvalidArgument, "invalid IP address \"" + s + "\"");
}

IpAddress IpAddress::v4(const std::uint8_t bytes[4]) {
  IpAddress a;
  a.family_ = IpFamily::V4;
  std::memcpy(a.bytes_.data(), bytes, 4);
  return a;
}

IpAddress IpAddress::v6(const std::uint8_t bytes[16]) {
  IpAddress a;
  a.family_ = IpFamily::V6;
  std::memcpy(a.bytes_.data(), bytes, 16);
  return a;
}

IpAddress IpAddress::v4FromHostOrder(std::uint32_t host_order) {
  std::uint8_t b[4] = {static_cast<std::uint8_t>(host_order >> 24),
                       static_cast<std::uint8_t>(host_order >> 16),
                       static_cast<std::uint8_t>(host_order >> 8),
                       static_cast<std::uint8_t>(host_order)};
  return v4(b);
}

std::uint32_t IpAddress::v4HostOrder() const {
  return (std::uint32_t{bytes_[0]} << 24) | (std::uint32_t{bytes_[1]} << 16) |
         (std::uint32_t{bytes_[2]} << 8) | std::uint32_t{bytes_[3]};
}

bool IpAddress::isUnspecified() const {
  size_t n = isV4() ? 4 : 16;
  for (size_t i = 0; i < n; ++i) {
    if (bytes_[i] != 0) {
      return false;
    }
  }
  return true;
}

bool IpAddress::isLoopback() const {
  if (isV4()) {
    return bytes_[0] == 127;
  }
  for (size_t i = 0; i < 15; ++i) {
    if (bytes_[i] != 0) {
      return false;
    }
  }
  return bytes_[15] == 1;
}

std::string IpAddress::toString() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(isV4() ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof buf);
  return buf;
}

IpPrefix::IpPrefix(IpAddress address, int length) : address_(address), length_(length) {
  auto bytes = address_.bytes();
  clearHostBits(bytes, length_, address_.bitLength());
  address_ = address_.isV4() ? IpAddress::v4(bytes.data()) : IpAddress::v6(bytes.data());
}

Result<IpPrefix> IpPrefix::parse(std::string_view text, bool strict) {
  auto slash = text.find('/');
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) {
    return fail(ErrorCode::InvalidArgument, "invalid prefix \"" + std::string(text) + "\"");
  }
  int length = addr->bitLength();
  if (slash != std::string_view::npos) {
    std::string_view len_text = text.substr(slash + 1);
    if (len_text.empty() || len_text.size() > 3) {
      return fail(ErrorCode::InvalidArgument,
                  "invalid prefix length in \"" + std::string(text) + "\"");
    }
    length = 0;
    for (char c : len_text) {
      if (c < '0' || c > '9') {
        return fail(ErrorCode::InvalidArgument,
                    "invalid prefix length in \"" + std::string(text) + "\"");
      }
      length = length * 10 + (c - '0');
    }
    if (length > addr->bitLength()) {
      return fail(ErrorCode::InvalidArgument, "prefix length " + std::to_string(length) +
                                                  " too long for \"" + std::string(text) + "\"");
    }
  }
  if (strict && hasHostBits(addr->bytes(), length, addr->bitLength())) {
    IpPrefix fixed(*addr, length);
    return fail(ErrorCode::InvalidArgument, "prefix \"" + std::string(text) +
                                                "\" has host bits set (did you mean " +
                                                fixed.toString() + "?)");
  }
  return IpPrefix(*addr, length);
}

bool IpPrefix::contains(const IpAddress& a) const {
  if (a.family() != family()) {
    return false;
  }
  return IpPrefix(a, length_).address_ == address_;
}

bool IpPrefix::contains(const IpPrefix& p) const {
  return p.family() == family() && p.length_ >= length_ && contains(p.address_);
}

std::string IpPrefix::toString() const {
  return address_.toString() + "/" + std::to_string(length_);
}

}  // namespace pathpilot

size_t std::hash<pathpilot::IpAddress>::operator()(const pathpilot::IpAddress& a) const noexcept {
  size_t h = static_cast<size_t>(a.family());
  for (auto b : a.bytes()) {
    h = h * 131 + b;
  }
  return h;
}

size_t std::hash<pathpilot::IpPrefix>::operator()(const pathpilot::IpPrefix& p) const noexcept {
  return std::hash<pathpilot::IpAddress>()(p.address()) * 31 + static_cast<size_t>(p.length());
}
