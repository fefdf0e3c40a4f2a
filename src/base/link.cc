#include "base/link.h"

#include <cstdio>

namespace pathpilot {

std::string Pinning::toString() const {
  std::string out;
  auto add = [&out](const std::string& part) {
    if (!out.empty()) {
      out += ", ";
    }
    out += part;
  };
  if (source) {
    add("source " + source->toString());
  }
  if (!interface.empty()) {
    add("interface " + interface);
  }
  if (fwmark) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%x", *fwmark);
    add(std::string("fwmark ") + hex);
  }
  return out.empty() ? "unpinned" : out;
}

}  // namespace pathpilot
