// Credentials: redaction, environment, shared files and profiles, IMDSv2, the default chain.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "aws/credential_providers.h"
#include "aws/credentials.h"
#include "aws/shared_config.h"
#include "fakes/fake_clock.h"
#include "fakes/fake_http_client.h"

namespace pathpilot::aws {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::FakeClock;
using testing::FakeHttpClient;

constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr char kToken[] = "IQoJb3JpZ2luX2VjEXAMPLETOKENvalue==";

const fs::path kImdsData = fs::path(PP_SOURCE_DIR "/tests/data/imds");

// Asserts that `text` shows neither the secret key nor the session token.
void expectNoSecrets(const std::string& text) {
  EXPECT_EQ(text.find(kSecret), std::string::npos) << "secret key leaked";
  EXPECT_EQ(text.find(kToken), std::string::npos) << "session token leaked";
}

// ---- the Credentials value ----

TEST(CredentialsTest, EveryTextFormIsRedacted) {
  Credentials c("AKIAIOSFODNN7EXAMPLE", kSecret, kToken, WallTime(1700000000s), "env");
  std::ostringstream os;
  os << c;
  for (const std::string& text : {c.toString(), os.str(), fmt::format("{}", c),
                                  fmt::format("{:>80}", c), ::testing::PrintToString(c)}) {
    expectNoSecrets(text);
    EXPECT_NE(text.find("MPLE"), std::string::npos) << text;  // last four of the key id
    EXPECT_EQ(text.find("AKIAIOSFODNN7EXAMPLE"), std::string::npos) << text;
    EXPECT_NE(text.find("<redacted>"), std::string::npos) << text;
  }
  EXPECT_NE(c.toString().find("source env"), std::string::npos);
  EXPECT_NE(c.toString().find("2023-11-14T22:13:20.000Z"), std::string::npos);
}

TEST(CredentialsTest, ShowsWhatIsAbsent) {
  Credentials c("AKID", kSecret);
  EXPECT_NE(c.toString().find("token none"), std::string::npos);
  EXPECT_EQ(Credentials::maskAccessKeyId("AKID"), "****");
  EXPECT_EQ(Credentials::maskAccessKeyId("AKIDEXAMPLE"), "*******MPLE");
  EXPECT_TRUE(Credentials().empty());
}

TEST(CredentialsTest, ExpiresWithin) {
  WallTime t(1000s);
  Credentials temp("A", "B", "C", t);
  EXPECT_FALSE(temp.expiresWithin(t - 10min, 5min));
  EXPECT_TRUE(temp.expiresWithin(t - 4min, 5min));
  EXPECT_TRUE(temp.expiresWithin(t, 0s));
  EXPECT_FALSE(Credentials("A", "B").expiresWithin(WallTime::max() - 1h, 5min));
}

// ---- environment ----

TEST(EnvCredentialsTest, ReadsKeysAndToken) {
  EnvCredentialsProvider p(fixedEnvironment({{"AWS_ACCESS_KEY_ID", "AKIDENV"},
                                             {"AWS_SECRET_ACCESS_KEY", kSecret},
                                             {"AWS_SESSION_TOKEN", kToken}}));
  auto c = p.credentials();
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->accessKeyId(), "AKIDENV");
  EXPECT_TRUE(c->secretAccessKey() == kSecret);
  EXPECT_TRUE(c->sessionToken() == kToken);
  EXPECT_EQ(c->source(), "env");
}

TEST(EnvCredentialsTest, UnsetIsNotFoundAndHalfSetIsAnError) {
  auto none = EnvCredentialsProvider(fixedEnvironment({})).credentials();
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), ErrorCode::NotFound);
  auto half = EnvCredentialsProvider(fixedEnvironment({{"AWS_SECRET_ACCESS_KEY", kSecret}}))
                  .credentials();
  ASSERT_FALSE(half);
  EXPECT_EQ(half.error().code(), ErrorCode::InvalidArgument);
  EXPECT_NE(half.error().message().find("AWS_ACCESS_KEY_ID"), std::string::npos);
  expectNoSecrets(half.error().message());
}

// ---- shared files ----

class SharedFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = fs::path(::testing::TempDir()) /
            ("pp_aws_home_" + std::string(::testing::UnitTest::GetInstance()
                                              ->current_test_info()
                                              ->name()));
    fs::remove_all(home_);
    fs::create_directories(home_ / ".aws");
  }
  void TearDown() override { fs::remove_all(home_); }

  void write(const std::string& rel, const std::string& text) {
    std::ofstream(home_ / rel) << text;
  }
  EnvLookup env(std::map<std::string, std::string, std::less<>> extra = {}) {
    extra["HOME"] = home_.string();
    return fixedEnvironment(std::move(extra));
  }

  fs::path home_;
};

TEST_F(SharedFilesTest, DefaultProfileFromCredentialsFile) {
  write(".aws/credentials", "# comment\n[default]\naws_access_key_id = AKIDDEFAULT\n"
                            "aws_secret_access_key = " + std::string(kSecret) + "\n");
  ProfileCredentialsProvider p(env());
  auto c = p.credentials();
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->accessKeyId(), "AKIDDEFAULT");
  EXPECT_EQ(c->source(), "profile default");
  EXPECT_EQ(p.name(), "profile default");
}

TEST_F(SharedFilesTest, AwsProfileSelectsAndCredentialsFileWins) {
  write(".aws/credentials",
        "[default]\naws_access_key_id=AKIDDEFAULT\naws_secret_access_key=x\n"
        "[prod]\naws_access_key_id = AKIDPROD\naws_secret_access_key = " +
            std::string(kSecret) + "\naws_session_token = " + kToken + "\n");
  write(".aws/config",
        "[profile prod]\nregion = cn-north-1\naws_access_key_id = AKIDFROMCONFIG\n"
        "s3 =\n  max_concurrent_requests = 20\n");
  auto e = env({{"AWS_PROFILE", "prod"}});
  auto c = ProfileCredentialsProvider(e).credentials();
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->accessKeyId(), "AKIDPROD");
  EXPECT_TRUE(c->sessionToken() == kToken);
  auto region = resolveRegion(e, "prod");
  ASSERT_TRUE(region);
  EXPECT_EQ(region->value_or(""), "cn-north-1");
}

TEST_F(SharedFilesTest, KeysInConfigFileAlone) {
  write(".aws/config", "[profile ops]\naws_access_key_id = AKIDOPS\naws_secret_access_key = s\n");
  auto c = ProfileCredentialsProvider(env(), "ops").credentials();
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->accessKeyId(), "AKIDOPS");
}

TEST_F(SharedFilesTest, FileLocationsFromEnvironmentWithTilde) {
  write("creds.ini", "[default]\naws_access_key_id = AKIDALT\naws_secret_access_key = s\n");
  auto c = ProfileCredentialsProvider(env({{"AWS_SHARED_CREDENTIALS_FILE", "~/creds.ini"}}))
               .credentials();
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->accessKeyId(), "AKIDALT");
}

TEST_F(SharedFilesTest, MissingDefaultIsNotFoundButNamedProfileIsAnError) {
  auto none = ProfileCredentialsProvider(env()).credentials();
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), ErrorCode::NotFound);

  auto named = ProfileCredentialsProvider(env({{"AWS_PROFILE", "typo"}})).credentials();
  ASSERT_FALSE(named);
  EXPECT_EQ(named.error().code(), ErrorCode::InvalidArgument);
  EXPECT_NE(named.error().message().find("'typo'"), std::string::npos);
}

TEST_F(SharedFilesTest, UnsupportedSourcesAreNamed) {
  write(".aws/config",
        "[profile assume]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = default\n");
  auto c = ProfileCredentialsProvider(env(), "assume").credentials();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::InvalidArgument);
  EXPECT_NE(c.error().message().find("role_arn"), std::string::npos);
}

TEST_F(SharedFilesTest, HalfKeyPairIsAnError) {
  write(".aws/credentials", "[default]\naws_secret_access_key = " + std::string(kSecret) + "\n");
  auto c = ProfileCredentialsProvider(env()).credentials();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::InvalidArgument);
  expectNoSecrets(c.error().message());
}

TEST_F(SharedFilesTest, MalformedFileNamesFileAndLine) {
  write(".aws/credentials", "[default]\naws_access_key_id = A\nthis line is wrong\n");
  auto c = ProfileCredentialsProvider(env()).credentials();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::InvalidArgument);
  EXPECT_NE(c.error().message().find("credentials:3:"), std::string::npos)
      << c.error().message();
}

