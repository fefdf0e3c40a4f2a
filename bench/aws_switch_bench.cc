// aws_switch_bench — how long switching N VPC route tables takes against the fake EC2
// endpoint with a fixed API latency (issue 6, item 10: 50 tables at 50 ms, goal ≤ 1 s).
//
// Two ways, each over real loopback HTTP with SigV4 signing and verification:
//   parallel:   the daemon's path — route::Reconciler on a runtime::ThreadPoolExecutor (the
//               daemon's 4 workers unless --threads says otherwise) driving Ec2RouteTables
//               of one Ec2RouteBackend (pool of --concurrency curl handles, the config's
//               backends.aws.max_concurrency); timed from the policy's setDesired() for every
//               table until the reconciler reports every table synced;
//   sequential: the classic script's way — one ReplaceRoute after another on one connection.
// Each round flips every table between the VGW and a gateway instance, so every round is a
// real change (one ReplaceRoute per table). Prints min / median / max over --rounds rounds.
//
//   aws_switch_bench [--tables 50] [--latency-ms 50] [--rounds 7] [--concurrency 4]
//                    [--threads 4]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <asio.hpp>

#include "aws/credential_providers.h"
#include "aws/fake_endpoint.h"
#include "http/curl_http_client.h"
#include "route/aws/ec2_route_table.h"
#include "route/reconciler.h"
#include "runtime/executor.h"

namespace pathpilot {
namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  int tables = 50;
  int latency_ms = 50;
  int rounds = 7;
  int concurrency = 4;
  int threads = 4;
};

constexpr const char* kKey = "AKIDBENCH0000000001";
constexpr const char* kSecret = "benchSecretKeyNotRealbenchSecretKeyNotReal";
constexpr const char* kVgw = "vgw-078bcc55";
constexpr const char* kInstance = "i-0e1466e8a5dd4892c";

std::string tableId(int i) { return fmt::format("rtb-{:08x}", 0x10000000 + i); }

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

void printSummary(const char* what, std::vector<double> v) {
  std::sort(v.begin(), v.end());
  std::printf("%-44s min %7.1f ms   median %7.1f ms   max %7.1f ms\n", what, v.front() * 1e3,
              v[v.size() / 2] * 1e3, v.back() * 1e3);
}

// The daemon's way: reconciler + executor + backend pool. Returns the time per round.
std::vector<double> runParallel(const Args& a, aws::FakeAwsEndpoint& fake, const RealClock& clock,
                                aws::CredentialsProvider& creds) {
  route::Ec2RouteBackendOptions o;
  o.region = "us-east-1";
  o.endpoint_url = fake.url();
  o.max_concurrency = static_cast<std::size_t>(a.concurrency);
  auto backend = route::Ec2RouteBackend::create(o, http::curlClients(), creds, clock);
  if (!backend) {
    std::fprintf(stderr, "backend: %s\n", backend.error().message().c_str());
    std::exit(1);
  }
  std::vector<std::unique_ptr<route::RouteTable>> tables;
  for (int i = 0; i < a.tables; ++i) {
    tables.push_back(std::move(*(*backend)->openTable(tableId(i))));
  }
  asio::io_context io;
  runtime::ThreadPoolExecutor executor(io, static_cast<std::size_t>(a.threads));
  int changes = 0;
  int errors = 0;
  route::ReconcilerCallbacks cb;
  cb.route_changed = [&](const route::RouteChangedEvent&) { ++changes; };
  cb.route_error = [&](const route::RouteErrorEvent& e) {
    ++errors;
    std::fprintf(stderr, "route error: %s\n", e.error.message().c_str());
  };
  route::ReconcilerOptions ro;
  ro.full_check_interval = Duration::zero();  // no periodic lists inside the timing
  route::Reconciler reconciler(executor, clock, cb, ro);
  for (auto& t : tables) {
    reconciler.addTable(*t, clock.now());
  }
  const auto dst = *IpPrefix::parse("10.10.0.0/16");
  auto setAll = [&](const char* target, const char* path) {
    for (int i = 0; i < a.tables; ++i) {
      if (!reconciler.setDesired({tableId(i), dst}, {route::NextHop::opaque(target), path},
                                 clock.now())) {
        std::fprintf(stderr, "setDesired failed\n");
        std::exit(1);
      }
    }
  };
  // Runs completions and polls until every table is synced (bounded: 60 s).
  auto settle = [&] {
    auto deadline = Clock::now() + std::chrono::seconds(60);
    reconciler.poll(clock.now());
    while (!reconciler.allSynced() && Clock::now() < deadline) {
      io.run_for(std::chrono::milliseconds(1));
      io.restart();
      reconciler.poll(clock.now());
    }
    if (!reconciler.allSynced()) {
      std::fprintf(stderr, "parallel: tables did not converge\n");
      std::exit(1);
    }
  };
  // Adoption (the start-up list of every table) is not part of the switch.
  setAll(kVgw, "dx");
  reconciler.start(clock.now());
  settle();
  std::vector<double> out;
  for (int r = 0; r < a.rounds; ++r) {
    const bool to_gateway = r % 2 == 0;
    int before = changes;
    auto t0 = Clock::now();
    setAll(to_gateway ? kInstance : kVgw, to_gateway ? "vpn-a" : "dx");
    settle();
    out.push_back(seconds(Clock::now() - t0));
    if (changes - before != a.tables || errors != 0) {
      std::fprintf(stderr, "parallel: %d changes, %d errors in round %d\n", changes - before,
                   errors, r);
      std::exit(1);
    }
  }
  return out;
}

