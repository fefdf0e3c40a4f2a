#include "runtime/process_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

extern char** environ;

namespace pathpilot::runtime {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Owns one file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

 private:
  int fd_ = -1;
};

// A pipe whose ends are >= 3, so that dup2 onto 0-2 in the child always really duplicates
// (and so clears close-on-exec), even when the daemon runs with 0-2 closed.
Result<std::pair<Fd, Fd>> makePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return fail(Error::fromErrno("pipe2", errno));
  }
  Fd ends[2];
  for (int i = 0; i < 2; ++i) {
    if (fds[i] < 3) {
      int moved = ::fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
      int saved = errno;
      ::close(fds[i]);
      if (moved < 0) {
        return fail(Error::fromErrno("fcntl(F_DUPFD_CLOEXEC)", saved));
      }
      fds[i] = moved;
    }
    ends[i] = Fd(fds[i]);
  }
  return std::make_pair(std::move(ends[0]), std::move(ends[1]));
}

// Whether the daemon's variable `name` reaches the command (see the header).
bool inherited(std::string_view name, const std::vector<std::string>& extra) {
  if (isCredentialVariable(name)) {
    return false;
  }
  if (name == "PATH" || name == "LANG" || name == "LANGUAGE" || name == "TZ" ||
      name.rfind("LC_", 0) == 0) {
    return true;
  }
  return std::find(extra.begin(), extra.end(), name) != extra.end();
}

std::vector<std::string> buildEnvironment(const ProcessSpec& spec) {
  std::map<std::string, std::string> vars;
  if (environ != nullptr) {
    for (char** e = environ; *e != nullptr; ++e) {
      std::string_view entry(*e);
      size_t eq = entry.find('=');
      if (eq == std::string_view::npos || !inherited(entry.substr(0, eq), spec.inherit)) {
        continue;
      }
      vars.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
    }
  }
  for (const auto& [name, value] : spec.env) {
    vars[name] = value;
  }
  std::vector<std::string> out;
  out.reserve(vars.size());
  for (const auto& [name, value] : vars) {
    out.push_back(name + "=" + value);
  }
  return out;
}

// Secrets up to this long are still caught when the raw stderr tail cuts through one: the
// runner keeps this much more than stderr_tail_bytes, redacts, then cuts.
constexpr size_t kRedactMargin = 8 * 1024;

std::vector<char*> cStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& s : strings) {
    out.push_back(s.data());
  }
  out.push_back(nullptr);
  return out;
}

bool hasNul(const std::string& s) { return s.find('\0') != std::string::npos; }

int msUntil(SteadyClock::time_point deadline, SteadyClock::time_point now) {
  if (deadline <= now) {
    return 0;
  }
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
  return static_cast<int>(std::min<long long>(ms, 60'000));
}

// Appends to a bounded buffer: keeps the head (stdout) or the tail (stderr).
void appendHead(std::string& buffer, const char* data, size_t n, size_t limit, bool& truncated) {
  size_t room = limit > buffer.size() ? limit - buffer.size() : 0;
  if (n > room) {
    truncated = true;
  }
  buffer.append(data, std::min(n, room));
}

void appendTail(std::string& buffer, const char* data, size_t n, size_t limit) {
  buffer.append(data, n);
  if (buffer.size() > limit) {
    buffer.erase(0, buffer.size() - limit);
  }
}

}  // namespace

std::string ProcessOutcome::describe(Duration timeout) const {
  std::string out;
  if (cancelled) {
    out = "cancelled and killed";
  } else if (timed_out) {
    out = "timed out after " + formatDuration(timeout) + " and was killed";
  } else if (exit_code) {
    out = "exited with status " + std::to_string(*exit_code);
  } else {
    const char* name = ::strsignal(term_signal);
    out = "killed by signal " + std::to_string(term_signal) +
          (name != nullptr ? std::string(" (") + name + ")" : std::string());
  }
  std::string tail = stderr_tail;
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r' || tail.back() == ' ')) {
    tail.pop_back();
  }
  if (!tail.empty()) {
    out += ": " + tail;
  }
  return out;
}

CancelToken::CancelToken() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

CancelToken::~CancelToken() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

void CancelToken::cancel() {
  cancelled_.store(true);
  if (fd_ >= 0) {
    std::uint64_t one = 1;
    // An eventfd write only fails when the counter would overflow; then it is set anyway.
    [[maybe_unused]] ssize_t n = ::write(fd_, &one, sizeof(one));
  }
}

bool CancelToken::cancelled() const { return cancelled_.load(); }

