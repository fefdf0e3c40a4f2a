// Fuzz target for the IMDS credentials document (aws/credential_providers.h): any body is
// credentials or an error, never a crash or an exception; credentials always have a key id
// and a secret; the error text is short (a hostile or broken IMDS cannot flood the log).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "aws/credential_providers.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto r = pathpilot::aws::parseImdsCredentials(body, "pathpilot-role");
  if (!r) {
    const std::string& m = r.error().message();
    if (m.empty() || m.size() > 200 || m.find("pathpilot-role") == std::string::npos) {
      std::abort();
    }
    return 0;
  }
  if (r->accessKeyId().empty() || r->secretAccessKey().empty()) {
    std::abort();
  }
  return 0;
}
