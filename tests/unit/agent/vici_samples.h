// VICI messages shaped like charon 5.9's list-conn / list-sa events (see lab/README.md, strongSwan note 5).
#pragma once

#include <string>

#include "agent/vici_message.h"

namespace pathpilot::agent::testing {

inline ViciSection conn(const std::string& name, const std::string& child) {
  ViciSection children;
  ViciSection c;
  c.set("mode", "TUNNEL");
  children.add(child, c);
  ViciSection body;
  body.lists.emplace_back("remote_addrs", std::vector<std::string>{"203.0.113.20"});
  body.set("version", "IKEv2");
  body.add("children", children);
  ViciSection event;
  event.add(name, body);
  return event;
}

inline ViciSection child(const std::string& name, const std::string& uniqueid,
                         const std::string& state, std::uint64_t bytes_in,
                         std::uint64_t bytes_out) {
  ViciSection c;
  c.set("name", name).set("uniqueid", uniqueid).set("reqid", "1").set("state", state);
  c.set("mode", "TUNNEL").set("protocol", "ESP").set("encap", "yes");
  c.set("bytes-in", std::to_string(bytes_in)).set("packets-in", std::to_string(bytes_in / 100));
  c.set("bytes-out", std::to_string(bytes_out)).set("packets-out", std::to_string(bytes_out / 100));
  c.set("install-time", "18");
  c.lists.emplace_back("local-ts", std::vector<std::string>{"10.1.1.0/24"});
  c.lists.emplace_back("remote-ts", std::vector<std::string>{"10.10.0.0/16"});
  return c;
}

inline ViciSection sa(const std::string& name, const std::string& uniqueid,
                      const std::string& state, std::vector<ViciSection> children) {
  ViciSection ike;
  ike.set("uniqueid", uniqueid).set("version", "2").set("state", state);
  ike.set("local-host", "203.0.113.11").set("remote-host", "203.0.113.20");
  ike.set("remote-id", "onprem").set("established", "42");
  ViciSection child_sas;
  for (std::size_t i = 0; i < children.size(); ++i) {
    const std::string* n = children[i].value("name");
    const std::string* u = children[i].value("uniqueid");
    child_sas.add(*n + "-" + *u, children[i]);
  }
  ike.add("child-sas", child_sas);
  ViciSection event;
  event.add(name, ike);
  return event;
}

}  // namespace pathpilot::agent::testing
