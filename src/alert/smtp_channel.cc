// SMTP through libcurl's easy interface: one connection per message (alerts are rare; a kept
// connection would time out on the server between incidents anyway).
#include "alert/smtp_channel.h"

#include <curl/curl.h>

#include <cstdint>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>

#include "alert/http_channels.h"

namespace pathpilot::alert {
namespace {

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

std::string hex64(std::uint64_t v) {
  static const char* digits = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = digits[v & 0xF];
    v >>= 4;
  }
  return out;
}

// Bodies go as base64 in 76-character lines (RFC 2045): 7-bit clean, far below SMTP's line
// limit, and never starting with '.' (not a base64 character), so no line needs dot-stuffing.
std::string base64Lines(std::string_view data) {
  std::string b = base64Encode(data);
  std::string out;
  for (std::size_t i = 0; i < b.size(); i += 76) {
    out += b.substr(i, 76) + "\r\n";
  }
  return out;
}

std::string htmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// Header values come from config (checked) and alert text; CR/LF would inject headers.
std::string headerSafe(std::string_view s) {
  std::string out;
  for (char c : s) {
    out += (c == '\r' || c == '\n') ? ' ' : c;
  }
  return out;
}

struct Upload {
  const std::string* data;
  std::size_t offset = 0;
};

std::size_t readCallback(char* buffer, std::size_t size, std::size_t nitems, void* user) {
  auto* up = static_cast<Upload*>(user);
  std::size_t room = size * nitems;
  std::size_t left = up->data->size() - up->offset;
  std::size_t n = std::min(room, left);
  std::memcpy(buffer, up->data->data() + up->offset, n);
  up->offset += n;
  return n;
}

void globalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

std::string formatMailDate(WallTime t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  static const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7],
                tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

std::string encodeHeaderWord(std::string_view text) {
  bool ascii = std::all_of(text.begin(), text.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7F;
  });
  // ASCII text containing "=?" is encoded too, so that a title that looks like an
  // encoded-word is not decoded by mail clients.
  if (ascii && text.find("=?") == std::string_view::npos) {
    return std::string(text);
  }
  // RFC 2047 §2: an encoded-word is at most 75 characters; split at UTF-8 boundaries so that
  // every word decodes on its own, and fold between words.
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t n = std::min<std::size_t>(45, text.size() - i);  // 45 bytes → 60 base64 chars
    while (i + n < text.size() && n > 0 &&
           (static_cast<unsigned char>(text[i + n]) & 0xC0) == 0x80) {
      --n;
    }
    // Only invalid UTF-8 (45 continuation bytes in a row) backs n down to 0; one byte is then
    // taken so that the loop advances.
    if (n == 0) {
      n = 1;
    }
    out += (out.empty() ? "" : "\r\n ") + std::string("=?UTF-8?B?") +
           base64Encode(text.substr(i, n)) + "?=";
    i += n;
  }
  return out;
}

std::string buildMimeMessage(const SmtpOptions& o, const Notification& n, WallTime now) {
  // A fingerprint recurs for every incident of the same path, so the start time is part of
  // the thread id; the Message-ID adds what makes each message (and each attempt) unique.
  std::string incident = hex64(fnv1a(n.fingerprint + "|" + formatRfc3339(n.starts_at)));
  std::string unique = hex64(fnv1a(n.fingerprint + "|" + formatRfc3339(n.created_at) + "|" +
                                   std::string(alertStatusLabel(n.status)) + "|" +
                                   std::to_string(journal::toUnixMillis(now))));
  // Without an '@', find() gives npos and npos + 1 wraps to 0: the whole address is used.
  std::string domain = o.from.substr(o.from.find('@') + 1);
  std::string to;
  for (const auto& r : o.to) {
    to += (to.empty() ? "" : ", ") + headerSafe(r);
  }
  std::string m;
  m += "Date: " + formatMailDate(now) + "\r\n";
  m += "From: pathpilot <" + headerSafe(o.from) + ">\r\n";
  m += "To: " + to + "\r\n";
  m += "Subject: " + encodeHeaderWord(headerSafe(n.title)) + "\r\n";
  m += "Message-ID: <" + unique + "." + incident + "@" + headerSafe(domain) + ">\r\n";
  m += "References: <" + incident + "@" + headerSafe(domain) + ">\r\n";
  m += "X-Pathpilot-Incident: " + headerSafe(n.fingerprint) + "\r\n";
  m += "X-Pathpilot-Status: " + std::string(alertStatusLabel(n.status)) + "\r\n";
  m += "Auto-Submitted: auto-generated\r\n";
  m += "MIME-Version: 1.0\r\n";
  std::string text = n.title + "\n\n" + n.body + "\n";
  if (!o.html) {
    m += "Content-Type: text/plain; charset=utf-8\r\n";
    m += "Content-Transfer-Encoding: base64\r\n\r\n";
    m += base64Lines(text);
    return m;
  }
  // '-' is not in the base64 alphabet, so the boundary cannot occur inside a part.
  std::string boundary = "pp-" + unique;
  std::string html = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body>"
                     "<h3 style=\"margin:0 0 8px 0\">" +
                     htmlEscape(n.title) +
                     "</h3><pre style=\"font-family:monospace;white-space:pre-wrap\">" +
                     htmlEscape(n.body) + "</pre></body></html>\n";
  m += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n";
  m += "--" + boundary + "\r\n";
  m += "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  m += base64Lines(text);
  m += "--" + boundary + "\r\n";
  m += "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  m += base64Lines(html);
  m += "--" + boundary + "--\r\n";
  return m;
}

