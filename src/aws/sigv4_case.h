// aws/sigv4_case.h — reads SigV4 test vectors from disk (both published layouts).
//
// Purpose: the unit test and `pathpilot debug sigv4 CASE_DIR` run the same cases.
// Two layouts are understood:
//   Classic (AWS "aws-sig-v4-test-suite", as vendored by botocore):
//     <case>/<case>.req  raw HTTP request; its X-Amz-Date header gives the time
//     <case>/<case>.creq .sts .authz .sreq  expected canonical request, string to sign,
//                        Authorization value and signed request.
//     Credentials, region and service are the suite's fixed ones (AKIDEXAMPLE, us-east-1,
//     "service").
//   CRT (awslabs/aws-c-auth "aws-signing-test-suite/v4"):
//     <case>/context.json  credentials (optional session token), region, service,
//                          timestamp, normalize, sign_body, expiration_in_seconds,
//                          omit_session_token
//     <case>/request.txt   raw HTTP request (the signer adds X-Amz-Date)
//     <case>/{header,query}-{canonical-request,string-to-sign,signature,signed-request}.txt
// A case that needs something we do not implement (SigV4a / ECDSA, recognised by a
// public-key.json or a non-HMAC algorithm in its string to sign) loads with `unsupported`
// set to the reason, so that callers can skip it and say why.
// Threading: plain functions; they read files. Metrics: none.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/credentials.h"
#include "aws/sigv4.h"
#include "base/error.h"

namespace pathpilot::aws {

enum class SigV4CaseLayout { Classic, Crt };

// What a case expects for one signing mode. Empty strings mean "not given".
struct SigV4Expected {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;
  std::string authorization;   // header mode: the Authorization value (classic .authz)
  std::string signed_request;  // raw text of the signed request file
};

struct SigV4Case {
  std::string name;  // path relative to the suite root when found by findSigV4Cases
  std::filesystem::path dir;
  SigV4CaseLayout layout = SigV4CaseLayout::Classic;
  SigV4Request request;
  Credentials credentials;
  SigV4Params params;
  std::optional<SigV4Expected> header;  // Authorization-header signing vectors
  std::optional<SigV4Expected> query;   // presigned (query-string) signing vectors
  std::string unsupported;              // non-empty: skip, with this reason
};

// Parses a raw HTTP/1.1 request as the suites write it: request line (the target may
// contain spaces), "Name:value" headers with folded continuation lines (kept, joined with
// '\n'), a blank line, then the body. LF or CRLF line ends. Errors: InvalidArgument naming
// the line.
[[nodiscard]] Result<SigV4Request> parseRawHttpRequest(std::string_view text);

// Loads the case in `dir` (either layout). Errors: NotFound when `dir` holds neither
// layout; InvalidArgument naming the file for malformed content.
[[nodiscard]] Result<SigV4Case> loadSigV4Case(const std::filesystem::path& dir);

// Every case directory below `root` (recursively, either layout), sorted by path. Empty
// when `root` does not exist.
std::vector<std::filesystem::path> findSigV4Cases(const std::filesystem::path& root);

}  // namespace pathpilot::aws
