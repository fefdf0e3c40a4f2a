#include "journal/journal.h"

#include <algorithm>
#include <exception>
#include <filesystem>
#include <span>
#include <utility>

#include "base/utc_stamp.h"
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
  for (std::string* field :
       {&e.site, &e.path, &e.route_table, &e.destination, &e.from, &e.to, &e.reason, &e.message}) {
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
  if (options.retry_capacity == 0) {
    return fail(ErrorCode::InvalidArgument, "journal: retry capacity must be at least 1");
  }
  if (options.sync_interval <= Duration::zero()) {
    return fail(ErrorCode::InvalidArgument, "journal: sync interval must be positive");
  }
  std::unique_ptr<Journal> j(new Journal(std::move(options), clock));
  const WallTime now = clock.wallNow();
  j->store_state_.what = "SQLite journal " + j->options_.sqlite_path;
  j->jsonl_state_.what = "events file " + j->options_.jsonl_path;
  if (!j->options_.sqlite_path.empty()) {
    std::string problem;
    j->store_ = j->openStore(problem);
    if (!j->store_) {
      j->startFailing(j->store_state_, problem, now);
    } else {
      auto seq = j->store_->lastSeq();
      j->last_seq_ = seq ? *seq : 0;
      // Fresh planner statistics make the store pick the most selective index per filter.
      (void)j->store_->analyze();
      if (j->options_.retention > Duration::zero()) {
        // Before the writer exists: the one place the journal reads "now" for retention
        // itself. Later runs follow the events appended (maintain()).
        j->prune(now);
        j->last_maintenance_ = now;
      }
    }
  }
  if (!j->options_.jsonl_path.empty()) {
    std::string problem;
    j->jsonl_ = j->openJsonl(problem);
    if (!j->jsonl_) {
      j->startFailing(j->jsonl_state_, problem, now);
    }
  }
  j->writer_ = std::thread([raw = j.get()] { raw->writerLoop(); });
  return j;
}

Journal::Journal(JournalOptions options, const Clock& clock)
    : options_(std::move(options)), clock_(clock) {}

// A file that SQLite cannot read as a pathpilot journal (InvalidArgument from open: garbage,
// corruption in the first pages, another application's database, a newer schema) is renamed,
// never deleted: the operator may want it back, and the event names where it went. Missing
// directories and permission problems are not the file's fault and leave it in place.
std::unique_ptr<SqliteStore> Journal::openStore(std::string& problem) {
  StoreOptions store_options;
  store_options.fts_mode = options_.fts_mode;
  const std::string& path = options_.sqlite_path;
  auto opened = SqliteStore::open(path, store_options);
  if (opened) {
    return std::move(*opened);
  }
  std::error_code ec;
  if (opened.error().code() != ErrorCode::InvalidArgument ||
      !std::filesystem::is_regular_file(path, ec)) {
    problem = opened.error().toString();
    return nullptr;
  }
  const std::string aside = moveAside(path, clock_.wallNow(), ec);
  if (ec) {
    problem =
        opened.error().toString() + "; cannot move it aside to " + aside + ": " + ec.message();
    return nullptr;
  }
  moved_aside_.fetch_add(1, std::memory_order_relaxed);
  auto fresh = SqliteStore::open(path, store_options);
  selfEvent(EventKind::JournalFailed, clock_.wallNow(),
            "journal " + path + " was unusable and was moved aside to " + aside +
                (fresh ? "; a new journal was started" : "; a new one could not be created"),
            opened.error().toString());
  if (!fresh) {
    problem = fresh.error().toString();
    return nullptr;
  }
  return std::move(*fresh);
}

std::unique_ptr<JsonlSink> Journal::openJsonl(std::string& problem) {
  auto opened = JsonlSink::open(options_.jsonl_path);
  if (!opened) {
    problem = opened.error().toString();
    return nullptr;
  }
  return std::move(*opened);
}

void Journal::selfEvent(EventKind kind, WallTime when, std::string message, std::string reason) {
  Event e = makeEvent(kind, when, options_.site);
  e.message = std::move(message);
  e.reason = std::move(reason);
  if (options_.on_problem) {
    options_.on_problem(e);
  }
  self_events_.push_back(std::move(e));
}

