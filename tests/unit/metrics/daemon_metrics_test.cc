#include "metrics/daemon_metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <sstream>

namespace pathpilot::metrics {
namespace {

DaemonMetrics sample() {
  DaemonMetrics m;
  m.site = "Beijing";
  m.version = "0.1.0";
  m.snapshot_unix_seconds = 1700000000.25;
  PathMetrics dx;
  dx.name = "dx";
  dx.link = "dx";
  dx.state = "down";
  dx.usable = false;
  dx.loss_ratio = 1.0;
  dx.totals.sent = 10;
  dx.totals.lost = 4;
  dx.totals.rtt.observe(0.002);
  dx.totals.transitions[3] = 1;
  PathMetrics vpn;
  vpn.name = "vpn-a";
  vpn.link = "vpn";
  vpn.az = "cn-north-1a";
  vpn.state = "up";
  vpn.usable = true;
  vpn.rtt_p50_seconds = 0.012;
  m.paths = {dx, vpn};
  RouteMetrics r;
  r.table = "rtb-468f5222";
  r.table_name = "Private-1";
  r.backend = "aws";
  r.destination = "10.10.0.0/16";
  r.current_path = "vpn-a";
  r.desired_path = "vpn-a";
  r.preferred_path = "dx";
  r.primary_path = "dx";
  r.next_hop = "i-0e1466e8a5dd4892c";
  r.sync = "synced";
  r.hold_down_remaining_seconds = 0;
  r.changes = 2;
  m.routes = {r};
  m.route_errors_by_backend["aws"] = 3;
  // As the prober and the journal describe theirs (probe::metricFamilies, ...).
  m.module_families = {
      counterFamily("pathpilot_probe_sent_total", "Probes handed to the kernel.", 100),
      {"pathpilot_journal_events_total",
       MetricType::Counter,
       "Events offered to the journal, by what became of them.",
       {{{{"result", "accepted"}}, 5}, {{{"result", "written"}}, 4}}},
      gaugeFamily("pathpilot_journal_queue_depth", "Events waiting.", 1),
  };
  m.loop_lag.observe(0.0002);
  m.aws_calls.push_back({"ReplaceRoute", "ok", 7});
  return m;
}

bool contains(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(DaemonMetricsTest, PathSeries) {
  std::string out = renderDaemonMetrics(sample());
  EXPECT_TRUE(contains(out, "pathpilot_build_info{version=\"0.1.0\",site=\"Beijing\"} 1"));
  EXPECT_TRUE(contains(out,
                       "pathpilot_path_up{site=\"Beijing\",path=\"vpn-a\",link=\"vpn\","
                       "az=\"cn-north-1a\"} 1"));
  EXPECT_TRUE(contains(out, "pathpilot_path_up{site=\"Beijing\",path=\"dx\",link=\"dx\",az=\"\"} 0"));
  EXPECT_TRUE(contains(
      out, "pathpilot_path_state{site=\"Beijing\",path=\"dx\",link=\"dx\",state=\"down\"} 1"));
  EXPECT_TRUE(contains(
      out, "pathpilot_path_state{site=\"Beijing\",path=\"dx\",link=\"dx\",state=\"up\"} 0"));
  EXPECT_TRUE(contains(out, "pathpilot_path_loss_ratio{site=\"Beijing\",path=\"dx\",link=\"dx\"} 1"));
  EXPECT_TRUE(contains(out,
                       "pathpilot_path_window_rtt_seconds{site=\"Beijing\",path=\"vpn-a\","
                       "link=\"vpn\",percentile=\"50\"} 0.012"));
  EXPECT_TRUE(contains(
      out, "pathpilot_path_probes_sent_total{site=\"Beijing\",path=\"dx\",link=\"dx\"} 10"));
  EXPECT_TRUE(contains(
      out, "pathpilot_path_probes_lost_total{site=\"Beijing\",path=\"dx\",link=\"dx\"} 4"));
  EXPECT_TRUE(contains(out,
                       "pathpilot_path_probe_rtt_seconds_bucket{site=\"Beijing\",path=\"dx\","
                       "link=\"dx\",le=\"0.0025\"} 1"));
  EXPECT_TRUE(contains(out,
                       "pathpilot_path_transitions_total{site=\"Beijing\",path=\"dx\","
                       "link=\"dx\",to=\"down\"} 1"));
}

TEST(DaemonMetricsTest, RouteSeries) {
  std::string out = renderDaemonMetrics(sample());
  EXPECT_TRUE(contains(out,
                       "pathpilot_route_next_hop_info{site=\"Beijing\",route_table=\"rtb-468f5222\","
                       "table_name=\"Private-1\",destination=\"10.10.0.0/16\",path=\"vpn-a\","
                       "next_hop=\"i-0e1466e8a5dd4892c\",backend=\"aws\"} 1"));
  EXPECT_TRUE(contains(out,
                       "pathpilot_route_on_preferred_path{site=\"Beijing\","
                       "route_table=\"rtb-468f5222\",destination=\"10.10.0.0/16\"} 0"));
  EXPECT_TRUE(contains(out,
                       "pathpilot_route_on_primary_path{site=\"Beijing\","
                       "route_table=\"rtb-468f5222\",destination=\"10.10.0.0/16\"} 0"));
  EXPECT_TRUE(contains(out,
                       "pathpilot_route_in_sync{site=\"Beijing\",route_table=\"rtb-468f5222\","
                       "destination=\"10.10.0.0/16\"} 1"));
  EXPECT_TRUE(contains(out,
                       "pathpilot_route_changes_total{site=\"Beijing\","
                       "route_table=\"rtb-468f5222\",destination=\"10.10.0.0/16\"} 2"));
  EXPECT_TRUE(contains(out, "pathpilot_route_errors_total{backend=\"aws\"} 3"));
  EXPECT_TRUE(contains(out, "pathpilot_routes_pending{backend=\"aws\"} 0"));
}

TEST(DaemonMetricsTest, CountersAndHooks) {
  auto m = sample();
  std::string out = renderDaemonMetrics(m);
  EXPECT_TRUE(contains(out, "pathpilot_probe_sent_total 100"));
  EXPECT_TRUE(contains(out, "# TYPE pathpilot_probe_sent_total counter"));
  EXPECT_TRUE(contains(out, "pathpilot_journal_events_total{result=\"accepted\"} 5"));
  EXPECT_TRUE(contains(out, "pathpilot_journal_events_total{result=\"written\"} 4"));
  EXPECT_TRUE(contains(out, "# TYPE pathpilot_journal_queue_depth gauge"));
  EXPECT_TRUE(contains(out, "pathpilot_journal_queue_depth 1"));
  EXPECT_TRUE(contains(out, "pathpilot_engine_loop_lag_seconds_bucket{le=\"0.00025\"} 1"));
  EXPECT_TRUE(
      contains(out, "pathpilot_aws_api_calls_total{operation=\"ReplaceRoute\",outcome=\"ok\"} 7"));
  EXPECT_EQ(out.find("pathpilot_alert_outbox_depth"), std::string::npos);
  m.alert_outbox_depth = 4;
  m.module_families.clear();
  out = renderDaemonMetrics(m);
  EXPECT_TRUE(contains(out, "pathpilot_alert_outbox_depth 4"));
  EXPECT_EQ(out.find("pathpilot_journal_queue_depth"), std::string::npos);
}

// AWS requests as the daemon reports them (aws::QueryAttempt): counted by operation and
// outcome, timed per operation, rendered as a counter family and a histogram family.
TEST(DaemonMetricsTest, AwsCallTotalsCountAndTime) {
  AwsCallTotals totals;
  totals.record("ReplaceRoute", "throttled", 0.004);
  totals.record("ReplaceRoute", "ok", 0.060);
  totals.record("ReplaceRoute", "ok", 0.070);
  totals.record("DescribeRouteTables", "ok", 0.3);
  auto counts = totals.counts();
  ASSERT_EQ(counts.size(), 3u);
  EXPECT_EQ(counts[0].operation, "DescribeRouteTables");
  EXPECT_EQ(counts[1].outcome, "ok");
  EXPECT_EQ(counts[1].count, 2u);
  EXPECT_EQ(counts[2].outcome, "throttled");
  auto latencies = totals.latencies();
  ASSERT_EQ(latencies.size(), 2u);
  EXPECT_EQ(latencies[1].operation, "ReplaceRoute");
  EXPECT_EQ(latencies[1].seconds.count(), 3u);
  EXPECT_NEAR(latencies[1].seconds.sum(), 0.134, 1e-9);

  DaemonMetrics m;
  m.site = "Beijing";
  m.aws_calls = counts;
  m.aws_call_latency = latencies;
  std::string out = renderDaemonMetrics(m);
  EXPECT_TRUE(
      contains(out, "pathpilot_aws_api_calls_total{operation=\"ReplaceRoute\",outcome=\"ok\"} 2"));
  EXPECT_TRUE(contains(
      out, "pathpilot_aws_api_calls_total{operation=\"ReplaceRoute\",outcome=\"throttled\"} 1"));
  EXPECT_TRUE(contains(out, "# TYPE pathpilot_aws_api_request_duration_seconds histogram"));
  EXPECT_TRUE(
      contains(out,
               "pathpilot_aws_api_request_duration_seconds_bucket{operation=\"ReplaceRoute\","
               "le=\"0.005\"} 1"));
  EXPECT_TRUE(
      contains(out,
               "pathpilot_aws_api_request_duration_seconds_bucket{operation=\"ReplaceRoute\","
               "le=\"0.1\"} 3"));
  EXPECT_TRUE(contains(
      out, "pathpilot_aws_api_request_duration_seconds_count{operation=\"ReplaceRoute\"} 3"));
  EXPECT_TRUE(contains(
      out,
      "pathpilot_aws_api_request_duration_seconds_count{operation=\"DescribeRouteTables\"} 1"));
}

// Structural check of the whole output, independent of promtool (which the integration test
// runs): every sample belongs to the family declared last, no family appears twice, and every
// line is a comment or `name{labels} value`.
TEST(DaemonMetricsTest, OutputIsWellFormed) {
  auto m = sample();
  m.site = "quote\" back\\slash \n newline";
  std::string out = renderDaemonMetrics(m);
  std::istringstream in(out);
  std::string line;
  std::string family;
  std::string type;
  std::map<std::string, int> families;
  const std::regex sample_re(
      R"re(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*",?)*\})? (NaN|[+-]Inf|-?[0-9.e+-]+)$)re");
  int samples = 0;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0) {
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream t(line.substr(7));
      t >> family >> type;
      EXPECT_EQ(++families[family], 1) << family;
      continue;
    }
    std::smatch match;
    ASSERT_TRUE(std::regex_match(line, match, sample_re)) << line;
    std::string name = match[1];
    if (type == "histogram") {
      EXPECT_TRUE(name == family + "_bucket" || name == family + "_sum" ||
                  name == family + "_count")
          << line;
    } else {
      EXPECT_EQ(name, family) << line;
    }
    ++samples;
  }
  EXPECT_GT(samples, 50);
  EXPECT_NE(out.find("site=\"quote\\\" back\\\\slash \\n newline\""), std::string::npos);
}

}  // namespace
}  // namespace pathpilot::metrics
