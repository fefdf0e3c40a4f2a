// The control socket: one JSON request per connection, garbage and abuse answered or dropped
// without disturbing the engine loop; its file mode without umask; who asked; connection cap;
// status floods coalesced.
#include "daemon/control_server.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pathpilot::daemon {
namespace {

int connectRaw(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  return fd;
}

// Reads until EOF, or at most 10 s.
std::string readAll(int fd) {
  std::string out;
  char buf[4096];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 1000) <= 0) {
      continue;
    }
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) {
      break;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

void sendAll(int fd, const std::string& text) {
  ASSERT_EQ(::send(fd, text.data(), text.size(), MSG_NOSIGNAL), static_cast<ssize_t>(text.size()));
}

mode_t modeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pp-control-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/control.sock";
  }
  void TearDown() override {
    server_.reset();
    stopEngine();
    std::filesystem::remove_all(dir_);
  }

  // The engine loop: a thread running engine_ (as the daemon's engine thread).
  void startEngine() {
    guard_.emplace(asio::make_work_guard(engine_));
    engine_thread_ = std::thread([this] { engine_.run(); });
  }
  void stopEngine() {
    if (engine_thread_.joinable()) {
      guard_.reset();
      engine_.stop();
      engine_thread_.join();
    }
  }

  void startServer(ControlOptions options = {}, const std::string& path = "") {
    server_ = std::make_unique<ControlServer>(
        engine_, path.empty() ? path_ : path,
        [this] {
          ++status_builds_;
          return nlohmann::json{{"site", "Lab"}, {"build", status_builds_.load()}};
        },
        [this](const ControlRequest& req, const ControlPeer& peer) {
          ++handled_;
          {
            std::lock_guard lock(mu_);
            last_peer_ = peer;
          }
          if (req.cmd == ControlRequest::Cmd::Drain) {
            return nlohmann::json{{"ok", true}, {"message", "drained"}};
          }
          return nlohmann::json{{"ok", false}, {"error", "unknown command"}};
        },
        options);
    auto started = server_->start();
    ASSERT_TRUE(started) << started.error().toString();
    if (!engine_thread_.joinable()) {
      startEngine();
    }
  }

  std::string dir_;
  std::string path_;
  asio::io_context engine_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
  std::thread engine_thread_;
  std::unique_ptr<ControlServer> server_;
  std::atomic<int> handled_{0};
  std::atomic<int> status_builds_{0};
  std::mutex mu_;
  ControlPeer last_peer_;
};

TEST_F(ControlServerTest, AnswersStatusAndPingWithMode0660) {
  startServer();
  auto r = controlRequest(path_, {{"cmd", "status"}});
  ASSERT_TRUE(r) << r.error().toString();
  EXPECT_TRUE((*r)["ok"].get<bool>());
  EXPECT_EQ((*r)["status"]["site"], "Lab");
  auto ping = controlRequest(path_, {{"cmd", "ping"}});
  ASSERT_TRUE(ping);
  EXPECT_TRUE((*ping)["ok"].get<bool>());
  EXPECT_EQ(modeOf(path_), 0660u);
  EXPECT_EQ(handled_, 0);  // status and ping never reach the command handler
}

// The mode comes from chmod in a private directory, not from the umask: the same with a
// permissive and a strict umask, and the process umask is unchanged afterwards. A missing
// parent directory is created 0750.
TEST_F(ControlServerTest, SocketIs0660AndNewDirectories0750WhateverTheUmask) {
  for (mode_t mask : {mode_t{0}, mode_t{077}}) {
    mode_t before = ::umask(mask);
    std::string dir = dir_ + "/run" + std::to_string(mask) + "/pathpilot";
    std::string path = dir + "/control.sock";
    ControlServer server(
        engine_, path, [] { return nlohmann::json::object(); },
        [](const ControlRequest&, const ControlPeer&) { return nlohmann::json{}; });
    auto started = server.start();
    mode_t after = ::umask(before);
    ASSERT_TRUE(started) << started.error().toString();
    EXPECT_EQ(after, mask) << "start() changed the process umask";
    EXPECT_EQ(modeOf(path), 0660u) << "umask " << mask;
    EXPECT_EQ(modeOf(dir), 0750u) << "umask " << mask;
    EXPECT_EQ(modeOf(dir_ + "/run" + std::to_string(mask)), 0750u);
    // Nothing is left of the private directory it was bound in.
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      EXPECT_EQ(entry.path().filename(), "control.sock");
    }
    server.stop();
    EXPECT_FALSE(std::filesystem::exists(path));
  }
}

