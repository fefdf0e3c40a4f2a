#include "policy/fail_static.h"

namespace pathpilot::policy {

std::vector<FailStaticChange> FailStaticReport::update(const DecisionSet& decisions,
                                                       const std::vector<std::string>& tables) {
  std::map<std::string, FailStaticChange, std::less<>> now_static;
  for (const auto& r : decisions.routes) {
    if (!r.fail_static) {
      continue;
    }
    auto& c = now_static[r.table];
    if (c.destinations.empty()) {
      c.reason = r.reason;
    }
    c.destinations.push_back(r.destination.toString());
  }
  std::vector<FailStaticChange> out;
  std::map<std::string, bool, std::less<>> kept;
  for (const auto& table : tables) {
    auto found = now_static.find(table);
    const bool is = found != now_static.end();
    auto was_it = static_.find(table);
    const bool was = was_it != static_.end() && was_it->second;
    kept[table] = is;
    if (is == was) {
      continue;
    }
    if (is) {
      FailStaticChange c = std::move(found->second);
      c.table = table;
      c.started = true;
      std::string dests;
      for (const auto& d : c.destinations) {
        dests += (dests.empty() ? "" : ", ") + d;
      }
      c.message = "no healthy path for " + table + " (" + dests +
                  "): routes kept as they are (fail static)";
      out.push_back(std::move(c));
    } else {
      FailStaticChange c;
      c.table = table;
      c.message = "a path is healthy again for " + table + ": fail static ended";
      out.push_back(std::move(c));
    }
  }
  static_ = std::move(kept);
  return out;
}

bool FailStaticReport::inFailStatic(const std::string& table) const {
  auto it = static_.find(table);
  return it != static_.end() && it->second;
}

}  // namespace pathpilot::policy
