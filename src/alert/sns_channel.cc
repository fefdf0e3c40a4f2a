#include "alert/sns_channel.h"

#include "aws/endpoints.h"
#include "aws/shared_config.h"

namespace pathpilot::alert {

Result<std::unique_ptr<SnsChannel>> SnsChannel::create(
    SnsChannelOptions options, std::unique_ptr<http::HttpClient> http, const Clock& clock,
    std::unique_ptr<aws::CredentialsProvider> credentials) {
  std::string what = "sns channel " + options.name;
  std::string region = options.region;
  if (!options.phone_number.empty()) {
    if (!options.topic_arn.empty()) {
      return fail(ErrorCode::InvalidArgument, what + ": topic_arn and phone_number at once");
    }
    if (!aws::isE164PhoneNumber(options.phone_number)) {
      return fail(ErrorCode::InvalidArgument, what + ": phone number " +
                                                  aws::maskPhoneNumber(options.phone_number) +
                                                  " is not in E.164 form");
    }
    if (region.empty()) {
      return fail(ErrorCode::InvalidArgument, what + ": an SMS needs a region to send from");
    }
  } else {
    auto arn = aws::parseArn(options.topic_arn);
    if (!arn) {
      return fail(arn.error().withContext(what));
    }
    if (arn->service != "sns") {
      return fail(ErrorCode::InvalidArgument,
                  what + ": " + options.topic_arn + " is not an SNS ARN");
    }
    if (region.empty()) {
      region = arn->region;
    }
  }
  auto endpoint = aws::resolveEndpoint("sns", region, options.endpoint_url);
  if (!endpoint) {
    return fail(endpoint.error().withContext(what));
  }
  if (!options.phone_number.empty() && endpoint->partition.id == "aws-cn") {
    return fail(ErrorCode::InvalidArgument,
                what + ": Amazon SNS sends no SMS in the China regions (" + region + ")");
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
  m.phone_number = options_.phone_number;
  if (m.phone_number.empty()) {
    m.subject = n.title;  // an SMS has no subject; the title leads its text instead
  }
  m.message = n.title + "\n\n" + n.body;
  auto r = sns_.publish(m);
  if (!r) {
    return deliveryFailed(r.error().withContext("sns channel " + options_.name));
  }
  if (!m.phone_number.empty()) {
    return "SNS SMS to " + aws::maskPhoneNumber(m.phone_number) + ", message id " + r->message_id;
  }
  return "SNS message id " + r->message_id;
}

}  // namespace pathpilot::alert