TEST(SharedConfigTest, IniParserEdgeCases) {
  auto ok = parseIni("; c\n[ a ]\nKey = v = w\n\n[b]\nk=\n  nested = 1\nz = 2\n", "f");
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(ok->sections.at("a").at("key"), "v = w");
  EXPECT_EQ(ok->sections.at("b").at("k"), "");
  EXPECT_EQ(ok->sections.at("b").count("nested"), 0u);
  EXPECT_EQ(ok->sections.at("b").at("z"), "2");
  for (std::string_view bad : {"k = v\n", "[unterminated\n", "[]\n", "[a]\n= v\n"}) {
    auto r = parseIni(bad, "f");
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message().find("f:"), std::string::npos);
  }
}

TEST(SharedConfigTest, RegionAndProfilePrecedence) {
  auto e = fixedEnvironment({{"AWS_REGION", "ap-southeast-1"},
                             {"AWS_DEFAULT_REGION", "us-east-1"},
                             {"AWS_DEFAULT_PROFILE", "old"},
                             {"HOME", "/nonexistent"}});
  EXPECT_EQ(resolveRegion(e, "default")->value_or(""), "ap-southeast-1");
  EXPECT_EQ(selectProfileName(e), "old");
  EXPECT_EQ(selectProfileName(e, "cli"), "cli");
  EXPECT_FALSE(resolveRegion(fixedEnvironment({{"HOME", "/nonexistent"}}), "default")
                   ->has_value());
}

// ---- IMDSv2 ----

class ImdsTest : public ::testing::Test {
 protected:
  std::string credentialsJson(WallTime expiration) {
    return R"({"Code":"Success","LastUpdated":"2026-01-01T00:00:00Z","Type":"AWS-HMAC",)"
           R"("AccessKeyId":"ASIAROLEKEY00001","SecretAccessKey":")" +
           std::string(kSecret) + R"(","Token":")" + kToken + R"(","Expiration":")" +
           formatRfc3339(expiration) + "\"}";
  }
  void scriptHappyPath(WallTime expiration) {
    http_.on("PUT", "/latest/api/token", FakeHttpClient::response(200, "TOKEN-1"));
    http_.on("GET", "/security-credentials/ha-router",
             FakeHttpClient::response(200, credentialsJson(expiration)));
    http_.on("GET", "/security-credentials/", FakeHttpClient::response(200, "ha-router\n"));
  }
  ImdsOptions options() {
    ImdsOptions o;
    o.endpoint = "http://127.0.0.1:1338";
    return o;
  }

  FakeClock clock_;
  FakeHttpClient http_;
};

TEST_F(ImdsTest, TokenThenRoleThenCredentials) {
  scriptHappyPath(clock_.wallNow() + 6h);
  ImdsCredentialsProvider p(http_, clock_, options());
  auto c = p.credentials();
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->accessKeyId(), "ASIAROLEKEY00001");
  EXPECT_TRUE(c->secretAccessKey() == kSecret);
  EXPECT_TRUE(c->sessionToken() == kToken);
  EXPECT_EQ(c->source(), "imds role ha-router");
  ASSERT_TRUE(c->expiration());

  auto reqs = http_.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].method, "PUT");
  EXPECT_EQ(reqs[0].url, "http://127.0.0.1:1338/latest/api/token");
  EXPECT_EQ(http::findHeader(reqs[0].headers, "X-aws-ec2-metadata-token-ttl-seconds"),
            "21600");
  EXPECT_FALSE(http::findHeader(reqs[0].headers, "X-Forwarded-For"));
  EXPECT_EQ(reqs[1].url, "http://127.0.0.1:1338/latest/meta-data/iam/security-credentials/");
  EXPECT_EQ(reqs[2].url,
            "http://127.0.0.1:1338/latest/meta-data/iam/security-credentials/ha-router");
  for (std::size_t i = 1; i < reqs.size(); ++i) {
    EXPECT_EQ(reqs[i].method, "GET");
    EXPECT_EQ(http::findHeader(reqs[i].headers, "X-aws-ec2-metadata-token"), "TOKEN-1");
    EXPECT_EQ(reqs[i].timeout, 1s);
    EXPECT_TRUE(reqs[i].bypass_proxy);
  }
  EXPECT_TRUE(reqs[0].bypass_proxy);
}

