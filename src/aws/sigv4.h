// aws/sigv4.h — AWS Signature Version 4 (AWS4-HMAC-SHA256), pure.
//
// Purpose: sign a request for an AWS query API (EC2, SNS, CloudWatch) either in headers
// (Authorization + X-Amz-Date [+ X-Amz-Security-Token]) or in the query string (presigned
// URL with X-Amz-Expires), and verify such a signature (the fake endpoint does). The time is
// an argument, never read from a clock, so the code is tested on AWS's published vectors
// (testdata/aws/sigv4, testdata/aws/sigv4-crt) and is deterministic.
//
// The canonical request follows the AWS "Create a canonical request" rules:
//   - method, then the URI path: dot segments removed and empty segments collapsed when
//     `normalize_path` (every service but S3), then each byte outside the RFC 3986
//     unreserved set percent-encoded (a path already holding %XX is thus encoded again,
//     which is what non-S3 services verify);
//   - the query: every name and value percent-decoded then re-encoded, sorted by name then
//     value (byte order);
//   - the signed headers: names lowercased, values trimmed with inner whitespace runs
//     (including folded lines) collapsed to one space, repeated headers joined by ',';
//   - SHA-256 of the payload (or the value of an X-Amz-Content-Sha256 header if present).
// Headers that proxies rewrite (User-Agent, X-Amzn-Trace-Id, Expect, Connection,
// Transfer-Encoding) and Authorization are never signed.
//
// Threading: pure functions. Metrics: none.
// Secrets: the returned SigV4Signature holds no secret except, in query mode and in
// added_headers, the session token the request must carry anyway; never log those values.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/credentials.h"
#include "base/error.h"
#include "base/time.h"
#include "http/http_client.h"

namespace pathpilot::aws {

inline constexpr std::string_view kSigV4Algorithm = "AWS4-HMAC-SHA256";

// The parts of an HTTP request that SigV4 covers.
struct SigV4Request {
  std::string method = "GET";
  // The path as sent on the wire, e.g. "/" or "/example space/". Empty means "/".
  std::string path = "/";
  // The raw query string without '?', as sent; may be empty.
  std::string query;
  // Must contain Host. Order is kept for repeated names.
  http::Headers headers;
  std::string body;
};

struct SigV4Params {
  std::string region;   // "us-east-1", "cn-north-1"
  std::string service;  // signing name: "ec2", "sns", "monitoring"
  WallTime time;        // the request time (X-Amz-Date); corrected for clock skew by callers
  // Remove "." / ".." segments and repeated slashes before encoding (false for S3 only).
  bool normalize_path = true;
  // Percent-encode the path (true for every service but S3, whose paths are used as sent).
  bool encode_path = true;
  // Header mode: add and sign X-Amz-Content-Sha256 with the payload hash (S3 needs it).
  bool add_content_sha256_header = false;
  // Add the session token after signing, unsigned (a few services want that); default is
  // to sign it.
  bool omit_session_token = false;
  // Query mode: X-Amz-Expires. AWS accepts 1 s to 7 days.
  Duration expires = std::chrono::seconds(3600);
};

struct SigV4Signature {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;         // 64 lowercase hex characters
  std::string signed_headers;    // "host;x-amz-date"
  std::string credential_scope;  // "20150830/us-east-1/service/aws4_request"
  // Header mode: headers to append to the request, in order: X-Amz-Security-Token (when the
  // credentials have one), X-Amz-Date, X-Amz-Content-Sha256 (when asked), Authorization.
  // Contains the session token: do not log values.
  http::Headers added_headers;
  // Query mode: the query string to send (the original one followed by the X-Amz-*
  // parameters and X-Amz-Signature), without '?'.
  std::string query;
};

// Signs in headers. Errors (InvalidArgument): no Host header, empty credentials, empty
// region or service. Existing X-Amz-Date / Authorization headers are replaced.
[[nodiscard]] Result<SigV4Signature> signHeaders(const SigV4Request& request,
                                                 const Credentials& credentials,
                                                 const SigV4Params& params);

// Signs in the query string (a presigned request). The headers present are signed as
// well (Host at least). Errors as signHeaders, plus `expires` outside 1 s .. 7 days.
[[nodiscard]] Result<SigV4Signature> presignQuery(const SigV4Request& request,
                                                  const Credentials& credentials,
                                                  const SigV4Params& params);

// Signs an http::Request in place (header mode): sets Host from the URL if missing, then
// appends the headers of signHeaders(). Errors: bad URL, and those of signHeaders().
[[nodiscard]] Result<void> signHttpRequest(http::Request& request, const Credentials& credentials,
                                           const SigV4Params& params);

// ---- verification (used by the fake AWS endpoint and by tests) ----

// The fields of "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request,
// SignedHeaders=host;x-amz-date, Signature=abcd...".
struct SigV4Authorization {
  std::string access_key_id;
  std::string date;  // yyyymmdd
  std::string region;
  std::string service;
  std::vector<std::string> signed_headers;  // lowercase, as listed
  std::string signature;
};

// Parses an Authorization header value. Errors: InvalidArgument naming the missing or
// malformed part (the message never quotes the signature).
[[nodiscard]] Result<SigV4Authorization> parseAuthorization(std::string_view value);

// Looks up the secret for an access key id; nullopt for an unknown key.
using SecretLookup = std::function<std::optional<std::string>(std::string_view access_key_id)>;

// Verifies a header-signed request as AWS does: parses Authorization, recomputes the
// canonical request over exactly the listed signed headers, checks the credential scope
// date against X-Amz-Date, the request time against `now` (±`max_skew`, else
// "RequestTimeTooSkewed"), and the signature (constant-time compare). Returns the
// parsed Authorization on success. Errors: PermissionDenied with a message beginning with
// the AWS error code to send back: "IncompleteSignature: ...", "InvalidClientTokenId: ...",
// "SignatureDoesNotMatch: ...", "RequestTimeTooSkewed: ...".
[[nodiscard]] Result<SigV4Authorization> verifyHeaderSignature(
    const SigV4Request& request, const SecretLookup& lookup, WallTime now,
    Duration max_skew = std::chrono::minutes(5));

// ---- building blocks, exposed for tests and the debug command ----

// 20150830T123600Z
std::string formatAmzDate(WallTime t);
// Parses 20150830T123600Z. Errors: InvalidArgument quoting the text.
[[nodiscard]] Result<WallTime> parseAmzDate(std::string_view text);

// Percent-encodes every byte outside A-Z a-z 0-9 - . _ ~ (and '/' when `keep_slash`),
// with uppercase hex, as SigV4 requires.
std::string uriEncode(std::string_view text, bool keep_slash);
// Decodes %XX escapes; a '%' not followed by two hex digits is kept literally. '+' is
// kept (it is not a space in SigV4).
std::string uriDecode(std::string_view text);

// The canonical URI of `path` (see the header comment).
std::string canonicalUri(std::string_view path, bool normalize, bool encode);
// The canonical query string of a raw query (sorted, re-encoded).
std::string canonicalQuery(std::string_view raw_query);

// The derived signing key: HMAC chain "AWS4"+secret → date → region → service →
// "aws4_request". 32 raw bytes.
std::string deriveSigningKey(std::string_view secret, std::string_view date,
                             std::string_view region, std::string_view service);

}  // namespace pathpilot::aws
