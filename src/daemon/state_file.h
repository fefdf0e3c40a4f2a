// daemon/state_file.h — what a single monitor keeps across restarts: drains and recovery limits.
//
// Purpose: an operator's `pathpilot drain dx` must survive a kill -9, a crash loop and a reboot,
// and a daemon that crashes every minute must not get a fresh hourly recovery cap and back-off
// at every start. The engine hands the state to a StateFile whenever it changes; the file is
// one small JSON document (0600), replaced atomically (write a temporary file, fsync, rename,
// fsync the directory), so a crash at any moment leaves the old or the new state, never a mix.
//
// Times are stored as wall-clock times (RFC 3339): monotonic times mean nothing after a reboot.
// A state file that cannot be read or parsed is moved aside ("<file>.bad-<UTC time>"), reported,
// and the daemon starts without it: a broken state file never stops failover.
//
// Threading: load() on any thread before the writer runs; save() from the engine thread returns
// at once (the latest state wins); one writer thread does the I/O. flush() waits for it.
// Metrics: writes, write failures (stats()).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "base/time.h"

namespace pathpilot::daemon {

// One gateway's recovery memory in wall-clock time (recovery::RecoveryMemory).
struct StoredRecovery {
  std::vector<WallTime> starts;
  int attempts = 0;
  int failures = 0;
  std::optional<WallTime> not_before;

  bool operator==(const StoredRecovery&) const = default;
};

struct PersistentState {
  std::set<std::string> drains;                    // drained path names
  std::map<std::string, StoredRecovery> recovery;  // per gateway (path name)

  bool operator==(const PersistentState&) const = default;
};

// JSON text of `state` (the file format, version 1) and back. Parse errors name the field.
std::string encodeState(const PersistentState& state, const std::string& site);
[[nodiscard]] Result<PersistentState> decodeState(std::string_view text);

struct StateFileStats {
  std::uint64_t writes = 0;
  std::uint64_t failures = 0;
};

class StateFile {
 public:
  // `path` empty: a StateFile that keeps nothing (load() gives an empty state).
  StateFile(std::string path, std::string site);
  // Writes what is pending, then stops the writer.
  ~StateFile();
  StateFile(const StateFile&) = delete;
  StateFile& operator=(const StateFile&) = delete;

  // Reads the file. A missing file is an empty state. An unreadable or invalid one is moved
  // aside and an empty state returned; `problem` then says what happened (for an event).
  PersistentState load(std::string& problem);

  // Queues `state` to be written (replacing any state not written yet). Never blocks on I/O.
  void save(const PersistentState& state);
  // Waits until everything saved so far is written; the last write error, if any.
  [[nodiscard]] Result<void> flush();

  const std::string& path() const { return path_; }
  StateFileStats stats() const;

 private:
  void writerLoop();
  Result<void> writeNow(const std::string& text);

  const std::string path_;
  const std::string site_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::optional<std::string> pending_;  // encoded state waiting for the writer
  std::uint64_t queued_ = 0;            // saves so far
  std::uint64_t written_ = 0;           // saves written (or failed)
  bool stopping_ = false;
  std::optional<Error> last_error_;
  StateFileStats stats_;
  std::thread writer_;
};

}  // namespace pathpilot::daemon
