#include "base/redact.h"

#include <gtest/gtest.h>

namespace pathpilot {
namespace {

TEST(RedactorTest, ReplacesEverySecretAndItsPercentEncodedForm) {
  Redactor r;
  r.add("p@ss/word");
  r.add("abc");  // too short to redact: it would garble every message
  std::string out = r.apply("x p%40ss%2Fword y p@ss/word z p@ss/word abc");
  EXPECT_EQ(out, "x <redacted> y <redacted> z <redacted> abc");
}

TEST(RedactorTest, UrlPartsAndEachQueryValueAreSecrets) {
  Redactor r;
  r.addUrl("https://oapi.dingtalk.com/robot/send?access_token=tok123456&x=yz");
  // A hook that prints the token alone, or the path without the query.
  EXPECT_EQ(r.apply("token tok123456 used"), "token <redacted> used");
  EXPECT_EQ(r.apply("POST https://oapi.dingtalk.com/robot/send?access_token=tok123456&x=yz"),
            "POST <redacted>");
  EXPECT_EQ(r.apply("GET /robot/send failed"), "GET <redacted> failed");
}

TEST(RedactorTest, MergeAddsTheOthersSecrets) {
  Redactor a;
  a.add("secret-one");
  Redactor b;
  b.add("secret-two");
  a.merge(b);
  EXPECT_EQ(a.apply("secret-one secret-two"), "<redacted> <redacted>");
}

TEST(CapTextTest, KeepsTheEndAndNeverSplitsUtf8) {
  EXPECT_EQ(capText("short", 100), "short");
  EXPECT_EQ(capText("0123456789", 4), "…6789");
  // "é" is two bytes (C3 A9): a cut in its middle drops the continuation byte.
  std::string s = "aé1234";
  EXPECT_EQ(capText(s, 5), "…1234");
  EXPECT_EQ(capText(s, 6), "…é1234");
}

TEST(CapTextTest, ControlCharactersBecomeSpacesButLinesStay) {
  EXPECT_EQ(capText("a\x1b[31mred\r\nnext\tline\x7f", 100), "a [31mred \nnext\tline ");
}

TEST(CredentialVariablesTest, AwsKeysAreCredentialsRegionIsNot) {
  EXPECT_TRUE(isCredentialVariable("AWS_SECRET_ACCESS_KEY"));
  EXPECT_TRUE(isCredentialVariable("AWS_ACCESS_KEY_ID"));
  EXPECT_TRUE(isCredentialVariable("AWS_SESSION_TOKEN"));
  EXPECT_FALSE(isCredentialVariable("AWS_REGION"));
  EXPECT_FALSE(isCredentialVariable("PATH"));
}

}  // namespace
}  // namespace pathpilot
