// Fuzzes what route/ reads from outside: rtnetlink route messages (kernel dumps and
// notifications, decoded by LinuxRouteTable and LinuxRouteMonitor) and next-hop text (config,
// hook list output). The first byte picks the decoder; the rest is the input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "route/linux/detail/netlink.h"
#include "route/route.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) {
    return 0;
  }
  const std::uint8_t mode = data[0];
  const std::uint8_t* input = data + 1;
  std::size_t length = size - 1;
  using namespace pathpilot::route;
  if ((mode & 1) == 0) {
    auto route = detail::decodeRouteBytes(input, length);
    if (route) {
      NextHop hop = detail::toNextHop(*route, [](std::uint32_t) { return std::string(); });
      (void)hop.toString();
      (void)route->destination.toString();
    }
  } else {
    std::string_view text(reinterpret_cast<const char*>(input), length);
    auto hop = parseNextHop(text);
    if (hop) {
      // What we print must parse back to the same next hop.
      auto again = parseNextHop(hop->toString());
      if (!again || *again != *hop) {
        __builtin_trap();
      }
    }
  }
  return 0;
}
