#include "journal/jsonl_sink.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "samples.h"
#include "temp_dir.h"

namespace pathpilot::journal {
namespace {

using testing::fullEvent;
using testing::simpleEvent;
using testing::TempDir;

std::vector<std::string> readLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

TEST(JsonlSinkTest, WritesOneParseableLinePerEvent) {
  TempDir dir;
  std::string path = dir.file("events.jsonl");
  auto sink = JsonlSink::open(path);
  ASSERT_TRUE(sink) << sink.error().toString();
  std::vector<Event> events = {fullEvent(), simpleEvent("Singapore", EventKind::PathUp, 5)};
  events[0].seq = 1;
  events[1].seq = 2;
  events[0].message = "multi\nline\nmessage";
  ASSERT_TRUE((*sink)->write(events));
  ASSERT_TRUE((*sink)->sync());

  auto lines = readLines(path);
  ASSERT_EQ(lines.size(), 2u);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto back = parseJsonLine(lines[i]);
    ASSERT_TRUE(back) << lines[i];
    EXPECT_EQ(*back, events[i]);
  }
  EXPECT_EQ(lines[1].rfind(R"({"time":"2026-11-25T12:52:52.128Z","seq":2,)", 0), 0u) << lines[1];

  // Created 0640: events may name internal hosts.
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

// The mode is set explicitly, not left to the umask: exactly 0640 under a permissive and under
// a strict umask. An existing file keeps its mode (an operator's choice for a log shipper).
TEST(JsonlSinkTest, CreatedExactly0640WhateverTheUmask) {
  for (mode_t mask : {mode_t{0}, mode_t{077}}) {
    TempDir dir;
    std::string path = dir.file("events.jsonl");
    mode_t before = ::umask(mask);
    auto sink = JsonlSink::open(path);
    ::umask(before);
    ASSERT_TRUE(sink) << sink.error().toString();
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0640u) << "umask " << std::oct << mask;
  }
  TempDir dir;
  std::string path = dir.file("events.jsonl");
  std::ofstream(path) << "";
  ::chmod(path.c_str(), 0604);
  ASSERT_TRUE(JsonlSink::open(path));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0604u);
}

TEST(JsonlSinkTest, AppendsToExistingFile) {
  TempDir dir;
  std::string path = dir.file("events.jsonl");
  { std::ofstream(path) << "{\"existing\":true}\n"; }
  auto sink = JsonlSink::open(path);
  ASSERT_TRUE(sink);
  std::vector<Event> events = {fullEvent()};
  ASSERT_TRUE((*sink)->write(events));
  auto lines = readLines(path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "{\"existing\":true}");
}

TEST(JsonlSinkTest, ReopenAfterRenameStartsANewFile) {
  TempDir dir;
  std::string path = dir.file("events.jsonl");
  auto sink = JsonlSink::open(path);
  ASSERT_TRUE(sink);
  std::vector<Event> first = {simpleEvent("Beijing", EventKind::PathDown, 0, "before")};
  ASSERT_TRUE((*sink)->write(first));

  // What logrotate does: rename, then signal the daemon.
  std::filesystem::rename(path, dir.file("events.jsonl.1"));
  std::vector<Event> during = {simpleEvent("Beijing", EventKind::PathUp, 1, "during")};
  ASSERT_TRUE((*sink)->write(during));  // still the old (renamed) file
  ASSERT_TRUE((*sink)->reopen());
  std::vector<Event> after = {simpleEvent("Beijing", EventKind::PathUp, 2, "after")};
  ASSERT_TRUE((*sink)->write(after));

  auto old_lines = readLines(dir.file("events.jsonl.1"));
  auto new_lines = readLines(path);
  ASSERT_EQ(old_lines.size(), 2u);
  ASSERT_EQ(new_lines.size(), 1u);
  EXPECT_EQ(parseJsonLine(old_lines[1])->message, "during");
  EXPECT_EQ(parseJsonLine(new_lines[0])->message, "after");
}

TEST(JsonlSinkTest, CopyTruncateKeepsAppendingAtTheNewEnd) {
  TempDir dir;
  std::string path = dir.file("events.jsonl");
  auto sink = JsonlSink::open(path);
  ASSERT_TRUE(sink);
  std::vector<Event> events = {fullEvent(), fullEvent(1), fullEvent(2)};
  ASSERT_TRUE((*sink)->write(events));
  std::filesystem::resize_file(path, 0);
  std::vector<Event> one = {fullEvent(3)};
  ASSERT_TRUE((*sink)->write(one));
  auto lines = readLines(path);
  ASSERT_EQ(lines.size(), 1u) << "O_APPEND must not leave a hole of NULs";
  EXPECT_TRUE(parseJsonLine(lines[0]));
}

TEST(JsonlSinkTest, OpenErrorsNameTheFile) {
  TempDir dir;
  std::string missing = dir.file("nope/events.jsonl");
  auto r = JsonlSink::open(missing);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::NotFound);
  EXPECT_NE(r.error().toString().find(missing), std::string::npos);
  EXPECT_NE(r.error().toString().find("does not exist"), std::string::npos);

  auto denied = JsonlSink::open("/sys/pathpilot-events-test.jsonl");
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code(), ErrorCode::PermissionDenied) << denied.error().toString();
  EXPECT_NE(denied.error().toString().find("/sys/pathpilot-events-test.jsonl"),
            std::string::npos);

  auto dir_as_file = JsonlSink::open(dir.path().string());
  ASSERT_FALSE(dir_as_file);
  EXPECT_NE(dir_as_file.error().toString().find(dir.path().string()), std::string::npos);
}

TEST(JsonlSinkTest, FailedReopenKeepsTheOldFile) {
  TempDir dir;
  std::filesystem::create_directory(dir.file("logs"));
  std::string path = dir.file("logs/events.jsonl");
  auto sink = JsonlSink::open(path);
  ASSERT_TRUE(sink);
  std::filesystem::rename(dir.file("logs"), dir.file("logs.old"));
  auto r = (*sink)->reopen();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().toString().find(path), std::string::npos);
  std::vector<Event> events = {fullEvent()};
  ASSERT_TRUE((*sink)->write(events));
  EXPECT_EQ(readLines(dir.file("logs.old/events.jsonl")).size(), 1u);
}

}  // namespace
}  // namespace pathpilot::journal
