// RFC 4648 §10 test vectors and malformed input for base/base64.h.
#include "base/base64.h"

#include <gtest/gtest.h>

namespace pathpilot {
namespace {

TEST(Base64Test, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64Encode(plain), encoded);
    EXPECT_EQ(base64Decode(encoded), std::optional<std::string>(plain)) << encoded;
  }
}

TEST(Base64Test, BinaryRoundTrip) {
  std::string all;
  for (int i = 0; i < 256; ++i) {
    all.push_back(static_cast<char>(i));
  }
  for (std::size_t n = 0; n <= all.size(); n += 37) {
    EXPECT_EQ(base64Decode(base64Encode(all.substr(0, n))), all.substr(0, n));
  }
}

TEST(Base64Test, MalformedIsRejected) {
  EXPECT_FALSE(base64Decode("abc"));                         // not a multiple of four
  EXPECT_FALSE(base64Decode("ab!d"));                        // outside the alphabet
  EXPECT_FALSE(base64Decode("a=bc"));                        // padding in the middle
  EXPECT_FALSE(base64Decode(std::string_view("Zm8\0", 4)));  // a NUL byte
  EXPECT_FALSE(base64Decode(" Zg="));
}

}  // namespace
}  // namespace pathpilot
