// The template language: a linear scan, no recursion, so hostile input costs O(n).
#include "config/message_template.h"

#include <algorithm>

#include "config/detail/suggest.h"

namespace pathpilot::config {

const std::vector<std::string_view>& templateFields() {
  static const std::vector<std::string_view> fields = {
      "status",       "severity",     "site",     "kind",  "path",    "link",
      "from",         "to",           "reason",   "message", "route_tables", "tables_count",
      "destinations", "count",        "time",     "started", "duration", "summary",
      "details"};
  return fields;
}

bool MessageTemplate::uses(std::string_view field) const {
  return std::any_of(parts.begin(), parts.end(),
                     [&](const TemplatePart& p) { return p.is_field && p.text == field; });
}

Result<MessageTemplate> parseTemplate(std::string_view text) {
  MessageTemplate out;
  out.source = std::string(text);
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) {
      out.parts.push_back({false, std::move(literal)});
      literal.clear();
    }
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '}') {
      if (i + 1 < text.size() && text[i + 1] == '}') {
        literal += '}';
        ++i;
        continue;
      }
      return fail(ErrorCode::InvalidArgument,
                  "stray '}' at offset " + std::to_string(i) + " (write '}}' for a literal brace)");
    }
    if (c != '{') {
      literal += c;
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '{') {
      literal += '{';
      ++i;
      continue;
    }
    std::size_t close = text.find('}', i + 1);
    if (close == std::string_view::npos) {
      return fail(ErrorCode::InvalidArgument,
                  "unclosed '{' at offset " + std::to_string(i) + " (write '{{' for a literal brace)");
    }
    std::string_view name = text.substr(i + 1, close - i - 1);
    bool well_formed = !name.empty() && name.size() <= 64 &&
                       std::all_of(name.begin(), name.end(),
                                   [](char ch) { return (ch >= 'a' && ch <= 'z') || ch == '_'; });
    if (!well_formed) {
      std::string shown(name.substr(0, 64));
      return fail(ErrorCode::InvalidArgument,
                  "malformed field {" + shown + "} at offset " + std::to_string(i) +
                      " (field names are lowercase letters and '_')");
    }
    const auto& known = templateFields();
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string message = "unknown field {" + std::string(name) + "}";
      if (auto best = detail::closestMatch(name, known)) {
        message += " (did you mean {" + *best + "}?)";
      }
      message += "; known fields: " + detail::joinAlternatives(known);
      return fail(ErrorCode::InvalidArgument, std::move(message));
    }
    flush();
    out.parts.push_back({true, std::string(name)});
    i = close;
  }
  flush();
  return out;
}

}  // namespace pathpilot::config