// Regression: start() used to set umask(0117) around bind(); a file another thread created
// meanwhile got mode 0660 instead of 0644. Files created while servers start and stop keep
// the mode the umask gives them.
TEST_F(ControlServerTest, OtherThreadsFilesAreNotAffectedByStart) {
  mode_t before = ::umask(022);
  std::atomic<bool> stop{false};
  std::atomic<int> created{0};
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i) {
      std::string f = dir_ + "/f" + std::to_string(i % 64);
      ::unlink(f.c_str());
      int fd = ::open(f.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
      if (fd >= 0) {
        struct stat st {};
        ::fstat(fd, &st);
        if ((st.st_mode & 0777) != 0644) {
          ADD_FAILURE() << "file created with mode " << std::oct << (st.st_mode & 0777);
        }
        ::close(fd);
        ++created;
      }
    }
  });
  for (int i = 0; i < 50; ++i) {
    ControlServer server(
        engine_, dir_ + "/c.sock", [] { return nlohmann::json::object(); },
        [](const ControlRequest&, const ControlPeer&) { return nlohmann::json{}; });
    ASSERT_TRUE(server.start());
    server.stop();
  }
  stop = true;
  writer.join();
  ::umask(before);
  EXPECT_GT(created.load(), 0);
}

TEST_F(ControlServerTest, GarbageGetsAJsonError) {
  startServer();
  int fd = connectRaw(path_);
  sendAll(fd, "this is not json\n");
  auto answer = nlohmann::json::parse(readAll(fd));
  ::close(fd);
  EXPECT_FALSE(answer["ok"].get<bool>());
  EXPECT_NE(answer["error"].get<std::string>().find("not a JSON object"), std::string::npos);

  fd = connectRaw(path_);
  sendAll(fd, "{\"path\":\"dx\"}\n");
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
  sendAll(fd, "{\"cmd\":\"sta");
  ::close(fd);
  auto r = controlRequest(path_, {{"cmd", "status"}});
  ASSERT_TRUE(r);
  EXPECT_TRUE((*r)["ok"].get<bool>());
}

// Who asked: SO_PEERCRED, filled in by the kernel, reaches the handler with every command.
TEST_F(ControlServerTest, PeerCredentialsComeWithEveryCommand) {
  startServer();
  auto r = controlRequest(path_, {{"cmd", "drain"}, {"path", "dx"}});
  ASSERT_TRUE(r) << r.error().toString();
  EXPECT_TRUE((*r)["ok"].get<bool>());
  std::lock_guard lock(mu_);
  EXPECT_TRUE(last_peer_.known);
  EXPECT_EQ(last_peer_.uid, ::getuid());
  EXPECT_EQ(last_peer_.gid, ::getgid());
  EXPECT_EQ(last_peer_.pid, ::getpid());
  std::string who = "uid " + std::to_string(::getuid());
  EXPECT_EQ(last_peer_.describe().rfind(who, 0), 0u) << last_peer_.describe();
  EXPECT_NE(last_peer_.describe().find(", pid " + std::to_string(::getpid())), std::string::npos);
  if (::getuid() == 0) {
    EXPECT_EQ(last_peer_.describe(), "uid 0 (root), pid " + std::to_string(::getpid()));
  }
}