TEST_F(ImdsTest, ParsesTheDocumentedExampleResponse) {
  http_.on("PUT", "/api/token", FakeHttpClient::response(200, "t"));
  http_.on("GET", "/security-credentials/s3access",
           FakeHttpClient::fileResponse(200, kImdsData / "iam-security-credentials-s3access.json"));
  http_.on("GET", "/security-credentials/", FakeHttpClient::response(200, "s3access"));
  ImdsCredentialsProvider p(http_, clock_, options());
  auto c = p.credentials();
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->accessKeyId(), "ASIAIOSFODNN7EXAMPLE");
  EXPECT_EQ(c->sessionToken(), "token");
  EXPECT_EQ(formatRfc3339(*c->expiration()), "2017-05-17T15:09:54.000Z");
}

TEST_F(ImdsTest, CachesUntilTheRefreshWindowThenRefreshes) {
  scriptHappyPath(clock_.wallNow() + 1h);
  ImdsCredentialsProvider p(http_, clock_, options());
  ASSERT_TRUE(p.credentials());
  ASSERT_EQ(http_.requestCount(), 3u);
  clock_.advance(50min);  // 10 min left: still cached
  ASSERT_TRUE(p.credentials());
  EXPECT_EQ(http_.requestCount(), 3u);
  clock_.advance(6min);  // 4 min left: refresh; the role name and token are reused
  ASSERT_TRUE(p.credentials());
  auto reqs = http_.requests();
  ASSERT_EQ(reqs.size(), 4u);
  EXPECT_EQ(reqs[3].method, "GET");
  EXPECT_NE(reqs[3].url.find("/security-credentials/ha-router"), std::string::npos);
}

TEST_F(ImdsTest, UnreachableImdsIsAClearRetryableError) {
  http_.on("", "", Result<http::Response>(fail(ErrorCode::Timeout, "connect timed out")));
  auto c = ImdsCredentialsProvider(http_, clock_, options()).credentials();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::Timeout);
  EXPECT_TRUE(c.error().retryable());
  EXPECT_NE(c.error().message().find("unreachable"), std::string::npos);
  EXPECT_NE(c.error().message().find("127.0.0.1:1338"), std::string::npos);
  EXPECT_NE(c.error().message().find("AWS_EC2_METADATA_DISABLED"), std::string::npos);
  EXPECT_EQ(http_.requestCount(), 2u);  // the token PUT, tried twice
}

TEST_F(ImdsTest, ServesCachedCredentialsDuringAnOutageAndBacksOff) {
  int calls = 0;
  bool imds_up = true;
  http_.onCall("", "", [&](const http::Request& r) -> Result<http::Response> {
    ++calls;
    if (!imds_up) {
      return fail(ErrorCode::Unavailable, "connection refused");
    }
    if (r.method == "PUT") {
      return FakeHttpClient::response(200, "TOKEN");
    }
    if (r.url.ends_with("/security-credentials/")) {
      return FakeHttpClient::response(200, "ha-router");
    }
    return FakeHttpClient::response(200, credentialsJson(clock_.wallNow() + 1h));
  });
  ImdsCredentialsProvider p(http_, clock_, options());
  ASSERT_TRUE(p.credentials());
  imds_up = false;
  clock_.advance(57min);  // refresh window, IMDS down, cached still valid for 3 min
  int before = calls;
  auto c = p.credentials();
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->accessKeyId(), "ASIAROLEKEY00001");
  ASSERT_TRUE(p.lastRefreshError());
  EXPECT_EQ(p.lastRefreshError()->code(), ErrorCode::Unavailable);
  int after_first = calls;
  EXPECT_GT(after_first, before);
  clock_.advance(10s);  // within retry_interval: no new attempt
  ASSERT_TRUE(p.credentials());
  EXPECT_EQ(calls, after_first);
  clock_.advance(4min);  // expired and IMDS still down: an error, not stale keys
  auto expired = p.credentials();
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code(), ErrorCode::Unavailable);
  imds_up = true;
  auto back = p.credentials();
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_FALSE(p.lastRefreshError());
}

