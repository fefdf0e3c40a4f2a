// alert/sns_channel.h — alerts through Amazon SNS Publish (topic → mail/SMS subscribers, or
// one SMS to one phone number).
//
// Purpose: what the classic script did (topic DCI-Status for mail, and an SMS to the on-call
// number with `aws sns publish --phone-number`), through the existing aws module:
// SigV4, the default credential chain (env, profile, instance role), standard retry inside the
// QueryClient (bounded: 2 attempts, the outbox does the long-term retrying), China partition
// (arn:aws-cn:... topics use amazonaws.com.cn). The title becomes the SNS Subject (mail
// subject; SNS trims it to 99 bytes, no line breaks), title + body the Message. A phone
// channel sends title + body as one Transactional SMS (cut to 1,600 bytes), from its region;
// China regions have no SMS and are refused when the channel is built. The number appears
// masked ("+1555…0100") in receipts and errors.
// Errors: those of aws::SnsClient — Throttled/Unavailable/Timeout retried by the outbox;
// NotFound (no such topic), PermissionDenied (IAM) given up.
// Threading: deliver() from one thread at a time. Metrics: none.
#pragma once

#include <memory>
#include <string>

#include "alert/channel.h"
#include "aws/credential_providers.h"
#include "aws/query_client.h"
#include "aws/sns.h"
#include "http/http_client.h"

namespace pathpilot::alert {

struct SnsChannelOptions {
  std::string name;
  std::string topic_arn;     // exactly one of topic_arn and phone_number
  std::string region;        // empty: the topic's region; required with phone_number
  std::string endpoint_url;  // optional override
  Duration timeout = std::chrono::seconds(10);
  std::string phone_number = {};  // E.164: one SMS per alert instead of a topic
};

class SnsChannel final : public Channel {
 public:
  // Builds the SNS client. `http` carries both the SNS calls and IMDS credential lookups;
  // `credentials` may be null (the default chain is built). Errors: InvalidArgument for a
  // malformed ARN / phone number / region / endpoint, both or neither target, or a phone
  // number with a China region.
  [[nodiscard]] static Result<std::unique_ptr<SnsChannel>> create(
      SnsChannelOptions options, std::unique_ptr<http::HttpClient> http, const Clock& clock,
      std::unique_ptr<aws::CredentialsProvider> credentials = nullptr);

  // alert::Channel
  const std::string& name() const override { return options_.name; }
  config::AlertChannelKind kind() const override { return config::AlertChannelKind::Sns; }
  DeliveryResult deliver(const Notification& n) override;

 private:
  SnsChannel(SnsChannelOptions options, std::unique_ptr<http::HttpClient> http,
             std::unique_ptr<aws::CredentialsProvider> credentials,
             std::unique_ptr<aws::QueryClient> query);

  SnsChannelOptions options_;
  std::unique_ptr<http::HttpClient> http_;
  std::unique_ptr<aws::CredentialsProvider> credentials_;
  std::unique_ptr<aws::QueryClient> query_;
  aws::SnsClient sns_;
};

}  // namespace pathpilot::alert
