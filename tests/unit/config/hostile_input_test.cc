// Broken and hostile input: every case ends in a clear diagnostic, never a crash or a hang.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "config/detail/suggest.h"
#include "config/detail/yaml_tree.h"
#include "config/loader.h"
#include "config_test_util.h"

namespace pathpilot::config {
namespace {

using testing::check;
using testing::hasError;
using testing::hasFileError;
using testing::kMinimal;

class HostileFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("pp_config_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& content) {
    std::filesystem::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }

  std::filesystem::path dir_;
};

TEST(HostileInputTest, EmptyFile) {
  LoadReport report = check("");
  EXPECT_TRUE(hasError(report, 1, 1, "the file is empty; a config needs at least 'site', 'paths' "
                                     "and 'route_tables'"));
  EXPECT_EQ(report.errors, 1u);
}

TEST(HostileInputTest, OnlyComments) {
  LoadReport report = check("# nothing here\n\n# at all\n");
  EXPECT_TRUE(hasError(report, 1, 1, "the file is empty"));
}

TEST(HostileInputTest, TopLevelNotAMapping) {
  EXPECT_TRUE(hasError(check("- a\n- b\n"), 1, 1, "the top level must be a mapping"));
  EXPECT_TRUE(hasError(check("just words\n"), 1, 1, "the top level must be a mapping"));
}

TEST(HostileInputTest, MalformedYamlGivesLineAndColumn) {
  LoadReport report = check("site: {name: a\npaths: [\n");
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.errors, 1u);
  EXPECT_EQ(report.diagnostics.at(0).where.line, 2);
  EXPECT_NE(report.diagnostics.at(0).message.find("YAML syntax error"), std::string::npos);
}

TEST(HostileInputTest, TabIndentationIsExplained) {
  LoadReport report = check("site:\n\tname: a\n");
  EXPECT_TRUE(hasError(report, 2, 6, "line 2 is indented with a tab; YAML indents with spaces"));
}

TEST(HostileInputTest, NulByteMeansBinary) {
  std::string text = "site:\n  na";
  text += '\0';
  text += "me: x\n";
  EXPECT_TRUE(hasError(check(text), 2, 5, "NUL byte: this is a binary file"));
}

TEST(HostileInputTest, ControlCharacter) {
  EXPECT_TRUE(hasError(check("site: \x01\n"), 1, 7, "control character 0x01"));
}

TEST(HostileInputTest, InvalidUtf8AndUtf16) {
  EXPECT_TRUE(hasError(check("site: {name: caf\xE9}\n"), 1, 17, "invalid UTF-8"));
  EXPECT_TRUE(hasError(check(std::string("\xFF\xFEs\0i\0", 6)), 1, 1, "invalid UTF-8"));
  // Overlong encoding of '/' and a UTF-16 surrogate encoded in UTF-8.
  EXPECT_TRUE(hasError(check("a: \xC0\xAF\n"), 1, 4, "invalid UTF-8"));
  EXPECT_TRUE(hasError(check("a: \xED\xA0\x80\n"), 1, 4, "invalid UTF-8"));
  // Valid multi-byte text passes the check (and then fails the schema, not the encoding).
  LoadReport report = check("site: {name: \xE6\x96\xB0\xE5\x8A\xA0\xE5\x9D\xA1}\n");
  EXPECT_EQ(report.format().find("UTF-8"), std::string::npos);
}

TEST(HostileInputTest, RandomBinaryJunkNeverCrashes) {
  // Deterministic pseudo-random bytes (LCG), many seeds.
  std::uint32_t state = 12345;
  for (int round = 0; round < 200; ++round) {
    std::string junk;
    for (int i = 0; i < 512; ++i) {
      state = state * 1664525u + 1013904223u;
      junk += static_cast<char>(state >> 24);
    }
    LoadReport report = check(junk);
    EXPECT_FALSE(report.ok());
    EXPECT_GE(report.errors, 1u);
  }
}

