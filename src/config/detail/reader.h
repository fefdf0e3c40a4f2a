// config/detail/reader.h — typed, position-aware access to the YAML tree.
//
// Purpose: the schema decoder reads every value through these helpers, which
//   - report a wrong type, a missing value or an out-of-range number at the value's position,
//     prefixed with its key path ("paths[1].probe.quorum: ...");
//   - reject unknown keys of a mapping when the MapReader is created, with a suggestion;
//   - record where each key path was written (LocationIndex), so that cross-checks done later on
//     the decoded Config can still point at the right line.
// A getter that fails leaves its output untouched (the default stays) and returns false, so
// decoding continues and every problem of the file is found in one run.
// Module-private: only config/ includes it.
// Threading: not thread-safe; one Context per load.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "base/ip.h"
#include "base/time.h"
#include "config/detail/yaml_tree.h"
#include "config/diagnostic.h"

namespace pathpilot::config::detail {

// Where each key path was written.
class LocationIndex {
 public:
  void record(const std::string& path, Location where);
  // The location of `path`, else of its nearest recorded ancestor ("paths[1].probe.interval"
  // → "paths[1].probe" → "paths[1]" → "paths"), else line 1, column 1.
  Location at(std::string_view path) const;
  bool has(std::string_view path) const;

 private:
  std::unordered_map<std::string, Location> where_;
};

// Shared state of one decode: where diagnostics go and where keys were.
struct Context {
  explicit Context(Diagnostics& d,
                   const std::unordered_map<std::string_view, std::string_view>* hints = nullptr)
      : diags(d), misplaced_hints(hints) {}

  Diagnostics& diags;
  LocationIndex locations;
  // Keys written at the wrong level: key → where it belongs ("probe", "paths[].probe"); used
  // when an unknown key has no close spelling match. May be null.
  const std::unordered_map<std::string_view, std::string_view>* misplaced_hints = nullptr;

  // Reports "<path>: <message>" at `where`.
  void error(Location where, std::string_view path, std::string_view message);
  void warning(Location where, std::string_view path, std::string_view message);
  // Same, at the recorded location of `path`.
  void errorAt(std::string_view path, std::string_view message);
  void warningAt(std::string_view path, std::string_view message);
  // Whether an error was already reported for exactly `path`: cross-checks skip values that
  // were invalid (they hold defaults), so one mistake is not reported twice.
  bool failed(std::string_view path) const { return failed_.count(std::string(path)) > 0; }
  // Marks `path` as failed without a message of its own (e.g. a list whose item failed).
  void markFailed(std::string_view path) { failed_.insert(std::string(path)); }

 private:
  std::unordered_set<std::string> failed_;
};

// "paths" + 2 → "paths[2]"; "paths[2]" + "probe" → "paths[2].probe".
std::string indexPath(std::string_view path, std::size_t index);
std::string keyPath(std::string_view path, std::string_view key);

// Scalar conversions of one node, for list items and keys read without a MapReader. Each
// reports its own error at the node ("<path>: expected ..., got ...") and returns nullopt on
// failure. A Null node (`key:` with nothing after it) is reported as a missing value; a list
// or mapping where a scalar belongs as "expected X, got a list".
std::optional<std::string> readString(Context& ctx, const YamlNode& node, std::string_view path);
std::optional<bool> readBool(Context& ctx, const YamlNode& node, std::string_view path);
// An integer in [min, max]. Decimal, or hexadecimal with 0x when `allow_hex`.
std::optional<std::int64_t> readInt(Context& ctx, const YamlNode& node, std::string_view path,
                                    std::int64_t min, std::int64_t max, bool allow_hex = false);
// A finite decimal number in [min, max].
std::optional<double> readNumber(Context& ctx, const YamlNode& node, std::string_view path,
                                 double min, double max);
// A ratio: 0.05 or "5%"; always in [0, 1].
std::optional<double> readRatio(Context& ctx, const YamlNode& node, std::string_view path);
// A duration as parseDuration reads it ("100ms", "2s", "5m"), in [min, max].
std::optional<Duration> readDuration(Context& ctx, const YamlNode& node, std::string_view path,
                                     Duration min = Duration::zero(),
                                     Duration max = std::chrono::hours(24 * 365));
std::optional<IpAddress> readAddress(Context& ctx, const YamlNode& node, std::string_view path);
// A list of strings (each non-empty); `min_items` ≥ 0.
std::optional<std::vector<std::string>> readStringList(Context& ctx, const YamlNode& node,
                                                       std::string_view path,
                                                       std::size_t min_items);

// One of a fixed set of words, with a suggestion when misspelt.
template <class E>
std::optional<E> readEnum(Context& ctx, const YamlNode& node, std::string_view path,
                          std::initializer_list<std::pair<std::string_view, E>> choices);

// Checks that `node` is a list; reports and returns false otherwise. A Null node (`key:` with
// nothing after it) is an error "missing value".
bool expectList(Context& ctx, const YamlNode& node, std::string_view path);

// Reads one mapping of the schema.
class MapReader {
 public:
  // Reports every key of `node` that is not in `keys` ("unknown key 'x' (did you mean ...)").
  // A Null node is read as an empty mapping; any other non-mapping is reported and read as
  // empty.
  MapReader(Context& ctx, const YamlNode& node, std::string path,
            std::vector<std::string_view> keys);

