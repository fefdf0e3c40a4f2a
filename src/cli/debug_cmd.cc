// `pathpilot debug sigv4 CASE_DIR [--presign]`: runs the SigV4 signer on one test-vector
// directory (classic aws-sig-v4-test-suite or aws-c-auth layout, see aws/sigv4_case.h) and
// prints the canonical request, the string to sign and, as the last line, the signature in
// lowercase hex, so that a mismatch with AWS can be diagnosed step by step.
// Exit: 0 signed (and matches the expected signature when the case has one), 1 mismatch,
// unsupported case or unreadable input, 2 usage.
#include <cstdio>
#include <memory>
#include <string>

#include <fmt/core.h>

#include "aws/sigv4.h"
#include "aws/sigv4_case.h"
#include "cli/command.h"

namespace pathpilot::cli {

namespace {

struct DebugSigV4Options {
  std::string case_dir;
  bool presign = false;
  bool reveal_token = false;
};

// Replaces the session token (raw and percent-encoded) so that it does not reach a
// terminal or a pasted bug report by default.
std::string redactToken(std::string text, const std::string& token) {
  if (token.empty()) {
    return text;
  }
  for (const std::string& needle : {aws::uriEncode(token, false), token}) {
    for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos)) {
      text.replace(pos, needle.size(), "<redacted>");
      pos += 10;
    }
  }
  return text;
}

int runDebugSigV4(const DebugSigV4Options& opt) {
  auto loaded = aws::loadSigV4Case(opt.case_dir);
  if (!loaded) {
    fmt::print(stderr, "pathpilot debug sigv4: {}\n", loaded.error().toString());
    return kExitFailure;
  }
  const aws::SigV4Case& c = *loaded;
  if (!c.unsupported.empty()) {
    fmt::print(stderr, "pathpilot debug sigv4: {}: unsupported: {}\n", c.dir.string(),
               c.unsupported);
    return kExitFailure;
  }
  auto sig = opt.presign ? aws::presignQuery(c.request, c.credentials, c.params)
                         : aws::signHeaders(c.request, c.credentials, c.params);
  if (!sig) {
    fmt::print(stderr, "pathpilot debug sigv4: {}\n", sig.error().toString());
    return kExitFailure;
  }
  const std::optional<aws::SigV4Expected>& expected = opt.presign ? c.query : c.header;
  const std::string& token = c.credentials.sessionToken();
  auto show = [&](const std::string& s) { return opt.reveal_token ? s : redactToken(s, token); };

  fmt::print("# case {} ({} layout), {} signing, {} {}\n", c.dir.string(),
             c.layout == aws::SigV4CaseLayout::Classic ? "classic" : "aws-c-auth",
             opt.presign ? "query (presigned)" : "header", c.params.region, c.params.service);
  if (!token.empty() && !opt.reveal_token) {
    fmt::print("# the session token is shown as <redacted> (--reveal-token shows it)\n");
  }
  fmt::print("# canonical request\n{}\n", show(sig->canonical_request));
  if (expected && !expected->canonical_request.empty() &&
      expected->canonical_request != sig->canonical_request) {
    fmt::print("# expected canonical request (DIFFERS)\n{}\n", show(expected->canonical_request));
  }
  fmt::print("# string to sign\n{}\n", sig->string_to_sign);
  int rc = kExitOk;
  if (expected && !expected->signature.empty()) {
    bool same = expected->signature == sig->signature;
    fmt::print("# expected signature {} ({})\n", expected->signature,
               same ? "matches" : "DIFFERS");
    rc = same ? kExitOk : kExitFailure;
  } else {
    fmt::print("# no expected signature in this case for this mode\n");
  }
  fmt::print("# signature\n{}\n", sig->signature);
  return rc;
}

}  // namespace

Command addDebugCommand(CLI::App& root) {
  auto* app = root.add_subcommand("debug", "Diagnostics for developers and support");
  app->require_subcommand(1);
  auto opt = std::make_shared<DebugSigV4Options>();
  auto* sigv4 = app->add_subcommand(
      "sigv4", "Sign one SigV4 test-vector directory and print each step; last line: signature");
  sigv4->add_option("CASE_DIR", opt->case_dir,
                    "case directory (<name>/<name>.req or context.json + request.txt)")
      ->required();
  sigv4->add_flag("--presign", opt->presign, "sign in the query string instead of headers");
  sigv4->add_flag("--reveal-token", opt->reveal_token,
                  "print the session token instead of <redacted>");
  return {app, [opt, sigv4] {
            if (sigv4->parsed()) {
              return runDebugSigV4(*opt);
            }
            std::fputs("pathpilot debug: unknown subcommand (see --help)\n", stderr);
            return kExitUsage;
          }};
}

}  // namespace pathpilot::cli
