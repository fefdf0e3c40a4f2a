#include "aws/credential_providers.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace pathpilot::aws {

namespace {

constexpr std::string_view kImdsTokenPath = "/latest/api/token";
constexpr std::string_view kImdsRolePath = "/latest/meta-data/iam/security-credentials/";
constexpr std::string_view kTokenTtlHeader = "X-aws-ec2-metadata-token-ttl-seconds";
constexpr std::string_view kTokenHeader = "X-aws-ec2-metadata-token";

std::string trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\r' ||
                        s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' ||
                        s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

bool isTrue(const std::optional<std::string>& v) {
  if (!v) {
    return false;
  }
  std::string s = *v;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) {
    return static_cast<char>(std::tolower(c));
  });
  return s == "true" || s == "1";
}

}  // namespace

// ---- EnvCredentialsProvider ----

Result<Credentials> EnvCredentialsProvider::credentials() {
  auto id = env_("AWS_ACCESS_KEY_ID");
  auto secret = env_("AWS_SECRET_ACCESS_KEY");
  if (!id && !secret) {
    return fail(ErrorCode::NotFound, "AWS_ACCESS_KEY_ID is not set");
  }
  if (!id || !secret) {
    return fail(ErrorCode::InvalidArgument,
                std::string(id ? "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"
                               : "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not") +
                    "; set both or neither");
  }
  auto token = env_("AWS_SESSION_TOKEN");
  return Credentials(*id, *secret, token.value_or(""), std::nullopt, "env");
}

// ---- ProfileCredentialsProvider ----

ProfileCredentialsProvider::ProfileCredentialsProvider(EnvLookup env, std::string explicit_profile)
    : env_(std::move(env)),
      profile_(selectProfileName(env_, explicit_profile)),
      profile_named_(!explicit_profile.empty() || env_("AWS_PROFILE").has_value() ||
                     env_("AWS_DEFAULT_PROFILE").has_value()) {}

Result<Credentials> ProfileCredentialsProvider::credentials() {
  std::lock_guard lock(mu_);
  if (cached_) {
    return *cached_;
  }
  auto load = [&]() -> Result<Credentials> {
    auto profile = loadProfile(env_, profile_);
    if (!profile) {
      return fail(profile.error());
    }
    const std::string files = profile->credentials_file + " or " + profile->config_file;
    if (!profile->found) {
      if (profile_named_) {
        return fail(ErrorCode::InvalidArgument,
                    "profile '" + profile_ + "' was asked for but is not in " + files);
      }
      return fail(ErrorCode::NotFound, "no [" + profile_ + "] profile in " + files);
    }
    auto id = profile->get("aws_access_key_id");
    auto secret = profile->get("aws_secret_access_key");
    if (id && secret) {
      auto token = profile->get("aws_session_token");
      return Credentials(std::string(*id), std::string(*secret),
                         token ? std::string(*token) : std::string(), std::nullopt,
                         "profile " + profile_);
    }
    if (id || secret) {
      return fail(ErrorCode::InvalidArgument,
                  "profile '" + profile_ + "' in " + files + " has " +
                      (id ? "aws_access_key_id but no aws_secret_access_key"
                          : "aws_secret_access_key but no aws_access_key_id"));
    }
    for (std::string_view key : {"role_arn", "credential_process", "sso_session",
                                 "sso_start_url", "web_identity_token_file"}) {
      if (profile->get(key)) {
        return fail(ErrorCode::InvalidArgument,
                    "profile '" + profile_ + "' uses " + std::string(key) +
                        ", which pathpilot does not support; give the profile "
                        "aws_access_key_id/aws_secret_access_key or use the instance role");
      }
    }
    // A profile with only settings (region, output): no keys here, let the chain go on.
    return fail(ErrorCode::NotFound, "profile '" + profile_ + "' has no keys");
  };
  Result<Credentials> result = load();
  // Cache answers that re-reading would not change; a NotFound stays re-checkable cheaply.
  if (result || result.error().code() != ErrorCode::NotFound) {
    cached_ = result;
  }
  return result;
}

// ---- ImdsCredentialsProvider ----

ImdsCredentialsProvider::ImdsCredentialsProvider(http::HttpClient& http, const Clock& clock,
                                                 ImdsOptions options)
    : http_(http), clock_(clock), options_(std::move(options)) {
  while (!options_.endpoint.empty() && options_.endpoint.back() == '/') {
    options_.endpoint.pop_back();
  }
  options_.attempts = std::max(options_.attempts, 1);
}

std::optional<Error> ImdsCredentialsProvider::lastRefreshError() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

// IMDS is link-local and answers in milliseconds; a second try covers a dropped packet or a
// hypervisor hiccup. 5xx answers are retried too (IMDS throttles with 503 under load). A
// final transport failure gets a message that tells the operator what is probably wrong.
Result<http::Response> ImdsCredentialsProvider::sendWithRetry(const http::Request& request) {
  Result<http::Response> response = fail(ErrorCode::Internal, "not sent");
  for (int attempt = 0; attempt < options_.attempts; ++attempt) {
    response = http_.send(request);
    if (response && response->status < 500) {
      return response;
    }
  }
  if (!response) {
    return fail(Error(response.error().code(),
                      "EC2 instance metadata service at " + options_.endpoint +
                          " is unreachable (" + response.error().message() +
                          "); is this an EC2 instance? Off EC2 set AWS_EC2_METADATA_DISABLED=true "
                          "or configure keys"));
  }
  return response;
}

