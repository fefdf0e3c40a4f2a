#include "config/detail/reader.h"

#include <charconv>
#include <cmath>
#include <system_error>

#include "config/detail/suggest.h"

namespace pathpilot::config::detail {
namespace {

std::string got(const YamlNode& node) {
  if (node.isScalar()) {
    return quote(node.value);
  }
  return std::string(describeKind(node));
}

// Common shape check for scalar readers: reports a missing value or a collection.
bool expectScalar(Context& ctx, const YamlNode& node, std::string_view path,
                  std::string_view what) {
  if (node.isScalar()) {
    return true;
  }
  if (node.isNull()) {
    ctx.error(node.where, path, "missing value (expected " + std::string(what) + ")");
  } else {
    ctx.error(node.where, path,
              "expected " + std::string(what) + ", got " + std::string(describeKind(node)));
  }
  return false;
}

// A number must be written as a number: `quorum: "2"` is a string in YAML.
bool rejectQuoted(Context& ctx, const YamlNode& node, std::string_view path,
                  std::string_view what) {
  if (!node.quoted) {
    return true;
  }
  ctx.error(node.where, path,
            "expected " + std::string(what) + ", got the quoted string " + quote(node.value) +
                " (remove the quotes)");
  return false;
}

std::string formatNumber(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::string("?");
}

}  // namespace

// --- LocationIndex ----------------------------------------------------------------------------

void LocationIndex::record(const std::string& path, Location where) {
  // An unknown location (line 0) is not stored, so that at() falls back to the nearest
  // ancestor that has a real line.
  if (where.known()) {
    where_.emplace(path, where);
  }
}

bool LocationIndex::has(std::string_view path) const {
  return where_.find(std::string(path)) != where_.end();
}

Location LocationIndex::at(std::string_view path) const {
  std::string p(path);
  while (true) {
    auto it = where_.find(p);
    if (it != where_.end()) {
      return it->second;
    }
    // Each pass drops the last ".key" or "[i]" component, so the loop ends with the path.
    std::size_t cut = p.find_last_of(".[");
    if (cut == std::string::npos || cut == 0) {
      return Location{1, 1};
    }
    p.resize(cut);
  }
}

// --- Context ----------------------------------------------------------------------------------

namespace {
std::string prefixed(std::string_view path, std::string_view message) {
  if (path.empty()) {
    return std::string(message);
  }
  std::string out(path);
  out += ": ";
  out += message;
  return out;
}
}  // namespace

void Context::error(Location where, std::string_view path, std::string_view message) {
  failed_.insert(std::string(path));
  diags.error(where, prefixed(path, message));
}
// A warning does not mark the path failed: the value is valid, so cross-checks still use it.
void Context::warning(Location where, std::string_view path, std::string_view message) {
  diags.warning(where, prefixed(path, message));
}
void Context::errorAt(std::string_view path, std::string_view message) {
  error(locations.at(path), path, message);
}
void Context::warningAt(std::string_view path, std::string_view message) {
  warning(locations.at(path), path, message);
}

std::string indexPath(std::string_view path, std::size_t index) {
  return std::string(path) + "[" + std::to_string(index) + "]";
}

std::string keyPath(std::string_view path, std::string_view key) {
  if (path.empty()) {
    return std::string(key);
  }
  std::string out(path);
  out += '.';
  out += key;
  return out;
}

// --- scalar readers ---------------------------------------------------------------------------

std::optional<std::string> readString(Context& ctx, const YamlNode& node, std::string_view path) {
  if (!expectScalar(ctx, node, path, "a string")) {
    return std::nullopt;
  }
  return node.value;
}

std::optional<bool> readBool(Context& ctx, const YamlNode& node, std::string_view path) {
  constexpr std::string_view kWhat = "true or false";
  if (!expectScalar(ctx, node, path, kWhat) || !rejectQuoted(ctx, node, path, kWhat)) {
    return std::nullopt;
  }
  // YAML 1.2 core schema spellings, plus the YAML 1.1 yes/no/on/off that people still write.
  for (std::string_view t : {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"}) {
    if (node.value == t) {
      return true;
    }
  }
  for (std::string_view f : {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"}) {
    if (node.value == f) {
      return false;
    }
  }
  ctx.error(node.where, path, "expected true or false, got " + got(node));
  return std::nullopt;
}

std::optional<std::int64_t> readInt(Context& ctx, const YamlNode& node, std::string_view path,
                                    std::int64_t min, std::int64_t max, bool allow_hex) {
  std::string what = "an integer";
  if (!expectScalar(ctx, node, path, what) || !rejectQuoted(ctx, node, path, what)) {
    return std::nullopt;
  }
  std::string_view text = node.value;
  int base = 10;
  // std::from_chars takes no "0x" prefix, so it is stripped here. It takes no '+' sign either,
  // so "+5" is rejected.
  if (allow_hex && text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    text.remove_prefix(2);
    base = 16;
  }
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  std::string range = "between " + std::to_string(min) + " and " + std::to_string(max);
  if (text.empty() || end != text.data() + text.size() || ec == std::errc::invalid_argument) {
    ctx.error(node.where, path, "expected " + what + " " + range + ", got " + got(node));
    return std::nullopt;
  }
  // An over-long number leaves `end` past its digits with result_out_of_range, so it gets the
  // range message rather than the syntax one.
  if (ec == std::errc::result_out_of_range || value < min || value > max) {
    ctx.error(node.where, path, "must be " + range + ", got " + quote(node.value));
    return std::nullopt;
  }
  return value;
}

std::optional<double> readNumber(Context& ctx, const YamlNode& node, std::string_view path,
                                 double min, double max) {
  std::string what = "a number";
  if (!expectScalar(ctx, node, path, what) || !rejectQuoted(ctx, node, path, what)) {
    return std::nullopt;
  }
  std::string_view text = node.value;
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value,
                                   std::chars_format::fixed);
  std::string range = "between " + formatNumber(min) + " and " + formatNumber(max);
  // chars_format::fixed rejects exponents ("1e3"), but from_chars still reads "inf" and "nan",
  // hence the isfinite check.
  if (text.empty() || end != text.data() + text.size() || ec != std::errc() ||
      !std::isfinite(value)) {
    ctx.error(node.where, path, "expected " + what + " " + range + ", got " + got(node));
    return std::nullopt;
  }
  if (value < min || value > max) {
    ctx.error(node.where, path, "must be " + range + ", got " + quote(node.value));
    return std::nullopt;
  }
  return value;
}

std::optional<double> readRatio(Context& ctx, const YamlNode& node, std::string_view path) {
  constexpr std::string_view kWhat = "a ratio such as 0.05 or 5%";
  if (!expectScalar(ctx, node, path, kWhat)) {
    return std::nullopt;
  }
  std::string_view text = node.value;
  bool percent = !text.empty() && text.back() == '%';
  // A percentage is a string in YAML whether quoted or not, so only a bare ratio must be
  // unquoted, as for readNumber.
  if (percent) {
    text.remove_suffix(1);
  } else if (!rejectQuoted(ctx, node, path, kWhat)) {
    return std::nullopt;
  }
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value,
                                   std::chars_format::fixed);
  if (text.empty() || end != text.data() + text.size() || ec != std::errc() ||
      !std::isfinite(value)) {
    ctx.error(node.where, path, "expected " + std::string(kWhat) + ", got " + got(node));
    return std::nullopt;
  }
  if (percent) {
    value /= 100.0;
  }
  if (value < 0.0 || value > 1.0) {
    ctx.error(node.where, path,
              "must be between 0 and 1 (or 0% and 100%), got " + quote(node.value));
    return std::nullopt;
  }
  return value;
}

std::optional<Duration> readDuration(Context& ctx, const YamlNode& node, std::string_view path,
                                     Duration min, Duration max) {
  if (!expectScalar(ctx, node, path, "a duration such as 500ms, 2s or 5m")) {
    return std::nullopt;
  }
  // No rejectQuoted: a duration such as 500ms is a string in YAML anyway, quoted or not.
  auto parsed = parseDuration(node.value);
  if (!parsed) {
    ctx.error(node.where, path, parsed.error().message());
    return std::nullopt;
  }
  if (*parsed < min || *parsed > max) {
    // parseDuration never yields a negative value, so with a zero minimum only the maximum can
    // have been exceeded.
    std::string range = min == Duration::zero()
                            ? "at most " + formatDuration(max)
                            : "between " + formatDuration(min) + " and " + formatDuration(max);
    ctx.error(node.where, path, "must be " + range + ", got " + quote(node.value));
    return std::nullopt;
  }
  return *parsed;
}

std::optional<IpAddress> readAddress(Context& ctx, const YamlNode& node, std::string_view path) {
  if (!expectScalar(ctx, node, path, "an IPv4 or IPv6 address")) {
    return std::nullopt;
  }
  auto parsed = IpAddress::parse(node.value);
  if (!parsed) {
    ctx.error(node.where, path, "expected an IPv4 or IPv6 address, got " + got(node));
    return std::nullopt;
  }
  return *parsed;
}

bool expectList(Context& ctx, const YamlNode& node, std::string_view path) {
  if (node.isSequence()) {
    return true;
  }
  if (node.isNull()) {
    ctx.error(node.where, path, "missing value (expected a list)");
  } else {
    std::string example = node.isScalar() ? " (write [" + node.value.substr(0, 40) + "])" : "";
    ctx.error(node.where, path, "expected a list, got " + std::string(describeKind(node)) +
                                    (node.isScalar() ? example : ""));
  }
  return false;
}

std::optional<std::vector<std::string>> readStringList(Context& ctx, const YamlNode& node,
                                                       std::string_view path,
                                                       std::size_t min_items) {
  if (!expectList(ctx, node, path)) {
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (std::size_t i = 0; i < node.items.size(); ++i) {
    std::string item_path = indexPath(path, i);
    // Recorded for every item, so that a later cross-check of "key[i]" points at the item itself.
    ctx.locations.record(item_path, node.items[i]->where);
    auto value = readString(ctx, *node.items[i], item_path);
    if (!value) {
      ok = false;
    } else if (value->empty()) {
      ctx.error(node.items[i]->where, item_path, "must not be empty");
      ok = false;
    } else {
      out.push_back(std::move(*value));
    }
  }
  // Only when every item was valid: a list shortened by a rejected item would otherwise also be
  // reported as too short.
  if (ok && out.size() < min_items) {
    ctx.error(node.where, path,
              "needs at least " + std::to_string(min_items) +
                  (min_items == 1 ? " item" : " items"));
    return std::nullopt;
  }
  return ok ? std::optional(std::move(out)) : std::nullopt;
}

std::optional<std::string> readEnumWord(Context& ctx, const YamlNode& node, std::string_view path,
                                        const std::vector<std::string_view>& words) {
  std::string what = "one of " + joinAlternatives(words);
  if (!expectScalar(ctx, node, path, what)) {
    return std::nullopt;
  }
  for (std::string_view w : words) {
    if (node.value == w) {
      return node.value;
    }
  }
  ctx.error(node.where, path,
            "expected " + what + ", got " + got(node) + didYouMean(node.value, words));
  return std::nullopt;
}

// --- MapReader --------------------------------------------------------------------------------

MapReader::MapReader(Context& ctx, const YamlNode& node, std::string path,
                     std::vector<std::string_view> keys)
    : ctx_(ctx), path_(std::move(path)), where_(node.where) {
  ctx_.locations.record(path_, node.where);
  if (node.isNull()) {
    is_map_ = true;
    return;
  }
  if (!node.isMap()) {
    ctx_.error(node.where, path_,
               "expected a mapping (key: value lines), got " + std::string(describeKind(node)));
    return;
  }
  is_map_ = true;
  entries_ = mapEntries(node);
  for (const auto& [key, value] : entries_) {
    bool known = false;
    for (std::string_view k : keys) {
      if (key->value == k) {
        known = true;
        break;
      }
    }
    if (known) {
      continue;
    }
    std::string message = "unknown key " + quote(key->value);
    std::string suggestion = didYouMean(key->value, keys);
    if (!suggestion.empty()) {
      message += suggestion;
    } else if (ctx_.misplaced_hints != nullptr) {
      auto hint = ctx_.misplaced_hints->find(key->value);
      if (hint != ctx_.misplaced_hints->end()) {
        message += " ('" + key->value + "' belongs under " + std::string(hint->second) + ")";
      } else {
        message += " (expected one of: " + joinAlternatives(keys) + ")";
      }
    } else {
      message += " (expected one of: " + joinAlternatives(keys) + ")";
    }
    ctx_.error(key->where, path_, message);
  }
}

const YamlNode* MapReader::find(std::string_view key) const {
  for (const auto& [k, value] : entries_) {
    if (k->value == key) {
      ctx_.locations.record(pathOf(key), value->isNull() ? k->where : value->where);
      return value;
    }
  }
  return nullptr;
}

std::vector<std::string> MapReader::keys() const {
  std::vector<std::string> out;
  for (const auto& entry : entries_) {
    out.push_back(entry.first->value);
  }
  return out;
}

const YamlNode* MapReader::require(std::string_view key, std::string_view explanation) const {
  const YamlNode* node = find(key);
  // Not for a node that is not a mapping: its type error is already reported, and listing every
  // required key as missing as well would only bury it.
  if (node == nullptr && is_map_) {
    std::string message = "missing required key '" + std::string(key) + "'";
    if (!explanation.empty()) {
      message += " (" + std::string(explanation) + ")";
    }
    ctx_.error(where_, path_, message);
  }
  return node;
}

bool MapReader::get(std::string_view key, std::string& out) const {
  const YamlNode* node = find(key);
  if (node == nullptr) {
    return false;
  }
  auto value = readString(ctx_, *node, pathOf(key));
  if (value) {
    out = std::move(*value);
  }
  return value.has_value();
}

bool MapReader::get(std::string_view key, bool& out) const {
  const YamlNode* node = find(key);
  if (node == nullptr) {
    return false;
  }
  auto value = readBool(ctx_, *node, pathOf(key));
  if (value) {
    out = *value;
  }
  return value.has_value();
}

bool MapReader::get(std::string_view key, Duration& out, Duration min, Duration max) const {
  const YamlNode* node = find(key);
  if (node == nullptr) {
    return false;
  }
  auto value = readDuration(ctx_, *node, pathOf(key), min, max);
  if (value) {
    out = *value;
  }
  return value.has_value();
}

bool MapReader::get(std::string_view key, std::optional<IpAddress>& out) const {
  const YamlNode* node = find(key);
  if (node == nullptr) {
    return false;
  }
  auto value = readAddress(ctx_, *node, pathOf(key));
  if (value) {
    out = *value;
  }
  return value.has_value();
}

bool MapReader::getInt(std::string_view key, int& out, int min, int max) const {
  const YamlNode* node = find(key);
  if (node == nullptr) {
    return false;
  }
  auto value = readInt(ctx_, *node, pathOf(key), min, max);
  if (value) {
    out = static_cast<int>(*value);
  }
  return value.has_value();
}

bool MapReader::getNumber(std::string_view key, double& out, double min, double max) const {
  const YamlNode* node = find(key);
  if (node == nullptr) {
    return false;
  }
  auto value = readNumber(ctx_, *node, pathOf(key), min, max);
  if (value) {
    out = *value;
  }
  return value.has_value();
}

bool MapReader::getRatio(std::string_view key, double& out) const {
  const YamlNode* node = find(key);
  if (node == nullptr) {
    return false;
  }
  auto value = readRatio(ctx_, *node, pathOf(key));
  if (value) {
    out = *value;
  }
  return value.has_value();
}

bool MapReader::getStringList(std::string_view key, std::vector<std::string>& out,
                              std::size_t min_items) const {
  const YamlNode* node = find(key);
  if (node == nullptr) {
    return false;
  }
  auto value = readStringList(ctx_, *node, pathOf(key), min_items);
  if (value) {
    out = std::move(*value);
  }
  return value.has_value();
}

}  // namespace pathpilot::config::detail