namespace {

// The spec's argv and environment, checked before anything is created.
Result<void> checkSpec(const ProcessSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty()) {
    return fail(ErrorCode::InvalidArgument, "cannot run a command with an empty argv");
  }
  for (const std::string& arg : spec.argv) {
    if (hasNul(arg)) {
      return fail(ErrorCode::InvalidArgument,
                  "argument of command \"" + spec.argv[0] + "\" contains a NUL byte");
    }
  }
  for (const auto& [name, value] : spec.env) {
    if (name.empty() || name.find('=') != std::string::npos || hasNul(name) || hasNul(value)) {
      return fail(ErrorCode::InvalidArgument, "invalid environment variable name \"" + name +
                                                  "\" for command \"" + spec.argv[0] + "\"");
    }
  }
  return ok();
}

// Starts the command with stdin from /dev/null and stdout/stderr on `out_fd`/`err_fd`, in a
// process group of its own, with default signal dispositions and an empty signal mask.
// Returns its pid.
Result<pid_t> spawnChild(const ProcessSpec& spec, int out_fd, int err_fd) {
  const std::string& program = spec.argv[0];
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  // Whatever other modules opened without O_CLOEXEC (sockets, the journal) stays out of hooks.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Own process group (pgid = pid), so that a timeout kills the hook and its children.
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t all;
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(
      &attr,
      static_cast<short>(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF));

  std::vector<std::string> argv_storage = spec.argv;
  std::vector<char*> argv = cStrings(argv_storage);
  std::vector<std::string> env_storage = buildEnvironment(spec);
  std::vector<char*> envp = cStrings(env_storage);

  pid_t pid = -1;
  int rc = program.find('/') == std::string::npos
               ? ::posix_spawnp(&pid, program.c_str(), &actions, &attr, argv.data(), envp.data())
               : ::posix_spawn(&pid, program.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    if (rc == ENOENT) {
      return fail(ErrorCode::NotFound, "command \"" + program + "\" not found", rc);
    }
    if (rc == EACCES || rc == EPERM) {
      return fail(ErrorCode::PermissionDenied, "command \"" + program + "\" is not executable", rc);
    }
    return fail(Error::fromErrno("cannot start command \"" + program + "\"", rc));
  }
  return pid;
}

// Reads what `fd` has into the outcome (stdout: its head up to the limit; stderr: its tail).
// False at end of file or on an error other than EINTR/EAGAIN's "nothing now": the caller
// stops reading `fd`. With a non-blocking `fd`, false also when nothing is buffered.
bool readOutput(int fd, bool is_stdout, const ProcessSpec& spec, ProcessOutcome& outcome) {
  char buffer[16 * 1024];
  ssize_t got = ::read(fd, buffer, sizeof(buffer));
  if (got > 0) {
    if (is_stdout) {
      appendHead(outcome.stdout_text, buffer, static_cast<size_t>(got), spec.stdout_limit,
                 outcome.stdout_truncated);
    } else {
      appendTail(outcome.stderr_tail, buffer, static_cast<size_t>(got),
                 spec.stderr_tail_bytes + kRedactMargin);
    }
    return true;
  }
  return got < 0 && errno == EINTR;
}

}  // namespace

