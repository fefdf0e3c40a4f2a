// Secrets in the config: what commands may inherit (env_passthrough), credentials that would
// cross the network in clear text, and the checks every secret file gets at `pathpilot check`.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>

#include "config/secret_file.h"
#include "config_test_util.h"

namespace pathpilot::config {
namespace {

using testing::check;
using testing::hasError;
using testing::kMinimal;

std::string withTail(std::string_view tail) { return std::string(kMinimal) + std::string(tail); }

// A scratch directory with a FIFO, removed at the end.
class SecretFileDir {
 public:
  SecretFileDir() {
    std::string tmpl = ::testing::TempDir() + "pp_secret_XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) {
      dir_ = tmpl;
    }
  }
  ~SecretFileDir() { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  std::string write(const std::string& name, const std::string& content, mode_t mode) const {
    std::string p = path(name);
    std::ofstream(p) << content;
    ::chmod(p.c_str(), mode);
    return p;
  }
  std::string fifo(const std::string& name) const {
    std::string p = path(name);
    EXPECT_EQ(::mkfifo(p.c_str(), 0600), 0);
    return p;
  }

 private:
  std::string dir_;
};

// Runs `fn` on another thread and waits at most 10 s for it. If it hangs (a FIFO opened
// without O_NONBLOCK waits for a writer), the test fails and the FIFO gets a writer, which
// releases the reader, so the test run never hangs.
template <class F>
auto withinTimeout(const std::string& fifo, F fn) -> decltype(fn()) {
  auto future = std::async(std::launch::async, fn);
  if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    ADD_FAILURE() << "blocked on the FIFO " << fifo;
    int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) {
      ::close(fd);
    }
  }
  return future.get();
}

// --- env_passthrough ---------------------------------------------------------------------------

TEST(EnvPassthroughTest, ListsAreReadForTheHookAndRecoveryCommands) {
  std::string text =
      testing::replaceLine(kMinimal, 11,
                           "    next_hop: {instance_id: i-0e1466e8a5dd4892c}\n"
                           "    recovery: {action: command, command: [/usr/local/sbin/restart-gw], "
                           "env_passthrough: [SSH_AUTH_SOCK, HOME]}");
  auto r = check(text + "backends: {exec: {command: [/bin/true], env_passthrough: [FW_HOST]}}\n");
  ASSERT_TRUE(r.ok()) << r.format();
  EXPECT_EQ(r.config->backends.exec.env_passthrough, std::vector<std::string>{"FW_HOST"});
  EXPECT_EQ(r.config->paths[1].recovery->env_passthrough,
            (std::vector<std::string>{"SSH_AUTH_SOCK", "HOME"}));
  EXPECT_TRUE(r.config->paths[0].recovery == std::nullopt);
}

TEST(EnvPassthroughTest, AwsCredentialsAndBadNamesAreErrorsAtTheItem) {
  auto r = check(
      withTail("backends:\n"                           // 16
               "  exec:\n"                             // 17
               "    command: [/usr/local/bin/hook]\n"  // 18
               "    env_passthrough: [FW_HOST, AWS_SECRET_ACCESS_KEY, 9bad, AWS_SESSION_TOKEN]\n"));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(hasError(r, 19, 32,
                       "backends.exec.env_passthrough[1]: AWS_SECRET_ACCESS_KEY holds the "
                       "daemon's AWS credentials, which commands never receive"));
  EXPECT_TRUE(hasError(r, 19, 55, "env_passthrough[2]: invalid environment variable name"));
  EXPECT_TRUE(hasError(r, 19, 61, "env_passthrough[3]: AWS_SESSION_TOKEN holds"));
}

TEST(EnvPassthroughTest, AVariableASecretIsReadFromIsAnErrorAtTheItem) {
  std::string text = testing::replaceLine(
      kMinimal, 11,
      "    next_hop: {instance_id: i-0e1466e8a5dd4892c}\n"
      "    recovery: {action: command, command: [/sbin/x], env_passthrough: [LANGUAGE, "
      "PP_DING_URL]}");
  auto r =
      check(text +
            "backends: {exec: {command: [/bin/true], env_passthrough: [PP_API_TOKEN]}}\n"  // 17
            "api: {auth_token: {env: PP_API_TOKEN}}\n"
            "alerts:\n"
            "  channels: [{name: ding, kind: dingtalk, url: {env: PP_DING_URL}}]\n");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(hasError(r, 17, 59,
                       "backends.exec.env_passthrough[0]: PP_API_TOKEN holds the secret of "
                       "api.auth_token ({env: PP_API_TOKEN}); commands never receive the "
                       "config's secrets"));
  EXPECT_TRUE(hasError(r, 12, 81,
                       "paths[1].recovery.env_passthrough[1]: PP_DING_URL holds the secret of "
                       "alerts.channels[0].url"));
}

