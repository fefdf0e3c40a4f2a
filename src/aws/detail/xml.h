// aws/detail/xml.h — namespace-agnostic pugixml helpers for AWS query API responses
// (module-private).
//
// AWS answers with a default namespace that changes with the API version
// (xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"), some captures strip it (xmlns=""), and
// a proxy may add prefixes. pugixml does not process namespaces, so every lookup here
// compares local names (the part after any "prefix:").
#pragma once

#include <pugixml.hpp>

#include <string>
#include <string_view>

#include "base/error.h"

namespace pathpilot::aws::detail {

// "ec2:item" → "item".
std::string_view localName(const pugi::xml_node& node);

// The first child element with local name `name`, or an empty node.
pugi::xml_node child(const pugi::xml_node& node, std::string_view name);

// Trimmed text of the first child element `name`, or "" when absent.
std::string childText(const pugi::xml_node& node, std::string_view name);

// Trimmed text content of `node` itself.
std::string text(const pugi::xml_node& node);

// Calls fn(item) for each direct child element named "item" of child `set_name`
// (the EC2 list shape: <routeSet><item>..</item></routeSet>).
template <class Fn>
void forEachItem(const pugi::xml_node& node, std::string_view set_name, Fn&& fn) {
  pugi::xml_node set = child(node, set_name);
  for (pugi::xml_node item = set.first_child(); item; item = item.next_sibling()) {
    if (item.type() == pugi::node_element && localName(item) == "item") {
      fn(item);
    }
  }
}

// Parses `body` into `doc`. Errors: Internal "<api>: response is not XML (<reason> at
// offset N)" — never quoting the body, which may be an HTML page or anything else.
[[nodiscard]] Result<pugi::xml_node> parseDocument(pugi::xml_document& doc,
                                                   std::string_view body,
                                                   std::string_view api);

// Escapes text for element content and attribute values (&, <, >, ", ').
std::string escape(std::string_view text);

}  // namespace pathpilot::aws::detail
