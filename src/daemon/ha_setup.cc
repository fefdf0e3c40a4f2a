// daemon/ha_setup.cc — see ha_setup.h.
#include "daemon/ha_setup.h"

#include <unistd.h>

#include <climits>

#include <spdlog/spdlog.h>

#include "http/curl_http_client.h"

namespace pathpilot::daemon {

Result<std::unique_ptr<ha::HaNode>> makeHaNode(const config::Config& config, const Clock& clock) {
  const config::HaSettings& s = *config.ha;
  ha::HaOptions o;
  o.site = config.site.name;
  o.prefix = s.prefix;
  o.election.node = s.node;
  if (o.election.node.empty()) {
    char host[HOST_NAME_MAX + 1] = {};
    // POSIX leaves a truncated host name without its NUL; the last byte of the zeroed buffer
    // is kept out of gethostname's reach so that the name always ends.
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') {
      return fail(ErrorCode::InvalidArgument,
                  "ha: no ha.node in the config and no host name to use instead");
    }
    o.election.node = host;
  }
  o.election.ttl = s.lease_ttl;
  o.election.margin = s.fence_margin;
  // Renewed four times per TTL: the deadline (TTL − margin after a renewal is sent) stays at
  // least TTL/4 ahead with one renewal lost at the default margin.
  o.election.keepalive_interval = s.lease_ttl / 4;
  // Followers ask every TTL/8 (250 ms at 2 s): a takeover costs the lease's expiry plus at most
  // this.
  o.election.poll_interval = s.lease_ttl / 8;
  o.election.retry_interval = o.election.poll_interval;
  o.etcd.endpoints = s.endpoints;
  http::CurlOptions curl;
  curl.ca_file = s.ca_file;
  curl.cert_file = s.cert_file;
  curl.key_file = s.key_file;
  curl.user_agent = "pathpilot-ha";
  curl.max_response_bytes = 1024 * 1024;
  // Two clients: one for the election thread, one for fence(), which route and recovery
  // workers call from their own threads while the loop's request may be in flight.
  return std::make_unique<ha::HaNode>(clock, std::move(o),
                                      std::make_unique<http::CurlHttpClient>(curl),
                                      std::make_unique<http::CurlHttpClient>(curl));
}

std::optional<journal::Event> leadershipEvent(const std::optional<ha::HaView>& before,
                                              const ha::HaView& now, const std::string& site,
                                              WallTime at) {
  if (!before && now.leader.empty()) {
    return std::nullopt;  // nothing known yet: the first election result says who leads
  }
  // The term counts too: a node that lost its leader key and won it again leads under a new
  // creation revision, which is reported although the name is the same.
  if (before && before->role == now.role && before->leader == now.leader &&
      before->term == now.term) {
    return std::nullopt;
  }
  auto e = journal::makeEvent(journal::EventKind::LeaderChanged, at, site);
  e.from = before ? (before->leader.empty() ? std::string("none") : before->leader)
                  : std::string("none");
  e.to = now.leader.empty() ? std::string("none") : now.leader;
  const std::string term = now.term != 0 ? " (term " + std::to_string(now.term) + ")" : "";
  if (now.role == ha::Role::Leader) {
    e.message = "this monitor (" + now.node + ") leads site " + site + term;
  } else if (now.leader.empty()) {
    e.message = "site " + site + " has no leader known to " + now.node + "; not writing";
  } else {
    e.message =
        now.leader + " leads site " + site + term + "; this monitor (" + now.node + ") follows";
  }
  e.reason = before && before->role == ha::Role::Leader && now.role != ha::Role::Leader
                 ? "lost leadership (lease expired, key gone or given up)"
                 : "";
  return e;
}

