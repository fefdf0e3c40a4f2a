#include "aws/sigv4_case.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <system_error>

#include <nlohmann/json.hpp>

namespace pathpilot::aws {

namespace fs = std::filesystem;

namespace {

// The fixed inputs of the classic suite (its README).
constexpr std::string_view kClassicAccessKey = "AKIDEXAMPLE";
constexpr std::string_view kClassicSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr std::string_view kClassicRegion = "us-east-1";
constexpr std::string_view kClassicService = "service";

Result<std::string> readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(ErrorCode::NotFound, "cannot read " + path.string());
  }
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string readOptional(const fs::path& path) {
  auto text = readFile(path);
  return text ? *text : std::string();
}

// Expected files end without a newline, but tolerate one.
std::string trimTrailingNewlines(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) {
    s.pop_back();
  }
  return s;
}

std::string signatureFromAuthorization(std::string_view authz) {
  auto pos = authz.find("Signature=");
  if (pos == std::string_view::npos) {
    return {};
  }
  std::string_view sig = authz.substr(pos + 10);
  return std::string(sig.substr(0, sig.find_first_of(", \r\n")));
}

bool isClassicCase(const fs::path& dir) {
  std::string name = dir.filename().string();
  std::error_code ec;
  return fs::is_regular_file(dir / (name + ".req"), ec);
}

bool isCrtCase(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "context.json", ec) &&
         fs::is_regular_file(dir / "request.txt", ec);
}

std::string unsupportedReason(const fs::path& dir, const SigV4Case& c) {
  std::error_code ec;
  bool in_v4a_suite = std::any_of(dir.begin(), dir.end(), [](const fs::path& p) {
    return p == "v4a";
  });
  if (fs::exists(dir / "public-key.json", ec) || in_v4a_suite) {
    return "SigV4a (ECDSA P-256) signing is not implemented";
  }
  if (!c.header && !c.query) {
    return "the case has no expected output files, so there is nothing to compare";
  }
  for (const auto* expected : {&c.header, &c.query}) {
    if (*expected && !(*expected)->string_to_sign.empty()) {
      std::string_view sts = (*expected)->string_to_sign;
      std::string_view algo = sts.substr(0, sts.find('\n'));
      if (algo != kSigV4Algorithm) {
        return "signing algorithm '" + std::string(algo) + "' is not implemented";
      }
    }
  }
  return {};
}

Result<SigV4Case> loadClassic(const fs::path& dir) {
  SigV4Case c;
  c.dir = dir;
  c.name = dir.filename().string();
  c.layout = SigV4CaseLayout::Classic;
  fs::path base = dir / c.name;
  auto raw = readFile(fs::path(base.string() + ".req"));
  if (!raw) {
    return fail(raw.error());
  }
  auto request = parseRawHttpRequest(*raw);
  if (!request) {
    return fail(request.error().withContext(base.string() + ".req"));
  }
  c.request = std::move(*request);
  auto date = http::findHeader(c.request.headers, "x-amz-date");
  if (!date) {
    return fail(ErrorCode::InvalidArgument,
                base.string() + ".req: no X-Amz-Date header to take the signing time from");
  }
  auto time = parseAmzDate(*date);
  if (!time) {
    return fail(time.error().withContext(base.string() + ".req"));
  }
  SigV4Expected e;
  e.canonical_request = trimTrailingNewlines(readOptional(fs::path(base.string() + ".creq")));
  e.string_to_sign = trimTrailingNewlines(readOptional(fs::path(base.string() + ".sts")));
  e.authorization = trimTrailingNewlines(readOptional(fs::path(base.string() + ".authz")));
  e.signed_request = readOptional(fs::path(base.string() + ".sreq"));
  e.signature = signatureFromAuthorization(e.authorization);
  // The suite has no context file: a session token that the canonical request signs but
  // the .req does not carry is a credential (get-vanilla-with-session-token), which the
  // signer must add. botocore's runner reads it the same way.
  std::string token;
  if (!http::findHeader(c.request.headers, "x-amz-security-token")) {
    constexpr std::string_view kTokenLine = "\nx-amz-security-token:";
    auto pos = e.canonical_request.find(kTokenLine);
    if (pos != std::string::npos) {
      std::string_view rest = std::string_view(e.canonical_request).substr(pos + kTokenLine.size());
      token = std::string(rest.substr(0, rest.find('\n')));
    }
  }
  c.credentials = Credentials(std::string(kClassicAccessKey), std::string(kClassicSecret),
                              std::move(token), {}, "test suite");
  c.params.region = std::string(kClassicRegion);
  c.params.service = std::string(kClassicService);
  c.params.time = *time;
  c.params.normalize_path = true;
  c.header = std::move(e);
  c.unsupported = unsupportedReason(dir, c);
  return c;
}