TEST(HostileInputTest, DeepNestingIsCapped) {
  std::string flow(100000, '[');
  LoadReport report = check(flow);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.format().find("nesting deeper than 32 levels"), std::string::npos)
      << report.format();
  std::string block;
  for (int i = 0; i < 200; ++i) {
    block += std::string(static_cast<std::size_t>(i) * 2, ' ') + "k:\n";
  }
  report = check(block);
  EXPECT_TRUE(hasError(report, 33, 65, "nesting deeper than 32 levels")) << report.format();
}

TEST(HostileInputTest, BillionLaughsIsBounded) {
  std::string text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  std::string previous = "a";
  int line = 1;
  for (char name = 'b'; name <= 'j'; ++name) {
    text += std::string(1, name) + ": &" + name + " [";
    for (int i = 0; i < 10; ++i) {
      text += (i ? ", *" : "*") + previous;
    }
    text += "]\n";
    previous = std::string(1, name);
    ++line;
  }
  LoadReport report = check(text);
  ASSERT_FALSE(report.ok());
  // a: 11 nodes, b: 111, c: 1111, d: 11111, e: 111111 > 100000 → line 5.
  EXPECT_TRUE(hasError(report, 5, 4, "aliases expand this node to more than 100000 nodes"));
}

TEST(HostileInputTest, AliasCycleIsRejected) {
  EXPECT_TRUE(hasError(check("a: &x [1, *x]\n"), 1, 11, "alias refers to the anchor that contains "
                                                        "it"));
}

TEST(HostileInputTest, UnknownAliasIsASyntaxError) {
  LoadReport report = check("a: *nope\n");
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.format().find("t.yaml:1:"), std::string::npos) << report.format();
}

TEST(HostileInputTest, TooManyNodes) {
  std::string text = "a: [";
  for (int i = 0; i < 120000; ++i) {
    text += "1,";
  }
  text += "1]\n";
  LoadReport report = check(text);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.format().find("more than 100000 nodes"), std::string::npos);
}

// One mistake, one error: a misspelt backend is not also judged as the default (aws), which
// would add "'table' is only used with backend: linux" and "missing required key 'id'".
TEST(HostileInputTest, AMisspeltBackendIsOneError) {
  std::string text = testing::withLine(
      13, "  - {backend: linx, table: 101, az: ap-southeast-1a, destinations: [10.0.0.0/8]}");
  text = testing::replaceLine(testing::replaceLine(text, 14, ""), 15, "");
  LoadReport report = check(text);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.errors, 1u) << report.format();
  EXPECT_NE(report.format().find("linx"), std::string::npos) << report.format();
}

TEST(HostileInputTest, HugeInputIsRejectedBeforeParsing) {
  std::string text = "site: {name: " + std::string(kMaxFileBytes, 'x') + "}\n";
  LoadReport report = check(text);
  EXPECT_TRUE(hasFileError(report, "larger than 4 MiB"));
  EXPECT_EQ(report.errors, 1u);
}

TEST(HostileInputTest, HugeStringsAreNotEchoedInFull) {
  std::string name(100000, 'n');
  LoadReport report = check(testing::withLine(3, "  - name: " + name));
  ASSERT_FALSE(report.ok());
  EXPECT_TRUE(hasError(report, 3, 11, "invalid path name \"nnnn"));
  EXPECT_LT(report.format().size(), 4000u);
}

TEST(HostileInputTest, SecondDocumentIsRejected) {
  LoadReport report = check(std::string(kMinimal) + "---\nsite: {name: other}\n");
  EXPECT_TRUE(hasError(report, 16, 1, "a second YAML document starts here"));
}

TEST(HostileInputTest, NonScalarKeysAndUnsupportedTags) {
  EXPECT_TRUE(hasError(check("? [a]\n: 1\n"), 1, 3, "mapping keys must be plain strings"));
  EXPECT_TRUE(hasError(check("site: !custom {name: a}\n"), 1, 7, "unsupported YAML tag"));
}

TEST_F(HostileFileTest, MissingFileIsNotFound) {
  std::string path = (dir_ / "nope.yaml").string();
  LoadReport report = checkFile(path);
  EXPECT_TRUE(hasFileError(report, "cannot open: No such file or directory"));
  EXPECT_EQ(report.diagnostics.at(0).toString(),
            path + ": error: cannot open: No such file or directory");
  auto result = loadFile(path);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), ErrorCode::NotFound);
}

