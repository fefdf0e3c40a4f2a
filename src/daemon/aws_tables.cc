#include "daemon/aws_tables.h"

#include "aws/shared_config.h"
#include "http/curl_http_client.h"

namespace pathpilot::daemon {

Result<std::unique_ptr<route::RouteTable>> AwsTables::open(
    const config::Config& config, const config::RouteTableConfig& table) {
  auto b = backend(config);
  if (!b) {
    return fail(b.error());
  }
  return (*b)->openTable(table.id);
}

Result<aws::Ec2Client*> AwsTables::ec2(const config::Config& config) {
  auto b = backend(config);
  if (!b) {
    return fail(b.error());
  }
  return &(*b)->ec2();
}

Result<route::Ec2RouteBackend*> AwsTables::backend(const config::Config& config) {
  if (!backend_) {
    const auto& settings = config.backends.aws;
    route::Ec2RouteBackendOptions options;
    options.region = settings.region.empty() ? config.site.region : settings.region;
    options.endpoint_url = settings.endpoint_url;
    options.max_concurrency = static_cast<std::size_t>(settings.max_concurrency);
    options.on_attempt = [this](const aws::QueryAttempt& a) { recordAttempt(a); };
    if (options.region.empty()) {
      return fail(ErrorCode::InvalidArgument,
                  "backends.aws.region (or site.region) is needed for EC2 calls");
    }
    imds_http_ = std::make_unique<http::CurlHttpClient>();
    aws::DefaultChainOptions chain;
    chain.profile = settings.profile;
    credentials_ =
        aws::makeDefaultCredentialsChain(aws::processEnvironment(), *imds_http_, clock_, chain);
    auto created =
        route::Ec2RouteBackend::create(options, http::curlClients(), *credentials_, clock_);
    if (!created) {
      return fail(created.error().withContext("aws backend"));
    }
    backend_ = std::move(*created);
  }
  return backend_.get();
}

void AwsTables::recordAttempt(const aws::QueryAttempt& attempt) {
  const double seconds = std::chrono::duration<double>(attempt.duration).count();
  std::lock_guard lock(calls_mu_);
  calls_.record(attempt.operation, attempt.outcome, seconds);
}

std::pair<std::vector<metrics::AwsCallCount>, std::vector<metrics::AwsCallLatency>>
AwsTables::apiCalls() const {
  std::lock_guard lock(calls_mu_);
  return {calls_.counts(), calls_.latencies()};
}

}  // namespace pathpilot::daemon
