// Fuzz target: the VICI packet/message decoder and the tunnel parsers of the gateway agent
// (agent/vici_message.h, agent/tunnels.h) on arbitrary bytes, as if charon (or whatever sits
// on its socket) sent them. Invariants: no crash, no unbounded recursion, and whatever decodes
// re-encodes to bytes that decode to the same packet.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "agent/tunnels.h"
#include "agent/vici_message.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pathpilot::agent;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto packet = decodePacket(bytes);
  if (!packet) {
    return 0;
  }
  std::vector<ViciSection> events{packet->message};
  auto sas = parseListSas(events);
  auto conns = parseListConns(events);
  auto tunnels = tunnelStatus(conns, sas);
  TrafficTotals totals;
  totals.update(tunnels);
  totals.update(tunnels);
  auto encoded = encodePacket(*packet);
  if (!encoded) {
    return 0;  // a decoded name may be unencodable only if it was empty: rejected earlier
  }
  auto again = decodePacket(std::string_view(*encoded).substr(4));
  if (!again || again->type != packet->type || !(again->message == packet->message) ||
      (packetIsNamed(packet->type) && again->name != packet->name)) {
    std::abort();
  }
  return 0;
}