TEST_F(HostileFileTest, DirectoryIsRejected) {
  LoadReport report = checkFile(dir_.string());
  EXPECT_TRUE(hasFileError(report, "is a directory"));
}

// Returns 0 when loadFile(path) fails with PermissionDenied and the expected message.
int expectPermissionDenied(const std::string& path) {
  auto result = loadFile(path);
  if (result.has_value() || result.error().code() != ErrorCode::PermissionDenied) {
    return 1;
  }
  return result.error().message().find("cannot open: Permission denied") == std::string::npos ? 2
                                                                                              : 0;
}

TEST_F(HostileFileTest, UnreadableFileIsPermissionDenied) {
  std::string path = write("secret.yaml", std::string(kMinimal));
  std::filesystem::permissions(path, std::filesystem::perms::none);
  if (::geteuid() != 0) {
    EXPECT_EQ(expectPermissionDenied(path), 0);
    return;
  }
  // Root reads any file: check as user "nobody" in a child process.
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) {
      ::_exit(3);
    }
    ::_exit(expectPermissionDenied(path));
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: wrong code, 2: wrong message, 3: setuid failed";
}

TEST_F(HostileFileTest, OversizedFileIsRejected) {
  std::string path = write("big.yaml", std::string(kMaxFileBytes + 10, '#'));
  LoadReport report = checkFile(path);
  EXPECT_TRUE(hasFileError(report, "the file is larger than 4 MiB"));
}

TEST_F(HostileFileTest, ValidFileLoads) {
  std::string path = write("ok.yaml", std::string(kMinimal));
  auto result = loadFile(path);
  ASSERT_TRUE(result.has_value()) << result.error().message();
  EXPECT_EQ(result->source, path);
}

// --- helpers ----------------------------------------------------------------------------------

TEST(SuggestTest, EditDistanceCountsTranspositionsAsOne) {
  EXPECT_EQ(detail::editDistance("interval", "interval"), 0u);
  EXPECT_EQ(detail::editDistance("intervall", "interval"), 1u);
  EXPECT_EQ(detail::editDistance("intreval", "interval"), 1u);
  EXPECT_EQ(detail::editDistance("INTERVAL", "interval"), 0u);
  EXPECT_EQ(detail::editDistance("", "abc"), 3u);
  EXPECT_GT(detail::editDistance(std::string(100, 'a'), "interval"), 50u);
}

TEST(SuggestTest, ClosestMatchOnlyForPlausibleTypos) {
  std::vector<std::string_view> keys = {"interval", "timeout", "targets"};
  EXPECT_EQ(detail::closestMatch("timout", keys), "timeout");
  EXPECT_EQ(detail::closestMatch("zzz", keys), std::nullopt);
  EXPECT_EQ(detail::didYouMean("target", keys), " (did you mean 'targets'?)");
  EXPECT_EQ(detail::joinAlternatives({"a", "b", "c"}), "a, b or c");
}

TEST(QuoteTest, QuotesShortenAndEscape) {
  EXPECT_EQ(detail::quote("abc"), "\"abc\"");
  EXPECT_EQ(detail::quote("a\"b\n"), "\"a\\\"b\\x0A\"");
  std::string shortened = detail::quote(std::string(100, 'x'));
  EXPECT_EQ(shortened, "\"" + std::string(40, 'x') + "...\"");
  // A multi-byte character cut at the limit is dropped whole; one that fits is kept.
  std::string text = std::string(39, 'x') + "\xE6\x96\xB0" + "tail";
  EXPECT_EQ(detail::quote(text), "\"" + std::string(39, 'x') + "...\"");
  text = std::string(37, 'x') + "\xE6\x96\xB0" + "tail";
  EXPECT_EQ(detail::quote(text), "\"" + std::string(37, 'x') + "\xE6\x96\xB0...\"");
}

}  // namespace
}  // namespace pathpilot::config
