#include "fakes/memory_event_log.h"

#include <algorithm>

namespace pathpilot::journal {

// Same contract as Journal::append (stamp unset times, assign seq, report drops) so that code
// tested against the fake behaves the same against the real journal.
bool MemoryEventLog::append(Event event) {
  std::lock_guard lock(mutex_);
  if (capacity_ != 0 && events_.size() >= capacity_) {
    ++dropped_;
    return false;
  }
  if (event.time == WallTime{} && clock_ != nullptr) {
    event.time = clock_->wallNow();
  }
  event.seq = next_seq_++;
  events_.push_back(std::move(event));
  return true;
}

Result<std::vector<Event>> MemoryEventLog::search(const Query& query) {
  std::vector<Event> out;
  {
    std::lock_guard lock(mutex_);
    for (const Event& e : events_) {
      if (matches(query, e)) {
        out.push_back(e);
      }
    }
  }
  // Newest first, as the store orders: highest seq first.
  std::sort(out.begin(), out.end(), [](const Event& a, const Event& b) { return a.seq > b.seq; });
  if (query.limit != 0 && out.size() > query.limit) {
    out.resize(query.limit);
  }
  return out;
}

std::vector<Event> MemoryEventLog::events() const {
  std::lock_guard lock(mutex_);
  return events_;
}

std::optional<Event> MemoryEventLog::last() const {
  std::lock_guard lock(mutex_);
  if (events_.empty()) {
    return std::nullopt;
  }
  return events_.back();
}

std::size_t MemoryEventLog::size() const {
  std::lock_guard lock(mutex_);
  return events_.size();
}

std::size_t MemoryEventLog::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

void MemoryEventLog::clear() {
  std::lock_guard lock(mutex_);
  events_.clear();
}

}  // namespace pathpilot::journal
