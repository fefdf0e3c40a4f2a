// Tests for daemon::StateFile: what a single monitor keeps across restarts.
#include "daemon/state_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace pathpilot::daemon {
namespace {

namespace fs = std::filesystem;

class StateFileTest : public ::testing::Test {
 protected:
  StateFileTest() {
    char pattern[] = "/tmp/pp_state_XXXXXX";
    dir_ = mkdtemp(pattern);
    path_ = dir_ + "/state.json";
  }
  ~StateFileTest() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  PersistentState sample() {
    PersistentState s;
    s.drains = {"dx"};
    StoredRecovery r;
    auto t = parseRfc3339("2026-12-07T10:00:00.000Z");
    r.starts = {*t, *t + std::chrono::minutes(3)};
    r.attempts = 2;
    r.failures = 2;
    r.not_before = *t + std::chrono::minutes(7);
    s.recovery["vpn-a"] = r;
    return s;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(StateFileTest, SavedStateComesBackAfterARestart) {
  {
    StateFile f(path_, "Beijing");
    std::string problem;
    EXPECT_EQ(f.load(problem), PersistentState{}) << "no file yet: empty state";
    EXPECT_TRUE(problem.empty());
    f.save(sample());
    ASSERT_TRUE(f.flush());
  }
  StateFile again(path_, "Beijing");
  std::string problem;
  EXPECT_EQ(again.load(problem), sample());
  EXPECT_TRUE(problem.empty()) << problem;
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_FALSE(fs::exists(path_ + ".tmp")) << "the temporary file is renamed, not left";
}

TEST_F(StateFileTest, TheLatestSaveWins) {
  StateFile f(path_, "Beijing");
  PersistentState a = sample();
  PersistentState b;
  b.drains = {"vpn-b"};
  f.save(a);
  f.save(b);
  ASSERT_TRUE(f.flush());
  StateFile reader(path_, "Beijing");
  std::string problem;
  EXPECT_EQ(reader.load(problem), b);
}

TEST_F(StateFileTest, AGarbageFileIsMovedAsideAndReported) {
  { std::ofstream(path_) << "{\"version\": 1, \"drains\": [42]}"; }
  StateFile f(path_, "Beijing");
  std::string problem;
  EXPECT_EQ(f.load(problem), PersistentState{});
  EXPECT_NE(problem.find("drains: expected path names"), std::string::npos) << problem;
  EXPECT_NE(problem.find("moved aside to " + path_ + ".bad-"), std::string::npos) << problem;
  EXPECT_FALSE(fs::exists(path_));
  int aside = 0;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    aside += entry.path().filename().string().rfind("state.json.bad-", 0) == 0;
  }
  EXPECT_EQ(aside, 1);
}

TEST_F(StateFileTest, AFifoAtThePathDoesNotHangTheStart) {
  ASSERT_EQ(::mkfifo(path_.c_str(), 0600), 0);
  StateFile f(path_, "Beijing");
  std::string problem;
  EXPECT_EQ(f.load(problem), PersistentState{});
  EXPECT_NE(problem.find("not a regular file"), std::string::npos) << problem;
}

TEST_F(StateFileTest, DecodeNamesTheBadField) {
  auto r = decodeState(R"({"version": 1, "recovery": {"vpn-a": {"starts": ["yesterday"]}}})");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("recovery.vpn-a.starts"), std::string::npos)
      << r.error().message();
  EXPECT_FALSE(decodeState(R"({"version": 2})"));
  EXPECT_FALSE(decodeState("not json"));
  r = decodeState(R"({"version": 1, "recovery": {"vpn-a": {"attempts": -1}}})");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("recovery.vpn-a.attempts"), std::string::npos);
}

TEST_F(StateFileTest, AnEmptyPathKeepsNothing) {
  StateFile f("", "Beijing");
  f.save(sample());
  EXPECT_TRUE(f.flush());
  std::string problem;
  EXPECT_EQ(f.load(problem), PersistentState{});
}

}  // namespace
}  // namespace pathpilot::daemon
