#include "runtime/process_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace pathpilot::runtime {
namespace {

ProcessSpec sh(const std::string& script) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", script};
  spec.timeout = seconds(20);
  return spec;
}

// True when `pid` no longer runs (gone, or a zombie waiting for init to reap it).
bool processGone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) {
    return true;
  }
  std::string line;
  std::getline(stat, line);
  size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

// Polls processGone() until it holds or `limit` passes: the effect of a signal on another
// process is asynchronous, so this is the one place these tests wait (bounded, 1 ms steps).
bool processGoneWithin(pid_t pid, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!processGone(pid)) {
    if (std::chrono::steady_clock::now() >= until) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

class ProcessRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "pp_runner_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

  PosixProcessRunner runner_;
  std::string dir_;
};

TEST_F(ProcessRunnerTest, CapturesOutputAndExitStatus) {
  auto r = runner_.run(sh("echo out; echo err >&2; exit 3"));
  ASSERT_TRUE(r) << r.error().toString();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_FALSE(r->success());
  EXPECT_EQ(r->stdout_text, "out\n");
  EXPECT_EQ(r->stderr_tail, "err\n");
  EXPECT_EQ(r->describe(seconds(20)), "exited with status 3: err");
  auto good = runner_.run(sh("true"));
  ASSERT_TRUE(good);
  EXPECT_TRUE(good->success());
}

TEST_F(ProcessRunnerTest, OnlyAllowListedVariablesAndTheSpecsOwnAreInherited) {
  ::setenv("PP_RUNNER_INHERITED", "yes", 1);
  ::setenv("LC_TIME", "C", 1);
  ::setenv("TZ", "UTC", 1);
  ProcessSpec spec =
      sh("printf '%s/%s/%s/%s' \"$PP_RUNNER_INHERITED\" \"$PP_RUNNER_ADDED\" "
         "\"$LC_TIME\" \"$TZ\"; test -n \"$PATH\"");
  spec.env = {{"PP_RUNNER_ADDED", "a b=c"}};
  auto r = runner_.run(spec);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->success()) << "PATH must be inherited";
  // Not listed: the daemon's variable stays out.
  EXPECT_EQ(r->stdout_text, "/a b=c/C/UTC");
  spec.inherit = {"PP_RUNNER_INHERITED"};
  r = runner_.run(spec);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->stdout_text, "yes/a b=c/C/UTC");
  spec.env = {{"PP_RUNNER_INHERITED", "overridden"}};
  r = runner_.run(spec);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->stdout_text, "overridden//C/UTC");
  ::unsetenv("PP_RUNNER_INHERITED");
  ::unsetenv("LC_TIME");
  ::unsetenv("TZ");
}

TEST_F(ProcessRunnerTest, AwsCredentialsAreNeverInheritedEvenWhenListed) {
  ::setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", 1);
  ::setenv("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEXAMPLETOKEN", 1);
  ::setenv("PP_RUNNER_SECRET", "env-secret-value", 1);
  ProcessSpec spec = sh("env");
  spec.inherit = {"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID"};
  auto r = runner_.run(spec);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->stdout_text.find("AWS_"), std::string::npos) << r->stdout_text;
  EXPECT_EQ(r->stdout_text.find("EXAMPLE"), std::string::npos) << r->stdout_text;
  EXPECT_EQ(r->stdout_text.find("env-secret-value"), std::string::npos) << r->stdout_text;
  for (const char* name :
       {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "PP_RUNNER_SECRET"}) {
    ::unsetenv(name);
  }
}

TEST_F(ProcessRunnerTest, OutputIsRedactedOfKnownSecretsAndStderrIsCapped) {
  auto redactor = std::make_shared<Redactor>();
  redactor->add("tok-0123456789abcdef");
  redactor->addUrl("https://hooks.example.com/services/T0/B0/XyZ0123456789");
  ProcessSpec spec =
      sh("echo 'post https://hooks.example.com/services/T0/B0/XyZ0123456789 failed' >&2; "
         "echo stdout tok-0123456789abcdef; exit 2");
  spec.redactor = redactor;
  auto r = runner_.run(spec);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->stderr_tail, "post <redacted> failed\n");
  EXPECT_EQ(r->stdout_text, "stdout <redacted>\n");
  EXPECT_EQ(r->describe(seconds(20)), "exited with status 2: post <redacted> failed");

  // A secret that the kept tail would cut through: redaction comes before the cut, so no
  // fragment of it survives ("6789abcdef" would, cut first).
  spec = sh("printf tok-0123456789abcdef >&2; head -c 190 /dev/zero | tr '\\0' x >&2; exit 1");
  spec.redactor = redactor;
  spec.stderr_tail_bytes = 200;
  r = runner_.run(spec);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->stderr_tail, "<redacted>" + std::string(190, 'x'));

  // Long stderr is capped: its end is kept, marked as cut.
  spec = sh("head -c 5000 /dev/zero | tr '\\0' y >&2; echo ' the end' >&2; exit 1");
  spec.stderr_tail_bytes = 100;
  r = runner_.run(spec);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->stderr_tail, "…" + std::string(91, 'y') + " the end\n");

  // Control characters a hook prints never reach an event as such.
  auto ansi = runner_.run(sh("printf 'bad\\033[31m red\\r\\n' >&2; exit 1"));
  ASSERT_TRUE(ansi);
  EXPECT_EQ(ansi->stderr_tail, "bad [31m red \n");
}

