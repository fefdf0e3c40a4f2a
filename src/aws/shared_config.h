// aws/shared_config.h — the AWS CLI's shared files (~/.aws/credentials, ~/.aws/config) and
// the environment, read the way aws-cli reads them.
//
// Purpose: find the profile to use and its settings (keys, region, unsupported sources such
// as role_arn) without surprising an engineer who already uses the AWS CLI on the box:
//   profile   = explicit name > AWS_PROFILE > AWS_DEFAULT_PROFILE > "default"
//   files     = AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials ("[name]" sections),
//               AWS_CONFIG_FILE or ~/.aws/config ("[default]", "[profile name]" sections);
//               a key in the credentials file wins over the same key in the config file
//   region    = AWS_REGION > AWS_DEFAULT_REGION > the profile's `region`
// The environment is injected (EnvLookup) so tests never touch the real one.
// Threading: functions read files; no shared state. Metrics: none.
// Secrets: Profile::values holds aws_secret_access_key / aws_session_token; never print
// values, only keys.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"

namespace pathpilot::aws {

// Reads one environment variable; nullopt when unset. Empty values count as unset.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// The real process environment (getenv).
EnvLookup processEnvironment();
// A fixed environment, for tests and for `pathpilot check` dry runs.
EnvLookup fixedEnvironment(std::map<std::string, std::string, std::less<>> vars);

// One INI file: section name → key → value. Keys are lowercased; values trimmed.
struct IniFile {
  std::string path;
  std::map<std::string, std::map<std::string, std::string>, std::less<>> sections;
};

// Parses AWS-style INI text: "[section]", "key = value", '#'/';' full-line comments, and
// indented sub-keys (nested settings such as `s3 =`), which are skipped. Errors:
// InvalidArgument "<path>:<line>: ..." for lines that are neither.
[[nodiscard]] Result<IniFile> parseIni(std::string_view text, std::string path);

// A resolved profile: the merged keys of its config-file section and credentials-file
// section (credentials file wins).
struct Profile {
  std::string name;
  std::map<std::string, std::string, std::less<>> values;
  std::string credentials_file;  // path read (may not exist)
  std::string config_file;       // path read (may not exist)
  bool found = false;            // the profile has a section in at least one file

  std::optional<std::string_view> get(std::string_view key) const;
};

// The profile name per the precedence above.
std::string selectProfileName(const EnvLookup& env, std::string_view explicit_name = {});

// Reads both files for `profile_name`. Missing files are not errors (Profile::found is
// false); unreadable or malformed ones are (InvalidArgument / PermissionDenied naming the
// file). "~/" in AWS_*_FILE values is expanded with HOME.
[[nodiscard]] Result<Profile> loadProfile(const EnvLookup& env, std::string_view profile_name);

// The region per the precedence above, or nullopt when none is configured. Errors only for
// malformed config files.
[[nodiscard]] Result<std::optional<std::string>> resolveRegion(const EnvLookup& env,
                                                               std::string_view profile_name);

}  // namespace pathpilot::aws
