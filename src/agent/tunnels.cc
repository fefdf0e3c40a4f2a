#include "agent/tunnels.h"

#include <algorithm>
#include <charconv>

namespace pathpilot::agent {
namespace {

std::uint64_t number(const ViciSection& s, std::string_view key) {
  const std::string* v = s.value(key);
  if (v == nullptr) {
    return 0;
  }
  std::uint64_t out = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  return ec == std::errc() && ptr == v->data() + v->size() ? out : 0;
}

std::string text(const ViciSection& s, std::string_view key) {
  const std::string* v = s.value(key);
  return v == nullptr ? std::string() : *v;
}

std::vector<std::string> items(const ViciSection& s, std::string_view key) {
  const auto* l = s.list(key);
  return l == nullptr ? std::vector<std::string>() : *l;
}

// Higher is better when several SAs exist for one tunnel (rekeying, duplicates).
int ikeRank(const std::string& state) {
  return state == "ESTABLISHED" ? 3 : state == "REKEYING" || state == "REKEYED" ? 2 : 1;
}
int childRank(const std::string& state) {
  return state == "INSTALLED" ? 3 : state == "REKEYING" || state == "REKEYED" ? 2 : 1;
}

}  // namespace

std::vector<IkeSaState> parseListSas(const std::vector<ViciSection>& events) {
  std::vector<IkeSaState> out;
  for (const auto& event : events) {
    for (const auto& [name, ike] : event.sections) {
      IkeSaState s;
      s.name = name;
      s.uniqueid = text(ike, "uniqueid");
      s.state = text(ike, "state");
      s.local_host = text(ike, "local-host");
      s.remote_host = text(ike, "remote-host");
      s.remote_id = text(ike, "remote-id");
      s.established_seconds = number(ike, "established");
      if (const auto* children = ike.section("child-sas")) {
        for (const auto& [key, child] : children->sections) {
          ChildSaState c;
          c.name = text(child, "name");
          if (c.name.empty()) {
            c.name = key;  // older charons: the section name is the child name
          }
          c.uniqueid = text(child, "uniqueid");
          c.state = text(child, "state");
          c.reqid = text(child, "reqid");
          c.bytes_in = number(child, "bytes-in");
          c.bytes_out = number(child, "bytes-out");
          c.packets_in = number(child, "packets-in");
          c.packets_out = number(child, "packets-out");
          c.install_seconds = number(child, "install-time");
          c.local_ts = items(child, "local-ts");
          c.remote_ts = items(child, "remote-ts");
          s.children.push_back(std::move(c));
        }
      }
      out.push_back(std::move(s));
    }
  }
  return out;
}

std::vector<ConnConfig> parseListConns(const std::vector<ViciSection>& events) {
  std::vector<ConnConfig> out;
  for (const auto& event : events) {
    for (const auto& [name, conn] : event.sections) {
      ConnConfig c;
      c.name = name;
      c.remote_addrs = items(conn, "remote_addrs");
      if (const auto* children = conn.section("children")) {
        for (const auto& [child, unused] : children->sections) {
          c.children.push_back(child);
        }
      }
      out.push_back(std::move(c));
    }
  }
  return out;
}

std::vector<TunnelStatus> tunnelStatus(const std::vector<ConnConfig>& conns,
                                       const std::vector<IkeSaState>& sas,
                                       const std::vector<std::string>& wanted) {
  // Tunnel name → connection name, in a stable order (config order, then SAs).
  std::vector<std::pair<std::string, std::string>> order;
  std::set<std::string> seen;
  auto add = [&](const std::string& tunnel, const std::string& ike) {
    if (seen.insert(tunnel).second) {
      order.emplace_back(tunnel, ike);
    }
  };
  for (const auto& c : conns) {
    for (const auto& child : c.children) {
      add(child, c.name);
    }
  }
  for (const auto& s : sas) {
    for (const auto& child : s.children) {
      add(child.name, s.name);
    }
  }
  if (!wanted.empty()) {
    std::vector<std::pair<std::string, std::string>> filtered;
    for (const auto& w : wanted) {
      auto it = std::find_if(order.begin(), order.end(), [&](const auto& p) { return p.first == w; });
      filtered.emplace_back(w, it == order.end() ? std::string() : it->second);
    }
    order = std::move(filtered);
  }

  std::vector<TunnelStatus> out;
  for (const auto& entry : order) {
    // Named copies rather than a structured binding: lambdas below capture them (clang 14).
    const std::string& tunnel = entry.first;
    const std::string& ike = entry.second;
    TunnelStatus t;
    t.tunnel = tunnel;
    t.ike = ike;
    int best_ike = 0;
    int best_child = 0;
    for (const auto& s : sas) {
      bool has_child = std::any_of(s.children.begin(), s.children.end(),
                                   [&](const ChildSaState& c) { return c.name == tunnel; });
      if (s.name != ike && !has_child) {
        continue;
      }
      if (t.ike.empty()) {
        t.ike = s.name;
      }
      int rank = ikeRank(s.state);
      if (rank > best_ike) {
        best_ike = rank;
        t.ike_state = s.state;
        t.remote_host = s.remote_host;
        t.established_seconds = s.established_seconds;
      }
      for (const auto& c : s.children) {
        if (c.name != tunnel) {
          continue;
        }
        int crank = childRank(c.state);
        if (crank > best_child) {
          best_child = crank;
          t.child_state = c.state;
        }
        if (c.state == "INSTALLED") {
          ++t.installed;
          if (s.state == "ESTABLISHED") {
            t.up = true;
          }
        }
        t.sas.push_back({s.uniqueid + "/" + c.uniqueid, c.bytes_in, c.bytes_out, c.packets_in,
                         c.packets_out});
      }
    }
    out.push_back(std::move(t));
  }
  return out;
}

void TrafficTotals::update(const std::vector<TunnelStatus>& tunnels) {
  std::map<std::string, TunnelStatus::Sa> now;
  for (const auto& t : tunnels) {
    Traffic& total = totals_[t.tunnel];
    for (const auto& sa : t.sas) {
      auto it = last_.find(sa.key);
      bool known = it != last_.end() && sa.bytes_in >= it->second.bytes_in &&
                   sa.bytes_out >= it->second.bytes_out &&
                   sa.packets_in >= it->second.packets_in &&
                   sa.packets_out >= it->second.packets_out;
      if (known) {
        total.bytes_in += sa.bytes_in - it->second.bytes_in;
        total.bytes_out += sa.bytes_out - it->second.bytes_out;
        total.packets_in += sa.packets_in - it->second.packets_in;
        total.packets_out += sa.packets_out - it->second.packets_out;
      } else {
        total.bytes_in += sa.bytes_in;
        total.bytes_out += sa.bytes_out;
        total.packets_in += sa.packets_in;
        total.packets_out += sa.packets_out;
      }
      now[sa.key] = sa;
    }
  }
  // SAs that disappeared are forgotten; their traffic stays in the totals.
  last_ = std::move(now);
}

Traffic TrafficTotals::total(const std::string& tunnel) const {
  auto it = totals_.find(tunnel);
  return it == totals_.end() ? Traffic{} : it->second;
}

}  // namespace pathpilot::agent