TEST_F(ProcessRunnerTest, TimeoutKillsTheWholeProcessGroup) {
  // The shell starts a grandchild and waits for it; both must die.
  ProcessSpec spec = sh("sleep 30 & echo $!; wait");
  spec.timeout = milliseconds(300);
  auto r = runner_.run(spec);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->timed_out);
  EXPECT_FALSE(r->success());
  EXPECT_LT(r->elapsed, seconds(5));
  EXPECT_GE(r->elapsed, milliseconds(300));
  EXPECT_EQ(r->describe(spec.timeout), "timed out after 300ms and was killed");
  pid_t grandchild = static_cast<pid_t>(std::stol(r->stdout_text));
  // SIGKILL has been sent to the group when run() returns, but the kernel finishes the kill
  // when the grandchild is next scheduled: on a loaded machine that is a few milliseconds
  // later. Look for up to 5 s (a survivor would still be there).
  EXPECT_TRUE(processGoneWithin(grandchild, seconds(5)))
      << "grandchild " << grandchild << " survived";
}

TEST_F(ProcessRunnerTest, EscalatesToSigkillWhenTermIsIgnored) {
  ProcessSpec spec = sh("trap '' TERM; sleep 30");
  spec.timeout = milliseconds(100);
  spec.kill_grace = milliseconds(100);
  auto r = runner_.run(spec);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->term_signal, SIGKILL);
  EXPECT_GE(r->elapsed, milliseconds(200));
  EXPECT_LT(r->elapsed, seconds(5));
}

TEST_F(ProcessRunnerTest, CancelFromAnotherThreadStopsTheRun) {
  std::string fifo = dir_ + "/started";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  CancelToken token;
  std::thread canceller([&] {
    // Blocks until the command has opened the fifo, i.e. it is running.
    std::ifstream in(fifo);
    std::string line;
    std::getline(in, line);
    token.cancel();
  });
  ProcessSpec spec = sh("echo up > '" + fifo + "'; sleep 30");
  auto r = runner_.run(spec, &token);
  canceller.join();
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->cancelled);
  EXPECT_FALSE(r->timed_out);
  EXPECT_LT(r->elapsed, seconds(5));
  // A token cancelled before the start prevents the start.
  auto again = runner_.run(sh("echo never"), &token);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->cancelled);
  EXPECT_EQ(again->stdout_text, "");
}

TEST_F(ProcessRunnerTest, MissingProgramIsNotFound) {
  ProcessSpec spec;
  spec.argv = {"/nonexistent/pathpilot-hook"};
  auto r = runner_.run(spec);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::NotFound);
  EXPECT_NE(r.error().message().find("/nonexistent/pathpilot-hook"), std::string::npos);
  spec.argv = {"pathpilot-no-such-command"};
  r = runner_.run(spec);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::NotFound);
}

TEST_F(ProcessRunnerTest, RejectsEmptyArgvAndBadEnvironment) {
  EXPECT_EQ(runner_.run(ProcessSpec{}).error().code(), ErrorCode::InvalidArgument);
  ProcessSpec spec = sh("true");
  spec.env = {{"A=B", "x"}};
  EXPECT_EQ(runner_.run(spec).error().code(), ErrorCode::InvalidArgument);
}

TEST_F(ProcessRunnerTest, BoundsStdoutAndKeepsTheTailOfStderr) {
  ProcessSpec spec =
      sh("head -c 100000 /dev/zero; i=0; while [ $i -lt 300 ]; do echo line$i >&2; "
         "i=$((i+1)); done; exit 1");
  spec.stdout_limit = 1000;
  spec.stderr_tail_bytes = 32;
  auto r = runner_.run(spec);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->stdout_text.size(), 1000u);
  EXPECT_TRUE(r->stdout_truncated);
  // The last 32 bytes, marked as cut with a leading "…" (3 bytes of UTF-8).
  EXPECT_EQ(r->stderr_tail.size(), 32u + 3);
  EXPECT_EQ(r->stderr_tail.rfind("…", 0), 0u);
  EXPECT_NE(r->stderr_tail.find("line299\n"), std::string::npos);
  EXPECT_EQ(r->exit_code, 1);
}

TEST_F(ProcessRunnerTest, ChildGetsNoInheritedDescriptorsAndEmptyStdin) {
  int opened = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(opened, 0);
  // Deliberately without O_CLOEXEC, and high enough not to collide with ls's own descriptors.
  int leaked = ::dup2(opened, 57);
  ::close(opened);
  ASSERT_EQ(leaked, 57);
  auto r = runner_.run(sh("cat; ls /proc/self/fd"));
  ::close(leaked);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->success());
  std::istringstream fds(r->stdout_text);
  std::string fd;
  while (fds >> fd) {
    EXPECT_NE(fd, std::to_string(leaked)) << "descriptor leaked into the child";
  }
}

}  // namespace
}  // namespace pathpilot::runtime
