// daemon/ha_setup.h: the leader_changed event for each step of a monitor's role, the HA part of
// the status document, and the pathpilot_ha_* families as /metrics renders them.
#include "daemon/ha_setup.h"

#include <gtest/gtest.h>

namespace pathpilot::daemon {
namespace {

ha::HaView view(ha::Role role, std::string leader, std::int64_t term, bool writing) {
  ha::HaView v;
  v.role = role;
  v.node = "mon-a";
  v.leader = std::move(leader);
  v.term = term;
  v.writing = writing;
  return v;
}

const WallTime kAt{};

TEST(HaSetupTest, BecomingLeaderIsOneEventNamingTheTerm) {
  auto e = leadershipEvent(std::nullopt, view(ha::Role::Leader, "mon-a", 7, true), "Lab", kAt);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, journal::EventKind::LeaderChanged);
  EXPECT_EQ(e->from, "none");
  EXPECT_EQ(e->to, "mon-a");
  EXPECT_EQ(e->message, "this monitor (mon-a) leads site Lab (term 7)");
  EXPECT_EQ(e->site, "Lab");
}

TEST(HaSetupTest, FollowingAndLosingLeadershipAreEventsButWritingAloneIsNot) {
  auto lead = view(ha::Role::Leader, "mon-a", 7, true);
  auto fenced = view(ha::Role::Leader, "mon-a", 7, false);
  EXPECT_FALSE(leadershipEvent(lead, fenced, "Lab", kAt)) << "same leader and term";
  auto follow = view(ha::Role::Follower, "mon-b", 9, false);
  auto e = leadershipEvent(lead, follow, "Lab", kAt);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->from, "mon-a");
  EXPECT_EQ(e->to, "mon-b");
  EXPECT_EQ(e->message, "mon-b leads site Lab (term 9); this monitor (mon-a) follows");
  EXPECT_NE(e->reason.find("lost leadership"), std::string::npos);
  auto none = leadershipEvent(follow, view(ha::Role::Follower, "", 0, false), "Lab", kAt);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->to, "none");
  EXPECT_NE(none->message.find("no leader"), std::string::npos);
}

TEST(HaSetupTest, EtcdLostAndBackAreOneCriticalEventAndItsResolution) {
  auto ok = view(ha::Role::Leader, "mon-a", 7, true);
  ok.etcd_ok = true;
  auto lost = view(ha::Role::Leader, "mon-a", 7, false);
  lost.last_error = "etcd lease/keepalive at http://10.0.0.1:2379: HTTP 503 (etcdserver: no leader)";
  EXPECT_FALSE(etcdEvent(ok, ok, "Lab", kAt));
  auto e = etcdEvent(ok, lost, "Lab", kAt);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, journal::EventKind::HaLost);
  EXPECT_EQ(e->severity, journal::Severity::Critical);
  EXPECT_NE(e->message.find("routes stay where they are"), std::string::npos);
  EXPECT_NE(e->reason.find("no leader"), std::string::npos);
  EXPECT_FALSE(etcdEvent(lost, lost, "Lab", kAt));
  auto back = etcdEvent(lost, ok, "Lab", kAt);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->kind, journal::EventKind::HaRestored);
  // Never reached at start: lost at once.
  auto first = etcdEvent(std::nullopt, lost, "Lab", kAt);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->kind, journal::EventKind::HaLost);
  EXPECT_FALSE(etcdEvent(std::nullopt, ok, "Lab", kAt));
}

TEST(HaSetupTest, AViewIsEachPathsStateAndEveryMonitorsViewIsShown) {
  nlohmann::json status = {
      {"paths", {{{"name", "dx"}, {"state", "down"}}, {{"name", "vpn-a"}, {"state", "up"}}}}};
  EXPECT_EQ(compactView(status), R"({"paths":{"dx":"down","vpn-a":"up"}})");
  auto views = viewsJson({{"mon-a", compactView(status)}, {"mon-b", "not json"}});
  EXPECT_EQ(views["mon-a"]["paths"]["dx"], "down");
  EXPECT_EQ(views["mon-b"], "not json");
}

