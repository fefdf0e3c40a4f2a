// base/ip.h — IPv4/IPv6 addresses and prefixes.
//
// Purpose: value types used by config, probes and route backends. Parsing is strict (no
// shorthand like "10.1"), prefixes must have no host bits set unless the caller asks to
// normalise them, so that a typo in a route never programs a different network.
// Threading: value types.
// Metrics: none.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/error.h"

namespace pathpilot {

enum class IpFamily : std::uint8_t { V4 = 4, V6 = 6 };

class IpAddress {
 public:
  // The IPv4 address 0.0.0.0.
  IpAddress() = default;

  // Parses "10.10.3.100" or "2001:db8::1" (no brackets, no zone).
  [[nodiscard]] static Result<IpAddress> parse(std::string_view text);
  // From 4 or 16 network-order bytes.
  static IpAddress v4(const std::uint8_t bytes[4]);
  static IpAddress v6(const std::uint8_t bytes[16]);
  static IpAddress v4FromHostOrder(std::uint32_t host_order);

  IpFamily family() const { return family_; }
  bool isV4() const { return family_ == IpFamily::V4; }
  bool isV6() const { return family_ == IpFamily::V6; }
  // Maximum prefix length: 32 or 128.
  int bitLength() const { return isV4() ? 32 : 128; }
  // Network-order bytes; 4 meaningful bytes for IPv4, 16 for IPv6.
  const std::array<std::uint8_t, 16>& bytes() const { return bytes_; }
  std::uint32_t v4HostOrder() const;
  bool isUnspecified() const;
  bool isLoopback() const;

  std::string toString() const;

  auto operator<=>(const IpAddress&) const = default;

 private:
  IpFamily family_ = IpFamily::V4;
  std::array<std::uint8_t, 16> bytes_{};
};

class IpPrefix {
 public:
  IpPrefix() = default;
  // Requires: length <= address.bitLength(). Host bits are cleared.
  IpPrefix(IpAddress address, int length);

  // Parses "10.10.0.0/16". A bare address becomes a host prefix (/32 or /128).
  // With strict=true, set host bits are an error ("10.10.0.1/16 has host bits set").
  [[nodiscard]] static Result<IpPrefix> parse(std::string_view text, bool strict = true);

  const IpAddress& address() const { return address_; }
  int length() const { return length_; }
  IpFamily family() const { return address_.family(); }
  bool contains(const IpAddress& a) const;
  bool contains(const IpPrefix& p) const;
  bool isDefault() const { return length_ == 0; }
  std::string toString() const;

  auto operator<=>(const IpPrefix&) const = default;

 private:
  IpAddress address_;
  int length_ = 0;
};

}  // namespace pathpilot

template <>
struct std::hash<pathpilot::IpAddress> {
  size_t operator()(const pathpilot::IpAddress& a) const noexcept;
};
template <>
struct std::hash<pathpilot::IpPrefix> {
  size_t operator()(const pathpilot::IpPrefix& p) const noexcept;
};