TEST_F(ImdsTest, ExpiredTokenIsRenewedOnce) {
  http_.on("PUT", "/api/token",
           {FakeHttpClient::response(200, "OLD"), FakeHttpClient::response(200, "NEW")});
  http_.onCall("GET", "/security-credentials/", [&](const http::Request& r) {
    if (http::findHeader(r.headers, "X-aws-ec2-metadata-token") == "OLD") {
      return Result<http::Response>(
          FakeHttpClient::fileResponse(401, kImdsData / "aemm/401_response.golden"));
    }
    if (r.url.ends_with("/")) {
      return Result<http::Response>(FakeHttpClient::response(200, "ha-router"));
    }
    return Result<http::Response>(
        FakeHttpClient::response(200, credentialsJson(clock_.wallNow() + 6h)));
  });
  ImdsCredentialsProvider p(http_, clock_, options());
  auto c = p.credentials();
  ASSERT_TRUE(c) << c.error().message();
  auto reqs = http_.requests();
  ASSERT_EQ(reqs.size(), 5u);  // PUT, GET(401), PUT, GET list, GET creds
  EXPECT_EQ(reqs[2].method, "PUT");
}

TEST_F(ImdsTest, NoRoleAttached) {
  http_.on("PUT", "/api/token", FakeHttpClient::response(200, "t"));
  http_.on("GET", "/security-credentials/",
           FakeHttpClient::fileResponse(404, kImdsData / "aemm/404_response.golden"));
  auto c = ImdsCredentialsProvider(http_, clock_, options()).credentials();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::NotFound);
  EXPECT_NE(c.error().message().find("no IAM role"), std::string::npos);
}

TEST_F(ImdsTest, TokenRefused) {
  http_.on("PUT", "/api/token", FakeHttpClient::response(403, ""));
  auto c = ImdsCredentialsProvider(http_, clock_, options()).credentials();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::PermissionDenied);
  EXPECT_NE(c.error().message().find("403"), std::string::npos);
  http_.clearRequests();
}

TEST_F(ImdsTest, TokenRequestRejected) {
  http_.on("PUT", "/api/token",
           FakeHttpClient::fileResponse(400, kImdsData / "aemm/400_response.golden"));
  auto c = ImdsCredentialsProvider(http_, clock_, options()).credentials();
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find("HTTP 400"), std::string::npos);
}

TEST_F(ImdsTest, MalformedCredentialDocuments) {
  for (std::string body :
       {std::string("<html>oops</html>"), std::string("{}"), std::string("[1,2]"),
        std::string(R"({"Code":"Success","AccessKeyId":"A","SecretAccessKey":")") + kSecret +
            R"(","Expiration":"yesterday"})",
        std::string(R"({"Code":"AssumeRoleUnauthorizedAccess","Message":"x"})"),
        std::string("")}) {
    FakeHttpClient http;
    http.on("PUT", "/api/token", FakeHttpClient::response(200, "t"));
    http.on("GET", "/security-credentials/r", FakeHttpClient::response(200, body));
    http.on("GET", "/security-credentials/", FakeHttpClient::response(200, "r"));
    auto c = ImdsCredentialsProvider(http, clock_, options()).credentials();
    ASSERT_FALSE(c) << body;
    expectNoSecrets(c.error().message());
    EXPECT_NE(c.error().message().find("'r'"), std::string::npos) << c.error().message();
  }
}

// ---- the default chain ----

TEST(CredentialsChainTest, EnvironmentWinsAndTheChoiceSticks) {
  FakeClock clock;
  FakeHttpClient imds;
  auto chain = makeDefaultCredentialsChain(
      fixedEnvironment({{"AWS_ACCESS_KEY_ID", "AKIDENV"},
                        {"AWS_SECRET_ACCESS_KEY", kSecret},
                        {"HOME", "/nonexistent"}}),
      imds, clock);
  auto c = chain->credentials();
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->source(), "env");
  EXPECT_EQ(imds.requestCount(), 0u);
  EXPECT_EQ(chain->name(), "chain(env, profile default, imds)");
}