std::optional<journal::Event> etcdEvent(const std::optional<ha::HaView>& before,
                                        const ha::HaView& now, const std::string& site,
                                        WallTime at) {
  // With no earlier view etcd counts as answering: a first view sent after a silent TTL gives
  // ha_lost, a first view with etcd answering gives nothing (no ha_restored at start).
  const bool was_ok = before ? before->etcd_ok : true;
  if (was_ok == now.etcd_ok) {
    return std::nullopt;
  }
  if (!now.etcd_ok) {
    auto e = journal::makeEvent(journal::EventKind::HaLost, at, site);
    e.message = "etcd does not answer " + now.node +
                ": no monitor of site " + site +
                " can be elected or write; routes stay where they are";
    e.reason = now.last_error.empty() ? std::string("no answer within the lease TTL")
                                      : now.last_error;
    spdlog::error("ha_lost: {} ({})", e.message, e.reason);
    return e;
  }
  auto e = journal::makeEvent(journal::EventKind::HaRestored, at, site);
  e.message = "etcd answers " + now.node + " again (" + now.endpoint + ")";
  spdlog::info("ha_restored: {}", e.message);
  return e;
}

std::string incidentStateName(const std::string& key) { return "incident/" + key; }

IncidentTakeover planIncidentTakeover(const std::map<std::string, std::string>& state,
                                      const nlohmann::json& status, const std::string& site,
                                      const std::string& node, WallTime at) {
  using journal::EventKind;
  IncidentTakeover out;
  const std::string prefix = incidentStateName("");
  std::set<std::string> keys;
  for (const auto& [name, value] : state) {
    if (name.rfind(prefix, 0) != 0) {
      continue;
    }
    auto r = alert::decodeIncidentRecord(value);
    if (!r) {
      out.bad.push_back(name + ": " + r.error().message());
      continue;
    }
    keys.insert(r->key);
    out.adopt.push_back(std::move(*r));
  }
  struct PathSeen {
    std::string state;
    journal::Link link = journal::Link::None;
  };
  std::map<std::string, PathSeen> paths;
  for (const auto& p : status.value("paths", nlohmann::json::array())) {
    const std::string name = p.value("name", "");
    if (name.empty()) {
      continue;
    }
    auto link = journal::parseLink(p.value("link", ""));
    paths[name] = PathSeen{p.value("state", ""), link ? *link : journal::Link::None};
  }
  const std::string by = " (seen by " + node + " on taking over leadership)";
  for (const auto& r : out.adopt) {
    const journal::Event& o = r.opening;
    const bool about_path = o.kind == EventKind::PathDown || o.kind == EventKind::PathDegraded ||
                            o.kind == EventKind::RecoveryFailed;
    auto seen = paths.find(o.path);
    // Only a definite "up" closes: a path this monitor does not list, or still sees as
    // unknown, keeps its adopted incident open.
    if (!about_path || o.path.empty() || seen == paths.end() || seen->second.state != "up") {
      continue;
    }
    auto e = journal::makeEvent(EventKind::PathUp, at, site);
    e.path = o.path;
    e.link = seen->second.link;
    e.to = "up";
    e.reason = "healed while the monitors changed leader";
    e.message = "path " + o.path + " is up" + by;
    out.close.emplace_back(r.key, std::move(e));
  }
  for (const auto& [name, seen] : paths) {
    if (seen.state != "down" && seen.state != "degraded") {
      continue;
    }
    auto e = journal::makeEvent(
        seen.state == "down" ? EventKind::PathDown : EventKind::PathDegraded, at, site);
    e.path = name;
    e.link = seen.link;
    e.to = seen.state;
    // Down and degraded share one incident key (site/path/<name>): a record of either kind
    // covers the path, so a path gone from degraded to down opens nothing here.
    if (keys.count(alert::incidentKey(e)) > 0) {
      continue;
    }
    e.reason = "no incident of the previous leader for it";
    e.message = "path " + name + " is " + seen.state + by;
    out.open.push_back(std::move(e));
  }
  return out;
}

void shareIncidents(alert::AlertManager& alerts, ha::HaNode& node) {
  // Write-ahead: a FIRING goes out once etcd holds its record, or after one lease TTL without
  // (by then this monitor has lost leadership if etcd is out of reach; docs/ha.md).
  alerts.setIncidentSink(
      [&node](const std::string& key, const std::optional<alert::IncidentRecord>& record,
              std::function<void()> recorded) {
        node.publishState(incidentStateName(key),
                          record ? std::optional<std::string>(alert::encodeIncidentRecord(*record))
                                 : std::nullopt,
                          std::move(recorded));
      },
      node.leaseTtl());
}

