// base/utc_stamp.h — a compact UTC time stamp for file names ("20261207T111500Z").
//
// Purpose: the suffix of a file moved aside ("journal.db.bad-20261207T111500Z"): sortable, no
// colons (safe in every file system and shell), second precision; and moveAside(), the one way
// the journal, the alert outbox and the state file keep an unusable file for the operator.
// Threading: utcFileStamp is pure; moveAside renames files. Metrics: none.
#pragma once

#include <ctime>
#include <filesystem>
#include <string>
#include <system_error>

#include "base/time.h"

namespace pathpilot {

inline std::string utcFileStamp(WallTime t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(
      std::chrono::time_point_cast<std::chrono::system_clock::duration>(t));
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

// Renames `path` to "<path>.bad-<utcFileStamp(now)>" and returns that name. An SQLite file's
// "-wal" and "-shm" companions, when present, follow it under the same name. `ec` is set when
// `path` itself could not be moved (then nothing was moved).
inline std::string moveAside(const std::string& path, WallTime now, std::error_code& ec) {
  const std::string aside = path + ".bad-" + utcFileStamp(now);
  std::filesystem::rename(path, aside, ec);
  if (!ec) {
    for (const char* suffix : {"-wal", "-shm"}) {
      std::error_code ignored;
      if (std::filesystem::exists(path + suffix, ignored)) {
        std::filesystem::rename(path + suffix, aside + suffix, ignored);
      }
    }
  }
  return aside;
}

}  // namespace pathpilot
