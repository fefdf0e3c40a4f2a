#include "aws/shared_config.h"

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <system_error>
#include <filesystem>

namespace pathpilot::aws {

namespace {

std::string_view trim(std::string_view s) {
  // Stripping '\r' as well lets files saved with CRLF line ends parse like LF ones.
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

// Expands a leading "~/" with HOME.
std::string expandHome(const EnvLookup& env, std::string path) {
  // Only the current user's "~" is expanded; "~other/..." is left as written, and so is every
  // path when HOME is unset.
  if (path == "~" || path.rfind("~/", 0) == 0) {
    if (auto home = env("HOME")) {
      return *home + path.substr(1);
    }
  }
  return path;
}

std::string defaultPath(const EnvLookup& env, std::string_view override_var,
                        std::string_view file) {
  if (auto given = env(override_var)) {
    return expandHome(env, *given);
  }
  auto home = env("HOME");
  // Without HOME the path stays "~/.aws/...", relative to the working directory and normally
  // absent, so the file reads as missing instead of failing the load.
  return (home ? *home : std::string("~")) + "/.aws/" + std::string(file);
}

// Reads and parses `path`; a missing file gives an empty IniFile.
Result<IniFile> readIni(const std::string& path) {
  // Missing is no error; a file whose existence cannot even be checked (a directory on the
  // way that this user may not search) goes on to the open below, which says why.
  std::error_code ec;
  if (!std::filesystem::exists(path, ec) && !ec) {
    return IniFile{path, {}};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    // std::ifstream gives no error detail of its own; errno from the failed open is read before
    // any other call can overwrite it.
    int err = errno;
    return fail(err == EACCES ? ErrorCode::PermissionDenied : ErrorCode::InvalidArgument,
                "cannot read AWS shared file " + path, err);
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parseIni(text, path);
}

}  // namespace

EnvLookup processEnvironment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr || *value == '\0') {
      return std::nullopt;
    }
    return std::string(value);
  };
}

EnvLookup fixedEnvironment(std::map<std::string, std::string, std::less<>> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end() || it->second.empty()) {
      return std::nullopt;
    }
    return it->second;
  };
}

// botocore reads these files with ConfigParser; this follows the parts pathpilot needs:
// comments only at line start (a '#' inside a value is part of it, as in ConfigParser),
// keys case-insensitive, and indented lines after an empty value are a nested block.
Result<IniFile> parseIni(std::string_view text, std::string path) {
  IniFile out;
  out.path = std::move(path);
  std::map<std::string, std::string>* section = nullptr;
  bool in_nested = false;  // inside the indented sub-keys of a key with an empty value
  std::size_t line_no = 0;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view raw = text.substr(0, nl);
    text = (nl == std::string_view::npos) ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') {
      continue;
    }
    // Indentation is judged on the untrimmed line, which is not empty since the trimmed one is not.
    bool indented = raw.front() == ' ' || raw.front() == '\t';
    if (indented && in_nested) {
      continue;  // "s3 =\n  max_concurrent_requests = 20": not used by pathpilot
    }
    auto where = [&] { return out.path + ":" + std::to_string(line_no) + ": "; };
    if (line.front() == '[') {
      if (line.back() != ']' || line.size() < 3) {
        return fail(ErrorCode::InvalidArgument, where() + "malformed section header");
      }
      std::string name(trim(line.substr(1, line.size() - 2)));
      // Section names keep their case, as in ConfigParser. A repeated section continues the same
      // map, so a later duplicate key overrides the earlier one.
      section = &out.sections[name];
      in_nested = false;
      continue;
    }
    // Split at the first '=': a value may itself contain '='.
    std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return fail(ErrorCode::InvalidArgument,
                  where() + "expected '[section]' or 'key = value'");
    }
    if (section == nullptr) {
      return fail(ErrorCode::InvalidArgument, where() + "setting outside of any [section]");
    }
    std::string key = lower(trim(line.substr(0, eq)));
    std::string value(trim(line.substr(eq + 1)));
    if (key.empty()) {
      return fail(ErrorCode::InvalidArgument, where() + "empty key");
    }
    in_nested = value.empty();
    (*section)[key] = std::move(value);
  }
  return out;
}

std::optional<std::string_view> Profile::get(std::string_view key) const {
  auto it = values.find(key);
  // An empty value, such as the head of a nested block ("s3 =") or "region =", counts as absent.
  if (it == values.end() || it->second.empty()) {
    return std::nullopt;
  }
  return std::string_view(it->second);
}

std::string selectProfileName(const EnvLookup& env, std::string_view explicit_name) {
  if (!explicit_name.empty()) {
    return std::string(explicit_name);
  }
  if (auto p = env("AWS_PROFILE")) {
    return *p;
  }
  if (auto p = env("AWS_DEFAULT_PROFILE")) {
    return *p;
  }
  return "default";
}

Result<Profile> loadProfile(const EnvLookup& env, std::string_view profile_name) {
  Profile profile;
  profile.name = std::string(profile_name);
  profile.credentials_file = defaultPath(env, "AWS_SHARED_CREDENTIALS_FILE", "credentials");
  profile.config_file = defaultPath(env, "AWS_CONFIG_FILE", "config");
  auto config = readIni(profile.config_file);
  if (!config) {
    return fail(config.error());
  }
  auto creds = readIni(profile.credentials_file);
  if (!creds) {
    return fail(creds.error());
  }
  // Config file: "[default]" or "[profile name]" (aws-cli also accepts "[profile default]").
  std::string config_section =
      profile.name == "default" ? std::string("default") : "profile " + profile.name;
  // For "default" both spellings are tried, [default] first; only the first section found is
  // used, never a merge of the two. For any other name both entries are the same section.
  for (const std::string& name : {config_section, "profile " + profile.name}) {
    if (auto it = config->sections.find(name); it != config->sections.end()) {
      profile.found = true;
      for (const auto& [k, v] : it->second) {
        profile.values[k] = v;
      }
      break;
    }
  }
  // Merged after the config file's section: a key set in both is overwritten here, which is how
  // the credentials file takes precedence.
  if (auto it = creds->sections.find(profile.name); it != creds->sections.end()) {
    profile.found = true;
    for (const auto& [k, v] : it->second) {
      profile.values[k] = v;
    }
  }
  return profile;
}

Result<std::optional<std::string>> resolveRegion(const EnvLookup& env,
                                                 std::string_view profile_name) {
  if (auto r = env("AWS_REGION")) {
    return std::optional<std::string>(*r);
  }
  if (auto r = env("AWS_DEFAULT_REGION")) {
    return std::optional<std::string>(*r);
  }
  // The files are read only when neither variable is set, so a malformed config file cannot
  // fail a region given in the environment.
  auto profile = loadProfile(env, profile_name);
  if (!profile) {
    return fail(profile.error());
  }
  if (auto r = profile->get("region")) {
    return std::optional<std::string>(std::string(*r));
  }
  return std::optional<std::string>();
}

}  // namespace pathpilot::aws