// The classic script's way: ReplaceRoute for one table after another.
std::vector<double> runSequential(const Args& a, aws::FakeAwsEndpoint& fake, const RealClock& clock,
                                  aws::CredentialsProvider& creds) {
  route::Ec2RouteBackendOptions o;
  o.region = "us-east-1";
  o.endpoint_url = fake.url();
  o.max_concurrency = 1;
  auto backend = route::Ec2RouteBackend::create(o, http::curlClients(), creds, clock);
  if (!backend) {
    std::exit(1);
  }
  const auto dst = *IpPrefix::parse("10.10.0.0/16");
  std::vector<double> out;
  for (int r = 0; r < a.rounds; ++r) {
    const auto target = *aws::RouteTarget::fromId(r % 2 == 0 ? kInstance : kVgw);
    auto t0 = Clock::now();
    for (int i = 0; i < a.tables; ++i) {
      if (auto ok = (*backend)->ec2().replaceRoute(tableId(i), dst, target); !ok) {
        std::fprintf(stderr, "sequential: %s\n", ok.error().message().c_str());
        std::exit(1);
      }
    }
    out.push_back(seconds(Clock::now() - t0));
  }
  return out;
}

int run(const Args& a) {
  RealClock clock;
  aws::FakeAwsOptions fo;
  fo.keys = {{kKey, kSecret}};
  fo.faults.latency_rate = 1.0;
  fo.faults.latency = std::chrono::milliseconds(a.latency_ms);
  aws::FakeAwsEndpoint fake(fo);
  if (auto s = fake.start(); !s) {
    std::fprintf(stderr, "%s\n", s.error().message().c_str());
    return 1;
  }
  fake.addInstance(kInstance);
  for (int i = 0; i < a.tables; ++i) {
    fake.addRouteTable(tableId(i));
    fake.putRoute(tableId(i), "10.10.0.0/16", *aws::RouteTarget::fromId(kVgw));
  }
  aws::StaticCredentialsProvider creds{aws::Credentials(kKey, kSecret)};

  std::printf("switching %d route tables, %d ms API latency, %d rounds\n", a.tables, a.latency_ms,
              a.rounds);
  printSummary(
      fmt::format("parallel (concurrency {}, {} workers)", a.concurrency, a.threads).c_str(),
      runParallel(a, fake, clock, creds));
  auto before = fake.stats();
  printSummary("sequential (one ReplaceRoute after another)", runSequential(a, fake, clock, creds));
  auto after = fake.stats();
  std::printf(
      "fake: %llu requests, %llu signature rejections; parallel run: at most %llu in "
      "flight\n",
      static_cast<unsigned long long>(after.requests),
      static_cast<unsigned long long>(after.rejected_signatures),
      static_cast<unsigned long long>(before.max_in_flight));
  return 0;
}

}  // namespace
}  // namespace pathpilot

int main(int argc, char** argv) {
  pathpilot::Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (v <= 0) {
      std::fprintf(stderr, "%s needs a positive number\n", k.c_str());
      return 2;
    }
    if (k == "--tables") {
      a.tables = v;
    } else if (k == "--latency-ms") {
      a.latency_ms = v;
    } else if (k == "--rounds") {
      a.rounds = v;
    } else if (k == "--concurrency") {
      a.concurrency = v;
    } else if (k == "--threads") {
      a.threads = v;
    } else {
      std::fprintf(stderr,
                   "usage: aws_switch_bench [--tables N] [--latency-ms MS] [--rounds N] "
                   "[--concurrency N] [--threads N]\n");
      return 2;
    }
  }
  return pathpilot::run(a);
}
