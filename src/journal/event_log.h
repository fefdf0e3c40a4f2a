// journal/event_log.h — the journal's side-effect interface: record an event, search events.
//
// Purpose: what the rest of pathpilot sees of the journal. The engine, recovery, alerting and
// the config loader record events through append(); the HTTP API and the CLI search them.
// Real implementation: journal::Journal (journal/journal.h: queue, writer thread, SQLite and
// JSON Lines). Fake: journal::MemoryEventLog (tests/fakes/memory_event_log.h: a vector).
//
// Threading: implementations are thread-safe; append() never blocks on I/O, so it is safe on
// the engine's loop thread. search() may block (it reads the database) and belongs on a
// worker or the API's threads.
// Metrics: see the implementations.
#pragma once

#include <vector>

#include "base/error.h"
#include "journal/event.h"
#include "journal/query.h"

namespace pathpilot::journal {

class EventLog {
 public:
  virtual ~EventLog() = default;

  // Records `event`. If event.time is the epoch (unset), it is stamped with the current wall
  // time. Returns false when the event was dropped (queue full or closed); the drop is
  // counted, never fatal. Never blocks on I/O.
  virtual bool append(Event event) = 0;

  // Events matching `query`, newest first (journal/query.h). Sees every event accepted
  // before the call only once it has been written (Journal: after flush()).
  [[nodiscard]] virtual Result<std::vector<Event>> search(const Query& query) = 0;
};

}  // namespace pathpilot::journal
