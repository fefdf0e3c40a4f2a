#include "alert/render.h"

#include <gtest/gtest.h>

#include "alert/incident.h"
#include "alert_test_util.h"
#include "config/message_template.h"
#include "fakes/fake_clock.h"

namespace pathpilot::alert {
namespace {

using journal::EventKind;
using testing::event;

Alert dxIncident(pathpilot::testing::FakeClock& clock, int tables) {
  IncidentTracker t(TrackerOptions{std::chrono::seconds(30), std::chrono::hours(4)});
  t.onEvent(event(EventKind::PathDown, clock.wallNow(), "dx"), clock.now());
  for (int i = 0; i < tables; ++i) {
    t.onEvent(event(EventKind::RouteChanged, clock.wallNow(), "vpn-a", "rtb-" + std::to_string(i),
                    "dx", "vpn-a"),
              clock.now());
  }
  clock.advance(std::chrono::seconds(30));
  auto alerts = t.due(clock.now());
  EXPECT_EQ(alerts.size(), 1u);
  return alerts.at(0);
}

TEST(RenderTest, DefaultTitleIsShortAndSaysWhatMovedWhere) {
  pathpilot::testing::FakeClock clock;
  Alert a = dxIncident(clock, 20);
  Notification n = makeNotification(a, ChannelTemplates{}, "chat");
  EXPECT_EQ(n.title, "[FIRING] Beijing: dx down: 20 route tables moved dx → vpn-a");
  EXPECT_LT(n.title.size(), 80u);
  EXPECT_NE(n.body.find("reason: loss 100% over 10 probes"), std::string::npos);
  EXPECT_NE(n.body.find("route tables: rtb-0, rtb-1, rtb-2, rtb-3, rtb-4 (+15 more)"),
            std::string::npos);
  EXPECT_NE(n.body.find("path: dx (dx)"), std::string::npos);
  EXPECT_NE(n.body.find("events (21):"), std::string::npos);
  EXPECT_EQ(n.fingerprint, "Beijing/path/dx");
  EXPECT_EQ(n.route_tables.size(), 20u);
}

TEST(RenderTest, CustomTemplatesSubstituteFields) {
  pathpilot::testing::FakeClock clock;
  Alert a = dxIncident(clock, 2);
  config::AlertTemplates global{"{status} {site}/{path}: {tables_count} tables {from}->{to}",
                                "{summary}\n{{literal}}\nreason={reason}"};
  auto t = compileTemplates(global, {});
  ASSERT_TRUE(t) << t.error().message();
  Notification n = makeNotification(a, *t, "chat");
  EXPECT_EQ(n.title, "FIRING Beijing/dx: 2 tables dx->vpn-a");
  EXPECT_EQ(n.body, "dx down: 2 route tables moved dx → vpn-a\n{literal}\nreason=loss 100% over "
                    "10 probes");
}

TEST(RenderTest, ChannelTemplateOverridesGlobal) {
  auto t = compileTemplates({"global {site}", ""}, {"mine {path}", ""});
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->title.uses("path"));
  EXPECT_FALSE(t->title.uses("site"));
}

TEST(RenderTest, UnknownFieldIsAnErrorNamingIt) {
  auto t = config::parseTemplate("{site}: {sumary}");
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message().find("unknown field {sumary}"), std::string::npos);
  EXPECT_NE(t.error().message().find("did you mean {summary}"), std::string::npos);
  EXPECT_FALSE(config::parseTemplate("{site"));
  EXPECT_FALSE(config::parseTemplate("site}"));
  EXPECT_FALSE(config::parseTemplate("{Site}"));
  EXPECT_FALSE(config::parseTemplate("{}"));
}

