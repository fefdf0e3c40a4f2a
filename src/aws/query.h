// aws/query.h — the AWS Query protocol (EC2, SNS, CloudWatch): request bodies and error
// responses, pure.
//
// Purpose: one place that knows how a Query API request is encoded
// (POST, application/x-www-form-urlencoded "Action=...&Version=...&Param.N=...") and how
// its errors come back, in the shapes seen in testdata/aws/responses:
//   EC2:            <Response><Errors><Error><Code/><Message/></Error></Errors>
//                   <RequestID/></Response>
//   SNS/CloudWatch: <ErrorResponse><Error><Type/><Code/><Message/></Error>
//                   <RequestId/></ErrorResponse>
// and anything else a proxy or load balancer may put in front (HTML pages, empty bodies),
// which still yields an AwsError naming the HTTP status. AWS error codes map to pathpilot
// ErrorCodes so that callers branch on the code, not on strings:
//   Throttling, RequestLimitExceeded, ... (and HTTP 429)          → Throttled
//   5xx, InternalError, ServiceUnavailable, InsufficientInstanceCapacity → Unavailable
//   RequestTimeout                                                → Timeout
//   *.NotFound, NotFound                                          → NotFound
//   UnauthorizedOperation, AuthFailure, AuthorizationError, AccessDenied,
//   InvalidClientTokenId, SignatureDoesNotMatch, ExpiredToken, RequestExpired,
//   RequestTimeTooSkewed, OptInRequired, ... (and HTTP 401/403)   → PermissionDenied
//   RouteAlreadyExists, *.Duplicate, AlreadyExists                → AlreadyExists
//   any other 4xx                                                 → InvalidArgument
// Threading: pure functions. Metrics: none.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"

namespace pathpilot::aws {

// One Query API call: Action, Version and its parameters in order.
struct QueryRequest {
  std::string action;   // "DescribeRouteTables"
  std::string version;  // "2016-11-15"
  std::vector<std::pair<std::string, std::string>> params;

  QueryRequest& add(std::string name, std::string value) {
    params.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  // The value of the first parameter `name`, or "" (tests, the fake endpoint).
  std::string param(std::string_view name) const;
};

// "Action=...&Version=...&k=v..." with RFC 3986 percent-encoding.
std::string encodeQueryBody(const QueryRequest& request);

// Parses a form-encoded body back into a request (the fake endpoint does). '+' is a space
// here, as in HTML forms. Errors: InvalidArgument when Action is missing.
[[nodiscard]] Result<QueryRequest> decodeQueryBody(std::string_view body);

// A parsed AWS error response.
struct AwsError {
  int http_status = 0;
  std::string code;        // "InvalidRouteTableID.NotFound"; empty when the body had none
  std::string message;     // whitespace-trimmed
  std::string request_id;  // empty when absent (old EC2 API versions)
  std::string type;        // "Sender" / "Receiver" (SNS, CloudWatch); empty for EC2
};

// Parses an error response body of any shape. Never fails: a body that is not an AWS error
// document gives an AwsError with an empty code and a message describing the body
// ("HTTP 502 with a non-XML body of 1234 bytes, starting '<html>...'").
AwsError parseAwsError(int http_status, std::string_view body);

// True when `body` is an AWS error document (some proxies answer 200 with one).
bool isAwsErrorDocument(std::string_view body);

// The pathpilot ErrorCode for an AWS error code and HTTP status (table above).
ErrorCode mapAwsErrorCode(std::string_view code, int http_status);

// "<api> <action> failed: <Code>: <Message> (HTTP 400, request id <id>)" with the mapped
// code. Messages are truncated to 500 characters.
Error toError(const AwsError& error, std::string_view api, std::string_view action);

}  // namespace pathpilot::aws
