// aws/sns.h — Amazon SNS Publish, for alerts (e.g. topic DCI-Status → operators' mail).
//
// Purpose: send one alert message to one topic. Subjects and messages are made acceptable
// to SNS rather than rejected, because an alert that fails on formatting is worse than a
// slightly trimmed one: control characters and line breaks in the subject become spaces
// and it is cut to 99 characters (SNS: "less than 100", UTF-8, no line breaks); a message
// over 256 KiB is cut at a UTF-8 boundary and marked "[truncated]". The topic's region and
// partition must be the client's (an SNS topic lives in one region; arn:aws-cn:... topics
// need the China endpoint).
// Threading: as thread-safe as the QueryClient. Metrics: none here.
#pragma once

#include <string>
#include <string_view>

#include "aws/query.h"
#include "aws/query_client.h"
#include "base/error.h"

namespace pathpilot::aws {

inline constexpr std::string_view kSnsApiVersion = "2010-03-31";
inline constexpr std::size_t kSnsMaxSubjectBytes = 99;
inline constexpr std::size_t kSnsMaxMessageBytes = 256 * 1024;

struct SnsMessage {
  std::string topic_arn;  // arn:aws:sns:ap-southeast-1:111122223333:DCI-Status
  std::string subject;    // optional (used as the e-mail subject)
  std::string message;    // required
};

struct PublishResult {
  std::string message_id;
  std::string request_id;
};

// The Publish request after validation and clean-up (see above). Errors: InvalidArgument
// for a malformed or non-SNS topic ARN, or an empty message.
[[nodiscard]] Result<QueryRequest> publishRequest(const SnsMessage& message);

// Parses PublishResponse. Errors: Internal for non-XML or a different root; an SNS error
// document gives its mapped Error.
[[nodiscard]] Result<PublishResult> parsePublish(std::string_view xml);

// The subject as it will be sent (exposed for tests and for the alert preview).
std::string sanitizeSnsSubject(std::string_view subject);
// The message as it will be sent.
std::string truncateSnsMessage(std::string_view message);

class SnsClient {
 public:
  // `query` must be configured for SNS (api "SNS", version kSnsApiVersion, endpoint from
  // resolveEndpoint("sns", region)) and outlive the client.
  explicit SnsClient(QueryClient& query) : query_(query) {}

  // Errors: InvalidArgument when the topic is in another region/partition than the client
  // or malformed; otherwise those of QueryClient (NotFound for a missing topic,
  // PermissionDenied for AuthorizationError, Throttled, ...).
  [[nodiscard]] Result<PublishResult> publish(const SnsMessage& message);

 private:
  QueryClient& query_;
};

}  // namespace pathpilot::aws