TEST_F(ControlServerTest, ConnectionsBeyondTheCapAreRefusedWithAClearError) {
  ControlOptions options;
  options.max_connections = 4;
  startServer(options);
  std::vector<int> idle;
  for (int i = 0; i < 4; ++i) {
    idle.push_back(connectRaw(path_));
  }
  // Each connection is counted once the server accepted it: a ping on a fifth connection is
  // refused only after that, so wait (bounded) for the four to be accepted.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (server_->stats().accepted < 4 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  ASSERT_EQ(server_->stats().accepted, 4u);
  auto refused = controlRequest(path_, {{"cmd", "status"}});
  ASSERT_TRUE(refused) << refused.error().toString();
  EXPECT_FALSE((*refused)["ok"].get<bool>());
  EXPECT_EQ((*refused)["error"], "too many control connections (4 open); try again shortly");
  EXPECT_EQ(server_->stats().refused, 1u);
  // A slot frees when its client goes: requests are served again.
  ::close(idle.back());
  idle.pop_back();
  bool served = false;
  while (!served && std::chrono::steady_clock::now() < deadline) {
    auto r = controlRequest(path_, {{"cmd", "ping"}});
    served = r && (*r)["ok"].get<bool>();
  }
  EXPECT_TRUE(served);
  for (int fd : idle) {
    ::close(fd);
  }
}

