#include "journal/event.h"

#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "samples.h"

namespace pathpilot::journal {
namespace {

using testing::fullEvent;
using testing::sampleTime;

TEST(EventKindTest, EveryKindHasAUniqueNameThatParsesBack) {
  std::set<std::string_view> names;
  for (EventKind kind : allEventKinds()) {
    std::string_view name = eventKindName(kind);
    EXPECT_FALSE(name.empty());
    EXPECT_TRUE(names.insert(name).second) << name;
    auto parsed = parseEventKind(name);
    ASSERT_TRUE(parsed) << name;
    EXPECT_EQ(*parsed, kind);
  }
  EXPECT_EQ(names.size(), allEventKinds().size());
}

TEST(EventKindTest, NamesAreTheStableOnes) {
  // These strings are stored and shipped to log pipelines: changing one breaks users.
  EXPECT_EQ(eventKindName(EventKind::PathDown), "path_down");
  EXPECT_EQ(eventKindName(EventKind::RouteChanged), "route_changed");
  EXPECT_EQ(eventKindName(EventKind::RecoverySucceeded), "recovery_succeeded");
  EXPECT_EQ(eventKindName(EventKind::FailStatic), "fail_static");
  EXPECT_EQ(eventKindName(EventKind::JournalOverflow), "journal_overflow");
  EXPECT_EQ(eventKindName(EventKind::DaemonStopped), "daemon_stopped");
}

TEST(EventKindTest, UnknownKindIsAnErrorListingValidOnes) {
  auto r = parseEventKind("path_sideways");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::InvalidArgument);
  EXPECT_NE(r.error().message().find("path_sideways"), std::string::npos);
  EXPECT_NE(r.error().message().find("path_down"), std::string::npos);
  EXPECT_FALSE(parseEventKind(""));
  EXPECT_FALSE(parseEventKind("PATH_DOWN"));
}

TEST(SeverityTest, ParsesAndOrders) {
  EXPECT_EQ(*parseSeverity("info"), Severity::Info);
  EXPECT_EQ(*parseSeverity("warning"), Severity::Warning);
  EXPECT_EQ(*parseSeverity("critical"), Severity::Critical);
  EXPECT_FALSE(parseSeverity("fatal"));
  EXPECT_LT(Severity::Info, Severity::Warning);
  EXPECT_LT(Severity::Warning, Severity::Critical);
  EXPECT_EQ(defaultSeverity(EventKind::PathDown), Severity::Critical);
  EXPECT_EQ(defaultSeverity(EventKind::PathDegraded), Severity::Warning);
  EXPECT_EQ(defaultSeverity(EventKind::PathUp), Severity::Info);
  EXPECT_EQ(defaultSeverity(EventKind::FailStatic), Severity::Critical);
}

TEST(LinkTest, ParsesDxVpnAndEmpty) {
  EXPECT_EQ(*parseLink("dx"), Link::Dx);
  EXPECT_EQ(*parseLink("vpn"), Link::Vpn);
  EXPECT_EQ(*parseLink(""), Link::None);
  EXPECT_FALSE(parseLink("DX"));
  EXPECT_FALSE(parseLink("mpls"));
}

TEST(EventTest, MakeEventUsesDefaultSeverity) {
  Event e = makeEvent(EventKind::RecoveryFailed, sampleTime(), "Singapore");
  EXPECT_EQ(e.kind, EventKind::RecoveryFailed);
  EXPECT_EQ(e.severity, Severity::Critical);
  EXPECT_EQ(e.site, "Singapore");
  EXPECT_EQ(e.time, sampleTime());
}

TEST(EventTest, MillisecondHelpers) {
  WallTime t = sampleTime() + std::chrono::microseconds(999);
  EXPECT_EQ(truncateToMillis(t), sampleTime());
  EXPECT_EQ(toUnixMillis(sampleTime()), 1795611172123);
  EXPECT_EQ(fromUnixMillis(1795611172123), sampleTime());
  // Before the epoch rounds down, not toward zero.
  EXPECT_EQ(toUnixMillis(WallTime(std::chrono::microseconds(-1))), -1);
}

TEST(EventJsonTest, LineHasStableKeysInDocumentedOrder) {
  Event e = fullEvent();
  e.seq = 42;
  EXPECT_EQ(toJsonLine(e),
            R"({"time":"2026-11-25T12:52:52.123Z","seq":42,"site":"Beijing",)"
            R"("kind":"route_changed","severity":"warning","path":"dx","link":"dx",)"
            R"("route_table":"rtb-468f5222","destination":"10.10.0.0/16",)"
            R"("from":"vgw-078bcc55","to":"i-0e1466e8a5dd4892c",)"
            R"("reason":"loss 100% over 10 probes to 10.10.3.100",)"
            R"("message":"rtb-468f5222 10.10.0.0/16 moved from DX to vpn-a"})");
}

TEST(EventJsonTest, EmptyFieldsAreOmittedButCoreFieldsStay) {
  Event e = makeEvent(EventKind::DaemonStarted, sampleTime(), "");
  EXPECT_EQ(toJsonLine(e),
            R"({"time":"2026-11-25T12:52:52.123Z","site":"","kind":"daemon_started",)"
            R"("severity":"info"})");
  nlohmann::json j = toJson(e);
  EXPECT_FALSE(j.contains("seq"));
  EXPECT_FALSE(j.contains("link"));
  EXPECT_FALSE(j.contains("message"));
  EXPECT_TRUE(j.contains("site"));
}

TEST(EventJsonTest, RoundTripsEveryField) {
  Event e = fullEvent();
  e.seq = 7;
  auto back = parseJsonLine(toJsonLine(e));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, e);
  auto from_object = eventFromJson(toJson(e));
  ASSERT_TRUE(from_object);
  EXPECT_EQ(*from_object, e);

