// Fuzz target for the AWS shared-config INI parser (~/.aws/credentials, ~/.aws/config): any
// bytes give a parsed file or an error naming the line, never a crash or a hang. Keys come out
// lowercased and values trimmed, whatever the input.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "aws/shared_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto ini = pathpilot::aws::parseIni(text, "fuzz.ini");
  if (!ini) {
    if (ini.error().message().rfind("fuzz.ini:", 0) != 0) {
      std::abort();  // errors name the file and line
    }
    return 0;
  }
  for (const auto& [section, keys] : ini->sections) {
    for (const auto& [key, value] : keys) {
      for (char c : key) {
        if (std::isupper(static_cast<unsigned char>(c))) {
          std::abort();
        }
      }
      if (!value.empty() && (value.front() == ' ' || value.back() == ' ')) {
        std::abort();
      }
    }
  }
  return 0;
}