TEST(HaSetupTest, TheGroupConfirmsDisputesOrHasNotSeenEachFailingPath) {
  nlohmann::json status = {{"paths",
                            {{{"name", "dx"}, {"state", "down"}},
                             {{"name", "vpn-a"}, {"state", "degraded"}},
                             {{"name", "vpn-b"}, {"state", "up"}},
                             {{"name", "vpn-c"}, {"state", "down"}},
                             {{"name", "vpn-d"}, {"state", "down"}}}}};
  auto v = [](const char* paths) { return std::string(R"({"paths":)") + paths + "}"; };
  std::vector<ha::PeerView> views = {
      {"mon-a", v(R"({"dx":"down","vpn-a":"degraded","vpn-b":"up","vpn-c":"down"})")},
      {"mon-b", v(R"({"dx":"up","vpn-a":"up","vpn-b":"down","vpn-c":"down","vpn-d":"unknown"})")},
      {"mon-c", v(R"({"dx":"up","vpn-a":"down","vpn-b":"down"})")},
  };
  auto g = groupVerdict("mon-a", status, views);
  // dx: both others see it up → disputed. vpn-a: one up, one down → unconfirmed. vpn-b: up
  // here, not asked. vpn-c: the one other that reports it sees it down → confirmed. vpn-d: the
  // other does not know yet → unconfirmed.
  EXPECT_EQ(g.disputed, (std::map<std::string, std::string>{{"dx", "mon-b, mon-c"}}));
  EXPECT_EQ(g.unconfirmed, (std::set<std::string>{"vpn-a", "vpn-d"}));
  // A monitor alone (or whose peers publish nothing readable) acts on its own view.
  auto alone = groupVerdict("mon-a", status, {views[0], {"mon-b", "garbage"}});
  EXPECT_TRUE(alone.disputed.empty() && alone.unconfirmed.empty());
  // Two monitors: the other one's "up" is a majority of one.
  EXPECT_EQ(groupVerdict("mon-a", status, {views[0], views[1]}).disputed.count("vpn-a"), 1U);
}

TEST(HaSetupTest, StatusAndMetricsShowRoleTermAndLease) {
  auto v = view(ha::Role::Leader, "mon-a", 7, true);
  v.lease_left = std::chrono::milliseconds(1250);
  v.keepalives = 42;
  auto j = haStatusJson(v);
  EXPECT_EQ(j["role"], "leader");
  EXPECT_EQ(j["term"], 7);
  EXPECT_EQ(j["writing"], true);
  EXPECT_DOUBLE_EQ(j["lease_left_seconds"].get<double>(), 1.25);
  metrics::DaemonMetrics m;
  m.site = "Lab";
  m.module_families = haMetricFamilies(v, "Lab");
  std::string text = metrics::renderDaemonMetrics(m);
  EXPECT_NE(text.find("# TYPE pathpilot_ha_leader gauge"), std::string::npos);
  EXPECT_NE(text.find("pathpilot_ha_leader{site=\"Lab\",node=\"mon-a\"} 1"), std::string::npos);
  EXPECT_NE(text.find("pathpilot_ha_term{site=\"Lab\",node=\"mon-a\"} 7"), std::string::npos);
  EXPECT_NE(text.find("pathpilot_ha_keepalives_total{site=\"Lab\",node=\"mon-a\"} 42"),
            std::string::npos);
  EXPECT_NE(text.find("pathpilot_ha_lease_remaining_seconds{site=\"Lab\",node=\"mon-a\"} 1.25"),
            std::string::npos);
}

}  // namespace
}  // namespace pathpilot::daemon

