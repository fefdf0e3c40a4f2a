#include "journal/text_format.h"

#include <gtest/gtest.h>

#include "samples.h"

namespace pathpilot::journal {
namespace {

using testing::fullEvent;
using testing::sampleTime;
using testing::simpleEvent;

std::vector<std::string> splitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

TEST(FormatEventTableTest, AlignsColumnsAndShowsEveryPart) {
  Event a = fullEvent();
  a.kind = EventKind::RouteChanged;
  a.severity = Severity::Info;
  a.from = "dx";
  a.to = "vpn-a";
  Event b = simpleEvent("Singapore", EventKind::PathDown, 1000, "DX path down");
  b.path = "dx";
  b.reason = "loss 100%";
  std::vector<Event> events = {a, b};
  std::string text = formatEventTable(events);
  auto lines = splitLines(text);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0],
            "TIME                      SEVERITY  SITE       KIND           PATH  TABLE         "
            "FROM→TO   MESSAGE");
  EXPECT_EQ(lines[1],
            "2026-11-25T12:52:52.123Z  info      Beijing    route_changed  dx    rtb-468f5222  "
            "dx→vpn-a  rtb-468f5222 10.10.0.0/16 moved from DX to vpn-a "
            "(loss 100% over 10 probes to 10.10.3.100)");
  EXPECT_EQ(lines[2],
            "2026-11-25T12:52:53.123Z  critical  Singapore  path_down      dx    -             "
            "-         DX path down (loss 100%)");
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(formatEventTable({}), "");
}

TEST(FormatEventTableTest, OneLinePerEventWhateverTheText) {
  Event e = simpleEvent("Beijing", EventKind::RouteError, 0,
                        "line one\nline two\r\x1b[31mred\x1b[0m\t\x7f end");
  std::vector<Event> events = {e};
  auto lines = splitLines(formatEventTable(events));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1].find('\x1b'), std::string::npos);
  EXPECT_NE(lines[1].find("line one line two  [31mred [0m   end"), std::string::npos) << lines[1];
}

TEST(FormatEventTableTest, WideCharactersKeepColumnsAligned) {
  std::vector<Event> events = {simpleEvent("北京", EventKind::PathUp, 0, "a"),
                               simpleEvent("Tokyo", EventKind::PathUp, 0, "b")};
  auto lines = splitLines(formatEventTable(events));
  ASSERT_EQ(lines.size(), 3u);
  // "北京" is 4 columns wide, "Tokyo" 5: both KIND columns start at the same display column.
  auto column_of = [](const std::string& line, const std::string& what) {
    return displayWidth(line.substr(0, line.find(what)));
  };
  EXPECT_EQ(column_of(lines[1], "path_up"), column_of(lines[2], "path_up"));
  EXPECT_EQ(column_of(lines[0], "KIND"), column_of(lines[1], "path_up"));
}

TEST(SanitizeTest, ControlsBecomeSpacesAndBadUtf8IsReplaced) {
  EXPECT_EQ(sanitizeForTerminal("a\nb"), "a b");
  EXPECT_EQ(sanitizeForTerminal("\xc2\x9b" "31m"), " 31m");  // C1 CSI
  EXPECT_EQ(sanitizeForTerminal("ok \xff"), "ok \xEF\xBF\xBD");
  EXPECT_EQ(sanitizeForTerminal("\xE2\x82"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // truncated sequence
  EXPECT_EQ(sanitizeForTerminal("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
  EXPECT_EQ(sanitizeForTerminal("北京 ünï"), "北京 ünï");
}

TEST(DisplayWidthTest, CountsColumns) {
  EXPECT_EQ(displayWidth("abc"), 3u);
  EXPECT_EQ(displayWidth("北京"), 4u);
  EXPECT_EQ(displayWidth("ü→"), 2u);
  EXPECT_EQ(displayWidth(""), 0u);
}

TEST(ParseTimeArgumentTest, DurationsAreBeforeNow) {
  WallTime now = sampleTime();
  EXPECT_EQ(*parseTimeArgument("1h", now), now - std::chrono::hours(1));
  EXPECT_EQ(*parseTimeArgument("90s", now), now - std::chrono::seconds(90));
  EXPECT_EQ(*parseTimeArgument("7d", now), now - std::chrono::hours(24 * 7));
  EXPECT_EQ(*parseTimeArgument("1h30m", now), now - std::chrono::minutes(90));
}

TEST(ParseTimeArgumentTest, Rfc3339IsAbsolute) {
  EXPECT_EQ(*parseTimeArgument("2026-11-25T12:52:52.123Z", WallTime{}), sampleTime());
  EXPECT_EQ(*parseTimeArgument("2026-11-25T20:52:52.123+08:00", WallTime{}), sampleTime());
}

TEST(ParseTimeArgumentTest, BadInputSaysWhatIsExpected) {
  for (const char* bad : {"", "yesterday", "1", "-1h", "2026-11-25", "2026-13-01T00:00:00Z",
                          "1h; rm -rf /"}) {
    auto r = parseTimeArgument(bad, sampleTime());
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::InvalidArgument);
    EXPECT_NE(r.error().message().find("RFC 3339"), std::string::npos) << r.error().message();
  }
}

}  // namespace
}  // namespace pathpilot::journal
