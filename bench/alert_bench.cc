// alert_bench: the costs on the alert path — grouping a DX failure, rendering, building and
// signing requests, and the durable outbox round trip (which dominates delivery latency).
//   ./build/bench/alert_bench
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <filesystem>

#include "alert/http_channels.h"
#include "alert/incident.h"
#include "alert/outbox.h"
#include "alert/render.h"

namespace pathpilot::alert {
namespace {

journal::Event ev(journal::EventKind kind, WallTime t, std::string path, std::string table = "",
                  std::string from = "", std::string to = "") {
  auto e = journal::makeEvent(kind, t, "Beijing");
  e.path = std::move(path);
  e.route_table = std::move(table);
  e.from = std::move(from);
  e.to = std::move(to);
  e.reason = "loss 100% over 10 probes";
  return e;
}

// One DX failure: path_down + route_changed × N, grouped into one alert.
void BM_GroupDxFailure(benchmark::State& state) {
  const int tables = static_cast<int>(state.range(0));
  MonoTime now{std::chrono::hours(1)};
  WallTime wall{std::chrono::hours(500000)};
  for (auto _ : state) {
    IncidentTracker t(TrackerOptions{std::chrono::seconds(30), std::chrono::hours(4)});
    t.onEvent(ev(journal::EventKind::PathDown, wall, "dx"), now);
    for (int i = 0; i < tables; ++i) {
      t.onEvent(ev(journal::EventKind::RouteChanged, wall, "vpn-a", "rtb-" + std::to_string(i),
                   "dx", "vpn-a"),
                now);
    }
    auto alerts = t.due(now + std::chrono::seconds(30));
    benchmark::DoNotOptimize(alerts);
  }
  state.SetItemsProcessed(state.iterations() * (tables + 1));
}
BENCHMARK(BM_GroupDxFailure)->Arg(20)->Arg(1000);

Alert sampleAlert(int tables) {
  MonoTime now{std::chrono::hours(1)};
  WallTime wall{std::chrono::hours(500000)};
  IncidentTracker t(TrackerOptions{std::chrono::seconds(30), std::chrono::hours(4)});
  t.onEvent(ev(journal::EventKind::PathDown, wall, "dx"), now);
  for (int i = 0; i < tables; ++i) {
    t.onEvent(ev(journal::EventKind::RouteChanged, wall, "vpn-a", "rtb-" + std::to_string(i), "dx",
                 "vpn-a"),
              now);
  }
  return t.flushAll().at(0);
}

void BM_RenderDefault(benchmark::State& state) {
  Alert a = sampleAlert(20);
  for (auto _ : state) {
    auto n = makeNotification(a, ChannelTemplates{}, "chat");
    benchmark::DoNotOptimize(n);
  }
}
BENCHMARK(BM_RenderDefault);

void BM_BuildDingTalkSigned(benchmark::State& state) {
  Alert a = sampleAlert(20);
  Notification n = makeNotification(a, ChannelTemplates{}, "ding");
  HttpChannelOptions o{"ding", config::AlertChannelKind::DingTalk,
                       "https://oapi.dingtalk.com/robot/send?access_token=abc", "SECxyz", "",
                       std::chrono::seconds(5), ""};
  WallTime now{std::chrono::hours(500000)};
  for (auto _ : state) {
    auto r = buildHttpRequest(o, n, now);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_BuildDingTalkSigned);

// enqueue + head + markSent on a file-backed outbox (WAL, synchronous=FULL): two fsyncs.
void BM_OutboxRoundTrip(benchmark::State& state) {
  auto dir = std::filesystem::temp_directory_path() / ("pp_alert_bench_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto box = Outbox::open((dir / "alerts.db").string());
  if (!box) {
    state.SkipWithError(box.error().message().c_str());
    return;
  }
  Notification n = makeNotification(sampleAlert(20), ChannelTemplates{}, "chat");
  WallTime now{std::chrono::hours(500000)};
  for (auto _ : state) {
    auto id = (*box)->enqueue(n, now);
    auto head = (*box)->head("chat");
    auto sent = (*box)->markSent(*id, now);
    benchmark::DoNotOptimize(head);
    benchmark::DoNotOptimize(sent);
  }
  box->reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_OutboxRoundTrip)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace pathpilot::alert

BENCHMARK_MAIN();
