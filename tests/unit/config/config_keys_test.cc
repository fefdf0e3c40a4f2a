// Config keys do what docs/config.md says, and nothing is decoded that nothing uses.
//
// Three views of the schema must agree:
//   - the decoder's key lists (config/schema.h: every mapping and the keys it accepts), which
//     are what a YAML file can actually set;
//   - docs/config.md, whose key tables each carry a `<!-- keys: SECTION -->` comment naming
//     the mapping they document (`= a, b` for keys documented in prose, `like X` for "the
//     same keys as X");
//   - the fields of the config structs (config/config.h), each of which must be read by some
//     module outside src/config (a key that is decoded but never used does nothing the docs
//     promise, as backends.linux.drift_check_interval once did).
// Everything is read from the source tree of this build (PP_SOURCE_DIR); nothing outside the
// repository is needed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config/detail/decode.h"
#include "config/schema.h"

namespace pathpilot::config {
namespace {

namespace fs = std::filesystem;

const fs::path kRoot = PP_SOURCE_DIR;

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot read " << path;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// "paths[].probe" + "interval" → "paths[].probe.interval"; the top level has no prefix.
std::string keyPath(const std::string& section, const std::string& key) {
  return section.empty() ? key : section + "." + key;
}

using Sections = std::map<std::string, std::set<std::string>>;

std::set<std::string> flatten(const Sections& sections) {
  std::set<std::string> out;
  for (const auto& [section, keys] : sections) {
    for (const auto& key : keys) {
      out.insert(keyPath(section, key));
    }
  }
  return out;
}

Sections decodedSections() {
  Sections out;
  for (const SchemaSection& s : schemaSections()) {
    auto& keys = out[std::string(s.path)];
    for (std::string_view k : *s.keys) {
      keys.insert(std::string(k));
    }
  }
  return out;
}

std::string trim(std::string s) {
  auto space = [](unsigned char c) { return std::isspace(c) != 0; };
  s.erase(s.begin(), std::find_if_not(s.begin(), s.end(), space));
  s.erase(std::find_if_not(s.rbegin(), s.rend(), space).base(), s.end());
  return s;
}

std::vector<std::string> splitList(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!trim(item).empty()) {
      out.push_back(trim(item));
    }
  }
  return out;
}

// The keys docs/config.md documents, by the `keys:` comments (see the file's first comment).
// `problems` collects comments that do not lead to a table.
Sections documentedSections(const std::string& markdown, std::vector<std::string>& problems) {
  static const std::regex kMarker(R"(^<!-- keys: (.+) -->\s*$)");
  static const std::regex kCode("`([^`]+)`");
  Sections out;
  std::vector<std::pair<std::string, std::string>> likes;  // section, same keys as
  std::optional<std::string> pending;                      // a table comes for this section
  int pending_line = 0;
  bool in_table = false;
  int row = 0;
  std::istringstream in(markdown);
  std::string line;
  int number = 0;
  auto add = [&out](const std::string& section, const std::string& key) {
    // A dotted key in a table ("backoff.initial") is a key of a nested mapping.
    auto dot = key.find('.');
    if (dot == std::string::npos) {
      out[section].insert(key);
      return;
    }
    out[section].insert(key.substr(0, dot));
    out[keyPath(section, key.substr(0, dot))].insert(key.substr(dot + 1));
  };
  auto section_name = [](std::string s) { return s == "(top level)" ? std::string() : s; };
  while (std::getline(in, line)) {
    ++number;
    std::smatch m;
    if (std::regex_match(line, m, kMarker)) {
      std::string spec = m[1];
      if (auto eq = spec.find(" = "); eq != std::string::npos) {
        for (const std::string& key : splitList(spec.substr(eq + 3))) {
          add(section_name(trim(spec.substr(0, eq))), key);
        }
      } else if (auto like = spec.find(" like "); like != std::string::npos) {
        likes.emplace_back(section_name(trim(spec.substr(0, like))), trim(spec.substr(like + 6)));
      } else {
        if (pending) {
          problems.push_back("docs/config.md:" + std::to_string(pending_line) +
                             ": keys comment without a table");
        }
        pending = section_name(trim(spec));
        pending_line = number;
      }
      continue;
    }
    bool table_line = !line.empty() && line[0] == '|';
    if (pending && table_line) {
      in_table = true;
      // Row 0 is the header, row 1 the |---| separator.
      if (row++ >= 2) {
        std::string first = line.substr(1, line.find('|', 1) - 1);
        for (std::sregex_iterator it(first.begin(), first.end(), kCode), end; it != end; ++it) {
          add(*pending, (*it)[1]);
        }
      }
      continue;
    }
    if (in_table && !table_line) {
      in_table = false;
      pending.reset();
      row = 0;
    }
  }
  if (pending && !in_table) {
    problems.push_back("docs/config.md:" + std::to_string(pending_line) +
                       ": keys comment without a table");
  }
  // "S like X": S and its nested mappings take the keys of X and X's.
  for (const auto& [section, model] : likes) {
    Sections copy = out;
    bool found = false;
    for (const auto& [s, keys] : copy) {
      if (s == model || s.rfind(model + ".", 0) == 0) {
        found = true;
        out[section + s.substr(model.size())].insert(keys.begin(), keys.end());
      }
    }
    if (!found) {
      problems.push_back("docs/config.md: '" + section + " like " + model + "': no section " +
                         model);
    }
  }
  return out;
}