// IMDSv2 session token (PUT /latest/api/token). Tokens are reused until shortly before their
// TTL ends; a 401 on a GET forces a new one (get()). No X-Forwarded-For is ever sent: IMDS
// refuses token requests that carry it.
Result<std::string> ImdsCredentialsProvider::token(bool force_new) {
  MonoTime now = clock_.now();
  if (!force_new && !token_.empty() && now < token_expiry_) {
    return token_;
  }
  auto ttl = std::chrono::duration_cast<std::chrono::seconds>(options_.token_ttl).count();
  ttl = std::clamp<std::int64_t>(ttl, 1, 21600);
  http::Request req;
  req.method = "PUT";
  req.url = options_.endpoint + std::string(kImdsTokenPath);
  req.headers = {{std::string(kTokenTtlHeader), std::to_string(ttl)}};
  req.timeout = options_.timeout;
  req.connect_timeout = options_.timeout;
  req.bypass_proxy = true;  // IMDS is link-local; a proxy would see (and could log) the token
  auto resp = sendWithRetry(req);
  if (!resp) {
    return fail(resp.error());
  }
  if (resp->status == 403) {
    return fail(ErrorCode::PermissionDenied,
                "IMDS at " + options_.endpoint +
                    " refused a session token (HTTP 403): instance metadata may be turned off "
                    "for this instance");
  }
  if (resp->status != 200) {
    return fail(resp->status >= 500 ? ErrorCode::Unavailable : ErrorCode::InvalidArgument,
                "IMDS at " + options_.endpoint + " answered the token request with HTTP " +
                    std::to_string(resp->status) + " (IMDSv2 required)");
  }
  std::string token = trimmed(resp->body);
  if (token.empty()) {
    return fail(ErrorCode::Internal, "IMDS returned an empty session token");
  }
  token_ = std::move(token);
  // Renew a minute early so that a token never expires between PUT and GET.
  auto margin = std::min<std::int64_t>(60, ttl / 2);
  token_expiry_ = now + std::chrono::seconds(ttl - margin);
  return token_;
}

Result<http::Response> ImdsCredentialsProvider::get(const std::string& path) {
  for (int round = 0; round < 2; ++round) {
    auto tok = token(round > 0);
    if (!tok) {
      return fail(tok.error());
    }
    http::Request req;
    req.method = "GET";
    req.url = options_.endpoint + path;
    req.headers = {{std::string(kTokenHeader), *tok}};
    req.timeout = options_.timeout;
    req.connect_timeout = options_.timeout;
    req.bypass_proxy = true;
    auto resp = sendWithRetry(req);
    if (!resp) {
      return fail(resp.error());
    }
    if (resp->status == 401 && round == 0) {
      continue;  // token expired or revoked: get a new one once
    }
    return resp;
  }
  return fail(ErrorCode::PermissionDenied, "IMDS rejected a fresh session token (HTTP 401)");
}

// Role name (cached: it only changes when the instance profile is replaced), then the
// role's credentials document. Requires mu_.
Result<Credentials> ImdsCredentialsProvider::fetch() {
  if (role_.empty()) {
    auto list = get(std::string(kImdsRolePath));
    if (!list) {
      return fail(list.error());
    }
    if (list->status == 404) {
      return fail(ErrorCode::NotFound, "no IAM role is attached to this instance (IMDS 404)");
    }
    if (list->status != 200) {
      return fail(list->status >= 500 ? ErrorCode::Unavailable : ErrorCode::PermissionDenied,
                  "IMDS answered the role listing with HTTP " + std::to_string(list->status));
    }
    std::string first = trimmed(list->body);
    first = first.substr(0, first.find('\n'));
    role_ = trimmed(first);
    if (role_.empty()) {
      return fail(ErrorCode::NotFound, "no IAM role is attached to this instance (empty list)");
    }
  }
  auto resp = get(std::string(kImdsRolePath) + role_);
  if (!resp) {
    return fail(resp.error());
  }
  if (resp->status == 404) {
    std::string role = role_;
    role_.clear();  // the instance profile changed; list again next time
    return fail(ErrorCode::NotFound, "IMDS has no credentials for role '" + role + "' (404)");
  }
  if (resp->status != 200) {
    return fail(resp->status >= 500 ? ErrorCode::Unavailable : ErrorCode::PermissionDenied,
                "IMDS answered the credentials request for role '" + role_ + "' with HTTP " +
                    std::to_string(resp->status));
  }
  return parseImdsCredentials(resp->body, role_);
}

namespace {

// A value from IMDS quoted in an error: at most 40 bytes, never cut inside a UTF-8 sequence.
std::string quotedShort(const std::string& s) {
  if (s.size() <= 40) {
    return s;
  }
  std::size_t n = 40;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) {
    --n;
  }
  return s.substr(0, n) + "...";
}

}  // namespace

