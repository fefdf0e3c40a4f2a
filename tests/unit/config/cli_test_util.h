// A fixture for the config tests that run the built `pathpilot` binary (check, check --iam):
// a scratch directory per test for config files, and runs with stdout and stderr captured.
// Not thread-safe (one test at a time, as GoogleTest runs them); the binary is a build
// dependency of the test target, so its absence fails SetUp instead of every test.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "config_test_util.h"

namespace pathpilot::config::testing {

struct CommandRun {
  int exit_code = -1;  // -1 when the process did not exit normally (signal)
  std::string out;
  std::string err;
};

class CliBinaryTest : public ::testing::Test {
 protected:
  // `dir_prefix` keeps each test file's scratch directories apart ("pp_check_").
  explicit CliBinaryTest(std::string dir_prefix) : dir_prefix_(std::move(dir_prefix)) {}

  void SetUp() override {
    binary_ = std::string(PP_BINARY_DIR) + "/src/cli/pathpilot";
    // Pid and test name: parallel ctest runs of the same binary must not share files.
    dir_ = std::filesystem::path(::testing::TempDir()) /
           (dir_prefix_ + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    ASSERT_TRUE(std::filesystem::exists(binary_)) << binary_;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes `content` to `name` in the scratch directory; returns its path.
  std::string write(const std::string& name, const std::string& content) {
    std::filesystem::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }

  // Runs `pathpilot <args>` (args already shell-quoted by the caller) with stdout and stderr
  // captured to files, so both can be checked whole.
  CommandRun run(const std::string& args) {
    std::string out = (dir_ / "stdout").string();
    std::string err = (dir_ / "stderr").string();
    std::string command = "'" + binary_ + "' " + args + " >'" + out + "' 2>'" + err + "'";
    int status = std::system(command.c_str());
    CommandRun r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = readFileForTest(out);
    r.err = readFileForTest(err);
    return r;
  }

  std::string binary_;
  std::filesystem::path dir_;

 private:
  std::string dir_prefix_;
};

}  // namespace pathpilot::config::testing
