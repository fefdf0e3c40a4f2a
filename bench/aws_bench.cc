// Benchmarks for the aws module: SigV4 signing, response parsing, request building, and one
// full signed call over loopback to the fake endpoint (CurlHttpClient, keep-alive).
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "aws/cloudwatch.h"
#include "aws/credential_providers.h"
#include "aws/ec2.h"
#include "aws/fake_endpoint.h"
#include "aws/sigv4.h"
#include "http/curl_http_client.h"

namespace pathpilot::aws {
namespace {

const std::filesystem::path kResponses =
    std::filesystem::path(PP_SOURCE_DIR "/tests/data/aws/responses");

std::string readFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    throw std::runtime_error("test data not readable: " + p.string());
  }
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

SigV4Request replaceRouteRequest() {
  SigV4Request r;
  r.method = "POST";
  r.path = "/";
  r.headers = {{"Host", "ec2.ap-southeast-1.amazonaws.com"},
               {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
               {"User-Agent", "pathpilot"}};
  r.body = encodeQueryBody(routeRequest(true, "rtb-468f5222", *IpPrefix::parse("10.10.0.0/16"),
                                        *RouteTarget::fromId("i-0e1466e8a5dd4892c")));
  return r;
}

SigV4Params params() {
  SigV4Params p;
  p.region = "ap-southeast-1";
  p.service = "ec2";
  p.time = *parseAmzDate("20261125T130204Z");
  return p;
}

// One ReplaceRoute signature with an instance-role session token (the production case).
void BM_SigV4SignHeaders(benchmark::State& state) {
  SigV4Request r = replaceRouteRequest();
  Credentials c("ASIAROLEKEY00001", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                std::string(800, 't'));
  SigV4Params p = params();
  for (auto _ : state) {
    auto sig = signHeaders(r, c, p);
    benchmark::DoNotOptimize(sig);
  }
}
BENCHMARK(BM_SigV4SignHeaders);

void BM_SigV4Presign(benchmark::State& state) {
  SigV4Request r = replaceRouteRequest();
  Credentials c("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
  SigV4Params p = params();
  for (auto _ : state) {
    auto sig = presignQuery(r, c, p);
    benchmark::DoNotOptimize(sig);
  }
}
BENCHMARK(BM_SigV4Presign);

void BM_SigV4DeriveKey(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        deriveSigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20261125", "ap-southeast-1",
                         "ec2"));
  }
}
BENCHMARK(BM_SigV4DeriveKey);

// The fake endpoint's side: verify a signed request.
void BM_SigV4Verify(benchmark::State& state) {
  SigV4Request r = replaceRouteRequest();
  Credentials c("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
  auto sig = signHeaders(r, c, params());
  for (const auto& h : sig->added_headers) {
    r.headers.push_back(h);
  }
  SecretLookup lookup = [](std::string_view) {
    return std::optional<std::string>("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
  };
  for (auto _ : state) {
    auto v = verifyHeaderSignature(r, lookup, params().time);
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_SigV4Verify);

void BM_ParseDescribeRouteTables(benchmark::State& state, const char* file) {
  std::string body = readFile(kResponses / file);
  for (auto _ : state) {
    auto page = parseDescribeRouteTables(body);
    benchmark::DoNotOptimize(page);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}
BENCHMARK_CAPTURE(BM_ParseDescribeRouteTables, botocore, "ec2/DescribeRouteTables-botocore.xml");
BENCHMARK_CAPTURE(BM_ParseDescribeRouteTables, moto, "ec2/DescribeRouteTables-moto-reconstructed.xml");

void BM_ParseDescribeInstances44KB(benchmark::State& state) {
  std::string body = readFile(kResponses / "ec2/DescribeInstances-jclouds-many-terminated.xml");
  for (auto _ : state) {
    auto page = parseDescribeInstances(body);
    benchmark::DoNotOptimize(page);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ParseDescribeInstances44KB);

void BM_ParseAwsError(benchmark::State& state) {
  std::string body = readFile(kResponses / "ec2/Error-RequestLimitExceeded.xml");
  for (auto _ : state) {
    benchmark::DoNotOptimize(parseAwsError(503, body));
  }
}
BENCHMARK(BM_ParseAwsError);

// Packing 1000 data points (5 dimensions each) into PutMetricData requests and encoding them.
void BM_PutMetricDataBatch1000(benchmark::State& state) {
  std::vector<MetricDatum> data;
  for (int i = 0; i < 1000; ++i) {
    MetricDatum d;
    d.name = "PathRttMs";
    d.value = 12.5 + i;
    d.unit = "Milliseconds";
    d.dimensions = {{"Site", "Singapore"}, {"Path", "vpn-a"}, {"Link", "vpn"},
                    {"RouteTable", "rtb-468f5222"}, {"Target", "169.254.100.1"}};
    data.push_back(d);
  }
  for (auto _ : state) {
    auto reqs = putMetricDataRequests("Pathpilot", data);
    std::size_t bytes = 0;
    for (const auto& r : *reqs) {
      bytes += encodeQueryBody(r).size();
    }
    benchmark::DoNotOptimize(bytes);
  }
}
BENCHMARK(BM_PutMetricDataBatch1000);

// One ReplaceRoute over loopback: sign, POST with keep-alive, fake verifies and answers,
// parse. What a route change costs us apart from AWS's own latency.
void BM_FakeEndpointReplaceRoute(benchmark::State& state) {
  FakeAwsEndpoint fake;
  if (!fake.start()) {
    state.SkipWithError("cannot start the fake endpoint");
    return;
  }
  fake.addRouteTable("rtb-468f5222");
  fake.putRoute("rtb-468f5222", "10.10.0.0/16", *RouteTarget::fromId("vgw-078bcc55"));
  fake.addInstance("i-0e1466e8a5dd4892c");
  RealClock clock;
  http::CurlHttpClient http;
  StaticCredentialsProvider creds(
      Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"));
  QueryClientOptions o;
  o.api_name = "EC2";
  o.endpoint = *resolveEndpoint("ec2", "ap-southeast-1", fake.url());
  o.version = std::string(kEc2ApiVersion);
  QueryClient q(http, creds, clock, o);
  Ec2Client ec2(q);
  auto dst = *IpPrefix::parse("10.10.0.0/16");
  RouteTarget targets[2] = {*RouteTarget::fromId("i-0e1466e8a5dd4892c"),
                            *RouteTarget::fromId("vgw-078bcc55")};
  std::size_t i = 0;
  for (auto _ : state) {
    auto r = ec2.replaceRoute("rtb-468f5222", dst, targets[i++ % 2]);
    if (!r) {
      state.SkipWithError(r.error().message().c_str());
      break;
    }
  }
}
BENCHMARK(BM_FakeEndpointReplaceRoute)->UseRealTime();

}  // namespace
}  // namespace pathpilot::aws

BENCHMARK_MAIN();