std::string listed(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) {
    out += "\n  " + i;
  }
  return out;
}

// Both ways: a key the decoder accepts is documented, a documented key is accepted.
TEST(ConfigKeysTest, EveryDecodedKeyIsDocumentedAndEveryDocumentedKeyIsDecoded) {
  std::vector<std::string> problems;
  auto documented = flatten(documentedSections(readFile(kRoot / "docs/config.md"), problems));
  auto decoded = flatten(decodedSections());
  EXPECT_EQ(problems, std::vector<std::string>{}) << listed(problems);
  std::vector<std::string> undocumented, unknown;
  std::set_difference(decoded.begin(), decoded.end(), documented.begin(), documented.end(),
                      std::back_inserter(undocumented));
  std::set_difference(documented.begin(), documented.end(), decoded.begin(), decoded.end(),
                      std::back_inserter(unknown));
  EXPECT_EQ(undocumented, std::vector<std::string>{})
      << "decoded (src/config/detail/decode.cc) but not documented in docs/config.md:"
      << listed(undocumented);
  EXPECT_EQ(unknown, std::vector<std::string>{})
      << "documented in docs/config.md but not decoded (an unknown key for the loader):"
      << listed(unknown);
  // Sanity: the walk found the tables (a broken parser would find nothing on either side).
  EXPECT_GT(documented.size(), 150u);
  EXPECT_TRUE(documented.count("backends.linux.drift_check_interval"));
  EXPECT_TRUE(documented.count("paths[].health.damping.half_life"));
  EXPECT_TRUE(documented.count("api.rate_limit.write_burst"));
}

// The schema table is the decoder's: every key list decode.cc defines is in it, and each
// mapping is named once.
TEST(ConfigKeysTest, EveryKeyListOfTheDecoderIsInTheSchema) {
  const std::string decode = readFile(kRoot / "src/config/detail/decode.cc");
  static const std::regex kList(R"(const std::vector<std::string_view> (k\w+Keys)\s*=)");
  int lists = 0;
  for (std::sregex_iterator it(decode.begin(), decode.end(), kList), end; it != end; ++it) {
    ++lists;
    const std::string name = (*it)[1];
    EXPECT_NE(decode.find("&" + name + "}"), std::string::npos)
        << name << " is not in kSchema (src/config/detail/decode.cc): add the mapping(s) it "
        << "is used for";
  }
  EXPECT_GT(lists, 25);
  std::set<std::string_view> paths;
  for (const SchemaSection& s : schemaSections()) {
    EXPECT_TRUE(paths.insert(s.path).second) << "twice in kSchema: " << s.path;
  }
}

// The "'x' belongs under ..." hints name mappings that do take the key.
TEST(ConfigKeysTest, MisplacedKeyHintsNameMappingsThatTakeTheKey) {
  Sections decoded = decodedSections();
  for (const auto& [key, where] : detail::misplacedKeyHints()) {
    std::string w(where);
    for (std::string::size_type at; (at = w.find(" or ")) != std::string::npos;) {
      w.replace(at, 4, ", ");
    }
    for (const std::string& section : splitList(w)) {
      auto it = decoded.find(section);
      ASSERT_NE(it, decoded.end()) << "hint for '" << key << "' names " << section
                                   << ", which is not a mapping of the schema";
      EXPECT_TRUE(it->second.count(std::string(key)))
          << "hint: '" << key << "' belongs under " << section << ", which does not take it";
    }
  }
}

// ---- decoded but never read ----------------------------------------------------------------

