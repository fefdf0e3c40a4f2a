#include "aws/query.h"

#include <algorithm>
#include <array>

#include "aws/detail/xml.h"
#include "aws/retry.h"
#include "aws/sigv4.h"

namespace pathpilot::aws {

namespace {

constexpr std::size_t kMaxMessage = 500;

bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

template <std::size_t N>
bool oneOf(const std::array<std::string_view, N>& list, std::string_view code) {
  return std::find(list.begin(), list.end(), code) != list.end();
}

constexpr std::array<std::string_view, 8> kUnavailable = {
    "InternalError",         "InternalFailure",
    "ServiceUnavailable",    "Unavailable",
    "InsufficientInstanceCapacity", "InsufficientCapacity",
    "IDPCommunicationError", "KMSInternalException",
};

constexpr std::array<std::string_view, 21> kPermission = {
    "UnauthorizedOperation",
    "AuthFailure",
    "AuthorizationError",
    "AccessDenied",
    "AccessDeniedException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "RequestTimeTooSkewed",
    "RequestInTheFuture",
    "OptInRequired",
    "Blocked",
    "PendingVerification",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "InvalidSecurity",
    "KMSAccessDeniedException",
};

// Printable prefix of an unknown body, for a message that helps without dumping it.
// Control bytes and non-ASCII become spaces, so that the message stays on one printable line.
std::string preview(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, 60)) {
    out.push_back((c >= 0x20 && c < 0x7f) ? c : ' ');
  }
  if (body.size() > 60) {
    out += "...";
  }
  return out;
}

std::string truncated(std::string s) {
  if (s.size() > kMaxMessage) {
    s.resize(kMaxMessage);
    s += "...";
  }
  return s;
}

}  // namespace

std::string QueryRequest::param(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) {
      return v;
    }
  }
  return {};
}

std::string encodeQueryBody(const QueryRequest& request) {
  std::string out = "Action=" + uriEncode(request.action, false);
  if (!request.version.empty()) {
    out += "&Version=" + uriEncode(request.version, false);
  }
  for (const auto& [name, value] : request.params) {
    out.push_back('&');
    out += uriEncode(name, false);
    out.push_back('=');
    out += uriEncode(value, false);
  }
  return out;
}

Result<QueryRequest> decodeQueryBody(std::string_view body) {
  QueryRequest out;
  while (!body.empty()) {
    std::size_t amp = body.find('&');
    std::string_view part = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    if (part.empty()) {
      continue;
    }
    std::size_t eq = part.find('=');
    std::string name(part.substr(0, eq));
    std::string value(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1));
    // '+' becomes a space before percent-decoding, so that an encoded plus (%2B) stays a plus.
    std::replace(name.begin(), name.end(), '+', ' ');
    std::replace(value.begin(), value.end(), '+', ' ');
    name = uriDecode(name);
    value = uriDecode(value);
    if (name == "Action") {
      out.action = std::move(value);
    } else if (name == "Version") {
      out.version = std::move(value);
    } else {
      out.params.emplace_back(std::move(name), std::move(value));
    }
  }
  if (out.action.empty()) {
    return fail(ErrorCode::InvalidArgument, "the request has no Action parameter");
  }
  return out;
}

bool isAwsErrorDocument(std::string_view body) {
  // Every AWS error document contains "Error"; most successful bodies do not, so they are
  // not parsed twice (the caller's parser reads them next).
  if (body.find("Error") == std::string_view::npos) {
    return false;
  }
  pugi::xml_document doc;
  auto root = detail::parseDocument(doc, body, "");
  if (!root) {
    return false;
  }
  std::string_view name = detail::localName(*root);
  return (name == "Response" && detail::child(*root, "Errors")) ||
         (name == "ErrorResponse" && detail::child(*root, "Error"));
}

