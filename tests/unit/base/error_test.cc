#include "base/error.h"

#include <cerrno>

#include <gtest/gtest.h>

namespace pathpilot {
namespace {

Result<int> half(int x) {
  if (x % 2 != 0) {
    return fail(ErrorCode::InvalidArgument, "odd");
  }
  return x / 2;
}

TEST(ErrorTest, ResultCarriesValueOrError) {
  auto good = half(4);
  ASSERT_TRUE(good);
  EXPECT_EQ(*good, 2);
  auto bad = half(3);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(bad.error().message(), "odd");
}

TEST(ErrorTest, AndThenChains) {
  auto r = half(8).and_then(half).and_then(half);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 1);
  EXPECT_FALSE(half(8).and_then(half).and_then(half).and_then(half));
}

TEST(ErrorTest, FromErrnoClassifiesAndPrintsStrerror) {
  Error e = Error::fromErrno("open /nonexistent", ENOENT);
  EXPECT_EQ(e.code(), ErrorCode::NotFound);
  EXPECT_EQ(e.toString(), "open /nonexistent: No such file or directory");
  EXPECT_EQ(Error::fromErrno("x", EPERM).code(), ErrorCode::PermissionDenied);
  EXPECT_EQ(Error::fromErrno("x", EEXIST).code(), ErrorCode::AlreadyExists);
  EXPECT_TRUE(Error::fromErrno("x", ETIMEDOUT).retryable());
  EXPECT_FALSE(Error::fromErrno("x", EINVAL).retryable());
}

TEST(ErrorTest, WithContextPrefixesMessage) {
  Error e(ErrorCode::Unavailable, "connection refused");
  EXPECT_EQ(e.withContext("ec2 ReplaceRoute").message(), "ec2 ReplaceRoute: connection refused");
  EXPECT_EQ(errorCodeName(ErrorCode::Throttled), "throttled");
}

}  // namespace
}  // namespace pathpilot
