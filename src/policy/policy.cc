// policy/policy.cc — static ranking of candidate paths per route table.
#include "policy/policy.h"

#include <algorithm>
#include <cstddef>
#include <string_view>

namespace pathpilot::policy {
namespace {

// Position of `kind` in link_preference, or -1 when the kind is not a candidate at all.
int linkRank(const PolicyParams& params, LinkKind kind) {
  const auto it = std::find(params.link_preference.begin(), params.link_preference.end(), kind);
  if (it == params.link_preference.end()) {
    return -1;
  }
  return static_cast<int>(it - params.link_preference.begin());
}

bool allowed(const TableSpec& table, std::string_view path) {
  return table.allowed_paths.empty() ||
         std::find(table.allowed_paths.begin(), table.allowed_paths.end(), path) !=
             table.allowed_paths.end();
}

struct Keyed {
  const PathSpec* spec;
  int link_rank;
  int az_rank;  // 0 = own AZ (or no affinity applies), 1 = another AZ
};

std::string explain(const Keyed& k, const TableSpec& table, const PolicyParams& params) {
  const PathSpec& p = *k.spec;
  std::string why;
  if (p.link == LinkKind::Vpn && params.az_affinity && !table.az.empty()) {
    if (p.az == table.az) {
      why = "vpn gateway in the table's own AZ (" + p.az + ")";
    } else if (p.az.empty()) {
      why = "vpn gateway with no AZ configured, after the table's own AZ";
    } else {
      why = "vpn gateway in another AZ (" + p.az + "), cross-AZ";
    }
    if (k.link_rank > 0) {
      why += ", after link kind " + std::string(linkKindName(params.link_preference[0]));
    }
    return why;
  }
  why = (k.link_rank == 0 ? "preferred link kind " : "fallback link kind ") +
        std::string(linkKindName(p.link));
  if (p.link == LinkKind::Vpn && !p.az.empty()) {
    why += " (gateway in " + p.az + ")";
  }
  return why;
}

}  // namespace

std::vector<RankedCandidate> rankCandidates(const Topology& topology, const TableSpec& table) {
  const PolicyParams& params = topology.params;
  std::vector<Keyed> keyed;
  keyed.reserve(topology.paths.size());
  for (const PathSpec& p : topology.paths) {
    const int lr = linkRank(params, p.link);
    if (lr < 0 || !allowed(table, p.name)) {
      continue;
    }
    int az_rank = 0;
    if (p.link == LinkKind::Vpn && params.az_affinity && !table.az.empty() && p.az != table.az) {
      az_rank = 1;
    }
    keyed.push_back({&p, lr, az_rank});
  }
  std::stable_sort(keyed.begin(), keyed.end(), [](const Keyed& a, const Keyed& b) {
    if (a.link_rank != b.link_rank) {
      return a.link_rank < b.link_rank;
    }
    if (a.az_rank != b.az_rank) {
      return a.az_rank < b.az_rank;
    }
    if (a.spec->priority != b.spec->priority) {
      return a.spec->priority < b.spec->priority;
    }
    return a.spec->name < b.spec->name;
  });

  // Paths that share link kind and AZ class are told apart by priority in the reason.
  std::vector<RankedCandidate> out;
  out.reserve(keyed.size());
  for (std::size_t i = 0; i < keyed.size(); ++i) {
    std::string why = explain(keyed[i], table, params);
    const auto same_class = [&](std::size_t j) {
      return keyed[j].link_rank == keyed[i].link_rank && keyed[j].az_rank == keyed[i].az_rank;
    };
    if ((i > 0 && same_class(i - 1)) || (i + 1 < keyed.size() && same_class(i + 1))) {
      why += ", priority " + std::to_string(keyed[i].spec->priority);
    }
    out.push_back({keyed[i].spec->name, std::move(why)});
  }
  return out;
}

}  // namespace pathpilot::policy
