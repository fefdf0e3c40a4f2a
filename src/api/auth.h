// api/auth.h — the bearer token that guards the API's write endpoints.
//
// Purpose: drain and undrain move production traffic, so they need a token
// (`Authorization: Bearer <token>`); reads (status, events, metrics, the dashboard) do not.
// The token comes from the config's `api.auth_token` secret: an environment variable, a file,
// or (discouraged) inline. A token FILE must not be accessible to group or others: a file with
// any of the mode bits 077 set is refused at load with an error that names the file, its mode
// and the fix (`chmod 600`), as ssh does with private keys. The file's content is the token;
// one trailing newline (and CR) is removed; it must be 16..4096 printable ASCII characters.
//
// The token is compared in constant time (no early exit on the first differing byte), so its
// value cannot be guessed byte by byte from response times. It never appears in logs, errors
// or responses.
//
// Threading: pure functions; loadToken reads a file or the environment.
// Metrics: none (the server counts 401/403 responses).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "config/config.h"

namespace pathpilot::api {

// Shortest and longest accepted token, in bytes.
inline constexpr std::size_t kMinTokenBytes = 16;
inline constexpr std::size_t kMaxTokenBytes = 4096;

// Reads a token file with the checks of config/secret_file.h (opened without blocking, so a
// FIFO is refused at once). Errors: NotFound (missing), PermissionDenied (unreadable, or
// group/other permissions: "…/api-token is accessible by group or others (mode 0644); run
// chmod 600 …"), InvalidArgument (not a regular file, empty, too short or long, non-printable
// bytes).
[[nodiscard]] Result<std::string> loadTokenFile(const std::string& path);

// Checks a token's shape (length, printable ASCII without spaces). `origin` names where it
// came from in the error ("api.auth_token (env:PATHPILOT_API_TOKEN)").
[[nodiscard]] Result<void> validateToken(std::string_view token, std::string_view origin);

// Resolves the configured secret: nullopt when none is configured (writes are then refused
// with 403). Errors name the setting and its source, never the value.
[[nodiscard]] Result<std::optional<std::string>> resolveToken(
    const std::optional<config::SecretRef>& secret);

enum class AuthResult {
  Ok,        // the header carries the configured token
  Missing,   // no Authorization header, or not a Bearer one → 401
  Invalid,   // a Bearer token that is not the configured one → 403
  Disabled,  // no token is configured: writes are refused → 403
};

// Checks an Authorization header value against `token`.
AuthResult checkBearer(std::string_view authorization, const std::optional<std::string>& token);

// Compares in time that depends only on the lengths.
bool constantTimeEquals(std::string_view a, std::string_view b);

}  // namespace pathpilot::api
