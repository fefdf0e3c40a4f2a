// tests/fakes/fake_aws.h — the in-process fake AWS endpoint and clients pointed at it, for tests.
//
// Tests of AWS code run the real stack (QueryClient, SigV4, curl) against aws::FakeAwsEndpoint
// on 127.0.0.1, port 0, which verifies every signature. This header holds what each of them
// set up alike: the test key pair, a clock the fake's server threads can read while the test
// moves it, starting the fake with route tables and instances, and a Query API client for it
// whose retries never sleep.
// Threading: SharedClock is safe to read from any thread; the rest is set-up code for the test
// thread. No metrics.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aws/credential_providers.h"
#include "aws/ec2.h"
#include "aws/endpoints.h"
#include "aws/fake_endpoint.h"
#include "aws/query_client.h"
#include "base/time.h"
#include "http/http_client.h"

namespace pathpilot::testing {

// The AWS documentation's example key pair; FakeAwsOptions accepts it by default.
inline constexpr char kAwsKeyId[] = "AKIDEXAMPLE";
inline constexpr char kAwsSecret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

// A Clock that the test moves and other threads (the fake's server threads timing instance
// transitions, a backend's workers) read: an atomic offset from the same origin as FakeClock.
class SharedClock final : public Clock {
 public:
  MonoTime now() const override {
    return MonoTime(std::chrono::hours(1)) + Duration(offset_.load());
  }
  WallTime wallNow() const override {
    return WallTime(std::chrono::hours(490000)) +
           std::chrono::duration_cast<WallTime::duration>(Duration(offset_.load()));
  }
  void advance(Duration d) { offset_ += d.count(); }

 private:
  std::atomic<Duration::rep> offset_{0};
};

struct FakeAwsInstance {
  std::string id;
  std::string state = "running";  // "running", "stopped", "pending", "stopping"
  std::string availability_zone = "us-east-1a";  // the fake's own default
};

// Starts a fake endpoint with `options` (host 127.0.0.1 and port 0 unless set otherwise),
// holding `route_tables` (empty) and `instances`. Null, with a test failure saying why, when
// it cannot listen: callers ASSERT_TRUE on the result.
[[nodiscard]] inline std::unique_ptr<aws::FakeAwsEndpoint> startFakeAws(
    const aws::FakeAwsOptions& options, const std::vector<std::string>& route_tables = {},
    const std::vector<FakeAwsInstance>& instances = {}) {
  auto fake = std::make_unique<aws::FakeAwsEndpoint>(options);
  if (auto started = fake->start(); !started) {
    ADD_FAILURE() << "fake AWS endpoint: " << started.error().toString();
    return nullptr;
  }
  for (const auto& id : route_tables) {
    fake->addRouteTable(id);
  }
  for (const auto& i : instances) {
    fake->addInstance(i.id, i.state, i.availability_zone);
  }
  return fake;
}

// Which Query API a client speaks (default: EC2).
struct FakeAwsApi {
  std::string api_name = "EC2";
  std::string service = "ec2";
  std::string_view version = aws::kEc2ApiVersion;
};

// A QueryClient for `api` in ap-southeast-1 whose endpoint is `endpoint_url` (the fake's
// url()), timeout 5 s. Retries draw jitter 0.5 and hand their backoff to `sleep`, which by
// default returns at once: unit tests never sleep. `http`, `credentials` and `clock` must
// outlive the client.
[[nodiscard]] inline std::unique_ptr<aws::QueryClient> fakeAwsQueryClient(
    const std::string& endpoint_url, http::HttpClient& http, aws::CredentialsProvider& credentials,
    const Clock& clock, const FakeAwsApi& api = {},
    std::function<void(Duration)> sleep = [](Duration) {}) {
  aws::QueryClientOptions o;
  o.api_name = api.api_name;
  o.endpoint = *aws::resolveEndpoint(api.service, "ap-southeast-1", endpoint_url);
  o.version = std::string(api.version);
  o.timeout = std::chrono::seconds(5);
  return std::make_unique<aws::QueryClient>(http, credentials, clock, o,
                                            aws::RetryHooks{[] { return 0.5; }, std::move(sleep)});
}

}  // namespace pathpilot::testing
