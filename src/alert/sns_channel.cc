#include "alert/sns_channel.h"

#include "aws/endpoints.h"
#include "aws/shared_config.h"

namespace pathpilot::alert {

Result<std::unique_ptr<SnsChannel>> SnsChannel::create(
    SnsChannelOptions options, std::unique_ptr<http::HttpClient> http, const Clock& clock,
    std::unique_ptr<aws::CredentialsProvider> credentials) {
  auto arn = aws::parseArn(options.topic_arn);
  if (!arn) {
    return fail(arn.error().withContext("sns channel " + options.name));
  }
  if (arn->service != "sns") {
    return fail(ErrorCode::InvalidArgument,
                "sns channel " + options.name + ": " + options.topic_arn + " is not an SNS ARN");
  }
  std::string region = options.region.empty() ? arn->region : options.region;
  auto endpoint = aws::resolveEndpoint("sns", region, options.endpoint_url);
  if (!endpoint) {
    return fail(endpoint.error().withContext("sns channel " + options.name));
  }
  if (!credentials) {
    credentials = aws::makeDefaultCredentialsChain(aws::processEnvironment(), *http, clock);
  }
  aws::QueryClientOptions qo;
  qo.api_name = "SNS";
  qo.endpoint = *endpoint;
  qo.version = std::string(aws::kSnsApiVersion);
  qo.timeout = options.timeout;
  qo.connect_timeout = std::min<Duration>(options.timeout, std::chrono::seconds(3));
  // The outbox retries for hours; inside one attempt, one quick retry is enough.
  qo.retry.max_attempts = 2;
  auto query = std::make_unique<aws::QueryClient>(*http, *credentials, clock, qo);
  return std::unique_ptr<SnsChannel>(new SnsChannel(std::move(options), std::move(http),
                                                    std::move(credentials), std::move(query)));
}

SnsChannel::SnsChannel(SnsChannelOptions options, std::unique_ptr<http::HttpClient> http,
                       std::unique_ptr<aws::CredentialsProvider> credentials,
                       std::unique_ptr<aws::QueryClient> query)
    : options_(std::move(options)),
      http_(std::move(http)),
      credentials_(std::move(credentials)),
      query_(std::move(query)),
      sns_(*query_) {}

DeliveryResult SnsChannel::deliver(const Notification& n) {
  aws::SnsMessage m;
  m.topic_arn = options_.topic_arn;
  m.subject = n.title;
  m.message = n.title + "\n\n" + n.body;
  auto r = sns_.publish(m);
  if (!r) {
    return deliveryFailed(r.error().withContext("sns channel " + options_.name));
  }
  return "SNS message id " + r->message_id;
}

}  // namespace pathpilot::alert
