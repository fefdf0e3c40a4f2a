// probe_load — drives ProbeEngine against N consecutive IPv4 targets for a fixed time and
// prints throughput and CPU cost per probe, in the same terms as the fping comparison.
//
//   probe_load --first 198.19.0.1 --count 1000 --interval 20ms --duration 10s [--mode ping]
//
// Output: one line of key=value pairs (see main). CPU is this process's user+system time
// from getrusage, i.e. including the kernel work done in our send/receive system calls.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "probe/probe_engine.h"

using namespace pathpilot;

namespace {

double toSeconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; }

Duration parseOrDie(const std::string& text) {
  auto d = parseDuration(text);
  if (!d) {
    std::fprintf(stderr, "%s\n", d.error().toString().c_str());
    std::exit(2);
  }
  return *d;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Load-test the pathpilot ICMP prober");
  std::string first = "198.19.0.1";
  int count = 1000;
  std::string interval_text = "20ms";
  std::string timeout_text = "1s";
  std::string duration_text = "10s";
  std::string mode_text = "auto";
  std::string slack_text = "500us";
  unsigned jitter = 10;
  app.add_option("--first", first, "first target address (IPv4)");
  app.add_option("--count", count, "number of consecutive target addresses");
  app.add_option("--interval", interval_text, "probe interval per target");
  app.add_option("--timeout", timeout_text, "probe timeout");
  app.add_option("--duration", duration_text, "how long to probe");
  app.add_option("--mode", mode_text, "auto | ping | raw");
  app.add_option("--slack", slack_text, "engine timer slack");
  app.add_option("--jitter", jitter, "jitter percent");
  CLI11_PARSE(app, argc, argv);

  auto base = IpAddress::parse(first);
  if (!base || !base->isV4()) {
    std::fprintf(stderr, "--first must be an IPv4 address\n");
    return 2;
  }
  probe::EngineOptions options;
  options.icmp_mode = mode_text == "raw"    ? probe::IcmpMode::Raw
                      : mode_text == "ping" ? probe::IcmpMode::Ping
                                            : probe::IcmpMode::Auto;
  options.timer_slack = parseOrDie(slack_text);
  options.seed = 1;
  const Duration interval = parseOrDie(interval_text);
  const Duration timeout = parseOrDie(timeout_text);
  const Duration duration = parseOrDie(duration_text);

  std::vector<probe::TargetSpec> targets;
  for (int i = 0; i < count; ++i) {
    probe::TargetSpec s;
    s.path = "bench";
    s.index = static_cast<std::uint32_t>(i);
    s.address = IpAddress::v4FromHostOrder(base->v4HostOrder() + static_cast<std::uint32_t>(i));
    s.interval = interval;
    s.timeout = timeout;
    s.jitter_pct = jitter;
    targets.push_back(s);
  }

  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  RealClock clock;
  probe::ProbeEngine engine(io, clock, options);
  std::uint64_t ok = 0;
  std::uint64_t failed = 0;
  double rtt_sum_us = 0;
  std::string first_error;
  engine.setSink([&](const probe::ProbeResult& r) {
    if (r.success) {
      ++ok;
      rtt_sum_us += static_cast<double>(r.rtt.count()) / 1e3;
    } else {
      ++failed;
      if (first_error.empty()) {
        first_error = r.error;
      }
    }
  });
  if (auto r = engine.replaceTargets(targets); !r) {
    std::fprintf(stderr, "%s\n", r.error().toString().c_str());
    return 2;
  }
  rusage before;
  getrusage(RUSAGE_SELF, &before);
  const auto t0 = std::chrono::steady_clock::now();
  engine.start();
  io.run_for(duration);
  engine.stop();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  rusage after;
  getrusage(RUSAGE_SELF, &after);

  const auto c = engine.counters();
  const double user = toSeconds(after.ru_utime) - toSeconds(before.ru_utime);
  const double sys = toSeconds(after.ru_stime) - toSeconds(before.ru_stime);
  std::printf(
      "prober=pathpilot mode=%s targets=%d interval=%s duration_s=%.2f sent=%llu received=%llu "
      "timed_out=%llu late=%llu foreign=%llu send_errors=%llu probes_per_s=%.0f "
      "cpu_user_s=%.3f cpu_sys_s=%.3f cpu_us_per_probe=%.2f cpu_util_pct=%.1f "
      "rtt_avg_us=%.1f max_rss_kb=%ld wakeups=%llu timer_lag_avg_us=%.1f vol_ctxsw=%ld "
      "invol_ctxsw=%ld\n",
      mode_text.c_str(), count, interval_text.c_str(), wall,
      static_cast<unsigned long long>(c.sent), static_cast<unsigned long long>(c.received),
      static_cast<unsigned long long>(c.timed_out), static_cast<unsigned long long>(c.late),
      static_cast<unsigned long long>(c.foreign), static_cast<unsigned long long>(c.send_errors),
      static_cast<double>(c.sent) / wall, user, sys,
      c.sent ? (user + sys) * 1e6 / static_cast<double>(c.sent) : 0.0,
      (user + sys) * 100.0 / wall, ok ? rtt_sum_us / static_cast<double>(ok) : 0.0,
      after.ru_maxrss, static_cast<unsigned long long>(c.timer_wakeups),
      c.timer_wakeups ? static_cast<double>(c.timer_lag_ns) / 1e3 / static_cast<double>(c.timer_wakeups)
                      : 0.0,
      after.ru_nvcsw - before.ru_nvcsw, after.ru_nivcsw - before.ru_nivcsw);
  if (!first_error.empty()) {
    std::printf("first_error=%s\n", first_error.c_str());
  }
  return 0;
}
