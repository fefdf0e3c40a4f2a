// An alert outbox that cannot be used never keeps the daemon from starting: a corrupt file is
// moved aside and a fresh one started; a file that cannot be opened at all gives an in-memory
// outbox. Either way the caller is told (for a critical alert_outbox_reset event). A reload,
// which must change nothing when it fails, is refused instead and leaves the file alone.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "alert/alert_manager.h"
#include "fakes/fake_clock.h"
#include "http/curl_http_client.h"

namespace pathpilot::alert {
namespace {

class OutboxResetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("pp_outbox_reset_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    cfg_.site.name = "Beijing";
    config::AlertSettings s;
    s.outbox = (dir_ / "alerts.db").string();
    config::AlertChannelConfig c;
    c.name = "chat";
    c.kind = config::AlertChannelKind::Webhook;
    // A loopback port nobody listens on: nothing is delivered anywhere.
    c.url = config::SecretRef{config::SecretRef::Source::Inline, "http://127.0.0.1:9/"};
    s.channels.push_back(c);
    cfg_.alerts = s;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  void writeGarbage(const std::filesystem::path& p) {
    std::ofstream out(p, std::ios::binary);
    for (int i = 0; i < 512; ++i) {
      out << "not an sqlite database ";
    }
  }
  std::vector<std::filesystem::path> movedAside() const {
    std::vector<std::filesystem::path> out;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) {
      if (e.path().filename().string().rfind("alerts.db.bad-", 0) == 0) {
        out.push_back(e.path());
      }
    }
    return out;
  }

  std::filesystem::path dir_;
  config::Config cfg_;
  testing::FakeClock clock_;
  const EnvGetter no_env_ = [](std::string_view) { return std::optional<std::string>(); };
};

TEST_F(OutboxResetTest, AGoodOutboxIsNoProblem) {
  std::string problem = "unset";
  auto opened = openAlertManager(cfg_, clock_, http::curlClients(), nullptr, no_env_, &problem);
  ASSERT_TRUE(opened) << opened.error().message();
  EXPECT_EQ(problem, "");
  EXPECT_TRUE(movedAside().empty());
}

TEST_F(OutboxResetTest, AGarbageFileIsMovedAsideAndANewOutboxStarted) {
  writeGarbage(cfg_.alerts->outbox);
  const std::string garbage = slurp(cfg_.alerts->outbox);
  std::string problem;
  auto opened = openAlertManager(cfg_, clock_, http::curlClients(), nullptr, no_env_, &problem);
  ASSERT_TRUE(opened) << opened.error().message();
  const auto aside = movedAside();
  ASSERT_EQ(aside.size(), 1u);
  EXPECT_EQ(slurp(aside[0]), garbage) << "the bad file is kept as it was";
  EXPECT_NE(problem.find("moved aside to " + aside[0].string()), std::string::npos) << problem;
  EXPECT_NE(problem.find("a new outbox was started"), std::string::npos) << problem;
  EXPECT_NE(problem.find(cfg_.alerts->outbox), std::string::npos) << "names the file";
  // The new outbox is a real file that takes alerts.
  auto& m = **opened;
  EXPECT_EQ(m.outboxPath(), cfg_.alerts->outbox);
  EXPECT_TRUE(m.outbox().list(10));
  ASSERT_TRUE(std::filesystem::is_regular_file(cfg_.alerts->outbox));
  EXPECT_NE(slurp(cfg_.alerts->outbox).rfind("SQLite format 3", 0), std::string::npos);
}

TEST_F(OutboxResetTest, AnUnopenableOutboxIsKeptInMemory) {
  // The outbox's directory is a regular file: nothing can be created there.
  std::ofstream(dir_ / "file") << "x";
  cfg_.alerts->outbox = (dir_ / "file" / "alerts.db").string();
  std::string problem;
  auto opened = openAlertManager(cfg_, clock_, http::curlClients(), nullptr, no_env_, &problem);
  ASSERT_TRUE(opened) << opened.error().message();
  EXPECT_NE(problem.find(cfg_.alerts->outbox), std::string::npos) << problem;
  EXPECT_NE(problem.find("kept in memory"), std::string::npos) << problem;
  auto rows = (**opened).outbox().list(10);
  EXPECT_TRUE(rows) << "the in-memory outbox works";
}

TEST_F(OutboxResetTest, AReloadOntoAGarbageFileIsRefusedAndTouchesNothing) {
  auto opened = openAlertManager(cfg_, clock_, http::curlClients(), nullptr, no_env_, nullptr);
  ASSERT_TRUE(opened);
  config::Config next = cfg_;
  next.alerts->outbox = (dir_ / "other.db").string();
  writeGarbage(next.alerts->outbox);
  const std::string garbage = slurp(next.alerts->outbox);
  auto r = AlertReload::prepare(next, opened->get(), clock_, http::curlClients(), nullptr, no_env_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find(next.alerts->outbox), std::string::npos)
      << r.error().message();
  EXPECT_EQ(slurp(next.alerts->outbox), garbage);
  EXPECT_TRUE(movedAside().empty());
}

}  // namespace
}  // namespace pathpilot::alert
