// agent/cloudwatch_publisher.h — sends the agent's data points to Amazon CloudWatch.
//
// Purpose: MetricPublisher is the side-effect interface the agent publishes through (Real:
// CloudWatch PutMetricData over HTTPS, signed with SigV4; tests: a fake or the fake AWS
// endpoint). CloudWatchPublisher wires aws/: the endpoint of `monitoring` in the configured
// region — China regions (cn-north-1 Beijing, cn-northwest-1 Ningxia) resolve to
// monitoring.<region>.amazonaws.com.cn in partition aws-cn — the default credential chain
// (environment, shared files/profile, then IMDSv2 on the gateway instance), libcurl, and the
// standard retry mode.
//
// Threading: put() blocks for the whole exchange (with retries); the agent calls it from its
// own publisher thread, never from the poll loop.
// Metrics: counted by the agent (pathpilot_agent_cloudwatch_*).
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "agent/agent_config.h"
#include "aws/cloudwatch.h"
#include "aws/credential_providers.h"
#include "aws/query_client.h"
#include "base/error.h"
#include "base/time.h"
#include "http/http_client.h"

namespace pathpilot::agent {

class MetricPublisher {
 public:
  virtual ~MetricPublisher() = default;
  // Publishes `data` under `metric_namespace`, in as many requests as needed.
  [[nodiscard]] virtual Result<aws::PutMetricDataResult> put(
      std::string_view metric_namespace, const std::vector<aws::MetricDatum>& data) = 0;
};

class CloudWatchPublisher final : public MetricPublisher {
 public:
  // Resolves the endpoint and sets up credentials (nothing is sent yet), on one client from
  // `http` (the agent passes http::curlClients()). `credentials` nullptr: the default chain
  // with settings.profile. Errors: InvalidArgument (region, URL).
  [[nodiscard]] static Result<std::unique_ptr<CloudWatchPublisher>> create(
      const CloudWatchSettings& settings, const Clock& clock, const http::HttpClientFactory& http,
      std::unique_ptr<aws::CredentialsProvider> credentials = nullptr);
  ~CloudWatchPublisher() override;

  // agent::MetricPublisher
  [[nodiscard]] Result<aws::PutMetricDataResult> put(
      std::string_view metric_namespace, const std::vector<aws::MetricDatum>& data) override;

  // Where the requests go (for the start-up log line).
  std::string endpointDescription() const;

 private:
  CloudWatchPublisher() = default;

  std::unique_ptr<http::HttpClient> http_;
  std::unique_ptr<aws::CredentialsProvider> credentials_;
  std::unique_ptr<aws::QueryClient> query_;
  std::unique_ptr<aws::CloudWatchClient> cloudwatch_;
};

}  // namespace pathpilot::agent