TEST(EnvPassthroughTest, OnlyForCommandRecovery) {
  std::string text =
      testing::replaceLine(kMinimal, 11,
                           "    next_hop: {instance_id: i-0e1466e8a5dd4892c}\n"
                           "    recovery: {action: ec2-restart, env_passthrough: [HOME]}");
  auto r = check(text);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(hasError(r, 12, 54, "'env_passthrough' is only used with action: command"));
}

// --- credentials in clear text -----------------------------------------------------------------

TEST(CleartextCredentialTest, SmtpPasswordWithoutTlsIsAnErrorAtThePassword) {
  std::string channel =
      "alerts:\n"                                 // 16
      "  channels:\n"                             // 17
      "    - name: mail\n"                        // 18
      "      kind: smtp\n"                        // 19
      "      url: smtp://mail.example.com:587\n"  // 20
      "      username: pathpilot\n"               // 21
      "      password: {env: SMTP_PASSWORD}\n"    // 22
      "      from: pathpilot@example.com\n"       // 23
      "      to: [noc@example.com]\n";            // 24
  auto r = check(withTail(channel));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(hasError(r, 22, 17,
                       "alerts.channels[0].password: the SMTP password would be sent without "
                       "TLS (smtp:// without starttls); set starttls: true or use smtps://"));
  // Loopback is no exception: SMTP AUTH PLAIN is the password itself.
  std::string local = channel;
  local.replace(local.find("mail.example.com"), 16, "127.0.0.1");
  EXPECT_FALSE(check(withTail(local)).ok());
  // STARTTLS or implicit TLS: fine; no password: fine.
  EXPECT_TRUE(check(withTail(channel + "      starttls: true\n")).ok());
  std::string smtps = channel;
  smtps.replace(smtps.find("smtp://"), 7, "smtps://");
  EXPECT_TRUE(check(withTail(smtps)).ok()) << check(withTail(smtps)).format();
  std::string anonymous = channel;
  anonymous.erase(anonymous.find("      username"),
                  anonymous.find("      from") - anonymous.find("      username"));
  EXPECT_TRUE(check(withTail(anonymous)).ok());
}

TEST(CleartextCredentialTest, BearerTokenOverHttpToAnotherHostIsAnErrorAtTheToken) {
  auto channel = [](const std::string& url) {
    return withTail(
        "alerts:\n"      // 16
        "  channels:\n"  // 17
        "    - {name: am, kind: alertmanager, url: '" +
        url + "', token: {env: AM_TOKEN}}\n");
  };
  auto r = check(channel("http://am.corp.example:9093"));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(hasError(r, 18, 81,
                       "alerts.channels[0].token: the bearer token would cross the network in "
                       "clear text (http:// to am.corp.example)"));
  EXPECT_FALSE(check(channel("http://10.0.0.5:9093")).ok());
  EXPECT_TRUE(check(channel("https://am.corp.example:9093")).ok());
  for (const char* loopback : {"http://127.0.0.1:9093", "http://localhost:9093",
                               "http://[::1]:9093", "http://127.1.2.3:9093/"}) {
    auto ok = check(channel(loopback));
    EXPECT_TRUE(ok.ok()) << loopback << "\n" << ok.format();
  }
  // Without a token, plain http to another host is allowed (nothing secret travels).
  auto plain = check(withTail(
      "alerts:\n  channels: [{name: am, kind: alertmanager, url: 'http://am.corp:9093'}]\n"));
  EXPECT_TRUE(plain.ok()) << plain.format();
}

TEST(CleartextCredentialTest, ChatRobotUrlOverHttpIsAnErrorAtTheUrl) {
  auto r = check(withTail(
      "alerts:\n"
      "  channels:\n"
      "    - {name: ding, kind: dingtalk, url: 'http://oapi.dingtalk.com/robot/send?access_"
      "token=abc'}\n"));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(hasError(r, 18, 41, "alerts.channels[0].url: the robot URL holds its access token"));
  // The token itself is never quoted.
  EXPECT_EQ(r.format().find("access_token=abc"), std::string::npos) << r.format();
}

