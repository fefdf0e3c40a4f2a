// runtime/process_runner.h — run a command (argv, no shell) with a deadline.
//
// Purpose: the one way pathpilot runs external programs: route hook commands (ExecRouteTable)
// and gateway recovery commands (recovery::CommandAction). A run starts the program in its own
// process group with stdin from /dev/null, no inherited descriptors beyond 0-2, a default
// signal disposition and mask, and an allow-listed environment (below). It collects stdout
// (up to a limit) and the tail of stderr, and waits for the exit. On timeout or cancellation
// the whole process group is sent SIGTERM, then SIGKILL after a grace period, by PID, so that
// a hook's own children die too.
//
// Environment: a command never sees the daemon's environment as a whole, which holds AWS keys
// and the values of the config's {env: NAME} secrets. It gets PATH, LANG, LANGUAGE, LC_* and
// TZ from the daemon (when set), the names listed in ProcessSpec::inherit (the config's
// `env_passthrough`), and the spec's own variables (PATHPILOT_*). The AWS credential
// variables (base/redact.h isCredentialVariable) are never inherited, even when listed.
//
// Secrets in output: the stderr tail and stdout are passed through the spec's Redactor (every
// secret the daemon loaded) before they leave run(), and the stderr tail is capped
// (capText), so neither events, the API nor alerts can carry a secret a hook printed.
//
// Threading: run() BLOCKS until the process has exited (at most timeout + kill_grace plus the
// time to reap). Call it on a worker thread (runtime::Executor), never on the engine thread.
// PosixProcessRunner has no state; one instance may run on many threads at once. A
// CancelToken may be cancelled from any thread.
//
// Metrics: none (callers report durations and outcomes).
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/redact.h"
#include "base/time.h"

namespace pathpilot::runtime {

struct ProcessSpec {
  // argv[0] is looked up in PATH when it contains no '/'. Requires: not empty.
  std::vector<std::string> argv;
  // Added to (or overriding) the inherited environment. Values are never logged: they may hold
  // secrets.
  std::vector<std::pair<std::string, std::string>> env;
  // Names of the daemon's variables passed through on top of PATH, LANG, LANGUAGE, LC_*, TZ
  // (the config's `env_passthrough`). AWS credential variables are dropped even if listed.
  std::vector<std::string> inherit;
  // Replaces known secrets in the captured stdout and stderr; null = none known.
  std::shared_ptr<const Redactor> redactor;
  Duration timeout = std::chrono::seconds(30);
  // Between SIGTERM and SIGKILL of the process group after a timeout or cancel.
  Duration kill_grace = std::chrono::seconds(2);
  // Bytes of stdout kept (the rest is read and dropped); stderr keeps its last
  // stderr_tail_bytes (after redaction, made printable by capText).
  std::size_t stdout_limit = 64 * 1024;
  std::size_t stderr_tail_bytes = 1024;
};

struct ProcessOutcome {
  // Exit status when the process exited normally; nullopt when a signal ended it.
  std::optional<int> exit_code;
  int term_signal = 0;  // the signal that ended it, or 0
  bool timed_out = false;
  bool cancelled = false;
  std::string stdout_text;
  bool stdout_truncated = false;
  std::string stderr_tail;  // last stderr_tail_bytes bytes of stderr, redacted and printable
  Duration elapsed{};

  // Exited normally with status 0 (and was neither timed out nor cancelled).
  bool success() const { return exit_code == 0 && !timed_out && !cancelled; }
  // "exited with status 3", "timed out after 10s and was killed", "killed by signal 9 (Killed)",
  // "cancelled", followed by ": <last stderr line(s)>" when stderr is not empty.
  std::string describe(Duration timeout) const;
};

// Lets another thread stop a run: the process group is terminated as on timeout.
// Backed by an eventfd that run() polls.
class CancelToken {
 public:
  CancelToken();
  ~CancelToken();
  CancelToken(const CancelToken&) = delete;
  CancelToken& operator=(const CancelToken&) = delete;

  // Thread-safe, idempotent.
  void cancel();
  bool cancelled() const;
  // The eventfd, readable once cancelled (-1 if it could not be created: then cancel() only
  // takes effect at run()'s next wake-up, within 100 ms).
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  std::atomic<bool> cancelled_{false};
};

class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;

  // Runs spec.argv to completion. The Result is an error only when the program could not be
  // started (NotFound: no such executable, PermissionDenied: not executable, InvalidArgument:
  // empty argv or a NUL in an argument); everything that happens after the start (non-zero
  // exit, signal, timeout, cancel) is reported in ProcessOutcome.
  [[nodiscard]] virtual Result<ProcessOutcome> run(const ProcessSpec& spec,
                                                   const CancelToken* cancel = nullptr) = 0;
};

// The real runner: posix_spawn + pipes + pidfd + poll.
class PosixProcessRunner final : public ProcessRunner {
 public:
  // runtime::ProcessRunner
  [[nodiscard]] Result<ProcessOutcome> run(const ProcessSpec& spec,
                                           const CancelToken* cancel = nullptr) override;
};

}  // namespace pathpilot::runtime
