// Unit tests for the SigV4 building blocks and error paths (the published vectors are in
// sigv4_vectors_test.cc).
#include <gtest/gtest.h>

#include "aws/sigv4.h"
#include "aws/sigv4_case.h"

namespace pathpilot::aws {
namespace {

using namespace std::chrono_literals;

Credentials exampleCredentials(std::string token = {}) {
  return Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", std::move(token));
}

SigV4Params exampleParams() {
  SigV4Params p;
  p.region = "us-east-1";
  p.service = "ec2";
  p.time = *parseAmzDate("20150830T123600Z");
  return p;
}

SigV4Request ec2Request() {
  SigV4Request r;
  r.method = "POST";
  r.path = "/";
  r.headers = {{"Host", "ec2.us-east-1.amazonaws.com"},
               {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
  r.body = "Action=DescribeRouteTables&Version=2016-11-15";
  return r;
}

TEST(SigV4Test, AmzDateRoundTrips) {
  auto t = parseAmzDate("20150830T123600Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(formatAmzDate(*t), "20150830T123600Z");
  EXPECT_EQ(formatRfc3339(*t), "2015-08-30T12:36:00.000Z");
}

TEST(SigV4Test, AmzDateRejectsMalformed) {
  for (std::string_view bad : {"", "20150830", "20150830T123600", "2015-08-30T12:36:00Z",
                               "20151330T123600Z", "20150830T253600Z", "2015083OT123600Z"}) {
    auto t = parseAmzDate(bad);
    ASSERT_FALSE(t) << bad;
    EXPECT_EQ(t.error().code(), ErrorCode::InvalidArgument);
    EXPECT_NE(t.error().message().find("X-Amz-Date"), std::string::npos);
  }
}

TEST(SigV4Test, UriEncodeKeepsOnlyUnreserved) {
  EXPECT_EQ(uriEncode("AZaz09-._~", false), "AZaz09-._~");
  EXPECT_EQ(uriEncode("a b/c+d=e&f", false), "a%20b%2Fc%2Bd%3De%26f");
  EXPECT_EQ(uriEncode("a b/c", true), "a%20b/c");
  EXPECT_EQ(uriEncode("\xe1\x88\xb4", false), "%E1%88%B4");
}

TEST(SigV4Test, UriDecodeToleratesBrokenEscapes) {
  EXPECT_EQ(uriDecode("%E1%88%B4"), "\xe1\x88\xb4");
  EXPECT_EQ(uriDecode("a%2"), "a%2");
  EXPECT_EQ(uriDecode("%zz"), "%zz");
  EXPECT_EQ(uriDecode("a+b"), "a+b");
}

TEST(SigV4Test, CanonicalUriNormalises) {
  EXPECT_EQ(canonicalUri("", true, true), "/");
  EXPECT_EQ(canonicalUri("/a/./b/../c", true, true), "/a/c");
  EXPECT_EQ(canonicalUri("/../..", true, true), "/");
  EXPECT_EQ(canonicalUri("//a//b//", true, true), "/a/b/");
  EXPECT_EQ(canonicalUri("/a%20b", true, true), "/a%2520b");  // double encoding
  EXPECT_EQ(canonicalUri("//a//", false, true), "//a//");
  EXPECT_EQ(canonicalUri("/a%20b", false, false), "/a%20b");
}

TEST(SigV4Test, CanonicalQuerySortsAndReencodes) {
  EXPECT_EQ(canonicalQuery("b=2&a=1&a=0"), "a=0&a=1&b=2");
  EXPECT_EQ(canonicalQuery("flag&x=%41"), "flag=&x=A");
  EXPECT_EQ(canonicalQuery("&&k=a b"), "k=a%20b");
  EXPECT_EQ(canonicalQuery(""), "");
}

TEST(SigV4Test, HeaderSigningAddsDateTokenAndAuthorization) {
  auto sig = signHeaders(ec2Request(), exampleCredentials("tok"), exampleParams());
  ASSERT_TRUE(sig) << sig.error().message();
  ASSERT_EQ(sig->added_headers.size(), 3u);
  EXPECT_EQ(sig->added_headers[0].name, "X-Amz-Security-Token");
  EXPECT_EQ(sig->added_headers[1], (http::Header{"X-Amz-Date", "20150830T123600Z"}));
  EXPECT_EQ(sig->added_headers[2].name, "Authorization");
  EXPECT_EQ(sig->signed_headers, "content-type;host;x-amz-date;x-amz-security-token");
  EXPECT_EQ(sig->credential_scope, "20150830/us-east-1/ec2/aws4_request");
  EXPECT_EQ(sig->signature.size(), 64u);
}

TEST(SigV4Test, OmittedSessionTokenIsSentButNotSigned) {
  SigV4Params params = exampleParams();
  params.omit_session_token = true;
  auto sig = signHeaders(ec2Request(), exampleCredentials("tok"), params);
  ASSERT_TRUE(sig);
  EXPECT_EQ(sig->signed_headers, "content-type;host;x-amz-date");
  EXPECT_EQ(*http::findHeader(sig->added_headers, "x-amz-security-token"), "tok");
}

TEST(SigV4Test, ProxyHeadersAreNotSigned) {
  SigV4Request r = ec2Request();
  r.headers.push_back({"User-Agent", "pathpilot/0.1"});
  r.headers.push_back({"X-Amzn-Trace-Id", "Root=1-abc"});
  r.headers.push_back({"Authorization", "stale"});
  auto sig = signHeaders(r, exampleCredentials(), exampleParams());
  ASSERT_TRUE(sig);
  EXPECT_EQ(sig->signed_headers, "content-type;host;x-amz-date");
}

TEST(SigV4Test, SignatureDependsOnEveryInput) {
  auto base = signHeaders(ec2Request(), exampleCredentials(), exampleParams());
  ASSERT_TRUE(base);
  SigV4Request other_body = ec2Request();
  other_body.body += "&DryRun=true";
  SigV4Params other_region = exampleParams();
  other_region.region = "cn-north-1";
  SigV4Params other_time = exampleParams();
  other_time.time += 1s;
  EXPECT_NE(signHeaders(other_body, exampleCredentials(), exampleParams())->signature,
            base->signature);
  EXPECT_NE(signHeaders(ec2Request(), exampleCredentials(), other_region)->signature,
            base->signature);
  EXPECT_NE(signHeaders(ec2Request(), exampleCredentials(), other_time)->signature,
            base->signature);
}

TEST(SigV4Test, RejectsUnsignableInput) {
  SigV4Request no_host = ec2Request();
  http::removeHeader(no_host.headers, "host");
  auto r1 = signHeaders(no_host, exampleCredentials(), exampleParams());
  ASSERT_FALSE(r1);
  EXPECT_EQ(r1.error().code(), ErrorCode::InvalidArgument);
  EXPECT_NE(r1.error().message().find("Host"), std::string::npos);

  auto r2 = signHeaders(ec2Request(), Credentials(), exampleParams());
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code(), ErrorCode::InvalidArgument);

  SigV4Params no_region = exampleParams();
  no_region.region.clear();
  EXPECT_FALSE(signHeaders(ec2Request(), exampleCredentials(), no_region));

  SigV4Params too_long = exampleParams();
  too_long.expires = std::chrono::hours(24 * 8);
  auto r3 = presignQuery(ec2Request(), exampleCredentials(), too_long);
  ASSERT_FALSE(r3);
  EXPECT_NE(r3.error().message().find("7 days"), std::string::npos);
}

TEST(SigV4Test, ErrorsNeverContainTheSecret) {
  Credentials creds = exampleCredentials("SESSIONTOKENSECRET");
  SigV4Request no_host = ec2Request();
  http::removeHeader(no_host.headers, "host");
  auto r = signHeaders(no_host, creds, exampleParams());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message().find(creds.secretAccessKey()), std::string::npos);
  EXPECT_EQ(r.error().message().find("SESSIONTOKENSECRET"), std::string::npos);
}

TEST(SigV4Test, SignHttpRequestSetsHostFromUrl) {
  http::Request req;
  req.method = "POST";
  req.url = "http://127.0.0.1:8123/";
  req.body = "Action=DescribeInstances&Version=2016-11-15";
  ASSERT_TRUE(signHttpRequest(req, exampleCredentials(), exampleParams()));
  EXPECT_EQ(*http::findHeader(req.headers, "host"), "127.0.0.1:8123");
  EXPECT_TRUE(http::findHeader(req.headers, "authorization"));
  // Signing twice replaces rather than duplicates.
  ASSERT_TRUE(signHttpRequest(req, exampleCredentials(), exampleParams()));
  int authz = 0;
  for (const auto& h : req.headers) {
    authz += http::equalsIgnoreCase(h.name, "authorization") ? 1 : 0;
  }
  EXPECT_EQ(authz, 1);
}

// Credentials rotate from a role's (with a session token) to plain keys: the old token must
// neither be signed nor sent with keys it does not belong to.
TEST(SigV4Test, ResigningWithoutATokenDropsTheStaleOne) {
  http::Request req;
  req.method = "POST";
  req.url = "http://127.0.0.1:8123/";
  req.body = "Action=DescribeInstances&Version=2016-11-15";
  ASSERT_TRUE(signHttpRequest(req, exampleCredentials("OLDSESSIONTOKEN"), exampleParams()));
  ASSERT_TRUE(http::findHeader(req.headers, "x-amz-security-token"));
  ASSERT_TRUE(signHttpRequest(req, exampleCredentials(), exampleParams()));
  EXPECT_FALSE(http::findHeader(req.headers, "x-amz-security-token"));
  auto authz = http::findHeader(req.headers, "authorization");
  ASSERT_TRUE(authz);
  EXPECT_EQ(authz->find("x-amz-security-token"), std::string_view::npos) << *authz;
}

// ---- verification ----

class SigV4VerifyTest : public ::testing::Test {
 protected:
  SigV4Request signedRequest(const SigV4Params& params) {
    SigV4Request r = ec2Request();
    auto sig = signHeaders(r, exampleCredentials(), params);
    EXPECT_TRUE(sig);
    for (const auto& h : sig->added_headers) {
      r.headers.push_back(h);
    }
    return r;
  }
  SecretLookup lookup = [](std::string_view id) -> std::optional<std::string> {
    if (id == "AKIDEXAMPLE") {
      return std::string("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    }
    return std::nullopt;
  };
  WallTime now = exampleParams().time;
};

TEST_F(SigV4VerifyTest, AcceptsGoodSignature) {
  auto v = verifyHeaderSignature(signedRequest(exampleParams()), lookup, now);
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v->access_key_id, "AKIDEXAMPLE");
  EXPECT_EQ(v->region, "us-east-1");
  EXPECT_EQ(v->service, "ec2");
}

TEST_F(SigV4VerifyTest, RejectsTamperedBody) {
  SigV4Request r = signedRequest(exampleParams());
  r.body = "Action=StopInstances&InstanceId.1=i-1&Version=2016-11-15";
  auto v = verifyHeaderSignature(r, lookup, now);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code(), ErrorCode::PermissionDenied);
  EXPECT_EQ(v.error().message().rfind("SignatureDoesNotMatch", 0), 0u);
}

TEST_F(SigV4VerifyTest, RejectsUnknownKey) {
  SigV4Request r = ec2Request();
  auto sig = signHeaders(r, Credentials("AKIDOTHER0000000", "s3cr3t"), exampleParams());
  for (const auto& h : sig->added_headers) {
    r.headers.push_back(h);
  }
  auto v = verifyHeaderSignature(r, lookup, now);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().message().rfind("InvalidClientTokenId", 0), 0u);
  EXPECT_EQ(v.error().message().find("AKIDOTHER0000000"), std::string::npos);
}

TEST_F(SigV4VerifyTest, RejectsSkewedClock) {
  auto v = verifyHeaderSignature(signedRequest(exampleParams()), lookup, now + 16min);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().message().rfind("RequestTimeTooSkewed", 0), 0u);
}

TEST_F(SigV4VerifyTest, RejectsMissingOrGarbledAuthorization) {
  SigV4Request r = ec2Request();
  auto v = verifyHeaderSignature(r, lookup, now);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().message().rfind("MissingAuthenticationToken", 0), 0u);
  for (const std::string& garbage : std::vector<std::string>{
           "", "AWS4-HMAC-SHA256", "Basic dXNlcjpwYXNz", "AWS4-HMAC-SHA256 Credential=AKID",
        "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/ec2/aws4_request, Signature=ab",
        "AWS4-HMAC-SHA256 Credential=a/b/c, SignedHeaders=host, Signature=" +
            std::string(64, 'a')}) {
    SigV4Request g = ec2Request();
    g.headers.push_back({"X-Amz-Date", "20150830T123600Z"});
    g.headers.push_back({"Authorization", garbage});
    auto gv = verifyHeaderSignature(g, lookup, now);
    ASSERT_FALSE(gv) << garbage;
    EXPECT_EQ(gv.error().code(), ErrorCode::PermissionDenied);
  }
}

