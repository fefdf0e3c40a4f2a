#include "config/loader.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>

#include "config/detail/decode.h"
#include "config/detail/reader.h"
#include "config/detail/yaml_tree.h"

namespace pathpilot::config {
namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

// Reads at most kMaxFileBytes of `path`. On failure reports a file-level diagnostic and sets
// `code` to what an Error should carry.
std::optional<std::string> readConfigFile(const std::string& path, Diagnostics& diags,
                                          ErrorCode& code) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) {
    int err = errno;
    code = err == ENOENT   ? ErrorCode::NotFound
           : err == EACCES ? ErrorCode::PermissionDenied
                           : ErrorCode::InvalidArgument;
    diags.error({}, std::string("cannot open: ") + std::strerror(err));
    return std::nullopt;
  }
  struct stat st {};
  if (fstat(fileno(file.get()), &st) == 0 && S_ISDIR(st.st_mode)) {
    code = ErrorCode::InvalidArgument;
    diags.error({}, "is a directory, not a config file");
    return std::nullopt;
  }
  std::string text;
  char buffer[64 * 1024];
  while (true) {
    std::size_t n = std::fread(buffer, 1, sizeof buffer, file.get());
    text.append(buffer, n);
    if (text.size() > kMaxFileBytes) {
      code = ErrorCode::InvalidArgument;
      diags.error({}, "the file is larger than " + std::to_string(kMaxFileBytes / (1024 * 1024)) +
                          " MiB; a pathpilot config is a few KiB (wrong file?)");
      return std::nullopt;
    }
    if (n < sizeof buffer) {
      if (std::ferror(file.get())) {
        int err = errno;
        code = err == EACCES ? ErrorCode::PermissionDenied : ErrorCode::InvalidArgument;
        diags.error({}, std::string("cannot read: ") + std::strerror(err));
        return std::nullopt;
      }
      break;
    }
  }
  return text;
}

void parseAndValidate(std::string_view text, Diagnostics& diags, Config& config) {
  if (text.size() > kMaxFileBytes) {
    diags.error({}, "the input is larger than " + std::to_string(kMaxFileBytes / (1024 * 1024)) +
                        " MiB; a pathpilot config is a few KiB");
    return;
  }
  if (!detail::checkText(text, diags)) {
    return;
  }
  auto document = detail::parseYaml(text, diags);
  if (!document) {
    return;
  }
  detail::Context ctx(diags, &detail::misplacedKeyHints());
  detail::decodeConfig(document->root(), ctx, config);
  if (document->root().isMap()) {
    detail::validateConfig(config, ctx);
  }
}

LoadReport finish(Diagnostics& diags, Config config) {
  LoadReport report;
  report.diagnostics = diags.sorted();
  report.errors = diags.errorCount();
  report.warnings = diags.warningCount();
  if (!diags.hasErrors()) {
    for (const Diagnostic& d : report.diagnostics) {
      if (d.severity == Severity::Warning) {
        config.warnings.push_back(d);
      }
    }
    report.config = std::move(config);
  }
  return report;
}

// Runs `body`, turning any exception into a diagnostic: nothing escapes the loader.
template <class F>
void guarded(Diagnostics& diags, F&& body) {
  try {
    body();
  } catch (const std::bad_alloc&) {
    diags.error({}, "out of memory while loading the config");
  } catch (const std::exception& e) {
    diags.error({}, std::string("internal error while loading the config: ") + e.what());
  } catch (...) {
    diags.error({}, "internal error while loading the config");
  }
}

LoadReport checkFileWithCode(const std::string& path, ErrorCode& code) {
  Diagnostics diags(path);
  Config config;
  config.source = path;
  guarded(diags, [&] {
    auto text = readConfigFile(path, diags, code);
    if (text) {
      parseAndValidate(*text, diags, config);
    }
  });
  return finish(diags, std::move(config));
}

Result<Config> toResult(LoadReport report, ErrorCode code) {
  if (report.config) {
    return std::move(*report.config);
  }
  return fail(code, report.format());
}

}  // namespace

LoadReport checkString(std::string_view text, std::string_view name) {
  Diagnostics diags{std::string(name)};
  Config config;
  config.source = std::string(name);
  guarded(diags, [&] { parseAndValidate(text, diags, config); });
  return finish(diags, std::move(config));
}

LoadReport checkFile(const std::string& path) {
  ErrorCode code = ErrorCode::InvalidArgument;
  return checkFileWithCode(path, code);
}

Result<Config> loadFile(const std::string& path) {
  ErrorCode code = ErrorCode::InvalidArgument;
  LoadReport report = checkFileWithCode(path, code);
  return toResult(std::move(report), code);
}

Result<Config> loadString(std::string_view text, std::string_view name) {
  return toResult(checkString(text, name), ErrorCode::InvalidArgument);
}

}  // namespace pathpilot::config
