// aws/credential_providers.h — where AWS credentials come from, in aws-cli's order.
//
// Purpose: give the AWS clients a Credentials value without the operator configuring keys
// twice. The default chain is what aws-cli does for the cases pathpilot supports:
//   1. environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY [+ AWS_SESSION_TOKEN]
//   2. shared files: the selected profile's aws_access_key_id / aws_secret_access_key /
//      aws_session_token (see aws/shared_config.h for files and profile selection)
//   3. the EC2 instance role through IMDSv2 (the normal case on the monitor instance):
//      PUT /latest/api/token (X-aws-ec2-metadata-token-ttl-seconds), then
//      GET /latest/meta-data/iam/security-credentials/ (role name) and .../<role> (JSON),
//      refreshed before Expiration.
// A provider answers NotFound when its source is simply not configured, so the chain moves
// on; any other error (a half-set key pair, an explicitly named profile that does not exist,
// a profile that needs role_arn / credential_process / SSO, which pathpilot does not
// implement) stops the chain, because silently using other credentials would surprise.
// Once a provider has answered, the chain sticks to it (as the SDKs do).
//
// Threading: every provider is safe to call from several worker threads (internal mutex);
// calls may block on file reads or IMDS HTTP (bounded by ImdsOptions timeouts).
// Metrics: none here; ImdsCredentialsProvider::lastRefreshError() feeds a status line.
// Secrets: errors and toString() never contain keys or tokens (Credentials redacts).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "aws/credentials.h"
#include "aws/shared_config.h"
#include "base/error.h"
#include "base/time.h"
#include "http/http_client.h"

namespace pathpilot::aws {

class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;

  // Current credentials. NotFound: this source is not configured. Other codes: see above.
  [[nodiscard]] virtual Result<Credentials> credentials() = 0;
  // Short name for messages: "env", "profile default", "imds".
  virtual std::string name() const = 0;
};

// 1. The environment.
class EnvCredentialsProvider final : public CredentialsProvider {
 public:
  explicit EnvCredentialsProvider(EnvLookup env) : env_(std::move(env)) {}

  // aws::CredentialsProvider
  Result<Credentials> credentials() override;
  std::string name() const override { return "env"; }

 private:
  EnvLookup env_;
};

// 2. The shared credentials/config files. The files are read on the first call and the
// result is kept (restart or reload the daemon to pick up edited files, as with aws-cli
// sessions).
class ProfileCredentialsProvider final : public CredentialsProvider {
 public:
  // `explicit_profile` overrides AWS_PROFILE (config: aws.profile). When a profile was
  // named explicitly (here or in the environment) and does not exist, that is an error,
  // not NotFound.
  ProfileCredentialsProvider(EnvLookup env, std::string explicit_profile = {});

  // aws::CredentialsProvider
  Result<Credentials> credentials() override;
  std::string name() const override { return "profile " + profile_; }

 private:
  EnvLookup env_;
  std::string profile_;
  bool profile_named_;  // chosen by the user rather than "default"
  std::mutex mu_;
  std::optional<Result<Credentials>> cached_;
};

struct ImdsOptions {
  // Base URL of the metadata service. Tests point it at a fake; AWS_EC2_METADATA_SERVICE_
  // ENDPOINT overrides it in the default chain.
  std::string endpoint = "http://169.254.169.254";
  // TTL asked for the session token (1 s .. 21600 s per the EC2 docs).
  Duration token_ttl = std::chrono::seconds(21600);
  // Per-request limit: IMDS answers in milliseconds on EC2; off EC2 nothing answers and
  // the SDKs give up after about a second.
  Duration timeout = std::chrono::seconds(1);
  // Tries per IMDS request on transport errors (the SDKs use 1 retry).
  int attempts = 2;
  // Refresh this long before Expiration (IMDS hands out new keys 5 minutes before).
  Duration refresh_before = std::chrono::minutes(5);
  // Minimum time between failed refresh attempts while cached credentials remain valid,
  // so that an IMDS outage does not add a 1 s stall to every signed request.
  Duration retry_interval = std::chrono::seconds(30);
};

