// aws/sns.h — Amazon SNS Publish, for alerts (e.g. topic DCI-Status → operators' mail, or an
// SMS straight to an on-call phone).
//
// Purpose: send one alert message to one topic, or as one SMS to one phone number (Publish
// with PhoneNumber, as `aws sns publish --phone-number` in the classic script). Subjects and
// messages are made acceptable
// to SNS rather than rejected, because an alert that fails on formatting is worse than a
// slightly trimmed one: control characters and line breaks in the subject become spaces
// and it is cut to 99 characters (SNS: "less than 100", UTF-8, no line breaks); a message
// over 256 KiB is cut at a UTF-8 boundary and marked "[truncated]". The topic's region and
// partition must be the client's (an SNS topic lives in one region; arn:aws-cn:... topics
// need the China endpoint).
// SMS: the number must be E.164 ("+15555550100"); the text is cut to 1,600 bytes (SNS's limit
// for one SMS Publish; SNS splits it into 140-byte parts itself), there is no Subject, and the
// message is sent as AWS.SNS.SMS.SMSType Transactional (the type meant for time-critical
// messages, delivered on the more reliable routes rather than the cheapest). Amazon SNS sends
// no SMS in the China regions (partition aws-cn): a phone number there is refused before any
// request. The configuration refuses it earlier still (at `pathpilot check`).
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
inline constexpr std::size_t kSnsMaxSmsBytes = 1600;

// Exactly one of topic_arn and phone_number.
struct SnsMessage {
  std::string topic_arn;  // arn:aws:sns:ap-southeast-1:111122223333:DCI-Status
  std::string subject;    // optional (used as the e-mail subject; not sent with an SMS)
  std::string message;    // required
  std::string phone_number = {};  // E.164, "+15555550100": one SMS instead of a topic
};

struct PublishResult {
  std::string message_id;
  std::string request_id;
};

// The Publish request after validation and clean-up (see above). Errors: InvalidArgument
// for a malformed or non-SNS topic ARN, a phone number not in E.164 form, both or neither
// target, or an empty message.
[[nodiscard]] Result<QueryRequest> publishRequest(const SnsMessage& message);

// Parses PublishResponse. Errors: Internal for non-XML or a different root; an SNS error
// document gives its mapped Error.
[[nodiscard]] Result<PublishResult> parsePublish(std::string_view xml);

// The subject as it will be sent (exposed for tests and for the alert preview).
std::string sanitizeSnsSubject(std::string_view subject);
// The message as it will be sent.
std::string truncateSnsMessage(std::string_view message);
// The text of an SMS as it will be sent (at most kSnsMaxSmsBytes).
std::string truncateSmsMessage(std::string_view message);
// True for an E.164 number: '+', then 2 to 15 digits, the first not 0.
bool isE164PhoneNumber(std::string_view number);
// "+1555…0100": enough for an operator to recognise the number in a log, not the whole of it.
std::string maskPhoneNumber(std::string_view number);

class SnsClient {
 public:
  // `query` must be configured for SNS (api "SNS", version kSnsApiVersion, endpoint from
  // resolveEndpoint("sns", region)) and outlive the client.
  explicit SnsClient(QueryClient& query) : query_(query) {}

  // Errors: InvalidArgument when the topic is in another region/partition than the client
  // or malformed, or for an SMS through a China (aws-cn) endpoint; otherwise those of
  // QueryClient (NotFound for a missing topic,
  // PermissionDenied for AuthorizationError, Throttled, ...).
  [[nodiscard]] Result<PublishResult> publish(const SnsMessage& message);

 private:
  QueryClient& query_;
};

}  // namespace pathpilot::aws
