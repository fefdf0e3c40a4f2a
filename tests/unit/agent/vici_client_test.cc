#include "agent/vici_client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "vici_samples.h"

namespace pathpilot::agent {
namespace {

using std::chrono::milliseconds;

// A VICI server on a Unix socket that answers like charon: EVENT_CONFIRM to registrations,
// list-sa / list-conn events then CMD_RESPONSE to the listing commands, CMD_UNKNOWN otherwise.
// `mode` makes it misbehave: Stall reads requests and never answers, CloseAfterRequest hangs
// up, Garbage answers with an invalid packet.
class FakeCharon {
 public:
  enum class Mode { Normal, Stall, CloseAfterRequest, Garbage };

  explicit FakeCharon(std::string path) : path_(std::move(path)) { listen(); }
  ~FakeCharon() { shutdown(); }

  void setMode(Mode m) { mode_ = m; }
  int accepted() const { return accepted_; }
  const std::string& path() const { return path_; }

  void shutdown() {
    stop_ = true;
    if (listen_fd_ >= 0) {
      ::shutdown(listen_fd_, SHUT_RDWR);
      ::close(listen_fd_);
      listen_fd_ = -1;
    }
    if (int c = client_fd_.load(); c >= 0) {
      ::shutdown(c, SHUT_RDWR);  // wakes the handler blocked in recv (charon exiting)
    }
    if (thread_.joinable()) {
      thread_.join();
    }
    ::unlink(path_.c_str());
  }
  void restart() {
    shutdown();
    stop_ = false;
    listen();
  }

 private:
  void listen() {
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
    ::unlink(path_.c_str());
    ASSERT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(listen_fd_, 4), 0);
    thread_ = std::thread([this, fd = listen_fd_] { serve(fd); });
  }

  static bool readAll(int fd, char* p, std::size_t n) {
    while (n > 0) {
      ssize_t r = ::recv(fd, p, n, 0);
      if (r <= 0) {
        return false;
      }
      p += r;
      n -= static_cast<std::size_t>(r);
    }
    return true;
  }
  static void sendPacket(int fd, const ViciPacket& p) {
    auto bytes = encodePacket(p);
    (void)::send(fd, bytes->data(), bytes->size(), MSG_NOSIGNAL);
  }

  void serve(int listen_fd) {
    while (!stop_) {
      int fd = ::accept(listen_fd, nullptr, nullptr);
      if (fd < 0) {
        return;
      }
      ++accepted_;
      client_fd_ = fd;
      handle(fd);
      client_fd_ = -1;
      ::close(fd);
    }
  }

  void handle(int fd) {
    std::string registered;
    for (;;) {
      unsigned char h[4];
      if (!readAll(fd, reinterpret_cast<char*>(h), 4)) {
        return;
      }
      std::size_t len = (std::size_t{h[0]} << 24) | (std::size_t{h[1]} << 16) |
                        (std::size_t{h[2]} << 8) | h[3];
      std::string body(len, '\0');
      if (!readAll(fd, body.data(), len)) {
        return;
      }
      auto p = decodePacket(body);
      if (!p) {
        return;
      }
      if (mode_ == Mode::CloseAfterRequest) {
        return;
      }
      if (mode_ == Mode::Stall) {
        continue;
      }
      if (mode_ == Mode::Garbage) {
        const char junk[] = "\x00\x00\x00\x03\x01\x09\x09";
        (void)::send(fd, junk, 7, MSG_NOSIGNAL);
        continue;
      }
      switch (p->type) {
        case PacketType::EventRegister:
          if (p->name == "list-sa" || p->name == "list-conn") {
            registered = p->name;
            sendPacket(fd, {PacketType::EventConfirm, "", {}});
          } else {
            sendPacket(fd, {PacketType::EventUnknown, "", {}});
          }
          break;
        case PacketType::EventUnregister:
          registered.clear();
          sendPacket(fd, {PacketType::EventConfirm, "", {}});
          break;
        case PacketType::CmdRequest:
          if (p->name == "list-sas" && registered == "list-sa") {
            sendPacket(fd, {PacketType::Event, "list-sa",
                            testing::sa("a", "1", "ESTABLISHED",
                                        {testing::child("a", "1", "INSTALLED", 924, 100)})});
            sendPacket(fd, {PacketType::Event, "list-sa", testing::sa("b", "2", "CONNECTING", {})});
            sendPacket(fd, {PacketType::CmdResponse, "", {}});
          } else if (p->name == "list-conns" && registered == "list-conn") {
            sendPacket(fd, {PacketType::Event, "list-conn", testing::conn("a", "a")});
            sendPacket(fd, {PacketType::CmdResponse, "", {}});
          } else if (p->name == "version") {
            ViciSection v;
            v.set("daemon", "charon").set("version", "5.9.8");
            sendPacket(fd, {PacketType::CmdResponse, "", v});
          } else {
            sendPacket(fd, {PacketType::CmdUnknown, "", {}});
          }
          break;
        default:
          return;
      }
    }
  }