AwsError parseAwsError(int http_status, std::string_view body) {
  AwsError out;
  out.http_status = http_status;
  pugi::xml_document doc;
  auto root = detail::parseDocument(doc, body, "");
  if (!root) {
    out.message = body.empty() ? "HTTP " + std::to_string(http_status) + " with an empty body"
                               : "HTTP " + std::to_string(http_status) +
                                     " with a body that is not XML (" +
                                     std::to_string(body.size()) + " bytes, starting '" +
                                     preview(body) + "')";
    return out;
  }
  std::string_view name = detail::localName(*root);
  pugi::xml_node error;
  if (name == "Response") {
    // EC2: Response/Errors/Error (+ RequestID, sometimes RequestId)
    error = detail::child(detail::child(*root, "Errors"), "Error");
    out.request_id = detail::childText(*root, "RequestID");
    if (out.request_id.empty()) {
      out.request_id = detail::childText(*root, "RequestId");
    }
  } else if (name == "ErrorResponse") {
    error = detail::child(*root, "Error");
    out.request_id = detail::childText(*root, "RequestId");
  } else if (name == "Error") {
    // S3-style bare <Error> (some gateways)
    error = *root;
    out.request_id = detail::childText(*root, "RequestId");
  }
  if (!error) {
    out.message = "HTTP " + std::to_string(http_status) + " with an XML body <" +
                  preview(name) + "> that is not an AWS error";
    return out;
  }
  out.code = detail::childText(error, "Code");
  out.message = detail::childText(error, "Message");
  out.type = detail::childText(error, "Type");
  if (out.code.empty() && out.message.empty()) {
    out.message = "HTTP " + std::to_string(http_status) + " with an empty AWS error";
  }
  return out;
}

ErrorCode mapAwsErrorCode(std::string_view code, int http_status) {
  // One list of throttling codes for the whole client: the retry policy's (aws/retry.h).
  // Code rules come before the status rules below: a throttling code with HTTP 503 (SlowDown,
  // RequestLimitExceeded) is Throttled, not Unavailable.
  if (classifyAwsError(http_status, code) == RetryKind::Throttling) {
    return ErrorCode::Throttled;
  }
  if (code == "RequestTimeout" || code == "RequestTimeoutException") {
    return ErrorCode::Timeout;
  }
  if (oneOf(kUnavailable, code)) {
    return ErrorCode::Unavailable;
  }
  if (oneOf(kPermission, code)) {
    return ErrorCode::PermissionDenied;
  }
  if (endsWith(code, ".NotFound") || code == "NotFound" || code == "NoSuchEntity" ||
      endsWith(code, "NotFoundException")) {
    return ErrorCode::NotFound;
  }
  if (code == "RouteAlreadyExists" || endsWith(code, ".Duplicate") || code == "AlreadyExists" ||
      code == "ResourceAlreadyExists" || endsWith(code, "AlreadyExistsException")) {
    return ErrorCode::AlreadyExists;
  }
  if (http_status >= 500) {
    return ErrorCode::Unavailable;
  }
  if (http_status == 401 || http_status == 403) {
    return ErrorCode::PermissionDenied;
  }
  if (http_status == 404 && code.empty()) {
    return ErrorCode::NotFound;
  }
  return ErrorCode::InvalidArgument;
}

Error toError(const AwsError& error, std::string_view api, std::string_view action) {
  std::string msg = std::string(api) + " " + std::string(action) + " failed: ";
  if (!error.code.empty()) {
    msg += error.code;
    if (!error.message.empty()) {
      msg += ": ";
    }
  }
  msg += truncated(error.message);
  // Without an AWS code the message already starts with "HTTP <status>".
  std::string detail = error.code.empty() ? "" : "HTTP " + std::to_string(error.http_status);
  if (!error.request_id.empty()) {
    detail += (detail.empty() ? "" : ", ") + std::string("request id ") + error.request_id;
  }
  if (!detail.empty()) {
    msg += " (" + detail + ")";
  }
  return Error(mapAwsErrorCode(error.code, error.http_status), std::move(msg));
}

}  // namespace pathpilot::aws
