#include "aws/credentials.h"

namespace pathpilot::aws {

bool Credentials::expiresWithin(WallTime now, Duration margin) const {
  if (!expiration_) {
    return false;
  }
  return now + std::chrono::duration_cast<WallTime::duration>(margin) >= *expiration_;
}

std::string Credentials::maskAccessKeyId(std::string_view id) {
  if (id.size() <= 4) {
    return std::string(id.size(), '*');
  }
  return std::string(id.size() - 4, '*') + std::string(id.substr(id.size() - 4));
}

std::string Credentials::toString() const {
  std::string out = access_key_id_.empty() ? std::string("<no access key>")
                                           : maskAccessKeyId(access_key_id_);
  out += " (secret ";
  out += secret_access_key_.empty() ? "none" : "<redacted>";
  out += ", token ";
  out += session_token_.empty() ? "none" : "<redacted>";
  if (!source_.empty()) {
    out += ", source " + source_;
  }
  if (expiration_) {
    out += ", expires " + formatRfc3339(*expiration_);
  }
  out += ")";
  return out;
}

std::ostream& operator<<(std::ostream& os, const Credentials& c) { return os << c.toString(); }

}  // namespace pathpilot::aws
