// config/detail/decode.h — schema decoding and whole-file validation.
//
// Purpose: decodeConfig() walks the YAML tree section by section, applies the defaults of
// config.h, and checks everything that one value or one list item can show on its own (types,
// ranges, formats, required keys, unknown keys). validateConfig() then checks what needs the
// whole file: unique names, references between route tables and paths, timings across
// sections, address families, backends needed by tables, unused paths. Both report into the
// Context and never stop early.
// Module-private: only config/ includes it.
// Threading: pure functions over their arguments.
#pragma once

#include "config/config.h"
#include "config/detail/reader.h"
#include "config/detail/yaml_tree.h"

namespace pathpilot::config::detail {

// Decodes `root` into `out` (best effort: invalid values keep their defaults).
void decodeConfig(const YamlNode& root, Context& ctx, Config& out);

// Cross-section checks on a decoded config; uses ctx.locations to point at the file.
void validateConfig(const Config& config, Context& ctx);

// Keys written at the wrong level → where they belong (for "unknown key" messages).
const std::unordered_map<std::string_view, std::string_view>& misplacedKeyHints();

}  // namespace pathpilot::config::detail
