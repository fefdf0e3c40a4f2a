#include "config/detail/yaml_tree.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <cstdio>
#include <new>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "config/loader.h"

namespace pathpilot::config::detail {
namespace {

constexpr std::string_view kCoreTagPrefix = "tag:yaml.org,2002:";

// yaml-cpp marks are 0-based and -1 when unknown; a Location is 1-based, line 0 meaning
// unknown.
Location toLocation(const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0 || mark.column < 0) {
    return {};
  }
  return {mark.line + 1, mark.column + 1};
}

std::string positionText(Location where) {
  return "line " + std::to_string(where.line) + ", column " + std::to_string(where.column);
}

// Thrown by the event handler to stop yaml-cpp once the document is known to be unusable
// (a limit was hit). Never leaves this file.
struct Abort {};

// One open collection while the document is being built.
struct Frame {
  YamlNode* node;
  std::string path;                 // key path of the node, "" for the root
  const YamlNode* pending_key = nullptr;  // Map: the key waiting for its value
};

// Builds a YamlNode tree from yaml-cpp parser events. See yaml_tree.h for the guarantees.
class TreeBuilder final : public YAML::EventHandler {
 public:
  explicit TreeBuilder(Diagnostics& diags) : diags_(diags) {}

  YamlDocument take() {
    if (!doc_.hasRoot()) {
      doc_.setRoot(make(YamlNode::Kind::Null, Location{1, 1}));
    }
    return std::move(doc_);
  }