TEST(RenderTest, OneLineCutsAtUtf8Boundary) {
  std::string text = "a\nb" + std::string(300, 'x');
  std::string line = oneLine(text, 20);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_LE(line.size(), 20u);
  std::string cjk;
  for (int i = 0; i < 100; ++i) {
    cjk += "北";
  }
  std::string cut = oneLine(cjk, 50);
  EXPECT_LE(cut.size(), 50u);
  EXPECT_EQ((cut.size() - 3) % 3, 0u);  // whole characters + "…"
}

TEST(RenderTest, ResolvedSummarySaysHowLong) {
  pathpilot::testing::FakeClock clock;
  IncidentTracker t(TrackerOptions{std::chrono::seconds(30), std::chrono::hours(4)});
  t.onEvent(event(EventKind::PathDown, clock.wallNow(), "dx"), clock.now());
  clock.advance(std::chrono::seconds(30));
  t.due(clock.now());
  clock.advance(std::chrono::seconds(162));
  t.onEvent(event(EventKind::PathUp, clock.wallNow(), "dx"), clock.now());
  clock.advance(std::chrono::seconds(30));
  auto alerts = t.due(clock.now());
  ASSERT_EQ(alerts.size(), 1u);
  Notification n = makeNotification(alerts[0], ChannelTemplates{}, "chat");
  EXPECT_EQ(n.title, "[RESOLVED] Beijing: dx up again after 3m12s");
  ASSERT_TRUE(n.ends_at.has_value());
}

config::AlertSettings routedSettings() {
  config::AlertSettings s;
  for (const char* name : {"mail", "chat", "am"}) {
    config::AlertChannelConfig c;
    c.name = name;
    s.channels.push_back(c);
  }
  config::AlertRoute critical_dx;
  critical_dx.channels = {"chat"};
  critical_dx.min_severity = config::AlertSeverity::Critical;
  critical_dx.links = {config::LinkKind::Dx};
  config::AlertRoute everything;
  everything.channels = {"am"};
  everything.min_severity = config::AlertSeverity::Info;
  config::AlertRoute mail_no_resolve;
  mail_no_resolve.channels = {"mail"};
  mail_no_resolve.kinds = {"path_down"};
  mail_no_resolve.sites = {"Beijing"};
  mail_no_resolve.resolved = false;
  s.routes = {critical_dx, everything, mail_no_resolve};
  return s;
}

TEST(RouterTest, MatchesSeverityLinkKindSiteAndResolved) {
  pathpilot::testing::FakeClock clock;
  Router router(routedSettings());
  Alert a = dxIncident(clock, 1);
  EXPECT_EQ(router.channelsFor(a), (std::vector<std::string>{"chat", "am", "mail"}));
  a.status = AlertStatus::Resolved;
  EXPECT_EQ(router.channelsFor(a), (std::vector<std::string>{"chat", "am"}));
  a.brief = true;  // a brief alert is routed like a firing one
  EXPECT_EQ(router.channelsFor(a), (std::vector<std::string>{"chat", "am", "mail"}));
  Alert vpn = a;
  vpn.brief = false;
  vpn.status = AlertStatus::Firing;
  vpn.opening.link = journal::Link::Vpn;
  vpn.opening.site = "Singapore";
  EXPECT_EQ(router.channelsFor(vpn), (std::vector<std::string>{"am"}));
  Alert info = a;
  info.status = AlertStatus::Firing;
  info.brief = false;
  info.severity = journal::Severity::Info;
  EXPECT_EQ(router.channelsFor(info), (std::vector<std::string>{"am"}));
}

TEST(RouterTest, NoRoutesMeansWarningAndAboveToEveryChannel) {
  config::AlertSettings s = routedSettings();
  s.routes.clear();
  Router router(s);
  pathpilot::testing::FakeClock clock;
  Alert a = dxIncident(clock, 1);
  EXPECT_EQ(router.channelsFor(a).size(), 3u);
  a.severity = journal::Severity::Info;
  EXPECT_TRUE(router.channelsFor(a).empty());
}

}  // namespace
}  // namespace pathpilot::alert
