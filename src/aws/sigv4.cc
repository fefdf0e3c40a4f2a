#include "aws/sigv4.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <utility>

#include "aws/detail/crypto.h"
#include "http/url.h"

namespace pathpilot::aws {

namespace {

using detail::hmacSha256;
using detail::sha256Hex;
using detail::toHex;

// Headers that intermediaries add or rewrite; signing them would break the signature
// (the AWS SDKs keep the same list).
constexpr std::array<std::string_view, 7> kUnsignedHeaders = {
    "authorization", "connection",        "expect",         "transfer-encoding",
    "user-agent",    "x-amzn-trace-id",   "x-forwarded-for"};

constexpr std::int64_t kMaxExpiresSeconds = 7 * 24 * 3600;

char lowerAscii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lowerCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = lowerAscii(c);
  }
  return out;
}

bool isUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '.' || c == '_' || c == '~';
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Trims the value and collapses every inner run of whitespace (folded lines included)
// into one space.
std::string canonicalHeaderValue(std::string_view value) {
  // A space is only written before a following non-space character, so leading and
  // trailing whitespace vanish without a separate trim.
  std::string out;
  out.reserve(value.size());
  bool pending_space = false;
  for (char c : value) {
    if (isSpace(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) {
      out.push_back(' ');
      pending_space = false;
    }
    out.push_back(c);
  }
  return out;
}

bool isUnsignedHeader(std::string_view lower_name) {
  return std::find(kUnsignedHeaders.begin(), kUnsignedHeaders.end(), lower_name) !=
         kUnsignedHeaders.end();
}

// Lowercased name → canonical value (repeated names joined with ','), sorted by name.
// The values of a repeated header keep their order (get-header-value-order): AWS joins them
// in the order they were sent, so sorting them would break the signature. A stable sort on
// the name alone keeps that order.
// When `only` is non-null, just those names are kept (verification).
std::vector<std::pair<std::string, std::string>> canonicalHeaders(
    const http::Headers& headers, const std::vector<std::string>* only) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const http::Header& h : headers) {
    std::string name = lowerCopy(h.name);
    if (only != nullptr) {
      if (std::find(only->begin(), only->end(), name) == only->end()) {
        continue;
      }
    } else if (isUnsignedHeader(name)) {
      continue;
    }
    std::string value = canonicalHeaderValue(h.value);
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& p) { return p.first == name; });
    if (it != out.end()) {
      it->second += ",";
      it->second += value;
    } else {
      out.emplace_back(std::move(name), std::move(value));
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

std::string joinSignedHeaders(const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string out;
  for (const auto& [name, value] : headers) {
    if (!out.empty()) {
      out.push_back(';');
    }
    out += name;
  }
  return out;
}

// Splits a raw query into decoded (name, value) pairs; "a" gives ("a", "").
// Decoding first and encoding again (canonicalQueryFromPairs) makes "%E1%88%B4" and the raw
// UTF-8 bytes sign the same, and normalises lowercase escapes to the uppercase AWS uses.
std::vector<std::pair<std::string, std::string>> parseQuery(std::string_view raw) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!raw.empty()) {
    std::size_t amp = raw.find('&');
    std::string_view part = raw.substr(0, amp);
    raw = (amp == std::string_view::npos) ? std::string_view() : raw.substr(amp + 1);
    // Empty parts ("a=1&&b=2", a trailing '&') are skipped, not signed as an empty name.
    if (part.empty()) {
      continue;
    }
    std::size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      out.emplace_back(uriDecode(part), std::string());
    } else {
      out.emplace_back(uriDecode(part.substr(0, eq)), uriDecode(part.substr(eq + 1)));
    }
  }
  return out;
}

std::string canonicalQueryFromPairs(std::vector<std::pair<std::string, std::string>> pairs) {
  for (auto& [name, value] : pairs) {
    name = uriEncode(name, false);
    value = uriEncode(value, false);
  }
  // Sorted after encoding, as AWS specifies: a byte >= 0x80 sorts after '~' raw but before
  // it once written as %XX. Equal names are ordered by value.
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [name, value] : pairs) {
    if (!out.empty()) {
      out.push_back('&');
    }
    out += name;
    out.push_back('=');
    out += value;
  }
  return out;
}