  bool isMap() const { return is_map_; }
  const std::string& path() const { return path_; }
  Location where() const { return where_; }
  Context& context() const { return ctx_; }
  std::string pathOf(std::string_view key) const { return keyPath(path_, key); }

  // The value of `key`, or nullptr when absent (records its location when present).
  const YamlNode* find(std::string_view key) const;
  // The keys present, in file order (merged keys last).
  std::vector<std::string> keys() const;
  bool has(std::string_view key) const { return find(key) != nullptr; }
  // Reports "missing required key 'k'" at the mapping when `key` is absent.
  const YamlNode* require(std::string_view key, std::string_view explanation = {}) const;

  // Typed getters: when `key` is present and valid, store it in `out` and return true. When
  // it is absent, return false and leave `out` alone (the default stays). When it is present
  // but invalid, report at the value, return false and leave `out` alone.

  // Any scalar, as written (quoted or not).
  bool get(std::string_view key, std::string& out) const;
  // true/false (also yes/no, on/off); a quoted "true" is rejected.
  bool get(std::string_view key, bool& out) const;
  // A duration in [min, max], e.g. "500ms".
  bool get(std::string_view key, Duration& out, Duration min = Duration::zero(),
           Duration max = std::chrono::hours(24 * 365)) const;
  // An IPv4 or IPv6 address without prefix length or port.
  bool get(std::string_view key, std::optional<IpAddress>& out) const;
  // An unquoted decimal integer in [min, max].
  bool getInt(std::string_view key, int& out, int min, int max) const;
  // An unquoted finite decimal number in [min, max].
  bool getNumber(std::string_view key, double& out, double min, double max) const;
  // 0.05 or "5%", in [0, 1].
  bool getRatio(std::string_view key, double& out) const;
  // A list of non-empty strings with at least `min_items` items.
  bool getStringList(std::string_view key, std::vector<std::string>& out,
                     std::size_t min_items) const;
  // One of `choices`, with a did-you-mean suggestion when misspelt.
  template <class E>
  bool getEnum(std::string_view key, E& out,
               std::initializer_list<std::pair<std::string_view, E>> choices) const {
    const YamlNode* node = find(key);
    if (node == nullptr) {
      return false;
    }
    auto value = readEnum(ctx_, *node, pathOf(key), choices);
    if (value) {
      out = *value;
    }
    return value.has_value();
  }

 private:
  Context& ctx_;
  std::string path_;
  Location where_;
  bool is_map_ = false;
  std::vector<std::pair<const YamlNode*, const YamlNode*>> entries_;
};

// --- template definition --------------------------------------------------------------------

std::optional<std::string> readEnumWord(Context& ctx, const YamlNode& node, std::string_view path,
                                        const std::vector<std::string_view>& words);

template <class E>
std::optional<E> readEnum(Context& ctx, const YamlNode& node, std::string_view path,
                          std::initializer_list<std::pair<std::string_view, E>> choices) {
  std::vector<std::string_view> words;
  for (const auto& choice : choices) {
    words.push_back(choice.first);
  }
  auto word = readEnumWord(ctx, node, path, words);
  if (!word) {
    return std::nullopt;
  }
  for (const auto& choice : choices) {
    if (choice.first == *word) {
      return choice.second;
    }
  }
  return std::nullopt;
}

}  // namespace pathpilot::config::detail