Result<Credentials> parseImdsCredentials(std::string_view body, const std::string& role) {
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return fail(ErrorCode::Internal,
                "IMDS credentials for role '" + role + "' are not a JSON object");
  }
  auto field = [&](const char* key) -> std::string {
    auto it = doc.find(key);
    return (it != doc.end() && it->is_string()) ? it->get<std::string>() : std::string();
  };
  std::string code = field("Code");
  if (!code.empty() && code != "Success") {
    return fail(ErrorCode::Unavailable, "IMDS credentials for role '" + role +
                                            "' are not ready (Code " + quotedShort(code) + ")");
  }
  std::string id = field("AccessKeyId");
  std::string secret = field("SecretAccessKey");
  if (id.empty() || secret.empty()) {
    return fail(ErrorCode::Internal,
                "IMDS credentials for role '" + role + "' lack AccessKeyId or SecretAccessKey");
  }
  std::optional<WallTime> expiration;
  if (std::string exp = field("Expiration"); !exp.empty()) {
    auto parsed = parseRfc3339(exp);
    if (!parsed) {
      return fail(ErrorCode::Internal, "IMDS credentials for role '" + role +
                                           "' have an unreadable Expiration '" + quotedShort(exp) +
                                           "'");
    }
    expiration = *parsed;
  }
  return Credentials(std::move(id), std::move(secret), field("Token"), expiration,
                     "imds role " + role);
}

Result<Credentials> ImdsCredentialsProvider::credentials() {
  std::lock_guard lock(mu_);
  const WallTime wall_now = clock_.wallNow();
  const MonoTime now = clock_.now();
  const bool cached_valid = cached_ && !cached_->expiresWithin(wall_now, Duration::zero());
  if (cached_valid && !cached_->expiresWithin(wall_now, options_.refresh_before)) {
    return *cached_;
  }
  // In the refresh window, or expired. While the cached ones still work, don't retry a
  // failing IMDS on every call.
  if (cached_valid && last_failure_ && now - *last_failure_ < options_.retry_interval) {
    return *cached_;
  }
  auto fresh = fetch();
  if (fresh) {
    cached_ = *fresh;
    last_error_.reset();
    last_failure_.reset();
    if (fresh->expiresWithin(wall_now, options_.refresh_before)) {
      // IMDS handed out keys that are already (nearly) expired by our clock: use them, but
      // don't ask again before retry_interval.
      last_failure_ = now;
    }
    return *fresh;
  }
  last_error_ = fresh.error();
  last_failure_ = now;
  if (cached_valid) {
    return *cached_;
  }
  return fail(fresh.error());
}

// ---- ChainCredentialsProvider ----

std::string ChainCredentialsProvider::name() const {
  std::string out = "chain(";
  for (std::size_t i = 0; i < providers_.size(); ++i) {
    out += (i > 0 ? ", " : "") + providers_[i]->name();
  }
  return out + ")";
}

// NotFound means "not configured here" and moves on; Unavailable/Timeout (IMDS unreachable)
// also move on so that the final error lists every source; anything else is a configuration
// mistake that must not be papered over by another source's credentials.
Result<Credentials> ChainCredentialsProvider::credentials() {
  std::lock_guard lock(mu_);
  if (chosen_ != nullptr) {
    return chosen_->credentials();
  }
  std::string reasons;
  ErrorCode last_code = ErrorCode::NotFound;
  for (auto& provider : providers_) {
    auto result = provider->credentials();
    if (result) {
      chosen_ = provider.get();
      return result;
    }
    if (result.error().code() != ErrorCode::NotFound &&
        result.error().code() != ErrorCode::Unavailable &&
        result.error().code() != ErrorCode::Timeout) {
      return fail(result.error().withContext("AWS credentials (" + provider->name() + ")"));
    }
    if (!reasons.empty()) {
      reasons += "; ";
    }
    reasons += provider->name() + ": " + result.error().message();
    last_code = result.error().code();
  }
  if (providers_.empty()) {
    reasons = "no credential sources configured";
  }
  return fail(last_code, "no AWS credentials found (" + reasons + ")");
}

std::unique_ptr<CredentialsProvider> makeDefaultCredentialsChain(const EnvLookup& env,
                                                                 http::HttpClient& imds_http,
                                                                 const Clock& clock,
                                                                 DefaultChainOptions options) {
  std::vector<std::unique_ptr<CredentialsProvider>> providers;
  providers.push_back(std::make_unique<EnvCredentialsProvider>(env));
  providers.push_back(std::make_unique<ProfileCredentialsProvider>(env, options.profile));
  if (!isTrue(env("AWS_EC2_METADATA_DISABLED"))) {
    if (auto endpoint = env("AWS_EC2_METADATA_SERVICE_ENDPOINT")) {
      options.imds.endpoint = *endpoint;
    }
    providers.push_back(
        std::make_unique<ImdsCredentialsProvider>(imds_http, clock, std::move(options.imds)));
  }
  return std::make_unique<ChainCredentialsProvider>(std::move(providers));
}

}  // namespace pathpilot::aws