void takeOverIncidents(alert::AlertManager& alerts, const std::map<std::string, std::string>& state,
                       const nlohmann::json& status, const std::string& site,
                       const std::string& node, WallTime at) {
  IncidentTakeover plan = planIncidentTakeover(state, status, site, node, at);
  for (const auto& why : plan.bad) {
    spdlog::warn("ha: open incident not taken over: {}", why);
  }
  spdlog::info("ha: taking over {} open incident(s); {} healed meanwhile, {} new",
               plan.adopt.size(), plan.close.size(), plan.open.size());
  // Adopt before closing: closeIncident is a no-op for a key that is not open.
  alerts.adoptIncidents(plan.adopt);
  for (const auto& [key, closing] : plan.close) {
    alerts.closeIncident(key, closing);
  }
  for (const auto& e : plan.open) {
    alerts.submit(e);
  }
}

namespace {
const std::string kRecoveryState = "recovery/";
}  // namespace

void RecoveryShare::onState(const PersistentState& state) {
  for (const auto& [gateway, memory] : state.recovery) {
    auto it = published_.find(gateway);
    if (it != published_.end() && it->second == memory) {
      continue;
    }
    // One leader-state entry per gateway, in the state file's format (adopt() reads it back
    // with decodeState): a change rewrites that gateway's entry only.
    PersistentState one;
    one.recovery.emplace(gateway, memory);
    publish_(kRecoveryState + gateway, encodeState(one, site_));
    published_[gateway] = memory;
  }
  for (auto it = published_.begin(); it != published_.end();) {
    if (state.recovery.count(it->first) == 0) {
      publish_(kRecoveryState + it->first, std::nullopt);
      it = published_.erase(it);
    } else {
      ++it;
    }
  }
}

std::map<std::string, StoredRecovery> RecoveryShare::adopt(
    const std::map<std::string, std::string>& state) {
  std::map<std::string, StoredRecovery> out;
  for (const auto& [name, value] : state) {
    if (name.rfind(kRecoveryState, 0) != 0) {
      continue;
    }
    const std::string gateway = name.substr(kRecoveryState.size());
    auto decoded = decodeState(value);
    if (!decoded || decoded->recovery.count(gateway) == 0) {
      spdlog::warn("ha: recovery limits of {} not taken over: {}", gateway,
                   decoded ? std::string("no entry for the gateway") : decoded.error().message());
      continue;
    }
    out[gateway] = decoded->recovery.at(gateway);
  }
  published_ = out;
  return out;
}

std::string compactView(const nlohmann::json& status) {
  nlohmann::json paths = nlohmann::json::object();
  for (const auto& p : status.value("paths", nlohmann::json::array())) {
    if (p.contains("name") && p["name"].is_string() && p.contains("state")) {
      paths[p["name"].get<std::string>()] = p["state"];
    }
  }
  return nlohmann::json{{"paths", paths}}.dump();
}

GroupVerdict groupVerdict(const std::string& self, const nlohmann::json& status,
                          const std::vector<ha::PeerView>& views) {
  GroupVerdict out;
  std::vector<nlohmann::json> others;
  std::vector<std::string> names;
  for (const auto& v : views) {
    if (v.node == self) {
      continue;
    }
    // A view that is not {"paths": {...}} is ignored: that monitor then reports no path,
    // and never counts as seeing one up.
    auto parsed = nlohmann::json::parse(v.value, nullptr, false);
    if (parsed.is_object() && parsed.contains("paths") && parsed["paths"].is_object()) {
      others.push_back(std::move(parsed["paths"]));
      names.push_back(v.node);
    }
  }
  auto failing = [](const std::string& state) { return state == "down" || state == "degraded"; };
  for (const auto& p : status.value("paths", nlohmann::json::array())) {
    const std::string name = p.value("name", "");
    if (name.empty() || !failing(p.value("state", ""))) {
      continue;
    }
    std::size_t reporting = 0;
    std::size_t up = 0;
    std::size_t down = 0;
    std::string up_by;
    for (std::size_t i = 0; i < others.size(); ++i) {
      auto it = others[i].find(name);
      if (it == others[i].end() || !it->is_string()) {
        continue;
      }
      ++reporting;
      const std::string state = it->get<std::string>();
      if (state == "up") {
        ++up;
        up_by += (up_by.empty() ? "" : ", ") + names[i];
      } else if (failing(state)) {
        ++down;
      }
    }
    // A peer reporting another state ("unknown") counts in `reporting` but on neither side,
    // so it can only make the verdict unconfirmed.
    if (reporting == 0 || 2 * down > reporting) {
      out.confirmed.insert(name);
      continue;
    }
    if (2 * up > reporting) {
      out.disputed[name] = up_by;
    } else {
      out.unconfirmed.insert(name);
    }
  }
  return out;
}