// S3-style callers may sign a precomputed or UNSIGNED-PAYLOAD hash; everyone else hashes
// the body (an empty body hashes to e3b0c442...).
std::string payloadHash(const SigV4Request& request) {
  if (auto given = http::findHeader(request.headers, "x-amz-content-sha256")) {
    return std::string(*given);
  }
  return sha256Hex(request.body);
}

std::string buildCanonicalRequest(std::string_view method, std::string_view path,
                                  const std::string& canonical_query,
                                  const std::vector<std::pair<std::string, std::string>>& headers,
                                  const std::string& signed_headers,
                                  const std::string& payload_hash, const SigV4Params& params) {
  std::string out;
  out.reserve(256 + canonical_query.size() + payload_hash.size());
  out += method;
  out.push_back('\n');
  out += canonicalUri(path, params.normalize_path, params.encode_path);
  out.push_back('\n');
  out += canonical_query;
  out.push_back('\n');
  // Every header line ends in '\n' and the block is followed by one more, so the canonical
  // request holds the empty line AWS expects between the headers and the signed-header list.
  for (const auto& [name, value] : headers) {
    out += name;
    out.push_back(':');
    out += value;
    out.push_back('\n');
  }
  out.push_back('\n');
  out += signed_headers;
  out.push_back('\n');
  out += payload_hash;
  return out;
}

std::string dateOf(const std::string& amz_date) { return amz_date.substr(0, 8); }

std::string credentialScope(const std::string& date, const SigV4Params& params) {
  return date + "/" + params.region + "/" + params.service + "/aws4_request";
}

std::string stringToSign(const std::string& amz_date, const std::string& scope,
                         const std::string& canonical_request) {
  std::string out(kSigV4Algorithm);
  out.push_back('\n');
  out += amz_date;
  out.push_back('\n');
  out += scope;
  out.push_back('\n');
  out += sha256Hex(canonical_request);
  return out;
}

// Rejects what cannot be signed meaningfully. Host is required because SigV4 mandates it
// in SignedHeaders and AWS rejects signatures without it.
Result<void> validate(const SigV4Request& request, const Credentials& credentials,
                      const SigV4Params& params) {
  if (credentials.empty()) {
    return fail(ErrorCode::InvalidArgument, "SigV4: credentials have no access key or secret");
  }
  if (params.region.empty() || params.service.empty()) {
    return fail(ErrorCode::InvalidArgument, "SigV4: region and service must be set");
  }
  if (!http::findHeader(request.headers, "host")) {
    return fail(ErrorCode::InvalidArgument, "SigV4: the request has no Host header");
  }
  if (request.method.empty()) {
    return fail(ErrorCode::InvalidArgument, "SigV4: the request has no method");
  }
  return ok();
}

}  // namespace

std::string formatAmzDate(WallTime t) {
  using namespace std::chrono;
  auto secs = floor<seconds>(t);
  auto day = floor<days>(secs);
  year_month_day ymd{day};
  hh_mm_ss<seconds> hms{secs - day};
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04d%02u%02uT%02d%02d%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

Result<WallTime> parseAmzDate(std::string_view text) {
  auto bad = [&] {
    return fail(ErrorCode::InvalidArgument,
                "X-Amz-Date '" + std::string(text.substr(0, 32)) +
                    "' is not in the form 20150830T123600Z");
  };
  if (text.size() != 16 || text[8] != 'T' || text[15] != 'Z') {
    return bad();
  }
  auto number = [&](std::size_t pos, std::size_t len, int& out) {
    out = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (text[i] < '0' || text[i] > '9') {
        return false;
      }
      out = out * 10 + (text[i] - '0');
    }
    return true;
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!number(0, 4, y) || !number(4, 2, mo) || !number(6, 2, d) || !number(9, 2, h) ||
      !number(11, 2, mi) || !number(13, 2, s)) {
    return bad();
  }
  using namespace std::chrono;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  // Second 60 is accepted for a leap second; ymd.ok() rejects dates such as 20150230.
  if (!ymd.ok() || h > 23 || mi > 59 || s > 60) {
    return bad();
  }
  return WallTime(sys_days(ymd)) + hours(h) + minutes(mi) + seconds(s);
}