  Event minimal = makeEvent(EventKind::ConfigLoaded, sampleTime(5), "Singapore");
  auto minimal_back = parseJsonLine(toJsonLine(minimal));
  ASSERT_TRUE(minimal_back);
  EXPECT_EQ(*minimal_back, minimal);
}

TEST(EventJsonTest, EscapesAndUnicodeSurvive) {
  Event e = fullEvent();
  e.message = "quote \" backslash \\ newline \n tab \t 北京 — ünï";
  e.reason = std::string("nul\0byte", 8);
  std::string line = toJsonLine(e);
  EXPECT_EQ(line.find('\n'), std::string::npos) << "one event must stay on one line";
  auto back = parseJsonLine(line);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->message, e.message);
  EXPECT_EQ(back->reason, e.reason);
}

TEST(EventJsonTest, InvalidUtf8IsReplacedNotThrown) {
  Event e = fullEvent();
  e.message = "bad \xff\xfe bytes";
  std::string line;
  ASSERT_NO_THROW(line = toJsonLine(e));
  auto back = parseJsonLine(line);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->message, "bad \xEF\xBF\xBD\xEF\xBF\xBD bytes");
}

TEST(EventJsonTest, ReaderIgnoresUnknownKeysAndDefaultsSeverity) {
  auto e = parseJsonLine(
      R"({"time":"2026-11-25T12:52:52.123Z","site":"Beijing","kind":"path_down","future":1})");
  ASSERT_TRUE(e) << e.error().message();
  EXPECT_EQ(e->kind, EventKind::PathDown);
  EXPECT_EQ(e->severity, Severity::Critical);
  EXPECT_EQ(e->seq, 0u);
}

TEST(EventJsonTest, BadInputNamesTheField) {
  struct Case {
    const char* json;
    const char* expect;
  };
  const Case cases[] = {
      {R"({"site":"x","kind":"path_down"})", "\"time\""},
      {R"({"time":"yesterday","kind":"path_down"})", "\"time\""},
      {R"({"time":"2026-11-25T12:52:52Z","kind":"path_sideways"})", "\"kind\""},
      {R"({"time":"2026-11-25T12:52:52Z","kind":"path_up","severity":"meh"})", "\"severity\""},
      {R"({"time":"2026-11-25T12:52:52Z","kind":"path_up","link":"mpls"})", "\"link\""},
      {R"({"time":"2026-11-25T12:52:52Z","kind":"path_up","site":5})", "\"site\""},
      {R"({"time":"2026-11-25T12:52:52Z","kind":"path_up","seq":-3})", "\"seq\""},
      {R"({"time":"2026-11-25T12:52:52Z","kind":"path_up","seq":"7"})", "\"seq\""},
      {R"([1,2])", "object"},
      {R"({"time":)", "malformed JSON"},
      {"", "malformed JSON"},
  };
  for (const Case& c : cases) {
    auto r = parseJsonLine(c.json);
    ASSERT_FALSE(r) << c.json;
    EXPECT_EQ(r.error().code(), ErrorCode::InvalidArgument) << c.json;
    EXPECT_NE(r.error().message().find(c.expect), std::string::npos)
        << c.json << " → " << r.error().message();
  }
}

}  // namespace
}  // namespace pathpilot::journal
