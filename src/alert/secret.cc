#include "alert/secret.h"

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <iterator>

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
      std::ifstream in(ref.value, std::ios::binary);
      if (!in) {
        int err = errno;
        return fail(err == EACCES ? ErrorCode::PermissionDenied : ErrorCode::NotFound,
                    "secret " + ref.describe() + ": cannot open", err);
      }
      std::string data;
      data.resize(kMaxBytes + 1);
      in.read(data.data(), static_cast<std::streamsize>(data.size()));
      data.resize(static_cast<std::size_t>(in.gcount()));
      if (data.size() > kMaxBytes) {
        return fail(ErrorCode::InvalidArgument,
                    "secret " + ref.describe() + ": larger than 64 KiB");
      }
      if (!data.empty() && data.back() == '\n') {
        data.pop_back();
        if (!data.empty() && data.back() == '\r') {
          data.pop_back();
        }
      }
      value = std::move(data);
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
