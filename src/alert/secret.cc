#include "alert/secret.h"

#include <cstdlib>

#include "config/secret_file.h"

namespace pathpilot::alert {

EnvGetter processEnv() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr) {
      return std::nullopt;
    }
    return std::string(v);
  };
}

Result<std::string> resolveSecret(const config::SecretRef& ref, const EnvGetter& env) {
  constexpr std::size_t kMaxBytes = 64 * 1024;
  std::string value;
  switch (ref.source) {
    case config::SecretRef::Source::Inline:
      value = ref.value;
      break;
    case config::SecretRef::Source::Env: {
      auto v = env(ref.value);
      if (!v) {
        return fail(ErrorCode::NotFound,
                    "secret " + ref.describe() + ": the environment variable is not set");
      }
      value = std::move(*v);
      break;
    }
    case config::SecretRef::Source::File: {
      // Regular file only (a FIFO never blocks a reload), mode 0600, at most 64 KiB.
      // Errors name the reference ("secret file:/etc/pathpilot/x is a FIFO, ..."), never
      // the content.
      auto data = config::readSecretFile(ref.value, kMaxBytes, "secret " + ref.describe());
      if (!data) {
        return fail(data.error());
      }
      value = std::move(*data);
      break;
    }
  }
  if (value.empty()) {
    return fail(ErrorCode::InvalidArgument, "secret " + ref.describe() + ": empty");
  }
  if (value.find('\0') != std::string::npos) {
    return fail(ErrorCode::InvalidArgument, "secret " + ref.describe() + ": contains NUL bytes");
  }
  return value;
}

}  // namespace pathpilot::alert
