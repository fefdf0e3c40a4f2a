// alert/smtp_channel.h — alerts by mail, through an SMTP server, with libcurl.
//
// Purpose: the operators' mailbox (the classic script mailed through SNS; in China regions and
// on-prem relays, SMTP is what exists). smtp://host[:port] speaks plain SMTP, optionally
// upgraded with STARTTLS (`starttls: true` requires it: no silent plain-text fallback);
// smtps://host[:port] is TLS from the first byte. SMTP AUTH (libcurl picks PLAIN/LOGIN/...)
// when a username is set. TLS peer and host verification are always on, against the system
// CA store or, with `ca_file` (alerts channel key), a PEM bundle of the relay's private CA.
// The message (buildMimeMessage, pure and tested) is RFC 5322 + MIME: Subject as an RFC 2047
// encoded-word when not ASCII, a text/plain part and, with `html`, a text/html alternative
// (multipart/alternative), both UTF-8 in base64; a Message-ID per message and a References
// header per incident, so that mail clients thread FIRING and RESOLVED together.
// Errors: Timeout, Unavailable (connect, TLS, 4xx replies: transient), PermissionDenied (AUTH
// refused), InvalidArgument (5xx replies: recipient or sender refused; STARTTLS unsupported).
// The password never appears in messages.
// Threading: deliver() from one thread at a time. Metrics: none.
#pragma once

#include <string>
#include <vector>

#include "alert/channel.h"
#include "base/time.h"

namespace pathpilot::alert {

struct SmtpOptions {
  std::string name;
  std::string url;       // smtp://host:587 or smtps://host:465
  bool starttls = false;
  std::string username;  // empty: no AUTH
  std::string password;
  std::string from;
  std::vector<std::string> to;
  bool html = true;
  Duration timeout = std::chrono::seconds(10);
  std::string ca_file;  // empty: the system CA store
};

// The full message (headers + body, CRLF line ends) for `n`, dated `now`.
std::string buildMimeMessage(const SmtpOptions& options, const Notification& n, WallTime now);

// "Tue, 25 Nov 2026 12:52:52 +0000" (RFC 5322 §3.3, UTC).
std::string formatMailDate(WallTime t);

// `text` as an RFC 2047 encoded-word sequence when it is not printable ASCII, else as is.
std::string encodeHeaderWord(std::string_view text);

class SmtpChannel final : public Channel {
 public:
  SmtpChannel(SmtpOptions options, const Clock& clock);

  // alert::Channel
  const std::string& name() const override { return options_.name; }
  config::AlertChannelKind kind() const override { return config::AlertChannelKind::Smtp; }
  DeliveryResult deliver(const Notification& n) override;

 private:
  SmtpOptions options_;
  const Clock& clock_;
  Redactor redactor_;
};

}  // namespace pathpilot::alert