std::optional<SigV4Expected> loadCrtExpected(const fs::path& dir, std::string_view mode) {
  std::string prefix = std::string(mode) + "-";
  SigV4Expected e;
  e.canonical_request =
      trimTrailingNewlines(readOptional(dir / (prefix + "canonical-request.txt")));
  e.string_to_sign = trimTrailingNewlines(readOptional(dir / (prefix + "string-to-sign.txt")));
  e.signature = trimTrailingNewlines(readOptional(dir / (prefix + "signature.txt")));
  e.signed_request = readOptional(dir / (prefix + "signed-request.txt"));
  if (e.canonical_request.empty() && e.string_to_sign.empty() && e.signature.empty()) {
    return std::nullopt;
  }
  return e;
}

Result<SigV4Case> loadCrt(const fs::path& dir) {
  SigV4Case c;
  c.dir = dir;
  c.name = dir.filename().string();
  c.layout = SigV4CaseLayout::Crt;
  fs::path context_path = dir / "context.json";
  auto context_text = readFile(context_path);
  if (!context_text) {
    return fail(context_text.error());
  }
  nlohmann::json ctx = nlohmann::json::parse(*context_text, nullptr, /*allow_exceptions=*/false);
  if (ctx.is_discarded() || !ctx.is_object()) {
    return fail(ErrorCode::InvalidArgument, context_path.string() + ": not a JSON object");
  }
  auto str = [&](const nlohmann::json& obj, const char* key) -> std::string {
    auto it = obj.find(key);
    return (it != obj.end() && it->is_string()) ? it->get<std::string>() : std::string();
  };
  auto flag = [&](const char* key, bool fallback) {
    auto it = ctx.find(key);
    return (it != ctx.end() && it->is_boolean()) ? it->get<bool>() : fallback;
  };
  auto creds_it = ctx.find("credentials");
  if (creds_it == ctx.end() || !creds_it->is_object()) {
    return fail(ErrorCode::InvalidArgument, context_path.string() + ": no \"credentials\" object");
  }
  c.credentials = Credentials(str(*creds_it, "access_key_id"), str(*creds_it, "secret_access_key"),
                              str(*creds_it, "token"), {}, "test suite");
  if (c.credentials.empty()) {
    return fail(ErrorCode::InvalidArgument,
                context_path.string() + ": credentials need access_key_id and secret_access_key");
  }
  c.params.region = str(ctx, "region");
  c.params.service = str(ctx, "service");
  if (c.params.region.empty() || c.params.service.empty()) {
    return fail(ErrorCode::InvalidArgument,
                context_path.string() + ": \"region\" and \"service\" are required");
  }
  auto time = parseRfc3339(str(ctx, "timestamp"));
  if (!time) {
    return fail(time.error().withContext(context_path.string() + ": \"timestamp\""));
  }
  c.params.time = *time;
  c.params.normalize_path = flag("normalize", true);
  c.params.add_content_sha256_header = flag("sign_body", false);
  c.params.omit_session_token = flag("omit_session_token", false);
  if (auto it = ctx.find("expiration_in_seconds"); it != ctx.end() && it->is_number()) {
    c.params.expires = std::chrono::seconds(it->get<std::int64_t>());
  }
  auto raw = readFile(dir / "request.txt");
  if (!raw) {
    return fail(raw.error());
  }
  auto request = parseRawHttpRequest(*raw);
  if (!request) {
    return fail(request.error().withContext((dir / "request.txt").string()));
  }
  c.request = std::move(*request);
  c.header = loadCrtExpected(dir, "header");
  c.query = loadCrtExpected(dir, "query");
  if (c.header && !c.header->signed_request.empty()) {
    // The Authorization value, for the same check the classic layout gets.
    std::string_view text = c.header->signed_request;
    auto pos = text.find("\nAuthorization:");
    if (pos != std::string_view::npos) {
      std::string_view line = text.substr(pos + 15);
      line = line.substr(0, line.find_first_of("\r\n"));
      while (!line.empty() && line.front() == ' ') {
        line.remove_prefix(1);
      }
      c.header->authorization = std::string(line);
    }
  }
  c.unsupported = unsupportedReason(dir, c);
  return c;
}

}  // namespace

