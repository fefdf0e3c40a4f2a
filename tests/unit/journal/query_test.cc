#include "journal/query.h"

#include <gtest/gtest.h>

#include "samples.h"

namespace pathpilot::journal {
namespace {

using testing::fullEvent;
using testing::sampleTime;

TEST(FtsMatchExpressionTest, QuotesEveryWord) {
  EXPECT_EQ(ftsMatchExpression("timeout"), "\"timeout\"");
  EXPECT_EQ(ftsMatchExpression("  link   down "), "\"link\" \"down\"");
  EXPECT_EQ(ftsMatchExpression("\"link down\" dx"), "\"link down\" \"dx\"");
  EXPECT_EQ(ftsMatchExpression(""), "");
  EXPECT_EQ(ftsMatchExpression("   "), "");
  EXPECT_EQ(ftsMatchExpression("\"\""), "");
}

TEST(FtsMatchExpressionTest, TrailingStarMakesAPrefix) {
  EXPECT_EQ(ftsMatchExpression("time*"), "\"time\"*");
  EXPECT_EQ(ftsMatchExpression("i-0e14**"), "\"i-0e14\"*");
  EXPECT_EQ(ftsMatchExpression("\"link dow\"*"), "\"link dow\"*");
  EXPECT_EQ(ftsMatchExpression("\"link dow*\""), "\"link dow*\"");  // inside quotes: literal
  EXPECT_EQ(ftsMatchExpression("a*b"), "\"a*b\"");                     // not trailing: literal
  EXPECT_EQ(ftsMatchExpression("*"), "\"*\"");                         // alone: literal
  EXPECT_EQ(ftsMatchExpression("\"\"*"), "\"*\"");  // nothing to make a prefix of
}

TEST(FtsMatchExpressionTest, OperatorsAndQuotesAreNeutralised) {
  EXPECT_EQ(ftsMatchExpression("a OR b"), "\"a\" \"OR\" \"b\"");
  EXPECT_EQ(ftsMatchExpression("NOT x"), "\"NOT\" \"x\"");
  EXPECT_EQ(ftsMatchExpression("message:foo"), "\"message:foo\"");
  EXPECT_EQ(ftsMatchExpression("(a"), "\"(a\"");
  EXPECT_EQ(ftsMatchExpression("NEAR(a b)"), "\"NEAR(a\" \"b)\"");
  // An unterminated quote runs to the end; a quote inside a word splits it.
  EXPECT_EQ(ftsMatchExpression("\"unterminated phrase"), "\"unterminated phrase\"");
  EXPECT_EQ(ftsMatchExpression("it\"s"), "\"it\" \"s\"");
  // Control characters never reach the expression.
  EXPECT_EQ(ftsMatchExpression("a\nb\tc"), "\"a\" \"b\" \"c\"");
  EXPECT_EQ(ftsMatchExpression(std::string("a\0b", 3)), "\"a\" \"b\"");
}

TEST(QueryMatchesTest, EmptyQueryMatchesEverything) {
  EXPECT_TRUE(matches(Query{}, fullEvent()));
  EXPECT_TRUE(matches(Query{}, Event{}));
}

TEST(QueryMatchesTest, EachFieldFilter) {
  Event e = fullEvent();
  e.seq = 10;
  auto check = [&](auto set, bool expected) {
    Query q;
    set(q);
    EXPECT_EQ(matches(q, e), expected);
  };
  check([](Query& q) { q.site = "Beijing"; }, true);
  check([](Query& q) { q.site = "beijing"; }, false);
  check([](Query& q) { q.path = "dx"; }, true);
  check([](Query& q) { q.path = "vpn-a"; }, false);
  check([](Query& q) { q.link = Link::Dx; }, true);
  check([](Query& q) { q.link = Link::Vpn; }, false);
  check([](Query& q) { q.kind = EventKind::RouteChanged; }, true);
  check([](Query& q) { q.kind = EventKind::PathDown; }, false);
  check([](Query& q) { q.route_table = "rtb-468f5222"; }, true);
  check([](Query& q) { q.route_table = "rtb-4b8f522f"; }, false);
  check([](Query& q) { q.min_severity = Severity::Info; }, true);
  check([](Query& q) { q.min_severity = Severity::Warning; }, true);
  check([](Query& q) { q.min_severity = Severity::Critical; }, false);
  check([](Query& q) { q.since = sampleTime(); }, true);
  check([](Query& q) { q.since = sampleTime(1); }, false);
  check([](Query& q) { q.until = sampleTime(1); }, true);
  check([](Query& q) { q.until = sampleTime(); }, false);
  check([](Query& q) { q.after_seq = 9; }, true);
  check([](Query& q) { q.after_seq = 10; }, false);
  check([](Query& q) { q.before_seq = 11; }, true);
  check([](Query& q) { q.before_seq = 10; }, false);
}

TEST(QueryMatchesTest, TextFollowsFtsRules) {
  Event e = fullEvent();  // message: "rtb-468f5222 10.10.0.0/16 moved from DX to vpn-a"
                          // reason: "loss 100% over 10 probes to 10.10.3.100"
  auto text = [&](const std::string& t) {
    Query q;
    q.text = t;
    return matches(q, e);
  };
  EXPECT_TRUE(text("moved"));
  EXPECT_TRUE(text("MOVED"));
  EXPECT_FALSE(text("mov"));             // whole tokens only ...
  EXPECT_TRUE(text("mov*"));             // ... unless asked for a prefix
  EXPECT_TRUE(text("probes moved"));     // words may come from different fields
  EXPECT_TRUE(text("10.10.3"));          // token sequence 10 10 3 inside 10.10.3.100
  EXPECT_FALSE(text("10.10.3.1"));       // 1 is not the token 100 ...
  EXPECT_TRUE(text("10.10.3.1*"));       // ... but its prefix
  EXPECT_TRUE(text("\"from d\"*"));      // phrase with prefix
  EXPECT_TRUE(text("\"from dx\""));      // phrase
  EXPECT_FALSE(text("\"dx from\""));     // phrase order matters
  EXPECT_FALSE(text("oved*"));           // not a substring search
  EXPECT_FALSE(text("moved nothere"));   // every word must match
  EXPECT_FALSE(text("***"));             // no letters or digits: nothing
  EXPECT_TRUE(text("moved ***"));        // but a word without tokens is ignored among others
  EXPECT_TRUE(text("   "));              // blank: no filter
  EXPECT_FALSE(text("moved OR nothere")); // OR is just a word
}

}  // namespace
}  // namespace pathpilot::journal
