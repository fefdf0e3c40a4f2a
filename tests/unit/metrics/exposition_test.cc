#include "metrics/exposition.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace pathpilot::metrics {
namespace {

TEST(ExpositionTest, FamilyWritesHelpAndTypeThenSamples) {
  std::string out;
  ExpositionWriter w(out);
  w.family("pathpilot_path_up", MetricType::Gauge, "1 if usable.");
  w.sample({{"path", "dx"}, {"link", "dx"}}, std::uint64_t{1});
  w.sample({{"path", "vpn-a"}, {"link", "vpn"}}, std::uint64_t{0});
  EXPECT_EQ(out,
            "# HELP pathpilot_path_up 1 if usable.\n"
            "# TYPE pathpilot_path_up gauge\n"
            "pathpilot_path_up{path=\"dx\",link=\"dx\"} 1\n"
            "pathpilot_path_up{path=\"vpn-a\",link=\"vpn\"} 0\n");
}

TEST(ExpositionTest, SampleWithoutLabelsHasNoBraces) {
  std::string out;
  ExpositionWriter w(out);
  w.family("x_total", MetricType::Counter, "h");
  w.sample({}, std::uint64_t{18446744073709551615ULL});
  EXPECT_NE(out.find("\nx_total 18446744073709551615\n"), std::string::npos) << out;
}

TEST(ExpositionTest, LabelValuesAreEscaped) {
  std::string out;
  appendEscapedLabelValue(out, "a\\b\"c\nd");
  EXPECT_EQ(out, "a\\\\b\\\"c\\nd");
}

TEST(ExpositionTest, HelpKeepsQuotesButEscapesBackslashAndNewline) {
  std::string out;
  appendEscapedHelp(out, "say \"hi\"\\\nbye");
  EXPECT_EQ(out, "say \"hi\"\\\\\\nbye");
}

TEST(ExpositionTest, InvalidUtf8IsReplacedValidUtf8Kept) {
  std::string out;
  appendEscapedLabelValue(out, "北京");
  EXPECT_EQ(out, "北京");
  out.clear();
  appendEscapedLabelValue(out, std::string("a\xff" "b\xc3", 4));  // stray byte, truncated seq
  EXPECT_EQ(out, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD");
  out.clear();
  appendEscapedLabelValue(out, "\xED\xA0\x80");  // a UTF-16 surrogate encoded in UTF-8
  EXPECT_EQ(out, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  out.clear();
  appendEscapedLabelValue(out, "\xC0\xAF");  // overlong '/'
  EXPECT_EQ(out, "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(ExpositionTest, ValuesUseShortestFormAndPrometheusSpecials) {
  auto v = [](double d) {
    std::string s;
    appendValue(s, d);
    return s;
  };
  EXPECT_EQ(v(0.1), "0.1");
  EXPECT_EQ(v(0), "0");
  EXPECT_EQ(v(1.5), "1.5");
  EXPECT_EQ(v(-2), "-2");
  EXPECT_EQ(v(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(v(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(v(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(std::stod(v(1e-05)), 1e-05);
  EXPECT_EQ(std::stod(v(123456789.123)), 123456789.123);
}

TEST(ExpositionTest, NameGrammar) {
  EXPECT_TRUE(isValidMetricName("pathpilot_path_up"));
  EXPECT_TRUE(isValidMetricName("a:b_c9"));
  EXPECT_FALSE(isValidMetricName("9abc"));
  EXPECT_FALSE(isValidMetricName("a-b"));
  EXPECT_FALSE(isValidMetricName(""));
  EXPECT_TRUE(isValidLabelName("route_table"));
  EXPECT_FALSE(isValidLabelName("__name__"));
  EXPECT_FALSE(isValidLabelName("a:b"));
  EXPECT_FALSE(isValidLabelName("1a"));
}

TEST(ExpositionTest, HistogramIsCumulativeWithInfSumAndCount) {
  static constexpr std::array<double, 3> kBounds = {0.01, 0.1, 1};
  Histogram h(kBounds);
  h.observe(0.005);
  h.observe(0.01);  // le is inclusive
  h.observe(0.05);
  h.observe(7);
  std::string out;
  ExpositionWriter w(out);
  w.family("rtt_seconds", MetricType::Histogram, "RTT.");
  w.histogram({{"path", "dx"}}, h);
  EXPECT_EQ(out,
            "# HELP rtt_seconds RTT.\n"
            "# TYPE rtt_seconds histogram\n"
            "rtt_seconds_bucket{path=\"dx\",le=\"0.01\"} 2\n"
            "rtt_seconds_bucket{path=\"dx\",le=\"0.1\"} 3\n"
            "rtt_seconds_bucket{path=\"dx\",le=\"1\"} 3\n"
            "rtt_seconds_bucket{path=\"dx\",le=\"+Inf\"} 4\n"
            "rtt_seconds_sum{path=\"dx\"} 7.065\n"
            "rtt_seconds_count{path=\"dx\"} 4\n");
}

TEST(ExpositionTest, HistogramIgnoresNaN) {
  Histogram h(kRttBucketsSeconds);
  h.observe(std::nan(""));
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.sum(), 0);
}

TEST(ExpositionTest, HistogramMergeAddsCounts) {
  Histogram a(kRttBucketsSeconds);
  Histogram b(kRttBucketsSeconds);
  a.observe(0.001);
  b.observe(0.001);
  b.observe(3);
  a.merge(b);
  EXPECT_EQ(a.count(), 3u);
  EXPECT_EQ(a.counts()[1], 2u);
  EXPECT_EQ(a.counts().back(), 0u);  // 3 s is within the 5 s bucket
}

TEST(ExpositionDeathTest, FamilyTwiceAborts) {
  std::string out;
  ExpositionWriter w(out);
  w.family("a", MetricType::Gauge, "h");
  EXPECT_DEATH(w.family("a", MetricType::Gauge, "h"), "written twice");
}

TEST(ExpositionDeathTest, InvalidLabelNameAborts) {
  std::string out;
  ExpositionWriter w(out);
  w.family("a", MetricType::Gauge, "h");
  EXPECT_DEATH(w.sample({{"bad-name", "x"}}, 1.0), "invalid label name");
}

}  // namespace
}  // namespace pathpilot::metrics
