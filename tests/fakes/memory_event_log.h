// fakes/memory_event_log.h — an in-memory EventLog: the fake for tests of other modules.
//
// Purpose: lets tests of the engine, recovery, alerting and the API record and search events
// without files or threads. Events are visible to search() immediately after append().
// seq is assigned 1, 2, 3 ... in append order. Search applies journal::matches(), the same
// rules as the SQLite store (free text: ASCII case folding only).
// Threading: thread-safe (one mutex).
// Metrics: none.
#pragma once

#include <cstddef>
#include <mutex>
#include <optional>
#include <vector>

#include "base/time.h"
#include "journal/event_log.h"

namespace pathpilot::journal {

class MemoryEventLog final : public EventLog {
 public:
  // `clock` stamps events whose time is unset; nullptr leaves them at the epoch.
  // `capacity` (0 = unlimited) makes append() return false once that many events are held,
  // to exercise callers' handling of a full journal.
  explicit MemoryEventLog(const Clock* clock = nullptr, std::size_t capacity = 0)
      : clock_(clock), capacity_(capacity) {}

  // journal::EventLog
  bool append(Event event) override;
  [[nodiscard]] Result<std::vector<Event>> search(const Query& query) override;

  // Every event held, in append order.
  std::vector<Event> events() const;
  // The last event appended, if any.
  std::optional<Event> last() const;
  std::size_t size() const;
  // How many append() calls returned false.
  std::size_t dropped() const;
  void clear();

 private:
  const Clock* clock_;
  std::size_t capacity_;
  mutable std::mutex mutex_;
  std::vector<Event> events_;
  std::uint64_t next_seq_ = 1;
  std::size_t dropped_ = 0;
};

}  // namespace pathpilot::journal
