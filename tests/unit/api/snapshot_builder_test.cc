#include "api/snapshot_builder.h"

#include <gtest/gtest.h>

#include "fakes/fake_clock.h"
#include "sample_status.h"

namespace pathpilot::api {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class SnapshotBuilderTest : public ::testing::Test {
 protected:
  pathpilot::testing::FakeClock clock_;
  SnapshotBuilder builder_{clock_.now(), clock_.wallNow()};

  std::shared_ptr<const Snapshot> build(nlohmann::json status = testing::sampleStatus()) {
    SnapshotInputs in;
    in.status = std::move(status);
    in.module_families = {metrics::counterFamily("pathpilot_probe_sent_total", "Sent.", 77)};
    return builder_.build(std::move(in), clock_.now(), clock_.wallNow());
  }
};

TEST_F(SnapshotBuilderTest, MetricsComeFromTheStatusDocument) {
  auto snap = build();
  const auto& m = snap->metrics;
  EXPECT_EQ(m.site, "Singapore");
  EXPECT_EQ(m.version, "0.1.0");
  ASSERT_EQ(m.paths.size(), 2u);
  EXPECT_EQ(m.paths[0].name, "dx");
  EXPECT_EQ(m.paths[0].state, "up");
  EXPECT_TRUE(m.paths[0].usable);
  EXPECT_DOUBLE_EQ(m.paths[0].rtt_p50_seconds, 0.0015);
  EXPECT_TRUE(m.paths[1].drained);
  EXPECT_DOUBLE_EQ(m.paths[1].loss_ratio, 0.1);
  double now = std::chrono::duration<double>(clock_.wallNow().time_since_epoch()).count();
  EXPECT_NEAR(m.paths[0].state_since_unix_seconds, now - 172.1, 1e-6);
  ASSERT_EQ(m.routes.size(), 2u);
  EXPECT_EQ(m.routes[1].current_path, "vpn-a");
  EXPECT_EQ(m.routes[1].preferred_path, "dx");
  EXPECT_DOUBLE_EQ(m.routes[1].hold_down_remaining_seconds, 42.0);
  EXPECT_EQ(m.routes[1].sync, "pending");
  ASSERT_EQ(m.module_families.size(), 1u);  // carried as the modules described them
  EXPECT_EQ(m.module_families[0].name, "pathpilot_probe_sent_total");
  EXPECT_DOUBLE_EQ(m.module_families[0].samples.at(0).value, 77);
  EXPECT_EQ(snap->status["engine"]["probe_results"], 1234);
  EXPECT_EQ(snap->generation, 1u);
  EXPECT_EQ(build()->generation, 2u);
}

TEST_F(SnapshotBuilderTest, PrimaryPathsComeFromThePolicyOrder) {
  policy::Topology t;
  t.paths.push_back({"vpn-a", policy::LinkKind::Vpn, "ap-southeast-1a", 100});
  t.paths.push_back({"dx", policy::LinkKind::Dx, "", 10});
  t.paths.push_back({"vpn-b", policy::LinkKind::Vpn, "ap-southeast-1b", 100});
  policy::TableSpec a;
  a.id = "rtb-468f5222";
  a.az = "ap-southeast-1a";
  policy::TableSpec b;
  b.id = "rtb-4b8f522f";
  b.az = "ap-southeast-1b";
  b.allowed_paths = {"vpn-a", "vpn-b"};
  t.tables = {a, b};
  auto primary = primaryPaths(t);
  EXPECT_EQ(primary.at("rtb-468f5222"), "dx");
  EXPECT_EQ(primary.at("rtb-4b8f522f"), "vpn-b");  // own AZ first among VPNs
  SnapshotInputs in;
  in.status = testing::sampleStatus();
  in.primary_paths = std::make_shared<const std::map<std::string, std::string>>(primary);
  auto snap = builder_.build(std::move(in), clock_.now(), clock_.wallNow());
  EXPECT_EQ(snap->metrics.routes[0].primary_path, "dx");
  EXPECT_EQ(snap->metrics.routes[1].primary_path, "vpn-b");
}

TEST_F(SnapshotBuilderTest, ProbesEventsAndLagAreCounted) {
  build();  // learns rtb → backend
  builder_.onProbe("dx", true, milliseconds(2), clock_.now());
  builder_.onProbe("dx", false, milliseconds(0), clock_.now());
  journal::Event down = journal::makeEvent(journal::EventKind::PathDown, clock_.wallNow(), "S");
  down.path = "dx";
  down.to = "down";
  builder_.onEvent(down);
  journal::Event moved = journal::makeEvent(journal::EventKind::RouteChanged, clock_.wallNow(), "S");
  moved.route_table = "rtb-468f5222";
  moved.destination = "10.10.0.0/16";
  builder_.onEvent(moved);
  journal::Event error = journal::makeEvent(journal::EventKind::RouteError, clock_.wallNow(), "S");
  error.route_table = "rtb-4b8f522f";
  builder_.onEvent(error);
  error.route_table = "rtb-unknown";
  builder_.onEvent(error);
  builder_.observeLoopLag(milliseconds(3));
  auto snap = build();
  const auto& dx = snap->metrics.paths[0];
  EXPECT_EQ(dx.totals.sent, 2u);
  EXPECT_EQ(dx.totals.lost, 1u);
  EXPECT_EQ(dx.totals.transitions[3], 1u);
  EXPECT_EQ(snap->metrics.routes[0].changes, 1u);
  EXPECT_EQ(snap->metrics.route_errors_by_backend.at("aws"), 1u);
  EXPECT_EQ(snap->metrics.route_errors_by_backend.at("unknown"), 1u);
  EXPECT_EQ(snap->metrics.loop_lag.count(), 1u);
  EXPECT_DOUBLE_EQ(snap->metrics.loop_lag_last_seconds, 0.003);
}

TEST_F(SnapshotBuilderTest, HistoryIsSharedUntilABucketCloses) {
  builder_.onProbe("dx", true, milliseconds(2), clock_.now());
  auto a = build();
  auto b = build();
  EXPECT_EQ(a->history.get(), b->history.get());
  clock_.advance(seconds(5));
  auto c = build();
  EXPECT_NE(c->history.get(), b->history.get());
  ASSERT_FALSE(c->history->paths.empty());
  EXPECT_EQ(c->history->paths[0].points.size(), 1u);
  auto j = nlohmann::json::parse(c->historyBody());
  EXPECT_EQ(j["bucket_seconds"], 5.0);
  EXPECT_EQ(j["paths"]["dx"][0][1], 1);     // sent
  EXPECT_EQ(j["paths"]["dx"][0][3], 2.0);   // rtt ms
}

TEST_F(SnapshotBuilderTest, RemovedPathsAreForgotten) {
  builder_.onProbe("old", true, milliseconds(2), clock_.now());
  build();
  EXPECT_EQ(builder_.recorder().totals("old"), nullptr);
}

TEST_F(SnapshotBuilderTest, MalformedStatusNeverThrows) {
  for (const char* text :
       {R"(null)", R"([])", R"({"paths": 3})", R"({"paths": [1, "x", {"name": 5, "loss": "a"}]})",
        R"({"routes": [{"route_table": [], "hold_down_remaining_ms": "x"}]})"}) {
    auto snap = build(nlohmann::json::parse(text));
    EXPECT_NO_THROW((void)snap->statusBody()) << text;
    EXPECT_NO_THROW((void)metrics::renderDaemonMetrics(snap->metrics)) << text;
  }
}

TEST_F(SnapshotBuilderTest, StatusBodyIsDumpedOnceAndValidUtf8) {
  auto status = testing::sampleStatus();
  status["paths"][0]["reason"] = std::string("bad \xff byte");
  auto snap = build(status);
  const std::string& a = snap->statusBody();
  const std::string& b = snap->statusBody();
  EXPECT_EQ(&a, &b);
  auto parsed = nlohmann::json::parse(a);
  EXPECT_EQ(parsed["paths"][0]["reason"], "bad \xEF\xBF\xBD byte");
}

TEST(SnapshotStoreTest, PublishAndCurrent) {
  SnapshotStore store;
  EXPECT_EQ(store.current(), nullptr);
  auto s = std::make_shared<Snapshot>();
  s->generation = 7;
  store.publish(s);
  EXPECT_EQ(store.current()->generation, 7u);
  auto held = store.current();
  store.publish(std::make_shared<Snapshot>());
  EXPECT_EQ(held->generation, 7u);  // a reader's snapshot stays valid
}

}  // namespace
}  // namespace pathpilot::api
