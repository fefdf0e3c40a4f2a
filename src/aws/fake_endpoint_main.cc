// pathpilot-fake-aws — runs the fake AWS endpoint (aws/fake_endpoint.h) as a process, for the
// network lab and demos. Prints "listening on http://HOST:PORT" on stdout once ready, then
// serves until SIGINT/SIGTERM. Point pathpilot at it with `endpoint_url`, and read its state
// with `curl http://HOST:PORT/_fake/state`, the calls it served (per action and outcome, and
// each one with its table and target) with `curl http://HOST:PORT/_fake/calls?since=SEQ`;
// change fault rates while it runs with
// `curl -d '{"throttle_rate":0.5,"error_rate":0.1}' http://HOST:PORT/_fake/faults`, and take
// a gateway's BGP session down (its propagated routes vanish) or up with
// `curl -d '{"gateway_id":"vgw-078bcc55","up":false}' http://HOST:PORT/_fake/bgp`.
//
//   pathpilot-fake-aws --listen 127.0.0.1:0
//     --route-table rtb-468f5222 --route rtb-468f5222,10.10.0.0/16,vgw-078bcc55
//     --propagated-route rtb-468f5222,10.10.0.0/16,vgw-078bcc55
//     --instance i-0e1466e8a5dd4892c,running,ap-southeast-1a --transition 5s
//     --throttle-rate 0.1 --error-rate 0.02 --latency 300ms --latency-rate 0.2
// (one command line). More clients, each with a key of its own (the call log's "caller" says
// which key signed each call): --key AKID2:SECRET2, repeatable.
//
// Exit codes: 0 after a signal, 1 when it cannot listen, 2 for bad arguments.
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "aws/fake_endpoint.h"
#include "base/time.h"

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  out.push_back(cur);
  return out;
}

int usage(const std::string& what) {
  std::fprintf(stderr, "pathpilot-fake-aws: %s\n", what.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace pathpilot;
  CLI::App app{"In-memory fake of the AWS EC2, SNS and CloudWatch query APIs", "pathpilot-fake-aws"};
  std::string listen = "127.0.0.1:0";
  std::string access_key = "AKIDEXAMPLE";
  std::string secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  std::string region = "us-east-1";
  std::string transition = "2s";
  std::string latency = "0";
  double throttle_rate = 0;
  double error_rate = 0;
  double latency_rate = 0;
  std::uint64_t seed = 1;
  std::vector<std::string> tables, routes, propagated, instances, topics;
  app.add_option("--listen", listen, "HOST:PORT to listen on (port 0: any free port)");
  app.add_option("--access-key", access_key, "access key id accepted for signing")
      ->envname("PP_FAKE_AWS_ACCESS_KEY");
  app.add_option("--secret-key", secret_key, "its secret (env PP_FAKE_AWS_SECRET_KEY)")
      ->envname("PP_FAKE_AWS_SECRET_KEY");
  std::vector<std::string> more_keys;
  app.add_option("--key", more_keys,
                 "another ACCESS_KEY_ID:SECRET accepted for signing (repeatable; the call log "
                 "names which key made each call)");
  app.add_option("--region", region, "region shown in ARNs");
  app.add_option("--route-table", tables, "route table id to create (repeatable)");
  app.add_option("--route", routes, "RTB,CIDR,TARGET route to create (repeatable)");
  app.add_option("--propagated-route", propagated,
                 "RTB,CIDR,VGW route the gateway propagates (origin EnableVgwRoutePropagation; "
                 "repeatable)");
  app.add_option("--instance", instances, "ID[,STATE[,AZ]] instance to create (repeatable)");
  app.add_option("--topic", topics, "SNS topic ARN to accept (default: any)");
  app.add_option("--transition", transition, "time of one stop/start step, e.g. 5s");
  app.add_option("--throttle-rate", throttle_rate, "share of requests throttled (0..1)");
  app.add_option("--error-rate", error_rate, "share of requests failing with 500 (0..1)");
  app.add_option("--latency", latency, "added latency, e.g. 300ms");
  app.add_option("--latency-rate", latency_rate, "share of requests delayed (0..1)");
  app.add_option("--seed", seed, "seed of the fault RNG");
  CLI11_PARSE(app, argc, argv);

  aws::FakeAwsOptions options;
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return usage("--listen must be HOST:PORT");
  }
  options.host = listen.substr(0, colon);
  try {
    options.port = std::stoi(listen.substr(colon + 1));
  } catch (...) {
    return usage("--listen has a bad port");
  }
  options.keys = {{access_key, secret_key}};
  for (const std::string& spec : more_keys) {
    auto sep = spec.find(':');
    if (sep == std::string::npos || sep == 0 || sep + 1 == spec.size()) {
      return usage("--key wants ACCESS_KEY_ID:SECRET, got '" + spec.substr(0, sep) + ":...'");
    }
    options.keys[spec.substr(0, sep)] = spec.substr(sep + 1);
  }
  options.region = region;
  options.seed = seed;
  auto t = parseDuration(transition);
  auto l = parseDuration(latency);
  if (!t || !l) {
    return usage((!t ? t.error() : l.error()).message());
  }
  options.transition = *t;
  options.faults = {throttle_rate, error_rate, latency_rate, *l};
  for (double rate : {throttle_rate, error_rate, latency_rate}) {
    if (rate < 0 || rate > 1) {
      return usage("rates must be between 0 and 1");
    }
  }

  aws::FakeAwsEndpoint fake(options);
  for (const std::string& id : tables) {
    fake.addRouteTable(id);
  }
  for (const std::string& spec : routes) {
    auto parts = split(spec, ',');
    if (parts.size() != 3) {
      return usage("--route wants RTB,CIDR,TARGET, got '" + spec + "'");
    }
    auto target = aws::RouteTarget::fromId(parts[2]);
    if (!target) {
      return usage(target.error().message());
    }
    fake.putRoute(parts[0], parts[1], *target);
  }
  for (const std::string& spec : propagated) {
    auto parts = split(spec, ',');
    if (parts.size() != 3 || parts[2].rfind("vgw-", 0) != 0) {
      return usage("--propagated-route wants RTB,CIDR,vgw-..., got '" + spec + "'");
    }
    fake.propagateRoute(parts[0], parts[1], parts[2]);
  }
  for (const std::string& spec : instances) {
    auto parts = split(spec, ',');
    fake.addInstance(parts[0], parts.size() > 1 ? parts[1] : "running",
                     parts.size() > 2 ? parts[2] : region + "a");
  }
  for (const std::string& arn : topics) {
    fake.addTopic(arn);
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // server threads inherit the mask
  if (auto started = fake.start(); !started) {
    std::fprintf(stderr, "pathpilot-fake-aws: %s\n", started.error().message().c_str());
    return 1;
  }
  std::printf("listening on %s\n", fake.url().c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  fake.stop();
  return 0;
}
