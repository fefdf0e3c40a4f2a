// A status document shaped like Engine::statusJson() (+ version), for the API tests.
#pragma once

#include <nlohmann/json.hpp>

namespace pathpilot::api::testing {

inline nlohmann::json sampleStatus(const std::string& dx_state = "up") {
  return nlohmann::json::parse(R"({
    "site": "Singapore", "version": "0.1.0", "config": "/etc/pathpilot/pathpilot.yaml",
    "started_at": "2026-11-25T12:00:00.000Z", "now": "2026-11-25T12:52:52.123Z",
    "paths": [
      {"name": "dx", "link": "dx", "az": "", "state": ")" + dx_state + R"(", "drained": false,
       "answering": true, "usable": )" + (dx_state == "up" ? "true" : "false") + R"(,
       "since": "2026-11-25T12:50:00.000Z", "since_seconds": 172.1,
       "reason": "loss 0% over 10 probes", "loss": 0.0, "samples": 10,
       "rtt_p50_ms": 1.5, "rtt_p95_ms": 2.5, "rtt_p99_ms": 3.0, "consecutive_misses": 0,
       "penalty": 0, "suppressed": false, "targets": []},
      {"name": "vpn-a", "link": "vpn", "az": "ap-southeast-1a", "state": "up",
       "drained": true, "answering": true, "usable": false,
       "since": "2026-11-25T12:00:00.000Z", "since_seconds": 3172.1, "reason": "",
       "loss": 0.1, "samples": 10, "rtt_p50_ms": 12.0, "rtt_p95_ms": 20.0,
       "rtt_p99_ms": 25.0, "targets": []}
    ],
    "routes": [
      {"route_table": "rtb-468f5222", "table_name": "Private-1", "az": "ap-southeast-1a",
       "backend": "aws", "destination": "10.10.0.0/16", "desired": "dx", "preferred": "dx",
       "decision": "preferred", "reason": "dx is up", "fail_static": false,
       "hold_down_remaining_ms": 0, "current": "dx", "next_hop": "vgw-078bcc55",
       "sync": "synced"},
      {"route_table": "rtb-4b8f522f", "table_name": "Private-2", "az": "ap-southeast-1b",
       "backend": "aws", "destination": "10.10.0.0/16", "desired": "vpn-a", "preferred": "dx",
       "decision": "hold_down", "reason": "dx waits 42s", "fail_static": false,
       "hold_down_remaining_ms": 42000, "current": "vpn-a", "next_hop": "i-0e1466e8a5dd4892c",
       "sync": "pending"}
    ],
    "engine": {"probe_results": 1234}
  })");
}

}  // namespace pathpilot::api::testing
