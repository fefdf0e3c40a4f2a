// tests/unit/probe/netns.h — a private network namespace for socket tests.
//
// Tests that open real sockets move the whole test process into a fresh network namespace
// (unshare(CLONE_NEWNET), root only), bring `lo` up and allow ping sockets there. Everything
// they add (routes, firewall rules, bridges) lives and dies with that namespace, so nothing
// leaks into the host and no cleanup by name is needed.
#pragma once

#include <sched.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace pathpilot::probe::testing {

// Enters the namespace once per process. Returns "" on success, else why tests must skip.
inline std::string enterPrivateNetns() {
  static const std::string why = [] () -> std::string {
    if (::unshare(CLONE_NEWNET) != 0) {
      return "unshare(CLONE_NEWNET) failed (needs root): socket tests skipped";
    }
    if (std::system("ip link set lo up") != 0) {
      return "cannot bring lo up in the private namespace";
    }
    std::ofstream range("/proc/sys/net/ipv4/ping_group_range");
    range << "0 2147483647\n";
    range.close();
    if (!range) {
      return "cannot set net.ipv4.ping_group_range in the private namespace";
    }
    return "";
  }();
  return why;
}

// Runs a shell command inside the private namespace; true on exit status 0.
inline bool sh(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

inline void writeSysctl(const std::string& path, const std::string& value) {
  std::ofstream f(path);
  f << value << "\n";
}

}  // namespace pathpilot::probe::testing
