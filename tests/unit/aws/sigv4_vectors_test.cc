// Runs every SigV4 test vector found under tests/data (both layouts) through the
// signer. The directories are walked at start-up, so a case dropped in is tested without a
// code change. Extra roots can be given in PP_SIGV4_TESTDATA (colon-separated).
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "aws/sigv4.h"
#include "aws/sigv4_case.h"

namespace pathpilot::aws {
namespace {

namespace fs = std::filesystem;

const fs::path kClassicRoot = fs::path(PP_SOURCE_DIR "/tests/data/aws/sigv4");
const fs::path kCrtRoot = fs::path(PP_SOURCE_DIR "/tests/data/aws/sigv4-crt");

std::vector<fs::path> allRoots() {
  std::vector<fs::path> roots = {kClassicRoot, kCrtRoot};
  if (const char* extra = std::getenv("PP_SIGV4_TESTDATA")) {
    std::stringstream ss(extra);
    std::string item;
    while (std::getline(ss, item, ':')) {
      if (!item.empty()) {
        roots.emplace_back(item);
      }
    }
  }
  return roots;
}

std::vector<fs::path> allCases() {
  std::vector<fs::path> out;
  for (const fs::path& root : allRoots()) {
    auto found = findSigV4Cases(root);
    out.insert(out.end(), found.begin(), found.end());
  }
  return out;
}

// The query string of the request line of a signed-request file.
std::string queryOfRequestLine(const std::string& signed_request) {
  std::string line = signed_request.substr(0, signed_request.find('\n'));
  auto q = line.find('?');
  if (q == std::string::npos) {
    return {};
  }
  auto end = line.rfind(" HTTP/");
  return line.substr(q + 1, end - q - 1);
}

std::multiset<std::string> splitQuery(const std::string& query) {
  std::multiset<std::string> out;
  std::stringstream ss(query);
  std::string part;
  while (std::getline(ss, part, '&')) {
    if (!part.empty()) {
      out.insert(part);
    }
  }
  return out;
}

// Header lines ("Name:value") of a signed-request file, names lowercased, values trimmed.
std::multiset<std::string> headerLines(const std::string& signed_request) {
  std::multiset<std::string> out;
  std::stringstream ss(signed_request);
  std::string line;
  std::getline(ss, line);  // request line
  while (std::getline(ss, line)) {
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    if (line.empty()) {
      break;
    }
    auto colon = line.find(':');
    if (colon == std::string::npos || line[0] == ' ') {
      continue;
    }
    std::string name = line.substr(0, colon);
    for (char& c : name) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') {
      value.erase(0, 1);
    }
    out.insert(name + ":" + value);
  }
  return out;
}

class SigV4VectorTest : public ::testing::TestWithParam<fs::path> {};

TEST_P(SigV4VectorTest, MatchesPublishedVector) {
  auto loaded = loadSigV4Case(GetParam());
  ASSERT_TRUE(loaded) << loaded.error().message();
  const SigV4Case& c = *loaded;
  if (!c.unsupported.empty()) {
    std::cout << "[ SKIPPED  ] " << c.dir.string() << ": " << c.unsupported << "\n";
    GTEST_SKIP() << c.unsupported;
  }
  ASSERT_TRUE(c.header || c.query) << "case has no expected output files";

  if (c.header) {
    SCOPED_TRACE("header signing");
    auto sig = signHeaders(c.request, c.credentials, c.params);
    ASSERT_TRUE(sig) << sig.error().message();
    if (!c.header->canonical_request.empty()) {
      EXPECT_EQ(sig->canonical_request, c.header->canonical_request);
    }
    if (!c.header->string_to_sign.empty()) {
      EXPECT_EQ(sig->string_to_sign, c.header->string_to_sign);
    }
    ASSERT_FALSE(c.header->signature.empty());
    EXPECT_EQ(sig->signature, c.header->signature);
    ASSERT_FALSE(sig->added_headers.empty());
    const http::Header& authz = sig->added_headers.back();
    EXPECT_EQ(authz.name, "Authorization");
    if (!c.header->authorization.empty()) {
      EXPECT_EQ(authz.value, c.header->authorization);
    }
    if (!c.header->signed_request.empty()) {
      // Every header the signer adds is in the published signed request. Authorization is
      // compared above instead: the classic get-vanilla-with-session-token.sreq carries
      // get-vanilla's signature (an upstream slip), while its .authz is right.
      auto published = headerLines(c.header->signed_request);
      for (const http::Header& h : sig->added_headers) {
        if (h.name == "Authorization") {
          continue;
        }
        std::string name = h.name;
        for (char& ch : name) {
          ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        }
        EXPECT_EQ(published.count(name + ":" + h.value), 1u) << "missing " << h.name;
      }
    }
    // The verifier (fake endpoint) accepts what the signer produced, and rejects a
    // tampered signature. Verification assumes non-S3 path rules.
    if (c.params.normalize_path) {
      SigV4Request sent = c.request;
      http::removeHeader(sent.headers, "x-amz-date");
      for (const http::Header& h : sig->added_headers) {
        sent.headers.push_back(h);
      }
      auto lookup = [&](std::string_view id) -> std::optional<std::string> {
        if (id == c.credentials.accessKeyId()) {
          return c.credentials.secretAccessKey();
        }
        return std::nullopt;
      };
      auto verified = verifyHeaderSignature(sent, lookup, c.params.time);
      EXPECT_TRUE(verified) << verified.error().message();
      sent.body += "x";
      EXPECT_FALSE(verifyHeaderSignature(sent, lookup, c.params.time));
    }
  }

  if (c.query) {
    SCOPED_TRACE("query (presigned) signing");
    auto sig = presignQuery(c.request, c.credentials, c.params);
    ASSERT_TRUE(sig) << sig.error().message();
    if (!c.query->canonical_request.empty()) {
      EXPECT_EQ(sig->canonical_request, c.query->canonical_request);
    }
    if (!c.query->string_to_sign.empty()) {
      EXPECT_EQ(sig->string_to_sign, c.query->string_to_sign);
    }
    ASSERT_FALSE(c.query->signature.empty());
    EXPECT_EQ(sig->signature, c.query->signature);
    if (!c.query->signed_request.empty()) {
      EXPECT_EQ(splitQuery(sig->query), splitQuery(queryOfRequestLine(c.query->signed_request)));
    }
  }
}

std::string caseName(const ::testing::TestParamInfo<fs::path>& info) {
  std::string rel = info.param.parent_path().filename().string() + "_" +
                    info.param.filename().string();
  std::string out;
  for (char c : rel) {
    out.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  }
  return out + "_" + std::to_string(info.index);
}

INSTANTIATE_TEST_SUITE_P(Published, SigV4VectorTest, ::testing::ValuesIn(allCases()), caseName);

TEST(SigV4VectorDiscoveryTest, FindsBothSuites) {
  // Guards against a wrong path turning the vector test into zero cases.
  EXPECT_GE(findSigV4Cases(kClassicRoot).size(), 20u) << kClassicRoot;
  EXPECT_GE(findSigV4Cases(kCrtRoot).size(), 20u) << kCrtRoot;
}

}  // namespace
}  // namespace pathpilot::aws
