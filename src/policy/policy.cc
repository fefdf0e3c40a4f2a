// policy/policy.cc — static ranking of candidate paths and the per-route decision.
//
// Cost model: Policy::create() ranks every table once (sorting its candidates), so decide()
// only walks each table's precomputed ranking: O(routes x candidates) comparisons plus one
// reason string per route, rendered into storage reused from the previous output. See
// bench/policy_bench.cc for 1,000 tables x 10 paths.
#include "policy/policy.h"

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <limits>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <fmt/format.h>

#include "base/check.h"

namespace pathpilot::policy {
namespace {

// Position of `kind` in link_preference, or -1 when the kind is not a candidate at all.
// Leaving a kind out of link_preference is how a table is kept off DX (or off VPN) entirely.
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

// The `why` of one ranked candidate: the words `pathpilot check` prints next to each path of
// the plan and decide() quotes in its reasons, so they name the rule that placed the path.
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
  // Full key (link kind, AZ class, priority, name) so the order never depends on the order of
  // the config file.
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

namespace {

using health::PathState;

constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();

const std::string& emptyString() {
  static const std::string kEmpty;
  return kEmpty;
}

// "48.0s" (rounded to a tenth). Integer formatting, short enough for the small-string buffer:
// HoldDown reasons render two of these per route.
std::string secondsText(Duration d) {
  const auto tenths = (std::max<Duration::rep>(0, d.count()) + 50'000'000) / 100'000'000;
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf - 3, tenths / 10);
  char* p = res.ptr;
  *p++ = '.';
  *p++ = static_cast<char>('0' + tenths % 10);
  *p++ = 's';
  return std::string(buf, p);
}

bool usableNow(const PathStatus& s) { return health::isUsable(s.state) && !s.drained; }

// "dx down (3 consecutive probes lost ...)", "vpn-a drained", "vpn-b unknown".
// Appends every part to `out`. Reasons are built with this rather than fmt on the decision
// path: decide() renders one reason per route, and plain appends into a reused buffer cost a
// fraction of parsing a format string each time.
template <class... Parts>
void cat(std::string& out, const Parts&... parts) {
  (out.append(std::string_view(parts)), ...);
}

void appendStatus(std::string& out, const std::string& name, const PathStatus& s) {
  const std::string_view state = health::pathStateName(s.state);
  if (s.drained) {
    cat(out, name, " drained (", state, ")");
  } else if (s.reason.empty() || s.state == PathState::Unknown) {
    cat(out, name, " ", state);
  } else {
    cat(out, name, " ", state, " (", s.reason, ")");
  }
}

}  // namespace

std::string_view decisionKindName(DecisionKind kind) {
  switch (kind) {
    case DecisionKind::Keep:
      return "keep";
    case DecisionKind::Initial:
      return "initial";
    case DecisionKind::Failover:
      return "failover";
    case DecisionKind::Failback:
      return "failback";
    case DecisionKind::HoldDown:
      return "hold_down";
    case DecisionKind::AwaitingHealth:
      return "awaiting_health";
    case DecisionKind::FailStatic:
      return "fail_static";
    case DecisionKind::Settling:
      return "settling";
  }
  return "unknown";
}

const RouteDecision* DecisionSet::find(std::string_view table, const IpPrefix& destination) const {
  for (const RouteDecision& r : routes) {
    if (r.table == table && r.destination == destination) {
      return &r;
    }
  }
  return nullptr;
}

// Config validation catches most of these with file:line:col; repeating the checks here keeps
// the policy safe when a Topology is built some other way (tests, tools, a future API).
Result<Policy> Policy::create(Topology topology) {
  const auto bad = [](std::string msg) {
    return fail(ErrorCode::InvalidArgument, "policy: " + std::move(msg));
  };
  const PolicyParams& params = topology.params;
  if (params.link_preference.empty()) {
    return bad("link_preference is empty: no link kind may carry traffic");
  }
  for (std::size_t i = 0; i < params.link_preference.size(); ++i) {
    for (std::size_t j = i + 1; j < params.link_preference.size(); ++j) {
      if (params.link_preference[i] == params.link_preference[j]) {
        return bad(
            fmt::format("link_preference lists {} twice", linkKindName(params.link_preference[i])));
      }
    }
  }
  if (params.failback_hold_down < Duration(0)) {
    return bad("failback_hold_down must not be negative");
  }
  if (topology.paths.empty()) {
    return bad("no paths defined");
  }
  std::unordered_set<std::string_view> path_names;
  for (std::size_t i = 0; i < topology.paths.size(); ++i) {
    const std::string& name = topology.paths[i].name;
    if (name.empty()) {
      return bad(fmt::format("path #{} has no name", i + 1));
    }
    if (!path_names.insert(name).second) {
      return bad(fmt::format("path \"{}\" is defined twice", name));
    }
  }
  std::unordered_set<std::string_view> table_ids;
  for (std::size_t i = 0; i < topology.tables.size(); ++i) {
    const TableSpec& t = topology.tables[i];
    if (t.id.empty()) {
      return bad(fmt::format("route table #{} has no id", i + 1));
    }
    if (!table_ids.insert(t.id).second) {
      return bad(fmt::format("route table \"{}\" is defined twice", t.id));
    }
    for (const std::string& a : t.allowed_paths) {
      if (path_names.count(a) == 0) {
        return bad(
            fmt::format("route table \"{}\": allowed_paths names unknown path \"{}\"", t.id, a));
      }
    }
    for (std::size_t d = 0; d < t.destinations.size(); ++d) {
      for (std::size_t e = d + 1; e < t.destinations.size(); ++e) {
        if (t.destinations[d] == t.destinations[e]) {
          return bad(fmt::format("route table \"{}\": destination {} is listed twice", t.id,
                                 t.destinations[d].toString()));
        }
      }
    }
    if (rankCandidates(topology, t).empty()) {
      return bad(fmt::format(
          "route table \"{}\" has no candidate path (allowed_paths and link_preference exclude "
          "every path)",
          t.id));
    }
  }
  return Policy(std::move(topology));
}

Policy::Policy(Topology topology)
    : topology_(std::move(topology)),
      hold_text_(formatDuration(topology_.params.failback_hold_down)) {
  ranks_.reserve(topology_.tables.size());
  for (const TableSpec& t : topology_.tables) {
    TableRank rank;
    rank.ranked = rankCandidates(topology_, t);
    for (const RankedCandidate& c : rank.ranked) {
      rank.paths.push_back(*pathIndex(c.path));
    }
    ranks_.push_back(std::move(rank));
    route_count_ += t.destinations.size();
  }
}

std::optional<std::size_t> Policy::pathIndex(std::string_view name) const {
  for (std::size_t i = 0; i < topology_.paths.size(); ++i) {
    if (topology_.paths[i].name == name) {
      return i;
    }
  }
  return std::nullopt;
}

const std::vector<RankedCandidate>& Policy::ranking(std::size_t table_index) const {
  PP_CHECK(table_index < ranks_.size());
  return ranks_[table_index].ranked;
}

// Quadratic in the worst case, but it runs once at start-up; decide() handles `previous`
// sets in any order anyway.
DecisionSet Policy::startingPoint(std::span<const ProgrammedRoute> programmed) const {
  DecisionSet set;
  set.routes.reserve(route_count_);
  for (const TableSpec& t : topology_.tables) {
    for (const IpPrefix& d : t.destinations) {
      RouteDecision r;
      r.table = t.id;
      r.destination = d;
      for (const ProgrammedRoute& p : programmed) {
        if (p.table == t.id && p.destination == d) {
          r.path = p.path;
          break;
        }
      }
      r.reason =
          r.path.empty() ? "no route programmed at start-up" : "route programmed at start-up";
      set.routes.push_back(std::move(r));
    }
  }
  return set;
}

const RouteDecision* Policy::findPrevious(const DecisionSet& previous, std::size_t route_index,
                                          const TableSpec& table, const IpPrefix& dest,
                                          PreviousIndex& index) const {
  // Fast path: `previous` came from this Policy, so positions line up.
  if (route_index < previous.routes.size()) {
    const RouteDecision& r = previous.routes[route_index];
    if (r.destination == dest && r.table == table.id) {
      return &r;
    }
  }
  // Slow path (start-up set in another order, or a previous Topology): index it once.
  if (!index.built) {
    index.built = true;
    for (const RouteDecision& r : previous.routes) {
      index.by_key.emplace(r.table + '|' + r.destination.toString(), &r);
    }
  }
  const auto it = index.by_key.find(table.id + '|' + dest.toString());
  return it == index.by_key.end() ? nullptr : it->second;
}

void Policy::decideRoute(const TableRank& rank, const TableSpec& table,
                         std::span<const PathStatus> statuses, const RouteDecision* previous,
                         MonoTime now, RouteDecision& r, std::optional<MonoTime>& next) const {
  const std::string& current = previous != nullptr ? previous->path : emptyString();
  const auto& paths = topology_.paths;
  const PolicyParams& params = topology_.params;
  const std::size_t n = rank.paths.size();

  // One pass over the ranking: where the current path sits, the best usable candidate (first
  // Up, else first Degraded), the first candidate still Unknown, and the drained fallbacks.
  std::size_t cur_pos = kNone, first_up = kNone, first_degraded = kNone, first_unknown = kNone;
  std::size_t drained_up = kNone, drained_degraded = kNone;
  for (std::size_t pos = 0; pos < n; ++pos) {
    const std::size_t idx = rank.paths[pos];
    const PathStatus& st = statuses[idx];
    if (cur_pos == kNone && paths[idx].name == current) {
      cur_pos = pos;
    }
    // Drained paths are never "best"; they are remembered only for fail_static == false.
    if (st.drained) {
      if (st.state == PathState::Up && drained_up == kNone) {
        drained_up = pos;
      } else if (st.state == PathState::Degraded && drained_degraded == kNone) {
        drained_degraded = pos;
      }
      continue;
    }
    if (st.state == PathState::Up && first_up == kNone) {
      first_up = pos;
    } else if (st.state == PathState::Degraded && first_degraded == kNone) {
      first_degraded = pos;
    } else if (st.state == PathState::Unknown && first_unknown == kNone) {
      first_unknown = pos;
    }
  }
  // Up beats Degraded: a Degraded candidate is chosen only when no candidate is Up, whatever
  // their ranks (a lossy DX is worse than a clean VPN in the table's AZ).
  const std::size_t best = first_up != kNone ? first_up : first_degraded;

  r.previous = current;
  r.preferred = best != kNone ? paths[rank.paths[best]].name : emptyString();
  r.hold_down_remaining = Duration(0);
  r.fail_static = false;
  r.settle_until.reset();
  r.fail_static_episode = false;
  r.reason.clear();
  std::string& out = r.reason;

  const auto nameAt = [&](std::size_t pos) -> const std::string& {
    return paths[rank.paths[pos]].name;
  };
  const auto statusAt = [&](std::size_t pos) -> const PathStatus& {
    return statuses[rank.paths[pos]];
  };
  const auto choose = [&](DecisionKind kind, const std::string& path) {
    r.kind = kind;
    r.path = path;
  };
  // "vpn-a (up, vpn gateway in the table's own AZ (...))"
  const auto describeCandidate = [&](std::size_t pos) {
    cat(out, nameAt(pos), " (", health::pathStateName(statusAt(pos).state), ", ",
        rank.ranked[pos].why, ")");
  };
  // Lists the Unknown, undrained candidates ranked above `limit`.
  const auto listUnknown = [&](std::size_t limit) {
    bool first = true;
    for (std::size_t pos = 0; pos < std::min(limit, n); ++pos) {
      const PathStatus& st = statusAt(pos);
      if (st.state == PathState::Unknown && !st.drained) {
        cat(out, first ? "" : ", ", nameAt(pos));
        first = false;
      }
    }
  };
  // Rule 6: nothing usable and every candidate known.
  const auto nothingUsable = [&] {
    const std::size_t drained = drained_up != kNone ? drained_up : drained_degraded;
    if (!params.fail_static && drained != kNone) {
      choose(DecisionKind::Failover, nameAt(drained));
      cat(out, "no usable undrained path; using drained ", nameAt(drained), " rather than ",
          current.empty() ? std::string_view("no route") : std::string_view(current),
          " (fail_static: false)");
      return;
    }
    choose(DecisionKind::FailStatic, current);
    r.fail_static = true;
    r.fail_static_episode = true;
    cat(out, "no usable path for ", table.id, ": ");
    for (std::size_t pos = 0; pos < n; ++pos) {
      if (pos > 0) {
        r.reason += "; ";
      }
      appendStatus(r.reason, nameAt(pos), statusAt(pos));
    }
    if (current.empty()) {
      r.reason += "; no route to keep (fail static)";
    } else {
      cat(out, "; keeping ", current, " (fail static)");
    }
  };

  // Nothing programmed: install the best usable path once the better-ranked ones are known.
  if (current.empty()) {
    if (best != kNone && (first_unknown == kNone || first_unknown > best)) {
      choose(DecisionKind::Initial, nameAt(best));
      r.reason += "no route programmed; installing ";
      describeCandidate(best);
    } else if (first_unknown != kNone) {
      choose(DecisionKind::AwaitingHealth, emptyString());
      r.reason += "no route programmed; waiting for the health of ";
      listUnknown(best);
      if (best != kNone) {
        cat(out, " before installing (best known: ", nameAt(best), ")");
      }
    } else {
      nothingUsable();
    }
    return;
  }

  // The current path is not a candidate of this table (allowed_paths, link_preference, or a
  // path no longer configured): leave it like a broken one.
  if (cur_pos == kNone) {
    if (pathIndex(current)) {
      cat(out, current, " is not a candidate for ", table.id,
          " (allowed_paths or link_preference)");
    } else {
      cat(out, current, " is not a configured path");
    }
    if (best != kNone) {
      choose(DecisionKind::Failover, nameAt(best));
      r.reason += "; moving to ";
      describeCandidate(best);
    } else if (first_unknown != kNone) {
      choose(DecisionKind::AwaitingHealth, current);
      r.reason += "; waiting for the health of ";
      listUnknown(n);
    } else {
      r.reason.clear();
      nothingUsable();
    }
    return;
  }

  // From here the current path is one of the table's candidates.
  const PathStatus& cs = statusAt(cur_pos);
  if (usableNow(cs)) {
    if (best == cur_pos) {
      choose(DecisionKind::Keep, current);
      cat(out, current, " ", health::pathStateName(cs.state), ": the best usable path (",
          rank.ranked[cur_pos].why, ")");
      // Say why the better-ranked candidates are not used ("dx down", "dx drained").
      for (std::size_t pos = 0; pos < cur_pos; ++pos) {
        const PathStatus& st = statusAt(pos);
        cat(out, "; ", nameAt(pos), " ",
            st.drained ? std::string_view("drained") : health::pathStateName(st.state));
      }
      return;
    }
    // Rule 3: a better path is usable; it must have held its state for the hold-down.
    // The hold-down clock: an Up candidate must have been Up (not merely usable) for the whole
    // hold-down, otherwise a path fluttering between Degraded and Up would pull traffic back at
    // every Up. A Degraded candidate (better ranked than a Degraded current path) counts from
    // when it became usable.
    const PathStatus& bs = statusAt(best);
    if (bs.state == PathState::Up && !bs.clean_since) {
      // Up but not measured over a full window yet (just back from Down): not clean yet.
      choose(DecisionKind::HoldDown, current);
      r.hold_down_remaining = params.failback_hold_down;
      cat(out, "staying on ", current, " (", health::pathStateName(cs.state), "): ", nameAt(best),
          " is preferred (", rank.ranked[best].why,
          ") and answers again, but is not yet measured clean over a full window; failback "
          "after that and the hold-down (",
          hold_text_, ")");
      return;
    }
    const MonoTime start = bs.state == PathState::Up ? std::max(*bs.clean_since, bs.since)
                                                     : bs.usable_since.value_or(bs.since);
    const Duration elapsed = std::max(Duration(0), now - start);
    const Duration hold = params.failback_hold_down;
    if (elapsed >= hold) {
      choose(DecisionKind::Failback, nameAt(best));
      cat(out, nameAt(best), " ",
          bs.state == PathState::Up ? std::string_view("up and measured clean")
                                    : health::pathStateName(bs.state),
          " for ", secondsText(elapsed), " (hold-down ", hold_text_, " passed), preferred over ",
          current, " (",
          health::pathStateName(cs.state), "): ", rank.ranked[best].why);
      return;
    }
    choose(DecisionKind::HoldDown, current);
    r.hold_down_remaining = hold - elapsed;
    const MonoTime expiry = start + hold;
    if (!next || expiry < *next) {
      next = expiry;
    }
    cat(out, "staying on ", current, " (", health::pathStateName(cs.state), "): ", nameAt(best),
        " is preferred (", rank.ranked[best].why, ") but ", health::pathStateName(bs.state),
        " only for ", secondsText(elapsed), "; failback in ", secondsText(r.hold_down_remaining),
        " (hold-down ", hold_text_, ")");
    return;
  }

  // Rule 7's episode: the previous decision was fail static or settling after it.
  const bool leaving_static = previous != nullptr && params.fail_static_settle > Duration(0) &&
                              (previous->fail_static || previous->fail_static_episode);
  const auto settleUntil = [&] {
    return previous->settle_until ? *previous->settle_until : now + params.fail_static_settle;
  };

  // Rule 5: the programmed path's health is not known yet.
  if (cs.state == PathState::Unknown && !cs.drained) {
    choose(DecisionKind::AwaitingHealth, current);
    cat(out, "keeping ", current, " as programmed until its health is known");
    if (leaving_static) {
      r.fail_static_episode = true;
      if (best != kNone) {
        // Something is usable again: the settle clock of rule 7 runs meanwhile.
        r.settle_until = settleUntil();
        if (!next || *r.settle_until < *next) {
          next = r.settle_until;
        }
      } else {
        r.settle_until = previous->settle_until;
      }
    }
    return;
  }

  // Rule 4: the current path is Down or drained.
  if (cs.drained) {
    cat(out, current, " drained by the operator");
  } else {
    cat(out, current, " down");
    if (!cs.reason.empty()) {
      cat(out, " (", cs.reason, ")");
    }
  }
  if (best != kNone && !cs.drained && leaving_static) {
    // Rule 7: fail static just ended (or is ending); give the current path the settle time.
    const MonoTime until = settleUntil();
    if (now < until) {
      choose(DecisionKind::Settling, current);
      r.settle_until = until;
      r.fail_static_episode = true;
      if (!next || until < *next) {
        next = until;
      }
      cat(out, "; leaving fail static: ", nameAt(best), " is usable again, waiting ",
          secondsText(until - now), " for ", current,
          " to come back before moving (every path was down at once)");
      return;
    }
    cat(out, "; not back within the fail-static settle time");
  }
  if (best != kNone) {
    choose(DecisionKind::Failover, nameAt(best));
    r.reason += "; moving to ";
    describeCandidate(best);
  } else if (first_unknown != kNone) {
    choose(DecisionKind::AwaitingHealth, current);
    r.reason += "; waiting for the health of ";
    listUnknown(n);
    r.reason += " before declaring fail static";
    if (leaving_static) {
      // Still nothing usable: the fail-static episode goes on.
      r.fail_static_episode = true;
      r.settle_until = previous->settle_until;
    }
  } else {
    r.reason.clear();
    nothingUsable();
  }
}

// Writes every route in topology order; `out` keeps its strings' capacity between calls, so
// after the first few decisions no allocation happens unless a reason grows.
void Policy::decide(std::span<const PathStatus> statuses, const DecisionSet& previous, MonoTime now,
                    DecisionSet& out) const {
  PP_CHECK_MSG(statuses.size() == topology_.paths.size(),
               "policy::decide needs one status per topology path");
  PP_CHECK_MSG(&out != &previous, "policy::decide output must not alias its input");
  out.routes.resize(route_count_);
  out.next_decision.reset();
  out.changed_count = 0;
  out.fail_static_count = 0;
  PreviousIndex index;
  std::size_t i = 0;
  for (std::size_t t = 0; t < topology_.tables.size(); ++t) {
    const TableSpec& table = topology_.tables[t];
    for (const IpPrefix& dest : table.destinations) {
      const RouteDecision* prev = findPrevious(previous, i, table, dest, index);
      RouteDecision& r = out.routes[i];
      r.table = table.id;
      r.destination = dest;
      decideRoute(ranks_[t], table, statuses, prev, now, r, out.next_decision);
      r.changed = r.path != r.previous;
      out.changed_count += r.changed ? 1 : 0;
      out.fail_static_count += r.fail_static ? 1 : 0;
      ++i;
    }
  }
}

DecisionSet Policy::decide(std::span<const PathStatus> statuses, const DecisionSet& previous,
                           MonoTime now) const {
  DecisionSet out;
  decide(statuses, previous, now, out);
  return out;
}

}  // namespace pathpilot::policy
