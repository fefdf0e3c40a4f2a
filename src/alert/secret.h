// alert/secret.h — reads the secrets that config::SecretRef points at.
//
// Purpose: channel URLs with tokens, signing secrets, SMTP passwords and bearer tokens are
// written in the config as {env: NAME} or {file: PATH} (inline is accepted with a warning).
// resolveSecret() fetches the value at channel construction. Errors name the reference
// (SecretRef::describe(): "env:DINGTALK_URL", "file:/etc/pathpilot/smtp.pass") and never
// the value.
// Threading: reentrant (reads the environment and files). Metrics: none.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "config/config.h"

namespace pathpilot::alert {

// Looks up an environment variable (injected so tests never touch the real environment).
using EnvGetter = std::function<std::optional<std::string>(std::string_view name)>;

// The process environment.
EnvGetter processEnv();

// The secret's value. A file gets the checks of config/secret_file.h (a regular file opened
// without blocking, no group/other permission bits, at most 64 KiB) and is read whole with one
// trailing newline (LF or CRLF) removed. Errors: NotFound (unset variable, missing file),
// PermissionDenied (unreadable, group/other bits), InvalidArgument (a FIFO or other
// non-regular file, empty value, too large, NUL bytes).
[[nodiscard]] Result<std::string> resolveSecret(const config::SecretRef& ref,
                                                const EnvGetter& env);

}  // namespace pathpilot::alert