// The body IMDS returns for a role's credentials (JSON with Code, AccessKeyId,
// SecretAccessKey, Token, Expiration), read into Credentials whose source names `role`.
// Pure; fuzzed (fuzz/imds_credentials_fuzz.cc). Errors name the role and what is wrong, never
// a key: Internal for a body that is not a JSON object, lacks a key or has an unreadable
// Expiration; Unavailable for a Code other than "Success" (not ready yet).
[[nodiscard]] Result<Credentials> parseImdsCredentials(std::string_view body,
                                                       const std::string& role);

// 3. The EC2 instance role via IMDSv2. IMDSv1 (no token) is deliberately not used.
class ImdsCredentialsProvider final : public CredentialsProvider {
 public:
  // `http` and `clock` must outlive the provider.
  ImdsCredentialsProvider(http::HttpClient& http, const Clock& clock, ImdsOptions options = {});

  // aws::CredentialsProvider
  // Returns cached credentials until `refresh_before` ahead of their expiration, then
  // fetches new ones. If that refresh fails while the cached ones are still valid, the
  // cached ones are returned (and lastRefreshError() says why). Errors: Unavailable /
  // Timeout when IMDS is unreachable ("not on EC2?"), NotFound when no role is attached,
  // PermissionDenied when IMDS refuses (403: turned off or hop limit), Internal for an
  // unparsable answer.
  Result<Credentials> credentials() override;
  std::string name() const override { return "imds"; }

  // The error of the last failed refresh, if the last refresh failed.
  std::optional<Error> lastRefreshError() const;

 private:
  Result<std::string> token(bool force_new);
  Result<http::Response> get(const std::string& path);
  Result<http::Response> sendWithRetry(const http::Request& request);
  Result<Credentials> fetch();

  http::HttpClient& http_;
  const Clock& clock_;
  ImdsOptions options_;
  mutable std::mutex mu_;
  std::string token_;
  MonoTime token_expiry_{};
  std::string role_;
  std::optional<Credentials> cached_;
  std::optional<Error> last_error_;
  std::optional<MonoTime> last_failure_;
};

// Tries each provider in order (see the header comment).
class ChainCredentialsProvider final : public CredentialsProvider {
 public:
  explicit ChainCredentialsProvider(std::vector<std::unique_ptr<CredentialsProvider>> providers)
      : providers_(std::move(providers)) {}

  // aws::CredentialsProvider
  // Errors: when no provider has credentials, the error lists each provider's reason
  // ("env: AWS_ACCESS_KEY_ID is not set; profile default: ...; imds: ...") with the code of
  // the last one (Unavailable when IMDS could not be reached, so callers retry).
  Result<Credentials> credentials() override;
  std::string name() const override;

 private:
  std::vector<std::unique_ptr<CredentialsProvider>> providers_;
  std::mutex mu_;
  CredentialsProvider* chosen_ = nullptr;
};

struct DefaultChainOptions {
  std::string profile;  // explicit profile name (config); empty: AWS_PROFILE / "default"
  ImdsOptions imds;
};

// The default chain: env, profile, IMDS. Honours AWS_EC2_METADATA_DISABLED=true (no IMDS)
// and AWS_EC2_METADATA_SERVICE_ENDPOINT. `imds_http` and `clock` must outlive the chain.
std::unique_ptr<CredentialsProvider> makeDefaultCredentialsChain(const EnvLookup& env,
                                                                 http::HttpClient& imds_http,
                                                                 const Clock& clock,
                                                                 DefaultChainOptions options = {});

// A provider that always returns the given credentials (tests, `--access-key` style use).
class StaticCredentialsProvider final : public CredentialsProvider {
 public:
  explicit StaticCredentialsProvider(Credentials credentials)
      : credentials_(std::move(credentials)) {}

  // aws::CredentialsProvider
  Result<Credentials> credentials() override { return credentials_; }
  std::string name() const override { return "static"; }

 private:
  Credentials credentials_;
};

}  // namespace pathpilot::aws