// 200 clients ask for the status while the engine thread is busy: they are all answered by at
// most two status builds on the engine thread (one already posted when the flood began, one
// covering everyone who came after), each document built after the request that it answers.
TEST_F(ControlServerTest, StatusFloodIsCoalescedIntoFewEngineBuilds) {
  ControlOptions options;
  options.max_connections = 256;
  startServer(options);
  // Hold the engine thread until every request has arrived.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  asio::post(engine_, [released] { released.wait(); });
  constexpr int kClients = 200;
  std::vector<int> fds;
  for (int i = 0; i < kClients; ++i) {
    int fd = connectRaw(path_);
    sendAll(fd, "{\"cmd\":\"status\"}\n");
    fds.push_back(fd);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (server_->stats().status_requests < kClients &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  ASSERT_EQ(server_->stats().status_requests, static_cast<std::uint64_t>(kClients));
  EXPECT_EQ(status_builds_, 0);  // nothing ran on the engine yet
  release.set_value();
  for (int fd : fds) {
    auto answer = nlohmann::json::parse(readAll(fd), nullptr, false);
    ::close(fd);
    ASSERT_TRUE(answer.is_object());
    EXPECT_TRUE(answer["ok"].get<bool>()) << answer.dump();
    EXPECT_EQ(answer["status"]["site"], "Lab");
  }
  EXPECT_GE(status_builds_, 1);
  EXPECT_LE(status_builds_, 2);
  EXPECT_EQ(server_->stats().status_builds, static_cast<std::uint64_t>(status_builds_));
}

// A status asked after a change sees it: a build is never older than the request.
TEST_F(ControlServerTest, EachStatusAnswerIsBuiltAfterItsRequest) {
  ControlOptions options;
  options.status_min_gap = std::chrono::milliseconds(0);
  options.status_cost_factor = 0;
  startServer(options);
  int previous = 0;
  for (int i = 0; i < 5; ++i) {
    auto r = controlRequest(path_, {{"cmd", "status"}});
    ASSERT_TRUE(r);
    int build = (*r)["status"]["build"].get<int>();
    EXPECT_GT(build, previous);
    previous = build;
  }
}

TEST_F(ControlServerTest, AnEngineThatDoesNotAnswerGivesAnErrorNotAHang) {
  ControlOptions options;
  options.engine_timeout = std::chrono::milliseconds(200);
  server_ = std::make_unique<ControlServer>(
      engine_, path_, [] { return nlohmann::json::object(); },
      [](const ControlRequest&, const ControlPeer&) {
        return nlohmann::json{{"ok", true}};
      },
      options);
  ASSERT_TRUE(server_->start());
  // engine_ is not running: nothing posted to it runs.
  auto status = controlRequest(path_, {{"cmd", "status"}});
  ASSERT_TRUE(status) << status.error().toString();
  EXPECT_FALSE((*status)["ok"].get<bool>());
  EXPECT_NE((*status)["error"].get<std::string>().find("did not answer within 200ms"),
            std::string::npos)
      << status->dump();
  auto drain = controlRequest(path_, {{"cmd", "drain"}, {"path", "dx"}});
  ASSERT_TRUE(drain);
  EXPECT_NE((*drain)["error"].get<std::string>().find("may still take effect"), std::string::npos);
  auto ping = controlRequest(path_, {{"cmd", "ping"}});
  ASSERT_TRUE(ping);
  EXPECT_TRUE((*ping)["ok"].get<bool>());  // answered by the server itself
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
  ControlServer second(
      other, path_, [] { return nlohmann::json::object(); },
      [](const ControlRequest&, const ControlPeer&) { return nlohmann::json{}; });
  auto refused = second.start();
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("another pathpilot daemon"), std::string::npos);
  // The live daemon's socket is untouched.
  EXPECT_TRUE(controlRequest(path_, {{"cmd", "ping"}}));
}

TEST_F(ControlServerTest, RefusesANonSocketPath) {
  { std::FILE* f = std::fopen(path_.c_str(), "w"); std::fclose(f); }
  ControlServer server(
      engine_, path_, [] { return nlohmann::json::object(); },
      [](const ControlRequest&, const ControlPeer&) { return nlohmann::json{}; });
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

namespace pathpilot::daemon {
namespace {

TEST(ControlRequestTest, ParsesEachCommand) {
  auto ping = parseControlRequest(R"({"cmd":"ping"})");
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->cmd, ControlRequest::Cmd::Ping);
  auto status = parseControlRequest(R"({"cmd":"status","extra":[1,2]})");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->cmd, ControlRequest::Cmd::Status);
  auto drain = parseControlRequest(R"({"cmd":"drain","path":"vpn-a"})");
  ASSERT_TRUE(drain);
  EXPECT_EQ(drain->cmd, ControlRequest::Cmd::Drain);
  EXPECT_EQ(drain->path, "vpn-a");
  auto undrain = parseControlRequest(R"({"path":"dx","cmd":"undrain"})");
  ASSERT_TRUE(undrain);
  EXPECT_EQ(undrain->cmd, ControlRequest::Cmd::Undrain);
  EXPECT_EQ(undrain->path, "dx");
}

TEST(ControlRequestTest, BadRequestsSayWhatIsWrong) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "request is not a JSON object"},
      {"[1]", "request is not a JSON object"},
      {"{\"cmd\":", "request is not a JSON object"},
      {"{}", "request has no string field \"cmd\""},
      {"{\"cmd\":7}", "request has no string field \"cmd\""},
      {"{\"cmd\":\"drain\"}", "drain needs a string field \"path\""},
      {"{\"cmd\":\"undrain\",\"path\":null}", "undrain needs a string field \"path\""},
      {"{\"cmd\":\"reboot\"}", "unknown command \"reboot\""},
  };
  for (const auto& [line, message] : cases) {
    auto r = parseControlRequest(line);
    ASSERT_FALSE(r) << line;
    EXPECT_EQ(r.error().code(), ErrorCode::InvalidArgument);
    EXPECT_EQ(r.error().message(), message) << line;
  }
  // A long unknown command is cut, and the reply stays valid JSON even when the cut falls
  // inside a multi-byte character.
  std::string name(63, 'x');
  name += "\u00e9\u00e9\u00e9";
  auto r = parseControlRequest(nlohmann::json{{"cmd", name}}.dump());
  ASSERT_FALSE(r);
  EXPECT_LT(r.error().message().size(), 100u);
  const nlohmann::json reply = {{"error", r.error().message()}};
  EXPECT_NO_THROW((void)reply.dump());
}

}  // namespace
}  // namespace pathpilot::daemon