// `text` with comments, string and character literals blanked out (so that a key named in an
// error message or a comment does not count as a use).
std::string codeOnly(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    char c = text[i];
    if (c == '/' && i + 1 < text.size() && text[i + 1] == '/') {
      while (i < text.size() && text[i] != '\n') {
        ++i;
      }
    } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '*') {
      auto end = text.find("*/", i + 2);
      i = end == std::string::npos ? text.size() : end + 2;
      out += ' ';
    } else if (c == 'R' && i + 1 < text.size() && text[i + 1] == '"' &&
               (i == 0 ||
                !(std::isalnum(static_cast<unsigned char>(text[i - 1])) || text[i - 1] == '_'))) {
      auto open = text.find('(', i + 2);
      std::string delim = ")" + text.substr(i + 2, open - i - 2) + "\"";
      auto end = text.find(delim, open);
      i = end == std::string::npos ? text.size() : end + delim.size();
      out += "\"\"";
    } else if (c == '\'' && i > 0 && std::isxdigit(static_cast<unsigned char>(text[i - 1]))) {
      out += c;  // a digit separator (100'000), not a character literal
      ++i;
    } else if (c == '"' || c == '\'') {
      ++i;
      while (i < text.size() && text[i] != c) {
        i += text[i] == '\\' ? 2 : 1;
      }
      ++i;
      out += "\"\"";
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

bool isIdent(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

// Members of the config structs: struct name → field names (methods, enums and nested types
// left out).
std::map<std::string, std::vector<std::string>> configFields() {
  const std::string header = codeOnly(readFile(kRoot / "src/config/config.h"));
  static const std::regex kStruct(R"(^\s*struct (\w+)\b[^;]*\{\s*$)");
  std::map<std::string, std::vector<std::string>> out;
  std::istringstream in(header);
  std::string line;
  std::string current;
  int depth = 0;
  while (std::getline(in, line)) {
    std::smatch m;
    if (depth == 0 && std::regex_match(line, m, kStruct)) {
      current = m[1];
      depth = 1;
      continue;
    }
    if (depth == 0) {
      continue;
    }
    std::string t = trim(line);
    if (depth == 1 && !t.empty() && t.back() == ';' && t.rfind("enum", 0) != 0 &&
        t.rfind("friend", 0) != 0 && t.rfind("using", 0) != 0 && t.rfind("static", 0) != 0) {
      std::string decl = t.substr(0, t.find_first_of("={;"));
      if (decl.find('(') == std::string::npos) {
        std::size_t end = decl.find_last_not_of(" ");
        std::size_t begin = end;
        while (begin > 0 && isIdent(decl[begin - 1])) {
          --begin;
        }
        std::string name = decl.substr(begin, end - begin + 1);
        if (!name.empty() && isIdent(name[0])) {
          out[current].push_back(name);
        }
      }
    }
    depth += static_cast<int>(std::count(line.begin(), line.end(), '{')) -
             static_cast<int>(std::count(line.begin(), line.end(), '}'));
  }
  return out;
}

// Every identifier used as a member (after '.' or '->') in the code of src/, outside
// src/config.
std::set<std::string> membersUsedOutsideConfig() {
  std::set<std::string> used;
  for (const auto& entry : fs::recursive_directory_iterator(kRoot / "src")) {
    const fs::path& p = entry.path();
    if (!entry.is_regular_file() || (p.extension() != ".cc" && p.extension() != ".h")) {
      continue;
    }
    if (fs::relative(p, kRoot / "src").begin()->string() == "config") {
      continue;
    }
    const std::string code = codeOnly(readFile(p));
    for (std::size_t i = 0; i < code.size(); ++i) {
      std::size_t start = 0;
      if (code[i] == '.' && i + 1 < code.size() &&
          !std::isdigit(static_cast<unsigned char>(code[i + 1]))) {
        start = i + 1;
      } else if (code[i] == '-' && i + 1 < code.size() && code[i + 1] == '>') {
        start = i + 2;
      } else {
        continue;
      }
      std::size_t end = start;
      while (end < code.size() && isIdent(code[end])) {
        ++end;
      }
      if (end > start) {
        used.insert(code.substr(start, end - start));
      }
    }
  }
  return used;
}

// Fields that are legitimately read only inside src/config, each with why.
const std::map<std::string, std::string>& allowedUnread() {
  static const std::map<std::string, std::string> allowed = {};
  return allowed;
}

TEST(ConfigKeysTest, EveryConfigFieldIsReadOutsideTheConfigModule) {
  const auto fields = configFields();
  ASSERT_GT(fields.size(), 20u);
  ASSERT_TRUE(fields.count("LinuxBackendSettings"));
  EXPECT_EQ(
      fields.at("LinuxBackendSettings"),
      (std::vector<std::string>{"netns", "drift_check_interval", "protocol", "adopt_protocols"}));
  const auto used = membersUsedOutsideConfig();
  ASSERT_GT(used.size(), 500u);
  std::vector<std::string> unread;
  std::vector<std::string> allowed_but_read;
  for (const auto& [type, names] : fields) {
    for (const auto& name : names) {
      std::string id = type + "." + name;
      bool read = used.count(name) > 0;
      bool allowed = allowedUnread().count(id) > 0;
      if (!read && !allowed) {
        unread.push_back(id);
      } else if (read && allowed) {
        allowed_but_read.push_back(id);
      }
    }
  }
  EXPECT_EQ(unread, std::vector<std::string>{})
      << "config fields that no module outside src/config reads (decoded, documented, and "
         "then ignored):"
      << listed(unread);
  EXPECT_EQ(allowed_but_read, std::vector<std::string>{})
      << "allow-listed as unread but read now: drop them from allowedUnread()"
      << listed(allowed_but_read);
}

// The lexer the check relies on: comments and literals do not count as uses.
TEST(ConfigKeysTest, CommentsAndStringsAreNotUses) {
  EXPECT_EQ(codeOnly("a.b // x.drift_check_interval\n"), "a.b \n");
  EXPECT_EQ(codeOnly("f(\"backends.linux.netns\", 'x') /* c.d */ e->f"), "f(\"\", \"\")   e->f");
  EXPECT_EQ(codeOnly("R\"(x.y)\" + R\"d(a)\" \")d\"; g.h"), "\"\" + \"\"; g.h");
  EXPECT_EQ(codeOnly("n = 100'000; s.rate"), "n = 100'000; s.rate");
}

}  // namespace
}  // namespace pathpilot::config
