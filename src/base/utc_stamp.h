// base/utc_stamp.h — a compact UTC time stamp for file names ("20261207T111500Z").
//
// Purpose: the suffix of a file moved aside ("journal.db.bad-20261207T111500Z"): sortable, no
// colons (safe in every file system and shell), second precision.
// Threading: pure function. Metrics: none.
#pragma once

#include <ctime>
#include <string>

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

}  // namespace pathpilot
