// config/detail/yaml_tree.h — a YAML document as a tree that remembers where each node was.
//
// Purpose: yaml-cpp's YAML::Node loses duplicate keys, expands aliases eagerly (an exponential
// "billion laughs" file becomes gigabytes) and keeps no marks on scalars that callers can reach
// cheaply. This tree is built from yaml-cpp's event parser instead:
//   - aliases share the anchored node (no copy); the size they expand to is computed once per
//     node and capped at kMaxNodes; an alias inside its own anchor is an error (no cycles);
//   - duplicate and non-scalar mapping keys are reported where they occur;
//   - nesting deeper than kMaxDepth and more than kMaxNodes nodes stop the parse;
//   - `<<` merge keys (a mapping or a list of mappings) are resolved by entries();
// and every failure, including yaml-cpp's own exceptions, becomes a diagnostic.
// Module-private: only config/ includes it.
// Threading: a YamlDocument is immutable after parseYaml returns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/diagnostic.h"

namespace pathpilot::config::detail {

struct YamlNode {
  enum class Kind : std::uint8_t { Null, Scalar, Sequence, Map };

  Kind kind = Kind::Null;
  Location where;        // first character of the node (for a block map: its first key)
  std::string value;     // Scalar only
  bool quoted = false;   // Scalar written with quotes (or an explicit !!str tag)
  std::vector<const YamlNode*> items;                                 // Sequence
  std::vector<std::pair<const YamlNode*, const YamlNode*>> entries;  // Map, as written
  // Number of nodes this one stands for once aliases are expanded (itself included), computed
  // when the node is complete and saturated just above kMaxNodes.
  std::size_t expanded = 1;

  bool isNull() const { return kind == Kind::Null; }
  bool isScalar() const { return kind == Kind::Scalar; }
  bool isSequence() const { return kind == Kind::Sequence; }
  bool isMap() const { return kind == Kind::Map; }
};

// "a string", "a list", "a mapping", "null" — for "expected X, got Y" messages.
std::string_view describeKind(const YamlNode& node);

// A map's entries after resolving `<<` merge keys: explicit keys first, then merged ones that
// are not overridden. Keys are scalars (the parser rejected other keys).
std::vector<std::pair<const YamlNode*, const YamlNode*>> mapEntries(const YamlNode& map);

// Owns the nodes of one document. Movable; nodes never move in memory.
class YamlDocument {
 public:
  // The root node; a Null node for an empty document.
  // Requires: setRoot() was called (parseYaml always does).
  const YamlNode& root() const { return *root_; }
  bool hasRoot() const { return root_ != nullptr; }

  // Building (parseYaml only): a new node owned by the document, and the root.
  YamlNode* newNode() {
    arena_.push_back(std::make_unique<YamlNode>());
    return arena_.back().get();
  }
  std::size_t size() const { return arena_.size(); }
  void setRoot(const YamlNode* root) { root_ = root; }

 private:
  std::vector<std::unique_ptr<YamlNode>> arena_;
  const YamlNode* root_ = nullptr;
};

// Parses `text` (one YAML document). Returns nothing when the text is not usable YAML; every
// problem has then been reported to `diags`. Duplicate keys are reported but do not prevent a
// document from being returned, so that schema errors can still be found in the same pass.
std::optional<YamlDocument> parseYaml(std::string_view text, Diagnostics& diags);

// Rejects input that is not text before yaml-cpp sees it: NUL and other control bytes, invalid
// UTF-8 (including UTF-16 files). Reports the first offending byte's line and column.
bool checkText(std::string_view text, Diagnostics& diags);

// Shortens `text` for quoting in a message ("first 40 bytes…"), escaping control bytes.
std::string quote(std::string_view text);

}  // namespace pathpilot::config::detail
