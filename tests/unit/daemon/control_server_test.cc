// The control socket: one JSON request per connection, garbage and abuse answered or dropped
// without disturbing the loop.
#include "daemon/control_server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

namespace pathpilot::daemon {
namespace {

int connectRaw(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  return fd;
}

std::string readAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) {
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pp-control-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/control.sock";
  }
  void TearDown() override {
    stopLoop();
    std::filesystem::remove_all(dir_);
  }

  void startServer() {
    server_ = std::make_unique<ControlServer>(io_, path_, [this](const nlohmann::json& req) {
      ++handled_;
      if (req["cmd"] == "status") {
        return nlohmann::json{{"ok", true}, {"status", {{"site", "Lab"}}}};
      }
      return nlohmann::json{{"ok", false}, {"error", "unknown command"}};
    });
    auto started = server_->start();
    ASSERT_TRUE(started) << started.error().toString();
    guard_.emplace(asio::make_work_guard(io_));
    thread_ = std::thread([this] { io_.run(); });
  }

  void stopLoop() {
    if (thread_.joinable()) {
      asio::post(io_, [this] { server_->stop(); });
      guard_.reset();
      io_.stop();
      thread_.join();
    }
  }

  std::string dir_;
  std::string path_;
  asio::io_context io_;
  std::unique_ptr<ControlServer> server_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
  std::thread thread_;
  std::atomic<int> handled_{0};
};

TEST_F(ControlServerTest, AnswersOneRequest) {
  startServer();
  auto r = controlRequest(path_, {{"cmd", "status"}});
  ASSERT_TRUE(r) << r.error().toString();
  EXPECT_TRUE((*r)["ok"].get<bool>());
  EXPECT_EQ((*r)["status"]["site"], "Lab");
  struct stat st{};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
}

TEST_F(ControlServerTest, GarbageGetsAJsonError) {
  startServer();
  int fd = connectRaw(path_);
  std::string junk = "this is not json\n";
  ASSERT_EQ(::write(fd, junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
  auto answer = nlohmann::json::parse(readAll(fd));
  ::close(fd);
  EXPECT_FALSE(answer["ok"].get<bool>());
  EXPECT_NE(answer["error"].get<std::string>().find("not a JSON object"), std::string::npos);

  fd = connectRaw(path_);
  std::string nocmd = "{\"path\":\"dx\"}\n";
  ASSERT_EQ(::write(fd, nocmd.data(), nocmd.size()), static_cast<ssize_t>(nocmd.size()));
  answer = nlohmann::json::parse(readAll(fd));
  ::close(fd);
  EXPECT_NE(answer["error"].get<std::string>().find("\"cmd\""), std::string::npos);
  EXPECT_EQ(handled_, 0);
}

TEST_F(ControlServerTest, OversizedRequestIsRefused) {
  startServer();
  int fd = connectRaw(path_);
  std::string big(ControlServer::kMaxRequestBytes + 100, 'x');
  // The server answers as soon as the limit is passed; the rest of our write may fail.
  (void)::send(fd, big.data(), big.size(), MSG_NOSIGNAL);
  auto text = readAll(fd);
  ::close(fd);
  auto answer = nlohmann::json::parse(text);
  EXPECT_NE(answer["error"].get<std::string>().find("too large"), std::string::npos);
}

TEST_F(ControlServerTest, ClientThatHangsUpMidRequestDoesNotDisturbOthers) {
  startServer();
  int fd = connectRaw(path_);
  std::string half = "{\"cmd\":\"sta";
  ASSERT_EQ(::write(fd, half.data(), half.size()), static_cast<ssize_t>(half.size()));
  ::close(fd);
  auto r = controlRequest(path_, {{"cmd", "status"}});
  ASSERT_TRUE(r);
  EXPECT_TRUE((*r)["ok"].get<bool>());
}

TEST_F(ControlServerTest, ReplacesStaleSocketButNotALiveOne) {
  // A stale socket file, as left by kill -9.
  int stale = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
  ASSERT_EQ(::bind(stale, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(stale);
  startServer();
  ASSERT_TRUE(controlRequest(path_, {{"cmd", "status"}}));

  asio::io_context other;
  ControlServer second(other, path_, [](const nlohmann::json&) { return nlohmann::json{}; });
  auto refused = second.start();
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("another pathpilot daemon"), std::string::npos);
}

TEST_F(ControlServerTest, RefusesANonSocketPath) {
  { std::FILE* f = std::fopen(path_.c_str(), "w"); std::fclose(f); }
  ControlServer server(io_, path_, [](const nlohmann::json&) { return nlohmann::json{}; });
  auto r = server.start();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("not a socket"), std::string::npos);
}

TEST(ControlRequestTest, MissingDaemonGivesAHint) {
  auto r = controlRequest("/tmp/pp-no-such-dir/control.sock", {{"cmd", "status"}});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("is the daemon running"), std::string::npos);
}

}  // namespace
}  // namespace pathpilot::daemon