void Journal::hold(SinkState& sink, std::span<const Event> events) {
  sink.held.insert(sink.held.end(), events.begin(), events.end());
  if (sink.held.size() > options_.retry_capacity) {
    std::size_t drop = sink.held.size() - options_.retry_capacity;
    sink.held.erase(sink.held.begin(), sink.held.begin() + static_cast<std::ptrdiff_t>(drop));
    sink.lost += drop;
    lost_.fetch_add(drop, std::memory_order_relaxed);
  }
  held_.store(store_state_.held.size() + jsonl_state_.held.size(), std::memory_order_relaxed);
}

void Journal::startFailing(SinkState& sink, const std::string& error, WallTime when) {
  if (sink.failing) {
    return;
  }
  sink.failing = true;
  sink.failing_since = when;
  sink.failure = error;
  recordError(Error(ErrorCode::Unavailable, sink.what + ": " + error));
  sink.late = 0;
  sink.lost = 0;
  selfEvent(EventKind::JournalFailed, when,
            sink.what + " cannot be written; events are kept in memory (up to " +
                std::to_string(options_.retry_capacity) +
                ") and written when it works again; routing is not affected",
            error);
}

void Journal::retry(SinkState& sink, bool is_store) {
  if (!sink.failing) {
    return;
  }
  std::string problem;
  if (is_store && !store_) {
    store_ = openStore(problem);
    if (!store_) {
      return;
    }
  }
  if (!is_store && !jsonl_) {
    jsonl_ = openJsonl(problem);
    if (!jsonl_) {
      return;
    }
  }
  // Held events go in chunks, oldest first; a chunk that fails stays held with the rest.
  std::size_t done = 0;
  while (done < sink.held.size()) {
    std::size_t n = std::min(options_.max_batch, sink.held.size() - done);
    std::span<Event> chunk(sink.held.data() + done, n);
    Result<void> r = is_store ? store_->insert(chunk) : jsonl_->write(chunk);
    if (!r) {
      break;
    }
    done += n;
  }
  sink.late += done;
  sink.held.erase(sink.held.begin(), sink.held.begin() + static_cast<std::ptrdiff_t>(done));
  held_.store(store_state_.held.size() + jsonl_state_.held.size(), std::memory_order_relaxed);
  if (!sink.held.empty()) {
    return;
  }
  // Written; durable too, or the episode is not over.
  if (auto r = is_store ? store_->sync() : jsonl_->sync(); !r) {
    return;
  }
  WallTime now = clock_.wallNow();
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(now - sink.failing_since).count();
  sink.failing = false;
  selfEvent(EventKind::JournalRecovered, now,
            sink.what + " is written again after " + std::to_string(std::max<long long>(secs, 0)) +
                " s: " + std::to_string(sink.late) + " events written late, " +
                std::to_string(sink.lost) + " lost",
            "failed with: " + sink.failure);
}

Journal::~Journal() { close(); }

