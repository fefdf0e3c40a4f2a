#include "config/detail/ids.h"

namespace pathpilot::config::detail {
namespace {

bool isLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
bool isLower(char c) { return c >= 'a' && c <= 'z'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isAlnum(char c) { return isLower(c) || isDigit(c) || (c >= 'A' && c <= 'Z'); }

}  // namespace

bool isAwsId(std::string_view text, std::string_view prefix) {
  if (text.size() <= prefix.size() + 1 || text.substr(0, prefix.size()) != prefix ||
      text[prefix.size()] != '-') {
    return false;
  }
  std::string_view hex = text.substr(prefix.size() + 1);
  if (hex.size() != 8 && hex.size() != 17) {
    return false;
  }
  for (char c : hex) {
    if (!isLowerHex(c)) {
      return false;
    }
  }
  return true;
}

bool isRegionName(std::string_view text) {
  // letters-letters(-letters)*-digits, e.g. ap-southeast-1, us-gov-west-1.
  if (text.size() < 4 || text.size() > 32) {
    return false;
  }
  int parts = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t dash = text.find('-', start);
    std::string_view part =
        text.substr(start, dash == std::string_view::npos ? std::string_view::npos : dash - start);
    if (part.empty()) {
      return false;
    }
    bool last = dash == std::string_view::npos;
    for (char c : part) {
      if (last ? !isDigit(c) : !isLower(c)) {
        return false;
      }
    }
    ++parts;
    if (last) {
      break;
    }
    start = dash + 1;
  }
  return parts >= 3;
}

bool isZoneName(std::string_view text) {
  if (text.empty() || text.size() > 32) {
    return false;
  }
  for (char c : text) {
    if (!isLower(c) && !isDigit(c) && c != '-') {
      return false;
    }
  }
  return text.front() != '-' && text.back() != '-';
}

bool isSimpleName(std::string_view text) {
  if (text.empty() || text.size() > 64 || !isAlnum(text.front())) {
    return false;
  }
  for (char c : text) {
    if (!isAlnum(c) && c != '_' && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

bool isInterfaceName(std::string_view text) {
  if (text.empty() || text.size() > 15 || text == "." || text == "..") {
    return false;
  }
  for (char c : text) {
    if (c <= ' ' || c > '~' || c == '/' || c == ':') {
      return false;
    }
  }
  return true;
}

}  // namespace pathpilot::config::detail
