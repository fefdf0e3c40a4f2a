#include "journal/journal.h"

#include <algorithm>
#include <exception>
#include <span>
#include <utility>

#include "journal/jsonl_sink.h"

namespace pathpilot::journal {
namespace {

// Cuts `s` to kMaxFieldBytes at a UTF-8 character boundary and marks the cut.
void capField(std::string& s) {
  if (s.size() <= kMaxFieldBytes) {
    return;
  }
  static constexpr std::string_view kEllipsis = "\xE2\x80\xA6";  // …
  std::size_t cut = kMaxFieldBytes - kEllipsis.size();
  // Step back over continuation bytes (10xxxxxx) so a multi-byte character is not split.
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  s.resize(cut);
  s += kEllipsis;
}

void capFields(Event& e) {
  for (std::string* field : {&e.site, &e.path, &e.route_table, &e.destination, &e.from, &e.to,
                             &e.reason, &e.message}) {
    capField(*field);
  }
}

// Maintenance (retention, planner statistics) runs when the events written have advanced
// this much in event time since the last run. Event time, not a clock: the writer thread
// never reads the injected Clock, so tests may drive a FakeClock from their own thread.
constexpr auto kMaintenanceInterval = std::chrono::hours(1);

}  // namespace

Result<std::unique_ptr<Journal>> Journal::open(JournalOptions options, const Clock& clock) {
  if (options.queue_capacity == 0) {
    return fail(ErrorCode::InvalidArgument, "journal: queue capacity must be at least 1");
  }
  if (options.max_batch == 0) {
    return fail(ErrorCode::InvalidArgument, "journal: max batch must be at least 1");
  }
  std::unique_ptr<SqliteStore> store;
  if (!options.sqlite_path.empty()) {
    StoreOptions store_options;
    store_options.fts_mode = options.fts_mode;
    auto opened = SqliteStore::open(options.sqlite_path, store_options);
    if (!opened) {
      return fail(opened.error());
    }
    store = std::move(*opened);
    // Fresh planner statistics make the store pick the most selective index per filter.
    (void)store->analyze();
  }
  std::unique_ptr<JsonlSink> jsonl;
  if (!options.jsonl_path.empty()) {
    auto opened = JsonlSink::open(options.jsonl_path);
    if (!opened) {
      return fail(opened.error());
    }
    jsonl = std::move(*opened);
  }
  return std::unique_ptr<Journal>(
      new Journal(std::move(options), clock, std::move(store), std::move(jsonl)));
}

Journal::Journal(JournalOptions options, const Clock& clock, std::unique_ptr<SqliteStore> store,
                 std::unique_ptr<JsonlSink> jsonl)
    : options_(std::move(options)),
      clock_(clock),
      store_(std::move(store)),
      jsonl_(std::move(jsonl)) {
  if (store_) {
    auto seq = store_->lastSeq();
    last_seq_ = seq ? *seq : 0;
    if (options_.retention > Duration::zero()) {
      // On the caller's thread, before the writer exists: the one place the journal needs
      // "now" for itself. Later runs measure time by the events written (maintain()).
      WallTime now = clock_.wallNow();
      prune(now);
      last_maintenance_ = now;
    }
  }
  writer_ = std::thread([this] { writerLoop(); });
}

Journal::~Journal() { close(); }

bool Journal::append(Event event) {
  if (event.time == WallTime{}) {
    event.time = clock_.wallNow();
  }
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (closing_) {
      rejected_closed_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    if (queue_.size() >= options_.queue_capacity) {
      overflowed_.fetch_add(1, std::memory_order_relaxed);
      if (!first_drop_time_) {
        first_drop_time_ = event.time;  // the journal_overflow event is dated by the first drop
      }
      return false;
    }
    queue_.push_back(std::move(event));
    queue_depth_.store(queue_.size(), std::memory_order_relaxed);
    accepted_.fetch_add(1, std::memory_order_relaxed);
    // Only a sleeping writer needs a wake-up; a busy one takes the queue on its next round.
    wake = writer_waiting_;
    writer_waiting_ = false;
  }
  if (wake) {
    writer_cv_.notify_one();
  }
  return true;
}

// The writer's round: wait for work, take the whole queue under the lock (O(1) swap), write
// it with the lock released, then account for it and sync if a flush() asked for it. The
// lock is never held across I/O, so append() waits at most for a swap or a counter update.
void Journal::writerLoop() {
  std::vector<Event> batch;
  std::unique_lock lock(mutex_);
  while (true) {
    // Work: events to write, a reopen, a sync a flush() waits for, or shutdown. A paused
    // writer (tests) ignores all of it until resumed; close() resumes it.
    auto has_work = [&] {
      bool sync_due = sync_requested_ > synced_;
      return !paused_ && (!queue_.empty() || reopen_requested_ || sync_due || closing_);
    };
    while (!has_work()) {
      writer_waiting_ = true;
      writer_cv_.wait(lock);
      writer_waiting_ = false;
    }
    // Take everything queued in O(1); append() can refill the queue while we write.
    batch.swap(queue_);
    queue_depth_.store(0, std::memory_order_relaxed);
    std::size_t taken = batch.size();
    bool reopen = std::exchange(reopen_requested_, false);
    std::uint64_t overflowed = overflowed_.load(std::memory_order_relaxed);
    std::uint64_t newly_dropped = overflowed - overflow_reported_;
    overflow_reported_ = overflowed;
    std::optional<WallTime> drop_time = std::exchange(first_drop_time_, std::nullopt);
    lock.unlock();

    if (reopen && jsonl_) {
      if (auto r = jsonl_->reopen(); !r) {
        recordError(r.error());
      }
    }
    if (newly_dropped > 0) {
      // The queue just gave room back: make the loss visible in the journal itself.
      Event overflow = makeEvent(EventKind::JournalOverflow,
                                 drop_time.value_or(batch.empty() ? WallTime{} : batch.back().time),
                                 options_.site);
      overflow.message =
          "journal queue full: " + std::to_string(newly_dropped) + " events dropped";
      overflow.reason = "queue capacity " + std::to_string(options_.queue_capacity);
      batch.push_back(std::move(overflow));
    }
    if (!batch.empty()) {
      for (const Event& e : batch) {
        newest_time_ = std::max(newest_time_, e.time);
      }
      writeBatch(batch);
      batch.clear();
      // After a burst, give the memory back: the next swap hands this buffer to the queue.
      if (batch.capacity() > 4096) {
        batch.shrink_to_fit();
      }
      maintain();
    }

    // Account under the lock: flush() compares synced_ with what was accepted, so processed_
    // and synced_ must move together with accepted_ (which append() bumps under this lock).
    lock.lock();
    processed_ += taken;
    written_.fetch_add(taken, std::memory_order_relaxed);
    // Closing and nothing left: this is the last round (append() no longer accepts).
    bool finish = closing_ && queue_.empty();
    bool sync_due = (sync_requested_ > synced_ && processed_ >= sync_requested_) || finish;
    if (sync_due) {
      // Everything up to processed_ is committed; one fsync per sink makes all of it durable,
      // however many flush() callers wait (their targets are <= processed_).
      std::uint64_t target = processed_;
      lock.unlock();
      syncSinks();
      lock.lock();
      synced_ = target;
    }
    if (finish) {
      writer_exited_ = true;
    }
    done_cv_.notify_all();
    if (finish) {
      break;
    }
  }
}

// Each chunk goes to SQLite first because the store assigns the seq that the JSON line then
// carries. A failing sink never stops the other: an event missing from SQLite is still in the
// JSON Lines file (without seq), and the reverse.
void Journal::writeBatch(std::vector<Event>& batch) {
  try {
    for (Event& e : batch) {
      capFields(e);
    }
    for (std::size_t start = 0; start < batch.size(); start += options_.max_batch) {
      std::size_t n = std::min(options_.max_batch, batch.size() - start);
      std::span<Event> chunk(batch.data() + start, n);
      if (store_) {
        if (auto r = store_->insert(chunk); !r) {
          store_failures_.fetch_add(n, std::memory_order_relaxed);
          recordError(r.error());
        }
      } else {
        for (Event& e : chunk) {
          e.seq = ++local_seq_;
        }
      }
      if (jsonl_) {
        if (auto r = jsonl_->write(chunk); !r) {
          jsonl_failures_.fetch_add(n, std::memory_order_relaxed);
          recordError(r.error());
        }
      }
      for (const Event& e : chunk) {
        if (e.seq != 0) {
          last_seq_.store(e.seq, std::memory_order_relaxed);
        }
      }
      batches_.fetch_add(1, std::memory_order_relaxed);
    }
  } catch (const std::exception& e) {
    // Only allocation failure can get here; losing a batch beats killing the daemon.
    store_failures_.fetch_add(batch.size(), std::memory_order_relaxed);
    recordError(Error(ErrorCode::Internal, std::string("journal: writing a batch: ") + e.what()));
  }
}

void Journal::syncSinks() {
  if (store_) {
    if (auto r = store_->sync(); !r) {
      recordError(r.error());
    }
  }
  if (jsonl_) {
    if (auto r = jsonl_->sync(); !r) {
      recordError(r.error());
    }
  }
}

void Journal::maintain() {
  if (!store_ || newest_time_ == WallTime{}) {
    return;
  }
  if (last_maintenance_ && newest_time_ - *last_maintenance_ < kMaintenanceInterval) {
    return;
  }
  last_maintenance_ = newest_time_;
  prune(newest_time_);
  // Keeps the planner's choice of index right as the mix of sites and kinds changes.
  if (auto r = store_->analyze(); !r) {
    recordError(r.error());
  }
}

void Journal::prune(WallTime now) {
  if (options_.retention <= Duration::zero()) {
    return;
  }
  auto pruned = store_->pruneBefore(
      now - std::chrono::duration_cast<WallTime::duration>(options_.retention));
  if (!pruned) {
    recordError(pruned.error());
  }
}

void Journal::recordError(const Error& error) {
  std::lock_guard lock(mutex_);
  last_error_ = error;
  ++error_count_;
  errors_.fetch_add(1, std::memory_order_relaxed);
}

// flush() is a barrier, not a drain of its own: it records the highest accepted index it
// needs synced and lets the writer do the work in its normal round, so concurrent flushes
// share one fsync.
Result<void> Journal::flush() {
  std::unique_lock lock(mutex_);
  // accepted_ only changes under mutex_, so this is exactly "everything accepted so far".
  const std::uint64_t target = accepted_.load(std::memory_order_relaxed);
  if (target > synced_) {
    sync_requested_ = std::max(sync_requested_, target);
    writer_cv_.notify_one();
    done_cv_.wait(lock, [&] { return synced_ >= target || writer_exited_; });
  }
  if (error_count_ > errors_at_flush_) {
    errors_at_flush_ = error_count_;
    return fail(last_error_ ? *last_error_
                            : Error(ErrorCode::Internal, "journal: events failed to write"));
  }
  return ok();
}

// close() only flips closing_: the writer itself drains what is queued, syncs and exits, so
// shutdown follows exactly the same write path as normal operation.
void Journal::close() {
  std::lock_guard close_lock(close_mutex_);
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
    paused_ = false;
  }
  writer_cv_.notify_one();
  if (writer_.joinable()) {
    writer_.join();
  }
  // Wake flush() callers that raced with close(): everything they waited for is written.
  done_cv_.notify_all();
}

