#include "route/route.h"

#include <net/if.h>

#include <cctype>
#include <vector>

namespace pathpilot::route {
namespace {

// Any run of whitespace separates words, so tab-separated or padded output of an exec list
// command parses like single-spaced text.
std::vector<std::string_view> splitWords(std::string_view text) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])) != 0) {
      ++i;
    }
    size_t start = i;
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])) == 0) {
      ++i;
    }
    if (i > start) {
      words.push_back(text.substr(start, i - start));
    }
  }
  return words;
}

tl::unexpected<Error> badNextHop(std::string_view text, std::string_view why) {
  return fail(ErrorCode::InvalidArgument,
              "invalid next hop \"" + std::string(text) + "\": " + std::string(why) +
                  " (expected \"via ADDR [dev IFACE]\", \"dev IFACE\" or a target id such as "
                  "vgw-078bcc55)");
}

}  // namespace

NextHop NextHop::gateway(IpAddress address, std::string device) {
  NextHop hop;
  hop.via = address;
  hop.dev = std::move(device);
  return hop;
}

NextHop NextHop::device(std::string device) {
  NextHop hop;
  hop.dev = std::move(device);
  return hop;
}

NextHop NextHop::opaque(std::string target_id) {
  NextHop hop;
  hop.target = std::move(target_id);
  return hop;
}

namespace {
constexpr std::string_view kForeignPrefix = "foreign:";
}  // namespace

NextHop NextHop::foreign(std::string_view owner) {
  return opaque(std::string(kForeignPrefix) + std::string(owner));
}

// rfind at position 0 is a prefix test: it cannot match anywhere else in the target.
bool NextHop::isForeign() const { return target.rfind(kForeignPrefix, 0) == 0; }

std::string NextHop::toString() const {
  if (!target.empty()) {
    return target;
  }
  std::string out;
  if (via) {
    out = "via " + via->toString();
  }
  if (!dev.empty()) {
    if (!out.empty()) {
      out += ' ';
    }
    out += "dev " + dev;
  }
  return out;
}

Result<NextHop> parseNextHop(std::string_view text) {
  std::vector<std::string_view> words = splitWords(text);
  if (words.empty()) {
    return badNextHop(text, "empty");
  }
  NextHop hop;
  // A lone "via" or "dev" goes on to the loop, which reports the missing value, instead of
  // becoming a target id of that name.
  if (words.size() == 1 && words[0] != "via" && words[0] != "dev") {
    // A bare address is a gateway, anything else an opaque target id.
    if (auto address = IpAddress::parse(words[0])) {
      hop.via = *address;
    } else {
      hop.target = std::string(words[0]);
    }
    return hop;
  }
  // Keyword/value pairs, in either order: "dev vti0 via 169.254.100.1" is accepted too.
  for (size_t i = 0; i < words.size(); i += 2) {
    if (i + 1 >= words.size()) {
      return badNextHop(text, "\"" + std::string(words[i]) + "\" needs a value");
    }
    if (words[i] == "via") {
      if (hop.via) {
        return badNextHop(text, "\"via\" given twice");
      }
      auto address = IpAddress::parse(words[i + 1]);
      if (!address) {
        return badNextHop(text, address.error().message());
      }
      hop.via = *address;
    } else if (words[i] == "dev") {
      if (!hop.dev.empty()) {
        return badNextHop(text, "\"dev\" given twice");
      }
      hop.dev = std::string(words[i + 1]);
    } else {
      return badNextHop(text, "unexpected word \"" + std::string(words[i]) + "\"");
    }
  }
  if (auto valid = validateNextHop(hop); !valid) {
    return badNextHop(text, valid.error().message());
  }
  return hop;
}

Result<void> validateNextHop(const NextHop& hop, std::optional<IpFamily> family) {
  if (hop.empty()) {
    return fail(ErrorCode::InvalidArgument, "next hop is empty");
  }
  if (hop.isTarget() && (hop.via || !hop.dev.empty())) {
    return fail(ErrorCode::InvalidArgument,
                "next hop mixes a target id (" + hop.target + ") with via/dev");
  }
  // An embedded NUL would silently cut the id short wherever it is passed on as a C string.
  for (char c : hop.target) {
    if (std::isspace(static_cast<unsigned char>(c)) != 0 || c == '\0') {
      return fail(ErrorCode::InvalidArgument,
                  "target id \"" + hop.target + "\" contains whitespace");
    }
  }
  // IFNAMSIZ counts the terminating NUL, so a Linux interface name has at most 15 characters.
  if (hop.dev.size() >= IFNAMSIZ) {
    return fail(ErrorCode::InvalidArgument, "interface name \"" + hop.dev + "\" is longer than " +
                                                std::to_string(IFNAMSIZ - 1) + " characters");
  }
  // The kernel refuses '/' (each name is also a directory under /sys/class/net) and whitespace
  // in interface names.
  for (char c : hop.dev) {
    if (c == '/' || c == '\0' || std::isspace(static_cast<unsigned char>(c)) != 0) {
      return fail(ErrorCode::InvalidArgument,
                  "interface name \"" + hop.dev + "\" contains an invalid character");
    }
  }
  if (family && hop.via && hop.via->family() != *family) {
    return fail(ErrorCode::InvalidArgument,
                "gateway " + hop.via->toString() + " is not of the destination's address family");
  }
  return ok();
}

std::string RouteKey::toString() const { return table + " " + destination.toString(); }

std::string Route::toString() const {
  return destination.toString() + " " + next_hop.toString() + " table " + table;
}

std::string RouteDelta::toString() const {
  std::string from = old_next_hop ? old_next_hop->toString() : std::string("(none)");
  std::string to = new_next_hop ? new_next_hop->toString() : std::string("(delete)");
  return destination.toString() + ": " + from + " -> " + to;
}

}  // namespace pathpilot::route
