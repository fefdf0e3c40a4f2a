// base/redact.h — keeping secret values out of what pathpilot prints and records.
//
// Purpose: a secret the config loaded (the API token, alert channel URLs with their tokens,
// signing secrets, the SMTP password, the daemon's AWS keys from its environment) must never
// reach a log line, an event, the API or an alert. Where text comes from outside — a hook's or
// recovery command's stderr, a receiver's error body, a transport error quoting a URL — the
// Redactor replaces every known secret in it by "<redacted>". capText() bounds such text and
// makes it printable, so that a chatty hook cannot flood the journal or an alert.
//
// Also here: the names of the environment variables that carry AWS credentials, which no
// command pathpilot runs may inherit (runtime/process_runner.h) and the config may not pass
// through (config `env_passthrough`).
//
// Threading: a Redactor is a value; a const one may be shared between threads (the daemon
// publishes one as a shared_ptr<const Redactor> at start and at each reload).
// Metrics: none.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace pathpilot {

// Replaces every registered secret (and its percent-encoded form) in a text by "<redacted>".
class Redactor {
 public:
  // Values shorter than this are ignored: redacting "a" everywhere would garble every message.
  static constexpr std::size_t kMinSecretBytes = 4;

  // Registers one secret value.
  void add(std::string_view secret);
  // Registers a URL: the whole URL, its path+query, its path, its query string and each
  // query parameter's value (a token often travels alone, e.g. `access_token=…`).
  void addUrl(std::string_view url);
  // Adds every secret of `other`.
  void merge(const Redactor& other);

  // `text` with every registered secret replaced, longest first (a URL goes before its query).
  std::string apply(std::string text) const;

  bool empty() const { return secrets_.empty(); }
  std::size_t size() const { return secrets_.size(); }

 private:
  std::vector<std::string> secrets_;  // longest first
};

// Percent-encodes `s` as webhook providers hand out URLs (unreserved characters stay).
std::string percentEncoded(std::string_view s);

// At most `max_bytes` of `text`, keeping its END (the last lines of stderr say what went
// wrong): control characters other than newline and tab become spaces, a cut never splits a
// UTF-8 sequence, and a cut text starts with "…".
std::string capText(std::string_view text, std::size_t max_bytes);

// True for the variables that hold AWS credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN, AWS_SECURITY_TOKEN, AWS_CONTAINER_AUTHORIZATION_TOKEN).
bool isCredentialVariable(std::string_view name);
const std::vector<std::string_view>& credentialVariables();

}  // namespace pathpilot