  // YAML::EventHandler
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents_ > 1) {
      diags_.error(toLocation(mark),
                   "a second YAML document starts here; a config file holds exactly one");
      throw Abort{};
    }
  }
  void OnDocumentEnd() override {}

  // yaml-cpp also reports a plain null, Null, NULL or ~ here rather than as a scalar, so
  // `key: null` reads like `key:` with nothing after it.
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    YamlNode* node = make(YamlNode::Kind::Null, toLocation(mark));
    registerAnchor(anchor, node, /*complete=*/true);
    attach(node);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) {
      // yaml-cpp reports unknown anchors itself; this is only a safety net.
      diags_.error(toLocation(mark), "alias refers to an unknown anchor");
      throw Abort{};
    }
    if (!it->second.complete) {
      diags_.error(toLocation(mark),
                   "alias refers to the anchor that contains it (a cycle), which cannot be "
                   "expanded");
      throw Abort{};
    }
    attach(it->second.node);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    YamlNode* node = make(YamlNode::Kind::Scalar, toLocation(mark));
    node->value = value;
    // yaml-cpp gives every non-plain scalar the non-specific tag "!" and plain ones "?": a block
    // scalar (| or >) counts as quoted here, as does an explicit `!` tag.
    node->quoted = tag == "!" || tag == std::string(kCoreTagPrefix) + "str";
    checkTag(tag, node->where);
    registerAnchor(anchor, node, /*complete=*/true);
    attach(node);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value /*style*/) override {
    open(YamlNode::Kind::Sequence, mark, tag, anchor);
  }
  void OnSequenceEnd() override { close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value /*style*/) override {
    open(YamlNode::Kind::Map, mark, tag, anchor);
  }
  void OnMapEnd() override {
    checkMap(*stack_.back().node, stack_.back().path);
    close();
  }

 private:
  struct AnchorInfo {
    YamlNode* node;
    bool complete;
  };

  YamlNode* make(YamlNode::Kind kind, Location where) {
    if (doc_.size() >= kMaxNodes) {
      diags_.error(where, "the document has more than " + std::to_string(kMaxNodes) +
                              " nodes; a pathpilot config is far smaller");
      throw Abort{};
    }
    YamlNode* node = doc_.newNode();
    node->kind = kind;
    node->where = where;
    return node;
  }

  void checkTag(const std::string& tag, Location where) {
    if (tag.empty() || tag == "?" || tag == "!") {
      return;
    }
    if (tag.rfind(kCoreTagPrefix, 0) == 0) {
      return;  // !!str, !!int, !!map ...: the schema decides the type anyway
    }
    diags_.error(where, "unsupported YAML tag " + quote(tag) +
                            " (only the standard !!str, !!int, ... tags are allowed)");
  }

  void registerAnchor(YAML::anchor_t anchor, YamlNode* node, bool complete) {
    if (anchor != YAML::NullAnchor) {
      anchors_[anchor] = AnchorInfo{node, complete};
    }
  }

  void open(YamlNode::Kind kind, const YAML::Mark& mark, const std::string& tag,
            YAML::anchor_t anchor) {
    YamlNode* node = make(kind, toLocation(mark));
    checkTag(tag, node->where);
    // The path is taken before attach(), which appends to the parent's items or consumes its
    // pending key, both of which the path is built from.
    std::string path = childPath();
    attach(node);
    if (static_cast<int>(stack_.size()) >= kMaxDepth) {
      diags_.error(node->where, "nesting deeper than " + std::to_string(kMaxDepth) +
                                    " levels; a pathpilot config is at most a few levels deep");
      throw Abort{};
    }
    // Incomplete until close(): an alias to this anchor among its own children is a cycle.
    registerAnchor(anchor, node, /*complete=*/false);
    stack_.push_back(Frame{node, std::move(path)});
    anchor_of_frame_.push_back(anchor);
  }

  void close() {
    YamlNode* node = stack_.back().node;
    if (node->isMap() && stack_.back().pending_key != nullptr) {
      // Cannot happen with a well-formed event stream; keep the tree consistent anyway.
      node->entries.emplace_back(stack_.back().pending_key, nullptr);
    }
    YAML::anchor_t anchor = anchor_of_frame_.back();
    anchor_of_frame_.pop_back();
    stack_.pop_back();
    // Every child is complete, so its `expanded` is final: a node shared by aliases is counted
    // once per reference without being walked again, and the check costs one pass over the
    // direct children however large the expansion is.
    std::size_t total = 1;
    auto add = [&](const YamlNode* child) {
      if (child != nullptr) {
        total = std::min(total + child->expanded, kMaxNodes + 1);
      }
    };
    for (const YamlNode* item : node->items) {
      add(item);
    }
    for (const auto& [key, value] : node->entries) {
      add(key);
      add(value);
    }
    node->expanded = total;
    if (total > kMaxNodes) {
      diags_.error(node->where, "aliases expand this node to more than " +
                                    std::to_string(kMaxNodes) +
                                    " nodes (an alias bomb?); write the values out instead");
      throw Abort{};
    }
    if (anchor != YAML::NullAnchor) {
      auto it = anchors_.find(anchor);
      if (it != anchors_.end() && it->second.node == node) {
        it->second.complete = true;
      }
    }
  }

  // The key path a node attached now will have.
  std::string childPath() const {
    if (stack_.empty()) {
      return "";
    }
    const Frame& top = stack_.back();
    if (top.node->isSequence()) {
      return top.path + "[" + std::to_string(top.node->items.size()) + "]";
    }
    if (top.pending_key != nullptr && top.pending_key->isScalar()) {
      return top.path.empty() ? top.pending_key->value : top.path + "." + top.pending_key->value;
    }
    return top.path;
  }

  void attach(const YamlNode* node) {
    if (stack_.empty()) {
      doc_.setRoot(node);
      return;
    }
    Frame& top = stack_.back();
    if (top.node->isSequence()) {
      top.node->items.push_back(node);
      return;
    }
    if (top.pending_key == nullptr) {
      top.pending_key = node;
      return;
    }
    const YamlNode* value = node;
    if (node->isNull() && node->where.line != top.pending_key->where.line) {
      // "key:" with nothing after it: yaml-cpp marks the next token; point at the key instead.
      YamlNode* moved = make(YamlNode::Kind::Null, top.pending_key->where);
      value = moved;
    }
    top.node->entries.emplace_back(top.pending_key, value);
    top.pending_key = nullptr;
  }

  // Keys must be scalars and unique; `<<` must merge mappings.
  void checkMap(const YamlNode& map, const std::string& path) {
    // Only keys written in this mapping are compared: a key that overrides one merged in by `<<`
    // is not a duplicate.
    std::unordered_map<std::string_view, Location> seen;
    std::string prefix = path.empty() ? "" : path + ": ";
    for (const auto& [key, value] : map.entries) {
      if (!key->isScalar()) {
        diags_.error(key->where, prefix + "mapping keys must be plain strings, not " +
                                     std::string(describeKind(*key)));
        continue;
      }
      auto [it, inserted] = seen.emplace(key->value, key->where);
      if (!inserted) {
        diags_.error(key->where, prefix + "duplicate key " + quote(key->value) +
                                     " (first defined at " + positionText(it->second) + ")");
      }
      // A quoted "<<" is an ordinary key, as in isMergeKey().
      if (key->value == "<<" && !key->quoted && value != nullptr) {
        bool ok = value->isMap();
        if (value->isSequence()) {
          ok = std::all_of(value->items.begin(), value->items.end(),
                           [](const YamlNode* m) { return m->isMap(); });
        }
        if (!ok) {
          diags_.error(value->where,
                       prefix + "'<<' merges a mapping or a list of mappings, not " +
                           std::string(describeKind(*value)));
        }
      }
    }
  }

  Diagnostics& diags_;
  YamlDocument doc_;
  std::vector<Frame> stack_;
  std::vector<YAML::anchor_t> anchor_of_frame_;
  std::unordered_map<YAML::anchor_t, AnchorInfo> anchors_;
  int documents_ = 0;
};

