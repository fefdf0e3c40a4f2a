// route/exec/process_runner.h — run a command (argv, no shell) with a deadline.
//
// Purpose: the one way pathpilot runs external programs: route hook commands (ExecRouteTable)
// and gateway recovery commands (recovery::CommandAction). A run starts the program in its own
// process group with stdin from /dev/null, no inherited descriptors beyond 0-2, a default
// signal disposition and mask, the daemon's environment plus the spec's variables. It
// collects stdout (up to a limit) and the tail of stderr, and waits for the exit. On timeout
// or cancellation the whole process group is sent SIGTERM, then SIGKILL after a grace period,
// by PID, so that a hook's own children die too.
//
// Threading: run() BLOCKS until the process has exited (at most timeout + kill_grace plus the
// time to reap). Call it on a worker thread (route::Executor), never on the engine thread.
// PosixProcessRunner has no state; one instance may run on many threads at once. A
// CancelToken may be cancelled from any thread.
//
// Metrics: none (callers report durations and outcomes).
#pragma once

#include <atomic>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/time.h"

namespace pathpilot::route {

struct ProcessSpec {
  // argv[0] is looked up in PATH when it contains no '/'. Requires: not empty.
  std::vector<std::string> argv;
  // Added to (or overriding) the inherited environment. Values are never logged: they may hold
  // secrets.
  std::vector<std::pair<std::string, std::string>> env;
  // Start from an empty environment instead of the daemon's.
  bool clear_env = false;
  Duration timeout = std::chrono::seconds(30);
  // Between SIGTERM and SIGKILL of the process group after a timeout or cancel.
  Duration kill_grace = std::chrono::seconds(2);
  // Bytes of stdout kept (the rest is read and dropped); stderr keeps its last
  // stderr_tail_bytes.
  std::size_t stdout_limit = 64 * 1024;
  std::size_t stderr_tail_bytes = 2048;
};

struct ProcessOutcome {
  // Exit status when the process exited normally; nullopt when a signal ended it.
  std::optional<int> exit_code;
  int term_signal = 0;  // the signal that ended it, or 0
  bool timed_out = false;
  bool cancelled = false;
  std::string stdout_text;
  bool stdout_truncated = false;
  std::string stderr_tail;  // last stderr_tail_bytes bytes of stderr
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
  // route::ProcessRunner
  [[nodiscard]] Result<ProcessOutcome> run(const ProcessSpec& spec,
                                           const CancelToken* cancel = nullptr) override;
};

}  // namespace pathpilot::route