  std::string path_;
  int listen_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<Mode> mode_{Mode::Normal};
  std::atomic<int> accepted_{0};
  std::atomic<int> client_fd_{-1};
};

class ViciClientTest : public ::testing::Test {
 protected:
  ViciClientTest() {
    dir_ = std::filesystem::temp_directory_path() /
           ("pp_vici_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  ~ViciClientTest() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string socket() const { return (dir_ / "charon.vici").string(); }
  std::filesystem::path dir_;
};

TEST_F(ViciClientTest, StreamedListSasCollectsEveryEvent) {
  FakeCharon charon(socket());
  ViciClient client("unix://" + socket(), std::chrono::seconds(2));
  std::vector<ViciSection> events;
  auto r = client.call("list-sas", {}, "list-sa", &events);
  ASSERT_TRUE(r) << r.error().toString();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_NE(events[0].section("a"), nullptr);
  EXPECT_NE(events[1].section("b"), nullptr);
  // The connection is reused for the next call.
  events.clear();
  ASSERT_TRUE(client.call("list-conns", {}, "list-conn", &events));
  EXPECT_EQ(events.size(), 1u);
  auto v = client.call("version", {}, "", nullptr);
  ASSERT_TRUE(v);
  EXPECT_EQ(*v->value("version"), "5.9.8");
  EXPECT_EQ(charon.accepted(), 1);
  EXPECT_EQ(client.stats().calls, 3u);
  EXPECT_EQ(client.stats().connects, 1u);
}

TEST_F(ViciClientTest, UnknownCommandAndEvent) {
  FakeCharon charon(socket());
  ViciClient client(socket(), std::chrono::seconds(2));
  auto r = client.call("frobnicate", {}, "", nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::NotFound);
  EXPECT_NE(r.error().message().find("does not know the command \"frobnicate\""),
            std::string::npos);
  std::vector<ViciSection> events;
  r = client.call("list-sas", {}, "no-such-event", &events);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::NotFound);
  // Still usable.
  EXPECT_TRUE(client.call("version", {}, "", nullptr));
}

TEST_F(ViciClientTest, MissingSocketIsAClearError) {
  ViciClient client("unix://" + socket(), std::chrono::seconds(1));
  auto r = client.call("list-sas", {}, "list-sa", nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::Unavailable);
  EXPECT_NE(r.error().message().find("vici unix://" + socket() + ": connect: No such file"),
            std::string::npos)
      << r.error().message();
  EXPECT_NE(r.error().message().find("is charon running"), std::string::npos);
}

TEST_F(ViciClientTest, StalledCharonTimesOutAndTheNextCallReconnects) {
  FakeCharon charon(socket());
  charon.setMode(FakeCharon::Mode::Stall);
  ViciClient client(socket(), milliseconds(150));
  auto t0 = std::chrono::steady_clock::now();
  auto r = client.call("version", {}, "", nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::Timeout);
  EXPECT_NE(r.error().message().find("no answer to version within 150ms"), std::string::npos)
      << r.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  EXPECT_FALSE(client.connected());
  charon.setMode(FakeCharon::Mode::Normal);
  // The fake serves one connection at a time: restart it so the new connection is accepted.
  charon.restart();
  auto ok = client.call("version", {}, "", nullptr);
  ASSERT_TRUE(ok) << ok.error().toString();
  EXPECT_EQ(client.stats().errors, 1u);
}

TEST_F(ViciClientTest, CharonHangingUpIsUnavailable) {
  FakeCharon charon(socket());
  charon.setMode(FakeCharon::Mode::CloseAfterRequest);
  ViciClient client(socket(), std::chrono::seconds(2));
  auto r = client.call("list-sas", {}, "list-sa", nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::Unavailable);
  EXPECT_NE(r.error().message().find("closed the connection"), std::string::npos);
}

TEST_F(ViciClientTest, GarbageAnswerIsRejected) {
  FakeCharon charon(socket());
  charon.setMode(FakeCharon::Mode::Garbage);
  ViciClient client(socket(), std::chrono::seconds(2));
  auto r = client.call("version", {}, "", nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::InvalidArgument);
  EXPECT_FALSE(client.connected());
}

TEST_F(ViciClientTest, CharonRestartIsPickedUp) {
  auto charon = std::make_unique<FakeCharon>(socket());
  ViciClient client(socket(), std::chrono::seconds(2));
  ASSERT_TRUE(client.call("version", {}, "", nullptr));
  charon.reset();  // charon exits: socket gone
  auto r = client.call("version", {}, "", nullptr);
  ASSERT_FALSE(r);
  r = client.call("version", {}, "", nullptr);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("connect"), std::string::npos);
  charon = std::make_unique<FakeCharon>(socket());  // and comes back
  auto ok = client.call("version", {}, "", nullptr);
  ASSERT_TRUE(ok) << ok.error().toString();
  EXPECT_EQ(client.stats().connects, 2u);
}

}  // namespace
}  // namespace pathpilot::agent