// yaml-cpp's messages for tab indentation ("illegal map value") do not say what is wrong.
std::string tabHint(std::string_view text, int error_line) {
  int line = 1;
  bool at_line_start = true;
  for (char c : text) {
    // A tab after the reported line cannot have caused the error; with no known line (0) the
    // whole text is searched.
    if (error_line > 0 && line > error_line) {
      break;
    }
    if (c == '\n') {
      ++line;
      at_line_start = true;
    } else if (at_line_start && c == '\t') {
      return " (line " + std::to_string(line) +
             " is indented with a tab; YAML indents with spaces only)";
    } else if (c != ' ') {
      at_line_start = false;
    }
  }
  return "";
}

bool isMergeKey(const YamlNode* key) { return key->isScalar() && !key->quoted && key->value == "<<"; }

}  // namespace

std::string_view describeKind(const YamlNode& node) {
  switch (node.kind) {
    case YamlNode::Kind::Null:
      return "an empty value";
    case YamlNode::Kind::Scalar:
      return node.quoted ? "a quoted string" : "a scalar";
    case YamlNode::Kind::Sequence:
      return "a list";
    case YamlNode::Kind::Map:
      return "a mapping";
  }
  return "a value";
}

namespace {

using Entries = std::vector<std::pair<const YamlNode*, const YamlNode*>>;

// Appends the entries of `map` whose keys are not in `seen` (hash set: files with many keys
// must not make this quadratic). Merge keys inside `map` are resolved first.
void appendEntries(const YamlNode& map, std::unordered_set<std::string_view>& seen, Entries& out,
                   int depth) {
  std::vector<const YamlNode*> merges;
  for (const auto& entry : map.entries) {
    const YamlNode* key = entry.first;
    if (entry.second == nullptr || !key->isScalar()) {
      continue;
    }
    if (isMergeKey(key)) {
      merges.push_back(entry.second);
      continue;
    }
    if (seen.insert(key->value).second) {
      out.push_back(entry);
    }
  }
  // YAML merge semantics: explicit keys win; among merged mappings, the first listed wins.
  // Merged mappings were complete before this one (aliases), so `depth` stays bounded by the
  // document; the explicit cap is a second guard.
  if (depth > kMaxDepth) {
    return;
  }
  for (const YamlNode* merge : merges) {
    if (merge->isMap()) {
      appendEntries(*merge, seen, out, depth + 1);
    } else if (merge->isSequence()) {
      for (const YamlNode* item : merge->items) {
        if (item->isMap()) {
          appendEntries(*item, seen, out, depth + 1);
        }
      }
    }
  }
}

}  // namespace

std::vector<std::pair<const YamlNode*, const YamlNode*>> mapEntries(const YamlNode& map) {
  Entries out;
  std::unordered_set<std::string_view> seen;
  appendEntries(map, seen, out, 0);
  return out;
}

