#include "api/auth.h"

#include <cstdlib>

#include "config/secret_file.h"

namespace pathpilot::api {

Result<void> validateToken(std::string_view token, std::string_view origin) {
  if (token.empty()) {
    return fail(ErrorCode::InvalidArgument, std::string(origin) + ": the token is empty");
  }
  if (token.size() < kMinTokenBytes) {
    return fail(ErrorCode::InvalidArgument,
                std::string(origin) + ": the token is shorter than " +
                    std::to_string(kMinTokenBytes) +
                    " characters; generate one with `openssl rand -hex 32`");
  }
  if (token.size() > kMaxTokenBytes) {
    return fail(ErrorCode::InvalidArgument, std::string(origin) + ": the token is longer than " +
                                                std::to_string(kMaxTokenBytes) + " bytes");
  }
  for (char c : token) {
    if (c <= ' ' || c > '~') {
      return fail(ErrorCode::InvalidArgument,
                  std::string(origin) +
                      ": the token contains a space, control or non-ASCII character (use "
                      "printable ASCII, e.g. `openssl rand -hex 32`)");
    }
  }
  return ok();
}

Result<std::string> loadTokenFile(const std::string& path) {
  // The checks every secret file gets (config/secret_file.h): a regular file, opened without
  // blocking (a FIFO must not hang a start or a reload), mode 0600 or stricter, bounded size.
  auto token = config::readSecretFile(path, kMaxTokenBytes, "token file " + path);
  if (!token) {
    return fail(token.error());
  }
  if (auto v = validateToken(*token, "token file " + path); !v) {
    return fail(v.error());
  }
  return token;
}

Result<std::optional<std::string>> resolveToken(const std::optional<config::SecretRef>& secret) {
  if (!secret) {
    return std::optional<std::string>();
  }
  std::string origin = "api.auth_token (" + secret->describe() + ")";
  switch (secret->source) {
    case config::SecretRef::Source::Inline: {
      if (auto v = validateToken(secret->value, origin); !v) {
        return fail(v.error());
      }
      return std::optional<std::string>(secret->value);
    }
    case config::SecretRef::Source::Env: {
      const char* value = std::getenv(secret->value.c_str());
      if (value == nullptr) {
        return fail(ErrorCode::NotFound,
                    origin + ": the environment variable " + secret->value + " is not set");
      }
      if (auto v = validateToken(value, origin); !v) {
        return fail(v.error());
      }
      return std::optional<std::string>(value);
    }
    case config::SecretRef::Source::File: {
      auto token = loadTokenFile(secret->value);
      if (!token) {
        return fail(token.error().withContext("api.auth_token"));
      }
      return std::optional<std::string>(std::move(*token));
    }
  }
  return fail(ErrorCode::Internal, origin + ": unknown secret source");
}

bool constantTimeEquals(std::string_view a, std::string_view b) {
  // Length is not secret (it is fixed by the operator's generator); the content is.
  if (a.size() != b.size()) {
    return false;
  }
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = static_cast<unsigned char>(diff | (static_cast<unsigned char>(a[i]) ^
                                              static_cast<unsigned char>(b[i])));
  }
  return diff == 0;
}

AuthResult checkBearer(std::string_view authorization, const std::optional<std::string>& token) {
  if (!token) {
    return AuthResult::Disabled;
  }
  // RFC 6750 §2.1: "Bearer" is case-insensitive, followed by one space and the token.
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) {
    return AuthResult::Missing;
  }
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    char c = authorization[i];
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
    if (c != kScheme[i]) {
      return AuthResult::Missing;
    }
  }
  std::string_view presented = authorization.substr(kScheme.size());
  while (!presented.empty() && presented.front() == ' ') {
    presented.remove_prefix(1);
  }
  while (!presented.empty() && presented.back() == ' ') {
    presented.remove_suffix(1);
  }
  return constantTimeEquals(presented, *token) ? AuthResult::Ok : AuthResult::Invalid;
}

}  // namespace pathpilot::api
