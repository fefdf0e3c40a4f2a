// policy/evidence.h and policy/fail_static.h: the rules the engine applies around decide().
#include <gtest/gtest.h>

#include "policy/evidence.h"
#include "policy/fail_static.h"

namespace pathpilot::policy {
namespace {

using health::PathState;

std::vector<PathStatus> statuses(std::initializer_list<PathState> states) {
  std::vector<PathStatus> out;
  for (auto s : states) {
    PathStatus st;
    st.state = s;
    st.reason = "health says so";
    out.push_back(st);
  }
  return out;
}

TEST(EvidenceTest, AUsablePathWhoseLatestProbeFailedIsUnknownForTheDecision) {
  auto in = statuses({PathState::Up, PathState::Degraded, PathState::Down, PathState::Up});
  std::vector<PathEvidence> ev(4);
  ev[0].suspect = true;
  ev[1].suspect = true;
  ev[2].suspect = true;  // Down already: health has concluded
  std::vector<PathStatus> out;
  decisionInput(in, ev, out);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].state, PathState::Unknown);
  EXPECT_EQ(out[1].state, PathState::Unknown);
  EXPECT_EQ(out[2].state, PathState::Down);
  EXPECT_EQ(out[3].state, PathState::Up);
  EXPECT_EQ(out[0].reason, "health says so");  // only the state is weighed
  EXPECT_EQ(in[0].state, PathState::Up);       // the input is left as it is
}

TEST(EvidenceTest, AFailureTheGroupDisputesOrHasNotConfirmedIsNoEvidence) {
  auto in = statuses(
      {PathState::Down, PathState::Degraded, PathState::Down, PathState::Up, PathState::Down});
  std::vector<PathEvidence> ev(5);
  ev[0].disputed = true;
  ev[1].unconfirmed = true;
  ev[3].disputed = true;  // usable: nothing to dispute
  ev[3].unconfirmed = true;
  std::vector<PathStatus> out;
  decisionInput(in, ev, out);
  EXPECT_EQ(out[0].state, PathState::Unknown);
  EXPECT_EQ(out[1].state, PathState::Unknown);
  EXPECT_EQ(out[2].state, PathState::Down);  // agreed
  EXPECT_EQ(out[3].state, PathState::Up);
  EXPECT_EQ(out[4].state, PathState::Down);
}

RouteDecision route(const std::string& table, const std::string& dest, const std::string& path,
                    bool changed) {
  RouteDecision r;
  r.table = table;
  r.destination = *IpPrefix::parse(dest);
  r.path = path;
  r.changed = changed;
  return r;
}

TEST(EvidenceTest, AnUnlistedTableKeepsItsPreviousDecisionUnchanged) {
  DecisionSet previous;
  previous.routes = {route("rtb-1", "10.10.0.0/16", "dx", false),
                     route("rtb-2", "10.10.0.0/16", "dx", false)};
  DecisionSet next;
  next.routes = {route("rtb-1", "10.10.0.0/16", "vpn-a", true),
                 route("rtb-2", "10.10.0.0/16", "vpn-a", true),
                 route("rtb-3", "10.10.0.0/16", "vpn-a", true)};  // added by a reload
  holdUnlisted({true, false, false}, previous, next);
  EXPECT_EQ(next.routes[0].path, "vpn-a");
  EXPECT_TRUE(next.routes[0].changed);
  EXPECT_EQ(next.routes[1].path, "dx");
  EXPECT_FALSE(next.routes[1].changed);
  EXPECT_EQ(next.routes[2].path, "vpn-a");  // no previous decision to keep
}

DecisionSet withFailStatic(std::initializer_list<std::pair<const char*, const char*>> routes) {
  DecisionSet d;
  for (const auto& [table, dest] : routes) {
    auto r = route(table, dest, "dx", false);
    r.fail_static = true;
    r.reason = std::string("nothing usable for ") + dest;
    d.routes.push_back(r);
  }
  d.routes.push_back(route("rtb-ok", "10.10.0.0/16", "vpn-a", false));
  return d;
}

TEST(FailStaticReportTest, StartAndEndAreSaidOncePerTable) {
  FailStaticReport report;
  const std::vector<std::string> tables = {"rtb-1", "rtb-2", "rtb-ok"};
  auto started = report.update(
      withFailStatic(
          {{"rtb-1", "10.10.0.0/16"}, {"rtb-1", "10.20.0.0/16"}, {"rtb-2", "10.30.0.0/16"}}),
      tables);
  ASSERT_EQ(started.size(), 2u);
  EXPECT_EQ(started[0].table, "rtb-1");
  EXPECT_TRUE(started[0].started);
  EXPECT_EQ(started[0].destinations, (std::vector<std::string>{"10.10.0.0/16", "10.20.0.0/16"}));
  EXPECT_EQ(started[0].reason, "nothing usable for 10.10.0.0/16");
  EXPECT_EQ(started[0].message,
            "no healthy path for rtb-1 (10.10.0.0/16, 10.20.0.0/16): routes kept as they are "
            "(fail static)");
  EXPECT_EQ(started[1].table, "rtb-2");
  EXPECT_TRUE(report.inFailStatic("rtb-1"));
  EXPECT_FALSE(report.inFailStatic("rtb-ok"));

  // The same again: nothing to say.
  EXPECT_TRUE(
      report.update(withFailStatic({{"rtb-1", "10.10.0.0/16"}, {"rtb-2", "10.30.0.0/16"}}), tables)
          .empty());
  // rtb-2 heals.
  auto ended = report.update(withFailStatic({{"rtb-1", "10.10.0.0/16"}}), tables);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].table, "rtb-2");
  EXPECT_FALSE(ended[0].started);
  EXPECT_EQ(ended[0].message, "a path is healthy again for rtb-2: fail static ended");
  EXPECT_FALSE(report.inFailStatic("rtb-2"));
}

TEST(FailStaticReportTest, ATableThatLeftTheConfigIsForgotten) {
  FailStaticReport report;
  ASSERT_EQ(report.update(withFailStatic({{"rtb-1", "10.10.0.0/16"}}), {"rtb-1"}).size(), 1u);
  // A reload drops rtb-1: no "ended" for a table that is not there.
  EXPECT_TRUE(report.update(DecisionSet{}, {}).empty());
  EXPECT_FALSE(report.inFailStatic("rtb-1"));
  // Added back while still without a healthy path: it starts again, said again.
  EXPECT_EQ(report.update(withFailStatic({{"rtb-1", "10.10.0.0/16"}}), {"rtb-1"}).size(), 1u);
}

}  // namespace
}  // namespace pathpilot::policy
