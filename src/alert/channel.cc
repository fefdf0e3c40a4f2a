#include "alert/channel.h"

#include <algorithm>
#include <cctype>
#include <ctime>

#include <curl/curl.h>

namespace pathpilot::alert {
namespace {

std::string oneLineCut(std::string_view text, std::size_t max) {
  std::string out;
  for (char c : text.substr(0, max)) {
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7F) ? ' ' : c;
  }
  if (text.size() > max) {
    out += "…";
  }
  return out;
}

}  // namespace

std::string describeUrl(std::string_view url) {
  std::size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) {
    return "<url>";
  }
  std::size_t path = url.find_first_of("/?#", scheme + 3);
  std::string_view authority = url.substr(0, path);
  // Never show user-info.
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    return std::string(url.substr(0, scheme + 3)) + std::string(authority.substr(at + 1)) + "/…";
  }
  if (path == std::string_view::npos || url.size() - path <= 1) {
    return std::string(authority) + "/";
  }
  return std::string(authority) + "/…";
}

std::optional<Duration> parseRetryAfter(std::string_view value, WallTime now) {
  while (!value.empty() && value.front() == ' ') {
    value.remove_prefix(1);
  }
  while (!value.empty() && (value.back() == ' ' || value.back() == '\r')) {
    value.remove_suffix(1);
  }
  if (value.empty()) {
    return std::nullopt;
  }
  constexpr Duration kCap = std::chrono::hours(1);
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (value.size() > 7) {
      return kCap;
    }
    return std::min<Duration>(std::chrono::seconds(std::stol(std::string(value))), kCap);
  }
  // An HTTP-date; curl_getdate reads RFC 1123 and the obsolete forms.
  std::string text(value);
  time_t when = curl_getdate(text.c_str(), nullptr);
  if (when < 0) {
    return std::nullopt;
  }
  Duration d = std::chrono::system_clock::from_time_t(when) - now;
  return std::clamp<Duration>(d, Duration::zero(), kCap);
}

std::optional<DeliveryFailure> httpStatusFailure(std::string_view what,
                                                 const http::Response& response, WallTime now) {
  const int status = response.status;
  if (status >= 200 && status < 300) {
    return std::nullopt;
  }
  ErrorCode code = ErrorCode::InvalidArgument;
  if (status == 429) {
    code = ErrorCode::Throttled;
  } else if (status == 408 || status == 504) {
    code = ErrorCode::Timeout;
  } else if (status >= 500) {
    code = ErrorCode::Unavailable;
  } else if (status == 401 || status == 403) {
    code = ErrorCode::PermissionDenied;
  } else if (status == 404 || status == 410) {
    code = ErrorCode::NotFound;
  } else if (status < 200 || (status >= 300 && status < 400)) {
    // 1xx / 3xx: a proxy or a wrong URL; the receiver did not take the message.
    code = ErrorCode::Unavailable;
  }
  std::string message = std::string(what) + ": HTTP " + std::to_string(status);
  if (!response.body.empty()) {
    message += ": " + oneLineCut(response.body, 200);
  }
  std::optional<Duration> retry_after;
  if (status == 429 || status == 503) {
    if (auto v = response.header("Retry-After")) {
      retry_after = parseRetryAfter(*v, now);
    }
  }
  return DeliveryFailure{Error(code, std::move(message)), retry_after};
}

std::optional<DeliveryFailure> chatCodeFailure(std::string_view what, std::string_view field,
                                               long code, std::string_view message,
                                               const ChatCodes& codes) {
  if (code == 0) {
    return std::nullopt;
  }
  auto listed = [code](const std::vector<long>& list) {
    return std::find(list.begin(), list.end(), code) != list.end();
  };
  std::string text = std::string(what) + ": " + std::string(field) + " " +
                     std::to_string(code) + " " + oneLineCut(message, 200);
  if (listed(codes.throttled)) {
    // The robots' limits are per minute (DingTalk 20/min, WeCom 20/min, Feishu 100/min).
    return DeliveryFailure{Error(ErrorCode::Throttled, std::move(text)), std::chrono::seconds(60)};
  }
  ErrorCode ec = listed(codes.denied)      ? ErrorCode::PermissionDenied
                 : listed(codes.not_found) ? ErrorCode::NotFound
                                           : ErrorCode::InvalidArgument;
  return DeliveryFailure{Error(ec, std::move(text)), std::nullopt};
}

}  // namespace pathpilot::alert
