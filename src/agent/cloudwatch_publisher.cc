#include "agent/cloudwatch_publisher.h"

#include "aws/endpoints.h"
#include "aws/shared_config.h"

namespace pathpilot::agent {

Result<std::unique_ptr<CloudWatchPublisher>> CloudWatchPublisher::create(
    const CloudWatchSettings& settings, const Clock& clock, const http::HttpClientFactory& http,
    std::unique_ptr<aws::CredentialsProvider> credentials) {
  auto endpoint = aws::resolveEndpoint("monitoring", settings.region, settings.endpoint_url);
  if (!endpoint) {
    return fail(endpoint.error().withContext("cloudwatch"));
  }
  std::unique_ptr<CloudWatchPublisher> p(new CloudWatchPublisher());
  http::ClientOptions client;
  client.user_agent = "pathpilot-agent";
  p->http_ = http(client);
  if (credentials) {
    p->credentials_ = std::move(credentials);
  } else {
    aws::DefaultChainOptions chain;
    chain.profile = settings.profile;
    p->credentials_ =
        aws::makeDefaultCredentialsChain(aws::processEnvironment(), *p->http_, clock, chain);
  }
  aws::QueryClientOptions qo;
  qo.api_name = "CloudWatch";
  qo.endpoint = *endpoint;
  qo.version = std::string(aws::kCloudWatchApiVersion);
  qo.timeout = std::chrono::seconds(10);
  qo.user_agent = "pathpilot-agent";
  p->query_ = std::make_unique<aws::QueryClient>(*p->http_, *p->credentials_, clock, qo);
  p->cloudwatch_ = std::make_unique<aws::CloudWatchClient>(*p->query_);
  return p;
}

CloudWatchPublisher::~CloudWatchPublisher() = default;

Result<aws::PutMetricDataResult> CloudWatchPublisher::put(
    std::string_view metric_namespace, const std::vector<aws::MetricDatum>& data) {
  return cloudwatch_->putMetricData(metric_namespace, data);
}

std::string CloudWatchPublisher::endpointDescription() const {
  const auto& e = query_->options().endpoint;
  return e.url.toString() + " (region " + e.signing_region + ", partition " + e.partition.id + ")";
}

}  // namespace pathpilot::agent