nlohmann::json viewsJson(const std::vector<ha::PeerView>& views) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& v : views) {
    // Another monitor's text: shown as JSON when it is, else as a string.
    auto parsed = nlohmann::json::parse(v.value, nullptr, false);
    out[v.node] = parsed.is_discarded() ? nlohmann::json(v.value) : parsed;
  }
  return out;
}

nlohmann::json haStatusJson(const ha::HaView& v) {
  auto seconds = [](Duration d) { return std::chrono::duration<double>(d).count(); };
  return {{"role", ha::roleName(v.role)},
          {"node", v.node},
          {"leader", v.leader},
          {"term", v.term},
          {"writing", v.writing},
          {"lease_left_seconds", seconds(v.lease_left)},
          {"member_claimed", v.member_claimed},
          {"etcd_ok", v.etcd_ok},
          {"etcd_endpoint", v.endpoint},
          {"last_error", v.last_error},
          {"keepalives", v.keepalives},
          {"keepalive_failures", v.keepalive_failures},
          {"last_keepalive_latency_seconds", seconds(v.last_keepalive_latency)},
          {"fence_checks", v.fence_checks},
          {"fence_refusals", v.fence_refusals},
          {"max_fence_latency_seconds", seconds(v.max_fence_latency)},
          {"views", viewsJson(v.views)}};
}

std::vector<metrics::MetricFamily> haMetricFamilies(const ha::HaView& v,
                                                    const std::string& site) {
  using metrics::MetricType;
  auto seconds = [](Duration d) { return std::chrono::duration<double>(d).count(); };
  std::vector<std::pair<std::string, std::string>> labels = {{"site", site}, {"node", v.node}};
  auto family = [&](const char* name, MetricType type, const char* help, double value) {
    return metrics::MetricFamily{name, type, help, {{labels, value}}};
  };
  return {
      family("pathpilot_ha_leader", MetricType::Gauge,
             "1 when this monitor holds its site's leader key.",
             v.role == ha::Role::Leader ? 1 : 0),
      family("pathpilot_ha_writing", MetricType::Gauge,
             "1 when this monitor leads inside its fence deadline: its writes pass.",
             v.writing ? 1 : 0),
      family("pathpilot_ha_etcd_up", MetricType::Gauge,
             "1 when etcd answered this monitor within the last lease TTL.",
             v.etcd_ok ? 1 : 0),
      family("pathpilot_ha_term", MetricType::Gauge,
             "The leader key's creation revision in etcd (0 while unknown).",
             static_cast<double>(v.term)),
      family("pathpilot_ha_lease_remaining_seconds", MetricType::Gauge,
             "Until the leader's fence deadline, or a follower's lease expiry.",
             seconds(v.lease_left)),
      family("pathpilot_ha_keepalives_total", MetricType::Counter,
             "Lease keepalives etcd answered.", static_cast<double>(v.keepalives)),
      family("pathpilot_ha_keepalive_failures_total", MetricType::Counter,
             "Lease keepalives that failed (transport, timeout, etcd error).",
             static_cast<double>(v.keepalive_failures)),
      family("pathpilot_ha_keepalive_latency_seconds", MetricType::Gauge,
             "Round trip of the last answered keepalive.", seconds(v.last_keepalive_latency)),
      family("pathpilot_ha_fence_checks_total", MetricType::Counter,
             "Writes that asked the fence (route changes, recovery starts).",
             static_cast<double>(v.fence_checks)),
      family("pathpilot_ha_fence_refusals_total", MetricType::Counter,
             "Writes the fence refused (not leader, deadline passed, leader key gone).",
             static_cast<double>(v.fence_refusals)),
  };
}

}  // namespace pathpilot::daemon