bool Journal::append(Event event) {
  const WallTime wall = clock_.wallNow();
  if (event.time == WallTime{}) {
    event.time = wall;
  }
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    newest_plausible_ = std::max(newest_plausible_, std::min(event.time, wall));
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

namespace {

// Events an operator must find after a kill -9 or a power cut: synced as soon as written.
bool urgent(const Event& e) {
  return e.kind == EventKind::RouteChanged || e.severity == Severity::Critical;
}

}  // namespace

bool Journal::appendAndWait(Event event, std::chrono::milliseconds timeout) {
  if (!append(std::move(event))) {
    return false;
  }
  std::unique_lock lock(mutex_);
  // accepted_ only changes under mutex_: this event's index is the count right now or less.
  const std::uint64_t index = accepted_.load(std::memory_order_relaxed);
  return done_cv_.wait_for(lock, timeout, [&] { return processed_ >= index || writer_exited_; });
}

// The writer's round: wait for work (or for the sync/retry deadline), take the whole queue
// under the lock (O(1) swap), write it with the lock released, then account for it and sync
// when a flush() asked, an urgent event was written, or the oldest unsynced write is
// sync_interval old. The lock is never held across I/O, so append() waits at most for a swap
// or a counter update. The deadline is on the steady clock: the sync bound is real time.
void Journal::writerLoop() {
  using Steady = std::chrono::steady_clock;
  const auto interval = std::chrono::duration_cast<Steady::duration>(options_.sync_interval);
  std::vector<Event> batch;
  std::optional<Steady::time_point> next_retry;
  std::unique_lock lock(mutex_);
  while (true) {
    // Work: events to write, a reopen, a sync a flush() waits for, our own events, or
    // shutdown. A paused writer (tests) ignores all of it until resumed; close() resumes it.
    auto has_work = [&] {
      bool sync_due = sync_requested_ > synced_;
      return !paused_ && (!queue_.empty() || reopen_requested_ || sync_due || closing_ ||
                          !self_events_.empty());
    };
    bool timer_due = false;
    while (!has_work()) {
      bool failing = store_state_.failing || jsonl_state_.failing;
      if (failing && !next_retry) {
        next_retry = Steady::now() + interval;
      }
      std::optional<Steady::time_point> deadline;
      if (unsynced_since_) {
        deadline = *unsynced_since_ + interval;
      }
      if (failing && (!deadline || *next_retry < *deadline)) {
        deadline = next_retry;
      }
      writer_waiting_ = true;
      if (!deadline || paused_) {
        writer_cv_.wait(lock);
      } else if (writer_cv_.wait_until(lock, *deadline) == std::cv_status::timeout) {
        writer_waiting_ = false;
        timer_due = !paused_;
        if (timer_due) {
          break;
        }
      }
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
    const WallTime plausible_now = newest_plausible_;
    lock.unlock();

    if (reopen && jsonl_) {
      if (auto r = jsonl_->reopen(); !r) {
        recordError(r.error());
      }
    }
    // A failing sink is tried again once per interval, before new events, so that what it
    // holds goes in first and the order of each file stays the order of events.
    if (next_retry && Steady::now() >= *next_retry) {
      next_retry.reset();
      retry(store_state_, true);
      retry(jsonl_state_, false);
    }
    if (newly_dropped > 0) {
      // The queue just gave room back: make the loss visible in the journal itself.
      Event overflow = makeEvent(EventKind::JournalOverflow,
                                 drop_time.value_or(batch.empty() ? WallTime{} : batch.back().time),
                                 options_.site);
      overflow.message = "journal queue full: " + std::to_string(newly_dropped) + " events dropped";
      overflow.reason = "queue capacity " + std::to_string(options_.queue_capacity);
      batch.push_back(std::move(overflow));
    }
    bool sync_now = false;
    // Our own events (journal_failed/recovered) join this round's batch; writing may start
    // another episode on the other sink, whose event is written in the same round.
    for (int rounds = 0; rounds < 3 && (!batch.empty() || !self_events_.empty()); ++rounds) {
      // They happened before the queued events were written (at open(), or while the previous
      // round wrote): first.
      batch.insert(batch.begin(), std::make_move_iterator(self_events_.begin()),
                   std::make_move_iterator(self_events_.end()));
      self_events_.clear();
      if (batch.empty()) {
        break;
      }
      for (const Event& e : batch) {
        sync_now = sync_now || urgent(e);
      }
      writeBatch(batch);
      batch.clear();
      if (!unsynced_since_) {
        unsynced_since_ = Steady::now();
      }
    }
    // After a burst, give the memory back: the next swap hands this buffer to the queue.
    if (batch.capacity() > 4096) {
      batch.shrink_to_fit();
    }
    if (taken > 0) {
      maintain(plausible_now);
    }

    // Account under the lock: flush() compares synced_ with what was accepted, so processed_
    // and synced_ must move together with accepted_ (which append() bumps under this lock).
    lock.lock();
    processed_ += taken;
    written_.fetch_add(taken, std::memory_order_relaxed);
    if (taken > 0) {
      done_cv_.notify_all();  // appendAndWait() waits for the write, not for the fsync below
    }
    // Closing and nothing left: this is the last round (append() no longer accepts).
    bool finish = closing_ && queue_.empty();
    bool flush_due = sync_requested_ > synced_ && processed_ >= sync_requested_;
    bool interval_due = unsynced_since_ && Steady::now() >= *unsynced_since_ + interval;
    if (flush_due || finish || sync_now || interval_due || (timer_due && unsynced_since_)) {
      // Everything up to processed_ is committed; one fsync per sink makes all of it durable,
      // however many flush() callers wait (their targets are <= processed_).
      std::uint64_t target = processed_;
      lock.unlock();
      syncSinks();
      unsynced_since_.reset();
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
      if (!options_.sqlite_path.empty()) {
        if (store_state_.failing) {
          hold(store_state_, chunk);
        } else if (auto r = store_->insert(chunk); !r) {
          store_failures_.fetch_add(n, std::memory_order_relaxed);
          recordError(r.error());
          startFailing(store_state_, r.error().toString(), chunk.back().time);
          hold(store_state_, chunk);
        }
      } else {
        for (Event& e : chunk) {
          e.seq = ++local_seq_;
        }
      }
      if (!options_.jsonl_path.empty()) {
        if (jsonl_state_.failing) {
          hold(jsonl_state_, chunk);
        } else if (auto r = jsonl_->write(chunk); !r) {
          jsonl_failures_.fetch_add(n, std::memory_order_relaxed);
          recordError(r.error());
          startFailing(jsonl_state_, r.error().toString(), chunk.back().time);
          hold(jsonl_state_, chunk);
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
  syncs_.fetch_add(1, std::memory_order_relaxed);
  if (store_ && !store_state_.failing) {
    if (auto r = store_->sync(); !r) {
      recordError(r.error());
    }
  }
  if (jsonl_ && !jsonl_state_.failing) {
    if (auto r = jsonl_->sync(); !r) {
      recordError(r.error());
    }
  }
}

// Runs on the retention clock (newest_plausible_: event times capped at the wall clock when
// they were appended), not on the newest event time: one event dated in the future must not
// make retention delete everything older than it.
void Journal::maintain(WallTime plausible_now) {
  if (!store_ || store_state_.failing || plausible_now == WallTime{}) {
    return;
  }
  if (last_maintenance_ && plausible_now - *last_maintenance_ < kMaintenanceInterval) {
    return;
  }
  last_maintenance_ = plausible_now;
  prune(plausible_now);
  // Keeps the planner's choice of index right as the mix of sites and kinds changes.
  if (auto r = store_->analyze(); !r) {
    recordError(r.error());
  }
}

void Journal::prune(WallTime now) {
  if (options_.retention <= Duration::zero()) {
    return;
  }
  auto pruned =
      store_->pruneBefore(now - std::chrono::duration_cast<WallTime::duration>(options_.retention));
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
  if (std::size_t held = held_.load(std::memory_order_relaxed); held > 0) {
    // Not an error of this flush, but not durable either: say so every time.
    return fail(ErrorCode::Unavailable,
                "journal: " + std::to_string(held) +
                    " events held in memory until a failing journal file works again");
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
  s.syncs = syncs_.load(std::memory_order_relaxed);
  s.held = held_.load(std::memory_order_relaxed);
  s.lost = lost_.load(std::memory_order_relaxed);
  s.moved_aside = moved_aside_.load(std::memory_order_relaxed);
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

bool Journal::waitSyncedForTest(std::uint64_t events, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return done_cv_.wait_for(lock, timeout, [&] { return synced_ >= events; });
}

void Journal::resumeWriterForTest() {
  {
    std::lock_guard lock(mutex_);
    paused_ = false;
  }
  writer_cv_.notify_one();
}

std::vector<metrics::MetricFamily> metricFamilies(const JournalStats& s) {
  using metrics::MetricType;
  auto n = [](std::uint64_t v) { return static_cast<double>(v); };
  return {
      {"pathpilot_journal_events_total",
       MetricType::Counter,
       "Events offered to the journal, by what became of them.",
       {{{{"result", "accepted"}}, n(s.accepted)},
        {{{"result", "written"}}, n(s.written)},
        {{{"result", "overflowed"}}, n(s.overflowed)},
        {{{"result", "rejected_closed"}}, n(s.rejected_closed)}}},
      metrics::counterFamily("pathpilot_journal_errors_total",
                             "Failed journal operations (insert, write, reopen, sync, prune).",
                             s.errors),
      metrics::gaugeFamily("pathpilot_journal_queue_depth",
                           "Events waiting for the journal writer.", n(s.queue_depth)),
      metrics::gaugeFamily("pathpilot_journal_queue_capacity",
                           "Most events the journal queue holds before it drops.",
                           n(s.queue_capacity)),
  };
}

}  // namespace pathpilot::journal