SmtpChannel::SmtpChannel(SmtpOptions options, const Clock& clock)
    : options_(std::move(options)), clock_(clock) {
  redactor_.add(options_.password);
  globalInit();
}

DeliveryResult SmtpChannel::deliver(const Notification& n) {
  std::string what = "smtp channel " + options_.name + " (" + describeUrl(options_.url) + ")";
  std::string message = buildMimeMessage(options_, n, clock_.wallNow());
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) {
    return deliveryFailed(Error(ErrorCode::Internal, what + ": curl_easy_init failed"));
  }
  CURL* c = curl.get();
  char errbuf[CURL_ERROR_SIZE] = {0};
  Upload upload{&message};
  curl_slist* rcpt = nullptr;
  for (const auto& r : options_.to) {
    rcpt = curl_slist_append(rcpt, ("<" + r + ">").c_str());
  }
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> rcpt_guard(rcpt, curl_slist_free_all);
  std::string from = "<" + options_.from + ">";
  auto ms = [](Duration d) {
    return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
  };
  curl_easy_setopt(c, CURLOPT_URL, options_.url.c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(c, CURLOPT_READFUNCTION, readCallback);
  curl_easy_setopt(c, CURLOPT_READDATA, &upload);
  // libcurl sends mail as an upload: the read callback supplies the message after MAIL FROM
  // and RCPT TO.
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  // No signals: libcurl would otherwise use SIGALRM to time out name resolution, which is not
  // safe in a multi-threaded daemon.
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms(options_.timeout));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   ms(std::min<Duration>(options_.timeout, std::chrono::seconds(5))));
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options_.ca_file.empty()) {
    curl_easy_setopt(c, CURLOPT_CAINFO, options_.ca_file.c_str());
  }
  // CURLUSESSL_ALL, not TRY: a server without STARTTLS fails the transfer
  // (CURLE_USE_SSL_FAILED) instead of receiving the message in plain text.
  if (options_.starttls) {
    curl_easy_setopt(c, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  }
  if (!options_.username.empty()) {
    curl_easy_setopt(c, CURLOPT_USERNAME, options_.username.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, options_.password.c_str());
  }
  CURLcode rc = curl_easy_perform(c);
  long reply = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply);
  if (rc == CURLE_OK) {
    return "SMTP " + std::to_string(reply) + " to " + std::to_string(options_.to.size()) +
           " recipient(s)";
  }
  // The error buffer holds libcurl's specific message; curl_easy_strerror only names the code.
  std::string detail = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
  ErrorCode code = ErrorCode::Unavailable;
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      code = ErrorCode::Timeout;
      break;
    case CURLE_LOGIN_DENIED:
      code = ErrorCode::PermissionDenied;
      break;
    case CURLE_USE_SSL_FAILED:
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      code = ErrorCode::InvalidArgument;
      break;
    default:
      // A 5xx reply is the server's final word (unknown recipient, sender refused); 4xx
      // replies and transport failures are transient.
      code = reply >= 500 ? ErrorCode::InvalidArgument : ErrorCode::Unavailable;
      break;
  }
  std::string text = what + ": " + detail;
  if (reply > 0) {
    text += " (last reply " + std::to_string(reply) + ")";
  }
  if (rc == CURLE_PEER_FAILED_VERIFICATION && options_.ca_file.empty()) {
    // The usual cause on internal relays: a certificate from the company's own CA.
    text += "; if the relay uses a private CA, set ca_file to its PEM bundle";
  }
  return deliveryFailed(Error(code, redactor_.apply(text)));
}

}  // namespace pathpilot::alert