std::string uriEncode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() + text.size() / 2);
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (isUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0x0f]);
    }
  }
  return out;
}

std::string uriDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      int hi = hexValue(text[i + 1]);
      int lo = hexValue(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

std::string canonicalUri(std::string_view path, bool normalize, bool encode) {
  if (path.empty()) {
    return "/";
  }
  std::string work;
  if (normalize) {
    // RFC 3986 §5.2.4 dot-segment removal, plus collapsing empty segments ("//"), keeping
    // whether the path ended with '/'.
    std::vector<std::string_view> segments;
    std::string_view rest = path;
    while (true) {
      std::size_t slash = rest.find('/');
      std::string_view seg = rest.substr(0, slash);
      // ".." at the root is dropped rather than rejected: "/../a" becomes "/a".
      if (seg == "..") {
        if (!segments.empty()) {
          segments.pop_back();
        }
      } else if (!seg.empty() && seg != ".") {
        segments.push_back(seg);
      }
      if (slash == std::string_view::npos) {
        break;
      }
      rest.remove_prefix(slash + 1);
    }
    bool trailing_slash = path.back() == '/';
    work.push_back('/');
    for (std::size_t i = 0; i < segments.size(); ++i) {
      work += segments[i];
      if (i + 1 < segments.size() || trailing_slash) {
        work.push_back('/');
      }
    }
  } else {
    work = std::string(path);
  }
  return encode ? uriEncode(work, true) : work;
}

std::string canonicalQuery(std::string_view raw_query) {
  return canonicalQueryFromPairs(parseQuery(raw_query));
}

std::string deriveSigningKey(std::string_view secret, std::string_view date,
                             std::string_view region, std::string_view service) {
  std::string k = hmacSha256("AWS4" + std::string(secret), date);
  k = hmacSha256(k, region);
  k = hmacSha256(k, service);
  return hmacSha256(k, "aws4_request");
}

Result<SigV4Signature> signHeaders(const SigV4Request& request, const Credentials& credentials,
                                   const SigV4Params& params) {
  if (auto v = validate(request, credentials, params); !v) {
    return fail(v.error());
  }
  const std::string amz_date = formatAmzDate(params.time);
  const std::string date = dateOf(amz_date);
  const std::string hash = payloadHash(request);
  const bool sign_token = credentials.hasSessionToken() && !params.omit_session_token;

  // The headers as they will be sent: ours replace any stale copies (a retried request is
  // signed again with a new date, so the old X-Amz-Date and Authorization must go).
  http::Headers headers = request.headers;
  http::removeHeader(headers, "authorization");
  http::removeHeader(headers, "x-amz-date");
  // A token of earlier credentials goes too, also when these have none: it must be neither
  // signed nor sent with keys it does not belong to.
  http::removeHeader(headers, "x-amz-security-token");
  SigV4Signature out;
  if (credentials.hasSessionToken()) {
    out.added_headers.push_back({"X-Amz-Security-Token", credentials.sessionToken()});
  }
  out.added_headers.push_back({"X-Amz-Date", amz_date});
  if (params.add_content_sha256_header) {
    http::removeHeader(headers, "x-amz-content-sha256");
    out.added_headers.push_back({"X-Amz-Content-Sha256", hash});
  }
  // The added headers are signed too (AWS requires X-Amz-Date to be), except the session
  // token when the service wants it unsigned; it is still sent in added_headers.
  for (const http::Header& h : out.added_headers) {
    if (sign_token || !http::equalsIgnoreCase(h.name, "x-amz-security-token")) {
      headers.push_back(h);
    }
  }

  // Task 1-4 of the SigV4 process: canonical request, string to sign, signing key, and the
  // HMAC of the string to sign.
  auto canonical = canonicalHeaders(headers, nullptr);
  out.signed_headers = joinSignedHeaders(canonical);
  out.canonical_request =
      buildCanonicalRequest(request.method, request.path,
                            canonicalQuery(request.query), canonical, out.signed_headers, hash,
                            params);
  out.credential_scope = credentialScope(date, params);
  out.string_to_sign = stringToSign(amz_date, out.credential_scope, out.canonical_request);
  std::string key =
      deriveSigningKey(credentials.secretAccessKey(), date, params.region, params.service);
  out.signature = toHex(hmacSha256(key, out.string_to_sign));
  out.added_headers.push_back(
      {"Authorization", std::string(kSigV4Algorithm) + " Credential=" +
                            credentials.accessKeyId() + "/" + out.credential_scope +
                            ", SignedHeaders=" + out.signed_headers +
                            ", Signature=" + out.signature});
  return out;
}

Result<SigV4Signature> presignQuery(const SigV4Request& request, const Credentials& credentials,
                                    const SigV4Params& params) {
  if (auto v = validate(request, credentials, params); !v) {
    return fail(v.error());
  }
  auto expires = std::chrono::duration_cast<std::chrono::seconds>(params.expires).count();
  if (expires < 1 || expires > kMaxExpiresSeconds) {
    return fail(ErrorCode::InvalidArgument,
                "SigV4: presigned expiry must be 1 s to 7 days, got " +
                    std::to_string(expires) + " s");
  }
  const std::string amz_date = formatAmzDate(params.time);
  const std::string date = dateOf(amz_date);
  const std::string hash = payloadHash(request);
  const bool sign_token = credentials.hasSessionToken() && !params.omit_session_token;

  SigV4Signature out;
  out.credential_scope = credentialScope(date, params);
  auto canonical = canonicalHeaders(request.headers, nullptr);
  out.signed_headers = joinSignedHeaders(canonical);

  // In query mode the signing parameters travel in the query and are part of the canonical
  // query string themselves; X-Amz-Signature is the only one that cannot be (it is the
  // result). The session token is signed unless the service wants it added afterwards.
  std::vector<std::pair<std::string, std::string>> added = {
      {"X-Amz-Algorithm", std::string(kSigV4Algorithm)},
      {"X-Amz-Credential", credentials.accessKeyId() + "/" + out.credential_scope},
      {"X-Amz-Date", amz_date},
      {"X-Amz-SignedHeaders", out.signed_headers},
      {"X-Amz-Expires", std::to_string(expires)},
  };
  auto pairs = parseQuery(request.query);
  pairs.insert(pairs.end(), added.begin(), added.end());
  if (sign_token) {
    pairs.emplace_back("X-Amz-Security-Token", credentials.sessionToken());
  }
  out.canonical_request =
      buildCanonicalRequest(request.method, request.path, canonicalQueryFromPairs(pairs),
                            canonical, out.signed_headers, hash, params);
  out.string_to_sign = stringToSign(amz_date, out.credential_scope, out.canonical_request);
  std::string key =
      deriveSigningKey(credentials.secretAccessKey(), date, params.region, params.service);
  out.signature = toHex(hmacSha256(key, out.string_to_sign));

  // The query to send: the caller's, untouched, then ours in the order the AWS SDKs use.
  // The token is sent whether or not it was signed; omit_session_token only keeps it out
  // of the canonical query above.
  out.query = request.query;
  auto append = [&](std::string_view name, std::string_view value) {
    if (!out.query.empty()) {
      out.query.push_back('&');
    }
    out.query += name;
    out.query.push_back('=');
    out.query += uriEncode(value, false);
  };
  for (const auto& [name, value] : added) {
    append(name, value);
  }
  if (credentials.hasSessionToken()) {
    append("X-Amz-Security-Token", credentials.sessionToken());
  }
  append("X-Amz-Signature", out.signature);
  return out;
}

Result<void> signHttpRequest(http::Request& request, const Credentials& credentials,
                             const SigV4Params& params) {
  auto url = http::parseUrl(request.url);
  if (!url) {
    return fail(url.error());
  }
  // Host goes into the request itself, not only into the copy that is signed: the Host that
  // is sent must be the one that was signed.
  if (!http::findHeader(request.headers, "host")) {
    request.headers.push_back({"Host", url->hostHeader()});
  }
  SigV4Request sreq;
  sreq.method = request.method;
  sreq.path = url->path;
  sreq.query = url->query;
  sreq.headers = request.headers;
  sreq.body = request.body;
  auto signature = signHeaders(sreq, credentials, params);
  if (!signature) {
    return fail(signature.error());
  }
  // signHeaders left stale copies out of its signature but worked on a copy; the request
  // still holds those from an earlier signing, and they go before the new ones are appended.
  http::removeHeader(request.headers, "authorization");
  http::removeHeader(request.headers, "x-amz-date");
  http::removeHeader(request.headers, "x-amz-security-token");
  for (const http::Header& h : signature->added_headers) {
    http::removeHeader(request.headers, h.name);
  }
  for (http::Header& h : signature->added_headers) {
    request.headers.push_back(std::move(h));
  }
  return ok();
}

// Accepts the comma-separated "Key=Value" components in any order and with optional spaces,
// as AWS does; unknown components are ignored.
Result<SigV4Authorization> parseAuthorization(std::string_view value) {
  auto incomplete = [](const std::string& what) {
    return fail(ErrorCode::PermissionDenied, "IncompleteSignature: " + what);
  };
  std::string_view algo = value.substr(0, value.find(' '));
  if (algo != kSigV4Algorithm) {
    return incomplete("Authorization does not start with " + std::string(kSigV4Algorithm));
  }
  std::string_view rest = value.substr(algo.size());
  SigV4Authorization out;
  std::string credential;
  bool have_signed_headers = false;
  while (!rest.empty()) {
    std::size_t comma = rest.find(',');
    std::string_view part = rest.substr(0, comma);
    rest = (comma == std::string_view::npos) ? std::string_view() : rest.substr(comma + 1);
    while (!part.empty() && isSpace(part.front())) {
      part.remove_prefix(1);
    }
    while (!part.empty() && isSpace(part.back())) {
      part.remove_suffix(1);
    }
    std::size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      return incomplete("Authorization component without '=': '" +
                        std::string(part.substr(0, 40)) + "'");
    }
    std::string_view key = part.substr(0, eq);
    std::string_view val = part.substr(eq + 1);
    if (key == "Credential") {
      credential = std::string(val);
    } else if (key == "SignedHeaders") {
      have_signed_headers = true;
      std::string_view list = val;
      while (!list.empty()) {
        std::size_t semi = list.find(';');
        out.signed_headers.emplace_back(lowerCopy(list.substr(0, semi)));
        list = (semi == std::string_view::npos) ? std::string_view() : list.substr(semi + 1);
      }
    } else if (key == "Signature") {
      out.signature = std::string(val);
    }
  }
  if (credential.empty()) {
    return incomplete("Authorization has no Credential");
  }
  if (!have_signed_headers || out.signed_headers.empty()) {
    return incomplete("Authorization has no SignedHeaders");
  }
  if (out.signature.size() != 64) {
    return incomplete("Authorization has no valid Signature");
  }
  // AKID/yyyymmdd/region/service/aws4_request
  std::vector<std::string> parts;
  std::string_view cred = credential;
  while (true) {
    std::size_t slash = cred.find('/');
    parts.emplace_back(cred.substr(0, slash));
    if (slash == std::string_view::npos) {
      break;
    }
    cred.remove_prefix(slash + 1);
  }
  if (parts.size() != 5 || parts[4] != "aws4_request" || parts[1].size() != 8) {
    return incomplete("Credential must be AKID/yyyymmdd/region/service/aws4_request");
  }
  out.access_key_id = parts[0];
  out.date = parts[1];
  out.region = parts[2];
  out.service = parts[3];
  return out;
}