// The suites write requests by hand: the request target is not percent-encoded (spaces and
// UTF-8 appear raw), header values keep their leading spaces, and a folded line continues the
// previous header. All of that must reach the signer unchanged, because canonicalisation is
// exactly what the vectors test.
Result<SigV4Request> parseRawHttpRequest(std::string_view text) {
  SigV4Request out;
  std::size_t line_no = 0;
  auto next_line = [&](std::string_view& line) {
    if (text.empty()) {
      return false;
    }
    std::size_t nl = text.find('\n');
    line = text.substr(0, nl);
    text = (nl == std::string_view::npos) ? std::string_view() : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    ++line_no;
    return true;
  };
  std::string_view line;
  if (!next_line(line) || line.empty()) {
    return fail(ErrorCode::InvalidArgument, "line 1: missing request line");
  }
  // METHOD SP target SP HTTP/x.y — the target may itself contain spaces.
  std::size_t first = line.find(' ');
  std::size_t last = line.rfind(' ');
  if (first == std::string_view::npos || last == first ||
      line.substr(last + 1).substr(0, 5) != "HTTP/") {
    return fail(ErrorCode::InvalidArgument,
                "line 1: expected 'METHOD /path HTTP/1.1', got '" +
                    std::string(line.substr(0, 80)) + "'");
  }
  out.method = std::string(line.substr(0, first));
  std::string_view target = line.substr(first + 1, last - first - 1);
  std::size_t q = target.find('?');
  out.path = std::string(target.substr(0, q));
  out.query = (q == std::string_view::npos) ? std::string() : std::string(target.substr(q + 1));
  if (out.path.empty()) {
    out.path = "/";
  }
  while (next_line(line)) {
    if (line.empty()) {
      out.body = std::string(text);
      break;
    }
    if (line.front() == ' ' || line.front() == '\t') {
      if (out.headers.empty()) {
        return fail(ErrorCode::InvalidArgument,
                    "line " + std::to_string(line_no) + ": continuation line before any header");
      }
      out.headers.back().value += "\n";
      out.headers.back().value += line;
      continue;
    }
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return fail(ErrorCode::InvalidArgument,
                  "line " + std::to_string(line_no) + ": expected 'Name:value', got '" +
                      std::string(line.substr(0, 80)) + "'");
    }
    out.headers.push_back({std::string(line.substr(0, colon)), std::string(line.substr(colon + 1))});
  }
  return out;
}

Result<SigV4Case> loadSigV4Case(const fs::path& dir) {
  if (isCrtCase(dir)) {
    return loadCrt(dir);
  }
  if (isClassicCase(dir)) {
    return loadClassic(dir);
  }
  return fail(ErrorCode::NotFound,
              dir.string() +
                  " is not a SigV4 test case (expected <name>/<name>.req or context.json + "
                  "request.txt)");
}

std::vector<fs::path> findSigV4Cases(const fs::path& root) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    return out;
  }
  if (isCrtCase(root) || isClassicCase(root)) {
    out.push_back(root);
  }
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory(ec) && (isCrtCase(it->path()) || isClassicCase(it->path()))) {
      out.push_back(it->path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace pathpilot::aws