TEST_F(SigV4VerifyTest, RejectsUnsignedHost) {
  SigV4Request r = signedRequest(exampleParams());
  http::removeHeader(r.headers, "authorization");
  r.headers.push_back({"Authorization",
                       "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ec2/"
                       "aws4_request, SignedHeaders=x-amz-date, Signature=" +
                           std::string(64, '0')});
  auto v = verifyHeaderSignature(r, lookup, now);
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message().find("Host"), std::string::npos);
}

// ---- raw request parsing (test-vector files) ----

TEST(SigV4CaseTest, ParsesRequestWithSpacesFoldingAndBody) {
  auto r = parseRawHttpRequest(
      "POST /a b/?x=1 HTTP/1.1\r\nHost:h\r\nMy-Header: v1\r\n  v2\r\n\r\nbody\nmore");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->method, "POST");
  EXPECT_EQ(r->path, "/a b/");
  EXPECT_EQ(r->query, "x=1");
  ASSERT_EQ(r->headers.size(), 2u);
  EXPECT_EQ(r->headers[1].value, " v1\n  v2");
  EXPECT_EQ(r->body, "body\nmore");
}

TEST(SigV4CaseTest, RejectsMalformedRequests) {
  for (std::string_view bad : {"", "GET", "GET /", "GET / FTP/1.0\n", "GET / HTTP/1.1\n  cont",
                               "GET / HTTP/1.1\nno-colon-here"}) {
    auto r = parseRawHttpRequest(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::InvalidArgument);
    EXPECT_NE(r.error().message().find("line"), std::string::npos);
  }
}

TEST(SigV4CaseTest, LoadingANonCaseDirectoryIsNotFound) {
  auto c = loadSigV4Case(PP_SOURCE_DIR "/src");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::NotFound);
}

}  // namespace
}  // namespace pathpilot::aws