bool checkText(std::string_view text, Diagnostics& diags) {
  int line = 1;
  int column = 1;
  std::size_t i = 0;
  while (i < text.size()) {
    auto byte = static_cast<unsigned char>(text[i]);
    Location here{line, column};
    if (byte == '\n') {
      ++line;
      column = 1;
      ++i;
      continue;
    }
    if (byte == 0) {
      diags.error(here, "NUL byte: this is a binary file, not a YAML config");
      return false;
    }
    // Tab and CR pass: YAML allows tabs outside indentation (tabHint explains the other case),
    // and a file saved with CRLF line ends is still text.
    if ((byte < 0x20 && byte != '\t' && byte != '\r') || byte == 0x7F) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", byte);
      diags.error(here, std::string("control character ") + hex +
                            " is not allowed in a YAML config (binary file?)");
      return false;
    }
    std::size_t length = 1;
    if (byte >= 0x80) {
      // RFC 3629 §4: lead byte, continuation bytes, no overlong forms, no surrogates,
      // nothing above U+10FFFF.
      unsigned int code = 0;
      if (byte >= 0xC2 && byte <= 0xDF) {
        length = 2;
        code = byte & 0x1Fu;
      } else if (byte >= 0xE0 && byte <= 0xEF) {
        length = 3;
        code = byte & 0x0Fu;
      } else if (byte >= 0xF0 && byte <= 0xF4) {
        length = 4;
        code = byte & 0x07u;
      } else {
        length = 0;
      }
      bool valid = length != 0 && i + length <= text.size();
      for (std::size_t k = 1; valid && k < length; ++k) {
        auto next = static_cast<unsigned char>(text[i + k]);
        valid = (next & 0xC0u) == 0x80u;
        code = (code << 6) | (next & 0x3Fu);
      }
      if (valid) {
        valid = !(length == 3 && (code < 0x800 || (code >= 0xD800 && code <= 0xDFFF))) &&
                !(length == 4 && (code < 0x10000 || code > 0x10FFFF));
      }
      if (!valid) {
        diags.error(here, "invalid UTF-8 (a config file must be UTF-8 text; binary file, or "
                          "another encoding such as UTF-16 or Latin-1?)");
        return false;
      }
    }
    i += length;
    ++column;
  }
  return true;
}

std::optional<YamlDocument> parseYaml(std::string_view text, Diagnostics& diags) {
  std::istringstream in{std::string(text)};
  TreeBuilder builder(diags);
  // Handlers go from most to least specific: DeepRecursion is a YAML::ParserException, and
  // Abort derives from no standard exception at all.
  try {
    YAML::Parser parser(in);
    if (!parser.HandleNextDocument(builder)) {
      return builder.take();  // empty stream: a Null root
    }
    // A second document is an error (reported by OnDocumentStart).
    parser.HandleNextDocument(builder);
  } catch (const Abort&) {
    return std::nullopt;
  } catch (const YAML::DeepRecursion& e) {
    diags.error(toLocation(e.mark), "nesting too deep for the YAML parser");
    return std::nullopt;
  } catch (const YAML::Exception& e) {
    Location where = toLocation(e.mark);
    diags.error(where, "YAML syntax error: " + e.msg + tabHint(text, where.line));
    return std::nullopt;
  } catch (const std::bad_alloc&) {
    diags.error({}, "out of memory while parsing");
    return std::nullopt;
  } catch (const std::exception& e) {
    diags.error({}, std::string("internal error while parsing: ") + e.what());
    return std::nullopt;
  }
  return builder.take();
}

std::string quote(std::string_view text) {
  constexpr std::size_t kMax = 40;
  std::size_t cut = text.size();
  if (cut > kMax) {
    // Cut at a character boundary: never in the middle of a UTF-8 sequence.
    cut = kMax;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0u) == 0x80u) {
      --cut;
    }
  }
  std::string out = "\"";
  for (std::size_t i = 0; i < cut; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7F) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (cut < text.size()) {
    out += "...";
  }
  out += '"';
  return out;
}

}  // namespace pathpilot::config::detail
