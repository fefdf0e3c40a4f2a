// The daemon's own secrets: what it knows to redact, and core dumps off.
#include "daemon/secrets.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "config/loader.h"

namespace pathpilot::daemon {
namespace {

constexpr const char* kBase = R"(
site: {name: Lab}
paths:
  - name: dx
    kind: dx
    probe: {targets: [10.10.3.100], source: 10.1.0.11}
    next_hop: {via: 10.255.1.2, dev: dx}
route_tables:
  - {id: rtb-a, table: 101, backend: linux, destinations: [10.10.0.0/16]}
journal: {sqlite: "", jsonl: ""}
)";

alert::EnvGetter fakeEnv(std::map<std::string, std::string> vars) {
  return [vars](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

TEST(KnownSecretsTest, EverySecretTheConfigLoadsAndTheAwsKeysAreRedacted) {
  std::string dir = ::testing::TempDir() + "pp_known_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  std::string pass_file = dir + "/smtp.pass";
  std::ofstream(pass_file) << "smtp-Passw0rd-from-file\n";
  ::chmod(pass_file.c_str(), 0600);
  std::string text = std::string(kBase) + R"(
api: {auth_token: {env: PP_API_TOKEN}}
alerts:
  outbox: /tmp/unused.db
  channels:
    - {name: ding, kind: dingtalk, url: {env: PP_DING_URL}, secret: signing-secret-inline}
    - {name: hook, kind: webhook, url: "https://hooks.example.com/x", token: {env: PP_HOOK_TOKEN}}
    - {name: am, kind: alertmanager, url: "http://127.0.0.1:9093"}
    - name: mail
      kind: smtp
      url: smtps://mail.example.com
      username: pathpilot
      password: {file: )" +
                     pass_file + R"(}
      from: pathpilot@example.com
      to: [noc@example.com]
)";
  auto cfg = config::loadString(text, "t.yaml");
  ASSERT_TRUE(cfg) << cfg.error().message();
  auto env = fakeEnv({{"PP_API_TOKEN", "api-token-0123456789abcdef"},
                      {"PP_DING_URL",
                       "https://oapi.dingtalk.com/robot/send?access_token=dtok42"
                       "4242"},
                      {"PP_HOOK_TOKEN", "hook-bearer-token-77"},
                      {"AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"},
                      {"AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
                      {"AWS_SESSION_TOKEN", "FwoGZXIvYXdzEXAMPLESESSION"}});
  auto redactor = knownSecrets(*cfg, env);
  std::string leak =
      "api-token-0123456789abcdef dtok424242 signing-secret-inline hook-bearer-token-77 "
      "smtp-Passw0rd-from-file AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY "
      "FwoGZXIvYXdzEXAMPLESESSION";
  EXPECT_EQ(redactor->apply(leak),
            "<redacted> <redacted> <redacted> <redacted> <redacted> <redacted> <redacted> "
            "<redacted>");
  // A plain Alertmanager URL is no secret: messages about it stay readable.
  EXPECT_EQ(redactor->apply("POST http://127.0.0.1:9093/api/v2/alerts"),
            "POST http://127.0.0.1:9093/api/v2/alerts");
  std::filesystem::remove_all(dir);
}

TEST(KnownSecretsTest, UnreadableSecretsAreSkipped) {
  auto cfg = config::loadString(std::string(kBase) + "api: {auth_token: {env: PP_UNSET}}\n");
  ASSERT_TRUE(cfg) << cfg.error().message();
  auto redactor = knownSecrets(*cfg, fakeEnv({}));
  EXPECT_TRUE(redactor->empty());
}

TEST(RedactEventTest, EveryTextFieldIsScrubbed) {
  Redactor r;
  r.add("s3cret-value");
  journal::Event e = journal::makeEvent(journal::EventKind::RouteError, WallTime{}, "Lab");
  e.reason = "hook: s3cret-value rejected";
  e.message = "x s3cret-value";
  e.from = "s3cret-value";
  e.route_table = "rtb-a";
  journal::Event out = redactEvent(e, r);
  EXPECT_EQ(out.reason, "hook: <redacted> rejected");
  EXPECT_EQ(out.message, "x <redacted>");
  EXPECT_EQ(out.from, "<redacted>");
  EXPECT_EQ(out.route_table, "rtb-a");
  EXPECT_EQ(out.site, "Lab");
}

// Runs in its own process under ctest (gtest_discover_tests), so turning dumps off for the
// test binary affects nothing else.
TEST(CoreDumpTest, DisableCoreDumpsMakesTheProcessUndumpableWithNoCoreLimit) {
  ASSERT_TRUE(disableCoreDumps());
  EXPECT_EQ(::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
  rlimit core{};
  ASSERT_EQ(::getrlimit(RLIMIT_CORE, &core), 0);
  EXPECT_EQ(core.rlim_cur, 0u);
  EXPECT_EQ(core.rlim_max, 0u);
  // Restore for whatever else this process still runs (same uid: allowed).
  ::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
}

}  // namespace
}  // namespace pathpilot::daemon