void Journal::reopen() {
  {
    std::lock_guard lock(mutex_);
    reopen_requested_ = true;
  }
  writer_cv_.notify_one();
}

// A connection of its own: SQLite connections are not shared between threads here, and in WAL
// mode this reader sees every committed batch without ever blocking the writer.
Result<std::vector<Event>> Journal::search(const Query& query) {
  if (options_.sqlite_path.empty()) {
    return fail(ErrorCode::Unavailable, "journal: the SQLite store is disabled; nothing to search");
  }
  std::lock_guard lock(search_mutex_);
  if (!reader_) {
    auto opened = SqliteStore::openReadOnly(options_.sqlite_path);
    if (!opened) {
      return fail(opened.error());
    }
    reader_ = std::move(*opened);
  }
  return reader_->search(query);
}

JournalStats Journal::stats() const {
  JournalStats s;
  s.accepted = accepted_.load(std::memory_order_relaxed);
  s.written = written_.load(std::memory_order_relaxed);
  s.overflowed = overflowed_.load(std::memory_order_relaxed);
  s.rejected_closed = rejected_closed_.load(std::memory_order_relaxed);
  s.store_failures = store_failures_.load(std::memory_order_relaxed);
  s.jsonl_failures = jsonl_failures_.load(std::memory_order_relaxed);
  s.errors = errors_.load(std::memory_order_relaxed);
  s.batches = batches_.load(std::memory_order_relaxed);
  s.last_seq = last_seq_.load(std::memory_order_relaxed);
  s.queue_depth = queue_depth_.load(std::memory_order_relaxed);
  s.queue_capacity = options_.queue_capacity;
  return s;
}

std::optional<Error> Journal::lastError() const {
  std::lock_guard lock(mutex_);
  return last_error_;
}

void Journal::pauseWriterForTest() {
  std::lock_guard lock(mutex_);
  paused_ = true;
}

void Journal::resumeWriterForTest() {
  {
    std::lock_guard lock(mutex_);
    paused_ = false;
  }
  writer_cv_.notify_one();
}

}  // namespace pathpilot::journal
