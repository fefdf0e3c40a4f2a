#include "aws/detail/xml.h"

namespace pathpilot::aws::detail {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\r' ||
                        s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

std::string_view localName(const pugi::xml_node& node) {
  std::string_view name = node.name();
  auto colon = name.rfind(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

pugi::xml_node child(const pugi::xml_node& node, std::string_view name) {
  for (pugi::xml_node c = node.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_element && localName(c) == name) {
      return c;
    }
  }
  return {};
}

std::string text(const pugi::xml_node& node) {
  // child_value() covers the usual single text child; text().get() also handles CDATA.
  return std::string(trim(node.text().get()));
}

std::string childText(const pugi::xml_node& node, std::string_view name) {
  pugi::xml_node c = child(node, name);
  return c ? text(c) : std::string();
}

Result<pugi::xml_node> parseDocument(pugi::xml_document& doc, std::string_view body,
                                     std::string_view api) {
  if (trim(body).empty()) {
    return fail(ErrorCode::Internal, std::string(api) + ": empty response body");
  }
  // parse_default without DOCTYPE/PI processing beyond skipping; no entity expansion
  // (pugixml never expands external entities).
  pugi::xml_parse_result r =
      doc.load_buffer(body.data(), body.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!r) {
    return fail(ErrorCode::Internal, std::string(api) + ": response is not XML (" +
                                         r.description() + " at offset " +
                                         std::to_string(r.offset) + ")");
  }
  pugi::xml_node root = doc.document_element();
  if (!root) {
    return fail(ErrorCode::Internal, std::string(api) + ": response has no XML element");
  }
  return root;
}

std::string escape(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (char c : in) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

}  // namespace pathpilot::aws::detail