Result<SigV4Authorization> verifyHeaderSignature(const SigV4Request& request,
                                                 const SecretLookup& lookup, WallTime now,
                                                 Duration max_skew) {
  // The checks run in the order AWS reports them: missing or malformed Authorization, a
  // date outside the allowed skew, an unknown key, then the signature itself. The expected
  // signature is never put in a message (it would let a caller forge requests).
  auto authz_value = http::findHeader(request.headers, "authorization");
  if (!authz_value) {
    return fail(ErrorCode::PermissionDenied,
                "MissingAuthenticationToken: Request is missing Authentication Token");
  }
  auto authz = parseAuthorization(*authz_value);
  if (!authz) {
    return fail(authz.error());
  }
  auto amz_date_text = http::findHeader(request.headers, "x-amz-date");
  if (!amz_date_text) {
    return fail(ErrorCode::PermissionDenied,
                "IncompleteSignature: the request has no X-Amz-Date header");
  }
  auto amz_date = parseAmzDate(*amz_date_text);
  if (!amz_date) {
    return fail(ErrorCode::PermissionDenied, "IncompleteSignature: " + amz_date.error().message());
  }
  if (std::find(authz->signed_headers.begin(), authz->signed_headers.end(), "host") ==
      authz->signed_headers.end()) {
    return fail(ErrorCode::PermissionDenied, "IncompleteSignature: Host must be signed");
  }
  auto skew = *amz_date > now ? *amz_date - now : now - *amz_date;
  if (skew > max_skew) {
    return fail(ErrorCode::PermissionDenied,
                "RequestTimeTooSkewed: The difference between the request time and the current "
                "time is too large (request " +
                    std::string(*amz_date_text) + ", server " + formatAmzDate(now) + ")");
  }
  if (authz->date != amz_date_text->substr(0, 8)) {
    return fail(ErrorCode::PermissionDenied,
                "SignatureDoesNotMatch: credential scope date does not match X-Amz-Date");
  }
  auto secret = lookup(authz->access_key_id);
  if (!secret) {
    return fail(ErrorCode::PermissionDenied,
                "InvalidClientTokenId: The security token included in the request is invalid "
                "(access key " +
                    Credentials::maskAccessKeyId(authz->access_key_id) + ")");
  }
  // Only a literal hash can be checked against the body; values such as UNSIGNED-PAYLOAD are
  // not 64 characters long and enter the canonical request as given.
  if (auto given = http::findHeader(request.headers, "x-amz-content-sha256");
      given && given->size() == 64 && *given != sha256Hex(request.body)) {
    return fail(ErrorCode::PermissionDenied,
                "XAmzContentSHA256Mismatch: The provided 'x-amz-content-sha256' header does not "
                "match what was computed");
  }
  // Default params: the path is normalised and encoded, i.e. verified the way every service
  // but S3 does it (the fake endpoint serves EC2, SNS and CloudWatch).
  SigV4Params params;
  params.region = authz->region;
  params.service = authz->service;
  auto canonical = canonicalHeaders(request.headers, &authz->signed_headers);
  // A listed header absent from the request, or a name listed twice, makes the sizes differ.
  if (canonical.size() != authz->signed_headers.size()) {
    return fail(ErrorCode::PermissionDenied,
                "SignatureDoesNotMatch: a header listed in SignedHeaders is missing");
  }
  std::string signed_headers = joinSignedHeaders(canonical);
  std::string creq =
      buildCanonicalRequest(request.method, request.path, canonicalQuery(request.query),
                            canonical, signed_headers, payloadHash(request), params);
  std::string sts =
      stringToSign(std::string(*amz_date_text), credentialScope(authz->date, params), creq);
  std::string key = deriveSigningKey(*secret, authz->date, authz->region, authz->service);
  std::string expected = toHex(hmacSha256(key, sts));
  if (!detail::constantTimeEquals(expected, authz->signature)) {
    return fail(ErrorCode::PermissionDenied,
                "SignatureDoesNotMatch: The request signature we calculated does not match the "
                "signature you provided");
  }
  return authz;
}

}  // namespace pathpilot::aws
