// config/schema.h — the mappings of the config file and the keys each one takes.
//
// Purpose: the decoder's own key lists (the ones that reject unknown keys), named by where
// they appear in the file, so that tools and tests can see the schema without a YAML file:
// docs/config.md is checked against it key by key (tests/unit/config/config_keys_test.cc).
// A key path names list items with "[]" ("paths[].probe"); "" is the top level, "<secret>"
// the {env: NAME} / {file: PATH} mapping of a secret value.
// Threading: immutable data, safe from any thread after static initialisation.
// Metrics: none.
#pragma once

#include <string_view>
#include <vector>

namespace pathpilot::config {

struct SchemaSection {
  std::string_view path;                      // "paths[].probe", "" for the top level
  const std::vector<std::string_view>* keys;  // in docs/config.md order
};

// Every mapping the decoder reads, each with the keys it accepts (a list shared by several
// mappings, such as health and paths[].health, appears once per mapping).
const std::vector<SchemaSection>& schemaSections();

}  // namespace pathpilot::config
