// daemon/aws_tables.h — opens EC2 route tables for the daemon (backend `aws`).
//
// Purpose: owns what every EC2 route table of a daemon shares: one credentials chain (env,
// shared files/profile, IMDSv2 instance role), the HTTP client IMDS is asked through, and one
// Ec2RouteBackend (region or endpoint_url from `backends.aws`, a bounded pool of EC2
// connections). Created on the first aws table, so a Linux-only daemon never touches IMDS.
// Threading: open() runs on the engine thread; the tables it returns are called on route
// workers (Ec2RouteBackend is safe for that). apiCalls() may be called from any thread.
// Metrics: every EC2 request, by operation and outcome, with its duration (apiCalls():
// pathpilot_aws_api_calls_total and pathpilot_aws_api_request_duration_seconds).
#pragma once

#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "aws/credential_providers.h"
#include "base/error.h"
#include "config/config.h"
#include "http/curl_http_client.h"
#include "metrics/daemon_metrics.h"
#include "route/aws/ec2_route_table.h"

namespace pathpilot::daemon {

class AwsTables {
 public:
  explicit AwsTables(const Clock& clock) : clock_(clock) {}

  // The EC2 route table `table.id` (rtb-…). Errors name the missing region or the bad id.
  [[nodiscard]] Result<std::unique_ptr<route::RouteTable>> open(
      const config::Config& config, const config::RouteTableConfig& table);

  // The EC2 client the tables use (same credentials, region, connection pool and metrics), for
  // the ec2-restart recovery action. Valid as long as this object. Errors as open().
  [[nodiscard]] Result<aws::Ec2Client*> ec2(const config::Config& config);

  // What every EC2 request so far came to: counts by operation and outcome, and durations.
  std::pair<std::vector<metrics::AwsCallCount>, std::vector<metrics::AwsCallLatency>> apiCalls()
      const;
  // Records one request (the QueryAttemptObserver of the EC2 client); thread-safe.
  void recordAttempt(const aws::QueryAttempt& attempt);

 private:
  // Creates the shared backend on first use (a Linux-only daemon never does).
  [[nodiscard]] Result<route::Ec2RouteBackend*> backend(const config::Config& config);

  const Clock& clock_;
  mutable std::mutex calls_mu_;
  metrics::AwsCallTotals calls_;  // guarded by calls_mu_
  std::unique_ptr<http::CurlHttpClient> imds_http_;
  std::unique_ptr<aws::CredentialsProvider> credentials_;
  std::unique_ptr<route::Ec2RouteBackend> backend_;
};

}  // namespace pathpilot::daemon