namespace pathpilot::daemon {
namespace {

nlohmann::json statusOf(std::vector<std::pair<std::string, std::string>> paths) {
  nlohmann::json j = {{"paths", nlohmann::json::array()}};
  for (const auto& [name, state] : paths) {
    j["paths"].push_back({{"name", name}, {"state", state}, {"link", name == "dx" ? "dx" : "vpn"}});
  }
  return j;
}

std::string record(journal::EventKind kind, const std::string& path) {
  alert::IncidentRecord r;
  r.opening = journal::makeEvent(kind, WallTime{}, "Lab");
  r.opening.path = path;
  r.key = alert::incidentKey(r.opening);
  r.channels = {"chat"};
  return alert::encodeIncidentRecord(r);
}

// A new leader with its predecessor's incidents: dx (still down here) is adopted and stays
// open; vpn-a's (up here) is adopted and closed; vpn-b, down here with no record, gets a
// path_down of its own; a broken record is reported, not adopted.
TEST(HaSetupTest, TakeoverAdoptsClosesWhatHealedAndOpensWhatNobodyReported) {
  std::map<std::string, std::string> state = {
      {incidentStateName("Lab/path/dx"), record(journal::EventKind::PathDown, "dx")},
      {incidentStateName("Lab/path/vpn-a"), record(journal::EventKind::PathDegraded, "vpn-a")},
      {incidentStateName("Lab/broken"), "{not json"},
      {"recovery/vpn-a", "{}"},  // not an incident: ignored here
  };
  auto status = statusOf({{"dx", "down"}, {"vpn-a", "up"}, {"vpn-b", "down"}, {"vpn-c", "up"}});
  IncidentTakeover plan = planIncidentTakeover(state, status, "Lab", "mon-b", kAt);
  ASSERT_EQ(plan.adopt.size(), 2u);
  ASSERT_EQ(plan.close.size(), 1u);
  EXPECT_EQ(plan.close[0].first, "Lab/path/vpn-a");
  EXPECT_EQ(plan.close[0].second.kind, journal::EventKind::PathUp);
  EXPECT_EQ(plan.close[0].second.path, "vpn-a");
  EXPECT_EQ(plan.close[0].second.message,
            "path vpn-a is up (seen by mon-b on taking over leadership)");
  ASSERT_EQ(plan.open.size(), 1u);
  EXPECT_EQ(plan.open[0].kind, journal::EventKind::PathDown);
  EXPECT_EQ(plan.open[0].path, "vpn-b");
  EXPECT_EQ(plan.open[0].link, journal::Link::Vpn);
  EXPECT_EQ(alert::incidentKey(plan.open[0]), "Lab/path/vpn-b");
  ASSERT_EQ(plan.bad.size(), 1u);
  EXPECT_NE(plan.bad[0].find("incident/Lab/broken"), std::string::npos) << plan.bad[0];

  // Nothing left by anyone: every failing path is reported by the new leader.
  plan = planIncidentTakeover({}, status, "Lab", "mon-b", kAt);
  EXPECT_TRUE(plan.adopt.empty());
  EXPECT_EQ(plan.open.size(), 2u);
}

}  // namespace
}  // namespace pathpilot::daemon

namespace pathpilot::daemon {
namespace {

// The leader's recovery limits go to etcd per gateway, only when they change; a new leader
// reads them back and counts them as published.
TEST(HaSetupTest, RecoveryLimitsArePublishedPerGatewayWhenTheyChange) {
  std::map<std::string, std::optional<std::string>> etcd;
  int writes = 0;
  RecoveryShare share(
      [&](std::string name, std::optional<std::string> value) {
        ++writes;
        etcd[name] = std::move(value);
      },
      "Lab");
  PersistentState s;
  share.onState(s);  // nothing kept: nothing published, nothing removed
  EXPECT_EQ(writes, 0);
  StoredRecovery r;
  r.starts = {journal::fromUnixMillis(1700000000000)};
  r.attempts = 1;
  r.failures = 1;
  r.not_before = journal::fromUnixMillis(1700000060000);
  s.recovery["vpn-a"] = r;
  s.drains = {"dx"};  // drains have keys of their own (HaNode::requestDrain)
  share.onState(s);
  ASSERT_EQ(writes, 1);
  ASSERT_TRUE(etcd["recovery/vpn-a"].has_value());
  share.onState(s);  // unchanged: not written again
  EXPECT_EQ(writes, 1);

  // Read back by the next leader.
  std::map<std::string, std::string> state = {{"recovery/vpn-a", *etcd["recovery/vpn-a"]},
                                              {"recovery/vpn-b", "{broken"},
                                              {"incident/Lab/path/dx", "{}"}};
  RecoveryShare next([&](std::string, std::optional<std::string>) { ++writes; }, "Lab");
  auto adopted = next.adopt(state);
  ASSERT_EQ(adopted.size(), 1u);
  EXPECT_EQ(adopted.at("vpn-a"), r);
  next.onState(s);  // what it adopted counts as published
  EXPECT_EQ(writes, 1);

  s.recovery.clear();  // the hour passed: removed
  share.onState(s);
  EXPECT_EQ(writes, 2);
  EXPECT_FALSE(etcd["recovery/vpn-a"].has_value());
}

}  // namespace
}  // namespace pathpilot::daemon
