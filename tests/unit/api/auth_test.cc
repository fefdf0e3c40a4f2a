#include "api/auth.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <future>

#include <gtest/gtest.h>

#include "test_util.h"

namespace pathpilot::api {
namespace {

constexpr const char* kToken = "0123456789abcdef0123456789abcdef";

std::string writeFile(const testing::TempDir& dir, const std::string& content, mode_t mode) {
  std::string path = dir.file("token");
  {
    std::ofstream out(path, std::ios::trunc);
    out << content;
  }
  ::chmod(path.c_str(), mode);
  return path;
}

TEST(AuthTest, TokenFileWithMode0600IsReadAndTrailingNewlineRemoved) {
  testing::TempDir dir;
  auto path = writeFile(dir, std::string(kToken) + "\r\n", 0600);
  auto token = loadTokenFile(path);
  ASSERT_TRUE(token) << token.error().toString();
  EXPECT_EQ(*token, kToken);
}

TEST(AuthTest, GroupOrOtherReadableTokenFileIsRefusedWithTheFix) {
  testing::TempDir dir;
  for (mode_t mode : {0640, 0604, 0644, 0620, 0601}) {
    auto path = writeFile(dir, kToken, mode);
    auto token = loadTokenFile(path);
    ASSERT_FALSE(token) << std::oct << mode;
    EXPECT_EQ(token.error().code(), ErrorCode::PermissionDenied);
    EXPECT_NE(token.error().message().find("chmod 600 " + path), std::string::npos)
        << token.error().message();
    char mode_text[8];
    std::snprintf(mode_text, sizeof mode_text, "%04o", static_cast<unsigned>(mode));
    EXPECT_NE(token.error().message().find(mode_text), std::string::npos)
        << token.error().message();
    // The secret never appears in the error.
    EXPECT_EQ(token.error().message().find(kToken), std::string::npos);
  }
}

// A FIFO as token file is refused at once: opened without blocking, checked before reading.
// Guarded: if the read blocked waiting for a writer, the test gives the FIFO one and fails.
TEST(AuthTest, FifoTokenFileIsRefusedWithoutBlocking) {
  testing::TempDir dir;
  std::string fifo = dir.file("token.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto future = std::async(std::launch::async, [&] { return loadTokenFile(fifo); });
  if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    ADD_FAILURE() << "loadTokenFile blocked on a FIFO";
    int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    ::close(fd);
  }
  auto token = future.get();
  ASSERT_FALSE(token);
  EXPECT_EQ(token.error().code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(token.error().message(), "token file " + fifo + " is a FIFO, not a regular file");
}

TEST(AuthTest, MissingDirectoryEmptyShortAndBinaryTokensAreRefused) {
  testing::TempDir dir;
  auto missing = loadTokenFile(dir.file("nope"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::NotFound);
  EXPECT_NE(missing.error().message().find(dir.file("nope")), std::string::npos);

  auto directory = loadTokenFile(dir.file(""));
  ASSERT_FALSE(directory);
  EXPECT_EQ(directory.error().code(), ErrorCode::InvalidArgument);

  EXPECT_FALSE(loadTokenFile(writeFile(dir, "", 0600)));
  auto short_token = loadTokenFile(writeFile(dir, "abc\n", 0600));
  ASSERT_FALSE(short_token);
  EXPECT_NE(short_token.error().message().find("shorter than 16"), std::string::npos);
  auto binary = loadTokenFile(writeFile(dir, std::string(kToken) + "\x01", 0600));
  ASSERT_FALSE(binary);
  EXPECT_NE(binary.error().message().find("control"), std::string::npos);
  auto huge = loadTokenFile(writeFile(dir, std::string(5000, 'a'), 0600));
  ASSERT_FALSE(huge);
  EXPECT_NE(huge.error().message().find("larger than"), std::string::npos);
}

TEST(AuthTest, ResolveFromEnvInlineFileAndNone) {
  auto none = resolveToken(std::nullopt);
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());

  ::setenv("PP_API_TEST_TOKEN", kToken, 1);
  auto env = resolveToken(config::SecretRef{config::SecretRef::Source::Env, "PP_API_TEST_TOKEN"});
  ASSERT_TRUE(env);
  EXPECT_EQ(**env, kToken);
  ::unsetenv("PP_API_TEST_TOKEN");
  auto unset = resolveToken(config::SecretRef{config::SecretRef::Source::Env, "PP_API_TEST_TOKEN"});
  ASSERT_FALSE(unset);
  EXPECT_NE(unset.error().message().find("PP_API_TEST_TOKEN is not set"), std::string::npos);

  auto inline_token = resolveToken(config::SecretRef{config::SecretRef::Source::Inline, kToken});
  ASSERT_TRUE(inline_token);
  EXPECT_EQ(**inline_token, kToken);
  auto bad_inline = resolveToken(config::SecretRef{config::SecretRef::Source::Inline, "short"});
  ASSERT_FALSE(bad_inline);
  EXPECT_EQ(bad_inline.error().message().find("short\""), std::string::npos);

  testing::TempDir dir;
  auto path = writeFile(dir, kToken, 0644);
  auto file = resolveToken(config::SecretRef{config::SecretRef::Source::File, path});
  ASSERT_FALSE(file);
  EXPECT_NE(file.error().message().find("api.auth_token"), std::string::npos);
  EXPECT_EQ(file.error().code(), ErrorCode::PermissionDenied);
}

TEST(AuthTest, CheckBearer) {
  std::optional<std::string> token = std::string(kToken);
  EXPECT_EQ(checkBearer(std::string("Bearer ") + kToken, token), AuthResult::Ok);
  EXPECT_EQ(checkBearer(std::string("bearer  ") + kToken + " ", token), AuthResult::Ok);
  EXPECT_EQ(checkBearer("", token), AuthResult::Missing);
  EXPECT_EQ(checkBearer("Basic dXNlcjpwYXNz", token), AuthResult::Missing);
  EXPECT_EQ(checkBearer("Bearer ", token), AuthResult::Missing);
  EXPECT_EQ(checkBearer("Bearer 0123456789abcdef0123456789abcdeX", token), AuthResult::Invalid);
  EXPECT_EQ(checkBearer("Bearer 0123", token), AuthResult::Invalid);
  EXPECT_EQ(checkBearer(std::string("Bearer ") + kToken, std::nullopt), AuthResult::Disabled);
}

TEST(AuthTest, ConstantTimeEquals) {
  EXPECT_TRUE(constantTimeEquals("abc", "abc"));
  EXPECT_FALSE(constantTimeEquals("abc", "abd"));
  EXPECT_FALSE(constantTimeEquals("abc", "abcd"));
  EXPECT_TRUE(constantTimeEquals("", ""));
}

}  // namespace
}  // namespace pathpilot::api
