// aws/credentials.h — an AWS access key, its secret and optional session token.
//
// Purpose: the value that SigV4 signs with. The secret access key and the session token are
// secrets: toString(), operator<< (used by GoogleTest and iostreams) and the fmt formatter
// print them as "<redacted>", and the access key id only as its last four characters, the
// way `aws configure list` does. Nothing in pathpilot prints the raw fields; only the signer
// reads them.
// Threading: immutable value type; copy freely across threads.
// Metrics: none.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "base/time.h"

namespace pathpilot::aws {

class Credentials {
 public:
  Credentials() = default;
  // `source` names where they came from ("env", "profile default (~/.aws/credentials)",
  // "imds role ha-router"); it is shown in logs and errors. `expiration` is set for
  // temporary credentials (instance role, STS).
  Credentials(std::string access_key_id, std::string secret_access_key,
              std::string session_token = {}, std::optional<WallTime> expiration = {},
              std::string source = {})
      : access_key_id_(std::move(access_key_id)),
        secret_access_key_(std::move(secret_access_key)),
        session_token_(std::move(session_token)),
        expiration_(expiration),
        source_(std::move(source)) {}

  const std::string& accessKeyId() const { return access_key_id_; }
  // Secret: only the signer may read it. Never log, format or put it in an Error.
  const std::string& secretAccessKey() const { return secret_access_key_; }
  // Secret, empty for long-term keys. Sent as X-Amz-Security-Token.
  const std::string& sessionToken() const { return session_token_; }
  const std::optional<WallTime>& expiration() const { return expiration_; }
  const std::string& source() const { return source_; }

  bool empty() const { return access_key_id_.empty() || secret_access_key_.empty(); }
  bool hasSessionToken() const { return !session_token_.empty(); }
  // True when `now` is at or past expiration() minus `margin` (never for long-term keys).
  bool expiresWithin(WallTime now, Duration margin) const;

  // "****************MPLE (secret <redacted>, token <redacted>|none, source env,
  //  expires 2026-11-25T12:00:00.000Z)". Safe for logs.
  std::string toString() const;

  // "****MPLE": the access key id with all but its last four characters masked.
  static std::string maskAccessKeyId(std::string_view id);

 private:
  std::string access_key_id_;
  std::string secret_access_key_;
  std::string session_token_;
  std::optional<WallTime> expiration_;
  std::string source_;
};

// Prints toString(): GoogleTest failure messages and any stream logging stay redacted.
std::ostream& operator<<(std::ostream& os, const Credentials& c);

}  // namespace pathpilot::aws

// fmt/spdlog: `fmt::format("{}", creds)` prints the redacted form.
template <>
struct fmt::formatter<pathpilot::aws::Credentials> : fmt::formatter<std::string_view> {
  template <class FormatContext>
  auto format(const pathpilot::aws::Credentials& c, FormatContext& ctx) const {
    std::string s = c.toString();
    return fmt::formatter<std::string_view>::format(std::string_view(s), ctx);
  }
};