// --- secret files at check ----------------------------------------------------------------------

std::string tokenConfig(const std::string& file) {
  return withTail("api: {auth_token: {file: " + file + "}}\n");  // 16
}

TEST(SecretFileCheckTest, FifoIsAnErrorAtTheFileKeyAndNeverBlocks) {
  SecretFileDir dir;
  std::string fifo = dir.fifo("token");
  auto r = withinTimeout(fifo, [&] { return check(tokenConfig(fifo)); });
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(hasError(
      r, 16, 26, "api.auth_token.file: token file " + fifo + " is a FIFO, not a regular file"));
  // The same for an alert channel's secret.
  auto alert = withinTimeout(fifo, [&] {
    return check(
        withTail("alerts:\n  channels: [{name: ding, kind: dingtalk, url: {env: U}, "
                 "secret: {file: " +
                 fifo + "}}]\n"));
  });
  EXPECT_TRUE(hasError(alert, 17, 73,
                       "alerts.channels[0].secret.file: secret file " + fifo + " is a FIFO"));
}

TEST(SecretFileCheckTest, GroupOrOtherAccessIsAnErrorWithTheFix) {
  SecretFileDir dir;
  std::string file = dir.write("token", "0123456789abcdef0123456789abcdef\n", 0640);
  auto r = check(tokenConfig(file));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(hasError(r, 16, 26,
                       "api.auth_token.file: token file " + file +
                           " is accessible by group or others (mode 0640); "
                           "run chmod 600 " +
                           file));
  EXPECT_EQ(r.format().find("0123456789abcdef"), std::string::npos);
  ::chmod(file.c_str(), 0600);
  EXPECT_TRUE(check(tokenConfig(file)).ok()) << check(tokenConfig(file)).format();
}

TEST(SecretFileCheckTest, MissingFileIsLeftToTheDaemon) {
  // The config may be checked on another machine, as {env: NAME} is not looked up either.
  auto r = check(tokenConfig("/nonexistent/pathpilot/token"));
  EXPECT_TRUE(r.ok()) << r.format();
  EXPECT_EQ(r.warnings, 0u) << r.format();
}

// --- readSecretFile (start and reload) ---------------------------------------------------------

TEST(ReadSecretFileTest, RegularPrivateFileIsReadWithoutItsNewline) {
  SecretFileDir dir;
  auto v = readSecretFile(dir.write("s", "s3cret-value\r\n", 0600));
  ASSERT_TRUE(v) << v.error().toString();
  EXPECT_EQ(*v, "s3cret-value");
}

TEST(ReadSecretFileTest, FifoIsRefusedAtOnceWithoutAWriter) {
  SecretFileDir dir;
  std::string fifo = dir.fifo("s");
  auto v = withinTimeout(fifo, [&] { return readSecretFile(fifo); });
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(v.error().message(), "secret file " + fifo + " is a FIFO, not a regular file");
}

TEST(ReadSecretFileTest, DevicesDirectoriesGroupReadableAndHugeFilesAreRefused) {
  SecretFileDir dir;
  auto device = readSecretFile("/dev/zero");
  ASSERT_FALSE(device);
  EXPECT_NE(device.error().message().find("is a device"), std::string::npos);
  auto directory = readSecretFile(dir.path(""));
  ASSERT_FALSE(directory);
  EXPECT_NE(directory.error().message().find("is a directory"), std::string::npos);
  auto group = readSecretFile(dir.write("g", "s3cret-value", 0640));
  ASSERT_FALSE(group);
  EXPECT_EQ(group.error().code(), ErrorCode::PermissionDenied);
  EXPECT_EQ(group.error().message().find("s3cret"), std::string::npos);
  auto huge = readSecretFile(dir.write("h", std::string(200, 'x'), 0600), 100);
  ASSERT_FALSE(huge);
  EXPECT_NE(huge.error().message().find("larger than 100 bytes"), std::string::npos);
  auto missing = readSecretFile(dir.path("none"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::NotFound);
}

}  // namespace
}  // namespace pathpilot::config