TEST(CredentialsChainTest, FallsBackToImdsAtTheConfiguredEndpoint) {
  FakeClock clock;
  FakeHttpClient imds;
  imds.on("PUT", "http://[fd00:ec2::254]/latest/api/token", FakeHttpClient::response(200, "t"));
  imds.on("GET", "/security-credentials/r",
          FakeHttpClient::response(200, R"({"AccessKeyId":"ASIA1","SecretAccessKey":"s"})"));
  imds.on("GET", "/security-credentials/", FakeHttpClient::response(200, "r"));
  auto chain = makeDefaultCredentialsChain(
      fixedEnvironment({{"HOME", "/nonexistent"},
                        {"AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://[fd00:ec2::254]/"}}),
      imds, clock);
  auto c = chain->credentials();
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->source(), "imds role r");
}

TEST(CredentialsChainTest, NothingAnywhereListsEveryReason) {
  FakeClock clock;
  FakeHttpClient imds;
  imds.on("", "", Result<http::Response>(fail(ErrorCode::Timeout, "connect timed out")));
  auto chain = makeDefaultCredentialsChain(fixedEnvironment({{"HOME", "/nonexistent"}}), imds,
                                           clock);
  auto c = chain->credentials();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::Timeout);  // retryable: IMDS may come back
  const std::string& m = c.error().message();
  EXPECT_NE(m.find("env: AWS_ACCESS_KEY_ID is not set"), std::string::npos) << m;
  EXPECT_NE(m.find("profile default: no [default] profile"), std::string::npos) << m;
  EXPECT_NE(m.find("imds: EC2 instance metadata service"), std::string::npos) << m;
}

TEST(CredentialsChainTest, MetadataDisabledSkipsImds) {
  FakeClock clock;
  FakeHttpClient imds;
  auto chain = makeDefaultCredentialsChain(
      fixedEnvironment({{"HOME", "/nonexistent"}, {"AWS_EC2_METADATA_DISABLED", "TRUE"}}), imds,
      clock);
  auto c = chain->credentials();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::NotFound);
  EXPECT_EQ(imds.requestCount(), 0u);
  EXPECT_EQ(chain->name(), "chain(env, profile default)");
}

TEST(CredentialsChainTest, ARealMisconfigurationStopsTheChain) {
  FakeClock clock;
  FakeHttpClient imds;
  auto chain = makeDefaultCredentialsChain(
      fixedEnvironment({{"HOME", "/nonexistent"}, {"AWS_ACCESS_KEY_ID", "AKIDHALF"}}), imds,
      clock);
  auto c = chain->credentials();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::InvalidArgument);
  EXPECT_NE(c.error().message().find("(env)"), std::string::npos);
  EXPECT_EQ(imds.requestCount(), 0u);
}

// The IMDS document on its own (the provider's parsing, also fuzzed): values IMDS sends back
// are quoted short in errors, and never cut inside a UTF-8 character.
TEST(ParseImdsCredentialsTest, ReadsTheDocumentAndQuotesBadValuesShort) {
  auto ok = parseImdsCredentials(
      R"({"Code":"Success","AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"s3cr3t",)"
      R"("Token":"tok","Expiration":"2026-12-07T15:09:54Z"})",
      "role-a");
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(ok->accessKeyId(), "ASIAEXAMPLE");
  EXPECT_EQ(ok->sessionToken(), "tok");
  EXPECT_EQ(ok->source(), "imds role role-a");
  std::string code(39, 'x');
  code += "\u00e9\u00e9 and much more text that no log needs to carry";
  auto pending = parseImdsCredentials(R"({"Code":")" + code + R"("})", "role-a");
  ASSERT_FALSE(pending);
  EXPECT_EQ(pending.error().code(), ErrorCode::Unavailable);
  EXPECT_EQ(pending.error().message(), "IMDS credentials for role 'role-a' are not ready (Code " +
                                           std::string(39, 'x') + "...)");
  auto missing = parseImdsCredentials(R"({"Code":"Success","AccessKeyId":"A"})", "role-a");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::Internal);
  EXPECT_FALSE(parseImdsCredentials("[]", "role-a"));
  EXPECT_FALSE(parseImdsCredentials("", "role-a"));
}

}  // namespace
}  // namespace pathpilot::aws