Result<ProcessOutcome> PosixProcessRunner::run(const ProcessSpec& spec, const CancelToken* cancel) {
  if (auto valid = checkSpec(spec); !valid) {
    return fail(valid.error());
  }
  if (cancel != nullptr && cancel->cancelled()) {
    ProcessOutcome outcome;
    outcome.cancelled = true;
    return outcome;
  }

  auto out_pipe = makePipe();
  if (!out_pipe) {
    return fail(out_pipe.error());
  }
  auto err_pipe = makePipe();
  if (!err_pipe) {
    return fail(err_pipe.error());
  }
  Fd out_read = std::move(out_pipe->first);
  Fd out_write = std::move(out_pipe->second);
  Fd err_read = std::move(err_pipe->first);
  Fd err_write = std::move(err_pipe->second);

  SteadyClock::time_point started = SteadyClock::now();
  auto spawned = spawnChild(spec, out_write.get(), err_write.get());
  if (!spawned) {
    return fail(spawned.error());
  }
  const pid_t pid = *spawned;
  out_write.reset();
  err_write.reset();

  // A pidfd turns "the child exited" into a readable descriptor, so poll() waits for output,
  // exit, deadline and cancel at once without a SIGCHLD handler. Without one (old kernel) we
  // fall back to checking every 100 ms.
  // (glibc 2.36's <sys/pidfd.h> lacks C linkage for C++, hence the raw system call.)
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));

  ProcessOutcome outcome;
  SteadyClock::time_point deadline = started + spec.timeout;
  SteadyClock::time_point kill_at = SteadyClock::time_point::max();
  bool term_sent = false;
  bool kill_sent = false;
  bool exited = false;
  auto terminate = [&](SteadyClock::time_point now) {
    if (!term_sent) {
      term_sent = true;
      ::kill(-pid, SIGTERM);
      kill_at = now + spec.kill_grace;
    }
  };

  // One loop waits for everything at once: output (read as it comes so that a chatty command
  // never blocks on a full pipe), exit (pidfd), the deadline and a cancel (eventfd). The
  // deadline escalates SIGTERM -> SIGKILL to the whole group after kill_grace.
  while (!exited) {
    SteadyClock::time_point now = SteadyClock::now();
    if (!term_sent && now >= deadline) {
      outcome.timed_out = true;
      terminate(now);
    }
    if (term_sent && !kill_sent && now >= kill_at) {
      kill_sent = true;
      ::kill(-pid, SIGKILL);
    }
    pollfd fds[4];
    nfds_t n = 0;
    int out_slot = -1;
    int err_slot = -1;
    int pid_slot = -1;
    int cancel_slot = -1;
    if (out_read.valid()) {
      out_slot = static_cast<int>(n);
      fds[n++] = {out_read.get(), POLLIN, 0};
    }
    if (err_read.valid()) {
      err_slot = static_cast<int>(n);
      fds[n++] = {err_read.get(), POLLIN, 0};
    }
    if (pidfd.valid()) {
      pid_slot = static_cast<int>(n);
      fds[n++] = {pidfd.get(), POLLIN, 0};
    }
    if (cancel != nullptr && cancel->fd() >= 0 && !term_sent) {
      cancel_slot = static_cast<int>(n);
      fds[n++] = {cancel->fd(), POLLIN, 0};
    }
    SteadyClock::time_point wake =
        term_sent ? (kill_sent ? now + std::chrono::milliseconds(100) : kill_at) : deadline;
    int wait_ms = msUntil(wake, now);
    if (!pidfd.valid() || (cancel != nullptr && cancel->fd() < 0)) {
      wait_ms = std::min(wait_ms, 100);
    }
    int ready = ::poll(fds, n, wait_ms);
    if (ready < 0 && errno != EINTR) {
      // Should not happen; make sure the child does not outlive us unnoticed.
      terminate(SteadyClock::now());
      continue;
    }
    auto readable = [&](int slot) {
      return slot >= 0 && (fds[slot].revents & (POLLIN | POLLHUP | POLLERR)) != 0;
    };
    if (readable(out_slot) && !readOutput(out_read.get(), true, spec, outcome)) {
      out_read.reset();
    }
    if (readable(err_slot) && !readOutput(err_read.get(), false, spec, outcome)) {
      err_read.reset();
    }
    if (readable(cancel_slot) && !term_sent) {
      outcome.cancelled = true;
      terminate(SteadyClock::now());
    }
    if (!term_sent && cancel != nullptr && cancel->fd() < 0 && cancel->cancelled()) {
      outcome.cancelled = true;
      terminate(SteadyClock::now());
    }
    if (pid_slot < 0 || readable(pid_slot)) {
      // WNOWAIT: look without reaping, so that the pid (and so the process group id) cannot be
      // reused before we have killed what is left of the group.
      siginfo_t info{};
      if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
          info.si_pid == pid) {
        exited = true;
      }
    }
  }
  if (term_sent) {
    // Children of a timed-out or cancelled command die with it, even if they ignored SIGTERM.
    ::kill(-pid, SIGKILL);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  // Drain what is already buffered in the pipes without waiting for children that may still
  // hold their write ends.
  for (Fd* fd : {&out_read, &err_read}) {
    if (!fd->valid()) {
      continue;
    }
    ::fcntl(fd->get(), F_SETFL, O_NONBLOCK);
    while (readOutput(fd->get(), fd == &out_read, spec, outcome)) {
    }
  }
  if (WIFEXITED(status)) {
    outcome.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    outcome.term_signal = WTERMSIG(status);
  }
  if (spec.redactor) {
    outcome.stderr_tail = spec.redactor->apply(std::move(outcome.stderr_tail));
    outcome.stdout_text = spec.redactor->apply(std::move(outcome.stdout_text));
  }
  outcome.stderr_tail = capText(outcome.stderr_tail, spec.stderr_tail_bytes);
  outcome.elapsed = SteadyClock::now() - started;
  return outcome;
}

}  // namespace pathpilot::runtime
