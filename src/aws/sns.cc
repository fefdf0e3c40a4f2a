#include "aws/sns.h"

#include <algorithm>

#include "aws/detail/xml.h"
#include "aws/endpoints.h"

namespace pathpilot::aws {

namespace {

constexpr std::string_view kTruncatedMark = "\n[truncated]";

// The largest prefix of `s` of at most `max` bytes that does not split a UTF-8 sequence.
std::string_view utf8Prefix(std::string_view s, std::size_t max) {
  if (s.size() <= max) {
    return s;
  }
  std::size_t end = max;
  // Step back over continuation bytes (10xxxxxx) to the start of the cut character.
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) {
    --end;
  }
  return s.substr(0, end);
}

}  // namespace

// Control characters become spaces rather than disappearing, so "DX\ndown" stays readable
// as "DX down" in a mail client's subject line.
std::string sanitizeSnsSubject(std::string_view subject) {
  std::string out;
  out.reserve(subject.size());
  for (char c : subject) {
    auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f ? ' ' : c);
  }
  // Must begin with a letter, number or punctuation: drop leading spaces.
  std::size_t start = out.find_first_not_of(' ');
  out = start == std::string::npos ? std::string() : out.substr(start);
  out = std::string(utf8Prefix(out, kSnsMaxSubjectBytes));
  while (!out.empty() && out.back() == ' ') {
    out.pop_back();
  }
  return out;
}

std::string truncateSnsMessage(std::string_view message) {
  if (message.size() <= kSnsMaxMessageBytes) {
    return std::string(message);
  }
  return std::string(utf8Prefix(message, kSnsMaxMessageBytes - kTruncatedMark.size())) +
         std::string(kTruncatedMark);
}

std::string truncateSmsMessage(std::string_view message) {
  if (message.size() <= kSnsMaxSmsBytes) {
    return std::string(message);
  }
  return std::string(utf8Prefix(message, kSnsMaxSmsBytes - kTruncatedMark.size())) +
         std::string(kTruncatedMark);
}

bool isE164PhoneNumber(std::string_view n) {
  if (n.size() < 3 || n.size() > 16 || n[0] != '+' || n[1] == '0') {
    return false;
  }
  for (char c : n.substr(1)) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

std::string maskPhoneNumber(std::string_view n) {
  if (n.size() <= 8) {
    return std::string(n.substr(0, std::min<std::size_t>(n.size(), 3))) + "…";
  }
  return std::string(n.substr(0, 5)) + "…" + std::string(n.substr(n.size() - 4));
}

namespace {

// Publish with PhoneNumber: no topic, no Subject (an SMS has none), the SMS type attribute.
Result<QueryRequest> smsRequest(const SnsMessage& message) {
  if (!isE164PhoneNumber(message.phone_number)) {
    return fail(ErrorCode::InvalidArgument,
                "SNS Publish: phone number " + maskPhoneNumber(message.phone_number) +
                    " is not in E.164 form (+, country code, number: +15555550100)");
  }
  if (message.message.empty()) {
    return fail(ErrorCode::InvalidArgument, "SNS Publish to a phone: the message is empty");
  }
  QueryRequest r;
  r.action = "Publish";
  r.version = std::string(kSnsApiVersion);
  r.add("PhoneNumber", message.phone_number);
  r.add("Message", truncateSmsMessage(message.message));
  r.add("MessageAttributes.entry.1.Name", "AWS.SNS.SMS.SMSType");
  r.add("MessageAttributes.entry.1.Value.DataType", "String");
  r.add("MessageAttributes.entry.1.Value.StringValue", "Transactional");
  return r;
}

}  // namespace

Result<QueryRequest> publishRequest(const SnsMessage& message) {
  if (!message.phone_number.empty()) {
    if (!message.topic_arn.empty()) {
      return fail(ErrorCode::InvalidArgument,
                  "SNS Publish: a topic and a phone number at once (one target per Publish)");
    }
    return smsRequest(message);
  }
  auto arn = parseArn(message.topic_arn);
  if (!arn) {
    return fail(arn.error().withContext("SNS topic"));
  }
  if (arn->service != "sns" || arn->region.empty() || arn->account.empty()) {
    return fail(ErrorCode::InvalidArgument,
                "SNS topic '" + message.topic_arn +
                    "' is not an SNS topic ARN (arn:<partition>:sns:<region>:<account>:<name>)");
  }
  if (message.message.empty()) {
    return fail(ErrorCode::InvalidArgument, "SNS Publish to " + message.topic_arn +
                                                ": the message is empty");
  }
  QueryRequest r;
  r.action = "Publish";
  r.version = std::string(kSnsApiVersion);
  r.add("TopicArn", message.topic_arn);
  std::string subject = sanitizeSnsSubject(message.subject);
  if (!subject.empty()) {
    r.add("Subject", std::move(subject));
  }
  r.add("Message", truncateSnsMessage(message.message));
  return r;
}

Result<PublishResult> parsePublish(std::string_view xml) {
  pugi::xml_document doc;
  auto root = detail::parseDocument(doc, xml, "SNS Publish");
  if (!root) {
    return fail(root.error());
  }
  std::string_view name = detail::localName(*root);
  if (name == "ErrorResponse" || name == "Response") {
    return fail(toError(parseAwsError(200, xml), "SNS", "Publish"));
  }
  if (name != "PublishResponse") {
    return fail(ErrorCode::Internal, "SNS Publish: expected <PublishResponse>, got <" +
                                         std::string(name.substr(0, 60)) + ">");
  }
  PublishResult out;
  out.message_id = detail::childText(detail::child(*root, "PublishResult"), "MessageId");
  out.request_id = detail::childText(detail::child(*root, "ResponseMetadata"), "RequestId");
  if (out.message_id.empty()) {
    return fail(ErrorCode::Internal, "SNS Publish: response has no MessageId");
  }
  return out;
}

// The region check happens before any request: SNS would answer InvalidParameter (or, for
// the other partition, InvalidClientTokenId), which says far less than this message.
Result<PublishResult> SnsClient::publish(const SnsMessage& message) {
  auto request = publishRequest(message);
  if (!request) {
    return fail(request.error());
  }
  const Endpoint& ep = query_.options().endpoint;
  if (!message.phone_number.empty()) {
    if (ep.partition.id == "aws-cn") {
      return fail(ErrorCode::InvalidArgument,
                  "SNS Publish to a phone through " + ep.signing_region +
                      ": Amazon SNS sends no SMS in the China regions (aws-cn)");
    }
  } else if (auto arn = parseArn(message.topic_arn);
             arn->region != ep.signing_region || arn->partition != ep.partition.id) {
    return fail(ErrorCode::InvalidArgument,
                "SNS topic " + message.topic_arn + " is in " + arn->partition + "/" +
                    arn->region + " but the SNS client is for " + ep.partition.id + "/" +
                    ep.signing_region + "; configure the topic's region");
  }
  auto resp = query_.callOrError(std::move(*request));
  if (!resp) {
    return fail(resp.error());
  }
  return parsePublish(resp->body);
}

}  // namespace pathpilot::aws
