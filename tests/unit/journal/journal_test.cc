#include "journal/journal.h"

#include <algorithm>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <gtest/gtest.h>

#include "fakes/fake_clock.h"
#include "samples.h"
#include "temp_dir.h"

namespace pathpilot::journal {
namespace {

using testing::fullEvent;
using testing::simpleEvent;
using testing::TempDir;

std::vector<std::string> readLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

class JournalTest : public ::testing::Test {
 protected:
  JournalOptions options() {
    JournalOptions o;
    o.sqlite_path = dir_.file("journal.db");
    o.jsonl_path = dir_.file("events.jsonl");
    o.site = "Beijing";
    return o;
  }

  std::unique_ptr<Journal> open(const JournalOptions& o) {
    auto j = Journal::open(o, clock_);
    EXPECT_TRUE(j) << j.error().toString();
    return j ? std::move(*j) : nullptr;
  }

  std::vector<Event> all(Journal& j) {
    Query q;
    q.limit = 0;
    auto r = j.search(q);
    EXPECT_TRUE(r) << r.error().toString();
    return r ? *r : std::vector<Event>{};
  }

  TempDir dir_;
  pathpilot::testing::FakeClock clock_;
};

TEST_F(JournalTest, AppendFlushThenBothSinksHoldTheEvent) {
  auto j = open(options());
  ASSERT_TRUE(j);
  Event e = fullEvent();
  EXPECT_TRUE(j->append(e));
  ASSERT_TRUE(j->flush());

  auto stored = all(*j);
  ASSERT_EQ(stored.size(), 1u);
  e.seq = 1;
  EXPECT_EQ(stored[0], e);

  auto lines = readLines(dir_.file("events.jsonl"));
  ASSERT_EQ(lines.size(), 1u);
  auto line = parseJsonLine(lines[0]);
  ASSERT_TRUE(line);
  EXPECT_EQ(*line, e) << "the JSON line carries the seq the store assigned";

  JournalStats s = j->stats();
  EXPECT_EQ(s.accepted, 1u);
  EXPECT_EQ(s.written, 1u);
  EXPECT_EQ(s.last_seq, 1u);
  EXPECT_EQ(s.queue_depth, 0u);
  EXPECT_EQ(s.queue_capacity, options().queue_capacity);
  EXPECT_EQ(s.overflowed + s.store_failures + s.jsonl_failures + s.errors, 0u);
}

TEST_F(JournalTest, StampsEventsWithoutTime) {
  auto j = open(options());
  ASSERT_TRUE(j);
  Event e;
  e.kind = EventKind::DaemonStarted;
  e.site = "Beijing";
  ASSERT_TRUE(j->append(e));
  ASSERT_TRUE(j->flush());
  auto stored = all(*j);
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].time, truncateToMillis(clock_.wallNow()));
}

TEST_F(JournalTest, SeqContinuesAfterRestart) {
  {
    auto j = open(options());
    ASSERT_TRUE(j);
    ASSERT_TRUE(j->append(fullEvent(0)));
    ASSERT_TRUE(j->append(fullEvent(1)));
  }
  auto j = open(options());
  ASSERT_TRUE(j);
  EXPECT_EQ(j->stats().last_seq, 2u);
  ASSERT_TRUE(j->append(fullEvent(2)));
  ASSERT_TRUE(j->flush());
  EXPECT_EQ(all(*j)[0].seq, 3u);
  EXPECT_EQ(readLines(dir_.file("events.jsonl")).size(), 3u);
}

TEST_F(JournalTest, FullQueueDropsCountsAndRecordsOverflow) {
  JournalOptions o = options();
  o.queue_capacity = 4;
  auto j = open(o);
  ASSERT_TRUE(j);
  j->pauseWriterForTest();
  int accepted = 0;
  for (int i = 0; i < 10; ++i) {
    accepted +=
        j->append(simpleEvent("Beijing", EventKind::PathUp, i, "e" + std::to_string(i))) ? 1 : 0;
  }
  EXPECT_EQ(accepted, 4);
  JournalStats s = j->stats();
  EXPECT_EQ(s.accepted, 4u);
  EXPECT_EQ(s.overflowed, 6u);
  EXPECT_EQ(s.queue_depth, 4u);

  j->resumeWriterForTest();
  ASSERT_TRUE(j->flush());
  auto stored = all(*j);
  ASSERT_EQ(stored.size(), 5u);
  // The four accepted events, oldest ones first in seq, then the overflow notice.
  std::map<EventKind, int> kinds;
  for (const Event& e : stored) {
    ++kinds[e.kind];
  }
  EXPECT_EQ(kinds[EventKind::PathUp], 4);
  ASSERT_EQ(kinds[EventKind::JournalOverflow], 1);
  Query q;
  q.kind = EventKind::JournalOverflow;
  auto overflow = j->search(q);
  ASSERT_TRUE(overflow);
  ASSERT_EQ(overflow->size(), 1u);
  EXPECT_EQ((*overflow)[0].message, "journal queue full: 6 events dropped");
  EXPECT_EQ((*overflow)[0].severity, Severity::Warning);
  EXPECT_EQ((*overflow)[0].site, "Beijing");
  EXPECT_EQ((*overflow)[0].seq, 5u);
  EXPECT_EQ((*overflow)[0].time, testing::sampleTime(4)) << "dated by the first dropped event";

  // Room again: appends succeed, and no second notice without new drops.
  EXPECT_TRUE(j->append(fullEvent()));
  ASSERT_TRUE(j->flush());
  EXPECT_EQ(all(*j).size(), 6u);
  EXPECT_EQ(j->stats().overflowed, 6u);
  EXPECT_EQ(j->stats().written, 5u);
}

TEST_F(JournalTest, NoEventLostOnCloseWithManyProducers) {
  constexpr int kThreads = 6;
  constexpr int kPerThread = 5000;
  JournalOptions o = options();
  o.queue_capacity = kThreads * kPerThread;  // big enough: this test is about close, not overflow
  o.max_batch = 512;
  auto j = open(o);
  ASSERT_TRUE(j);
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&j, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Event e = simpleEvent("site" + std::to_string(t), EventKind::PathUp, i,
                              "producer " + std::to_string(t) + " n " + std::to_string(i));
        e.path = std::to_string(i);
        EXPECT_TRUE(j->append(std::move(e)));
      }
    });
  }
  for (auto& p : producers) {
    p.join();
  }
  j->close();  // no flush: close alone must drain everything
  EXPECT_FALSE(j->append(fullEvent())) << "closed journals refuse events";
  EXPECT_EQ(j->stats().rejected_closed, 1u);
  EXPECT_EQ(j->stats().written, static_cast<std::uint64_t>(kThreads * kPerThread));
  j.reset();

  auto store = SqliteStore::openReadOnly(o.sqlite_path);
  ASSERT_TRUE(store);
  EXPECT_EQ(*(*store)->count(), static_cast<std::uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(readLines(o.jsonl_path).size(), static_cast<std::size_t>(kThreads * kPerThread));
  // Each producer's events keep their order in seq.
  for (int t = 0; t < kThreads; ++t) {
    Query q;
    q.site = "site" + std::to_string(t);
    q.limit = 0;
    auto events = (*store)->search(q);
    ASSERT_TRUE(events);
    ASSERT_EQ(events->size(), static_cast<std::size_t>(kPerThread));
    // Newest first: path (= i) counts down while seq decreases.
    for (std::size_t k = 1; k < events->size(); ++k) {
      EXPECT_GT((*events)[k - 1].seq, (*events)[k].seq);
      EXPECT_EQ(std::stoi((*events)[k - 1].path), std::stoi((*events)[k].path) + 1);
    }
  }
}

TEST_F(JournalTest, DestructorDrainsToo) {
  JournalOptions o = options();
  {
    auto j = open(o);
    ASSERT_TRUE(j);
    j->pauseWriterForTest();  // everything is still queued when the destructor runs
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE(j->append(fullEvent(i)));
    }
  }
  auto store = SqliteStore::openReadOnly(o.sqlite_path);
  ASSERT_TRUE(store);
  EXPECT_EQ(*(*store)->count(), 100u);
}

TEST_F(JournalTest, BatchesAreSplitAtMaxBatch) {
  JournalOptions o = options();
  o.max_batch = 3;
  auto j = open(o);
  ASSERT_TRUE(j);
  j->pauseWriterForTest();
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(j->append(fullEvent(i)));
  }
  j->resumeWriterForTest();
  ASSERT_TRUE(j->flush());
  EXPECT_EQ(j->stats().batches, 4u);
  EXPECT_EQ(all(*j).size(), 10u);
}

TEST_F(JournalTest, ReopenAfterRotationWritesToTheNewFile) {
  JournalOptions o = options();
  auto j = open(o);
  ASSERT_TRUE(j);
  ASSERT_TRUE(j->append(simpleEvent("Beijing", EventKind::PathDown, 0, "before rotation")));
  ASSERT_TRUE(j->flush());
  std::filesystem::rename(o.jsonl_path, o.jsonl_path + ".1");
  j->reopen();
  ASSERT_TRUE(j->append(simpleEvent("Beijing", EventKind::PathUp, 1, "after rotation")));
  ASSERT_TRUE(j->flush());

  auto old_lines = readLines(o.jsonl_path + ".1");
  auto new_lines = readLines(o.jsonl_path);
  ASSERT_EQ(old_lines.size(), 1u);
  ASSERT_EQ(new_lines.size(), 1u);
  EXPECT_EQ(parseJsonLine(old_lines[0])->message, "before rotation");
  EXPECT_EQ(parseJsonLine(new_lines[0])->message, "after rotation");
  EXPECT_EQ(parseJsonLine(new_lines[0])->seq, 2u);
}

TEST_F(JournalTest, ReopenWithoutEventsStillCreatesTheFile) {
  JournalOptions o = options();
  auto j = open(o);
  ASSERT_TRUE(j);
  std::filesystem::rename(o.jsonl_path, o.jsonl_path + ".1");
  j->reopen();
  j->close();
  EXPECT_TRUE(std::filesystem::exists(o.jsonl_path));
}

// Collects what the journal reports about itself (options.on_problem, writer thread).
class ProblemLog {
 public:
  std::function<void(const Event&)> sink() {
    return [this](const Event& e) {
      std::lock_guard lock(mu_);
      events_.push_back(e);
      cv_.notify_all();
    };
  }
  // Waits (bounded) until `n` events of `kind` were reported; the first, or nullopt.
  std::optional<Event> waitFor(EventKind kind, std::size_t n = 1,
                               std::chrono::seconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    std::optional<Event> first;
    cv_.wait_for(lock, timeout, [&] {
      std::size_t seen = 0;
      first.reset();
      for (const Event& e : events_) {
        if (e.kind == kind) {
          if (!first) {
            first = e;
          }
          ++seen;
        }
      }
      return seen >= n;
    });
    return countLocked(kind) >= n ? first : std::nullopt;
  }
  std::size_t count(EventKind kind) {
    std::lock_guard lock(mu_);
    return countLocked(kind);
  }

 private:
  std::size_t countLocked(EventKind kind) const {
    return static_cast<std::size_t>(std::count_if(events_.begin(), events_.end(),
                                                  [&](const Event& e) { return e.kind == kind; }));
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;
};

TEST_F(JournalTest, InvalidOptionsAreRefused) {
  JournalOptions o = options();
  o.queue_capacity = 0;
  auto r = Journal::open(o, clock_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::InvalidArgument);
  o = options();
  o.retry_capacity = 0;
  EXPECT_FALSE(Journal::open(o, clock_));
  o = options();
  o.sync_interval = Duration::zero();
  EXPECT_FALSE(Journal::open(o, clock_));
}

// A journal that cannot be opened never stops the daemon: open() succeeds, the problem is
// reported once naming the file, events wait in memory, and when the directory appears they
// are written in order, with the journal_failed event first and one journal_recovered.
TEST_F(JournalTest, UnopenableSinksAreRetriedAndGetEveryEventInOrder) {
  ProblemLog problems;
  JournalOptions o = options();
  o.sqlite_path = dir_.file("later/journal.db");
  o.jsonl_path = dir_.file("later/events.jsonl");
  o.sync_interval = std::chrono::milliseconds(20);
  o.on_problem = problems.sink();
  auto j = open(o);
  ASSERT_TRUE(j);
  EXPECT_EQ(problems.count(EventKind::JournalFailed), 2u) << "one per sink, reported by open()";
  auto failed = problems.waitFor(EventKind::JournalFailed);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->severity, Severity::Critical);
  EXPECT_NE(failed->message.find(o.sqlite_path), std::string::npos) << failed->message;
  EXPECT_NE(failed->message.find("routing is not affected"), std::string::npos);

  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(j->append(fullEvent(i)));
  }
  // Nothing can be written yet: flush reports it, the events stay held.
  EXPECT_FALSE(j->flush());
  EXPECT_GT(j->stats().held, 0u);

  std::filesystem::create_directory(dir_.file("later"));
  // Both sinks recover at their next retry (every sync_interval).
  ASSERT_TRUE(problems.waitFor(EventKind::JournalRecovered, 2));
  auto recovered = problems.waitFor(EventKind::JournalRecovered);
  EXPECT_NE(recovered->message.find("0 lost"), std::string::npos) << recovered->message;
  ASSERT_TRUE(j->flush());
  EXPECT_EQ(j->stats().held, 0u);
  EXPECT_EQ(j->stats().lost, 0u);

  auto lines = readLines(o.jsonl_path);
  std::vector<EventKind> kinds;
  std::vector<std::string> messages;
  for (const auto& line : lines) {
    auto e = parseJsonLine(line);
    ASSERT_TRUE(e) << line;
    kinds.push_back(e->kind);
    messages.push_back(e->message);
  }
  // journal_failed ×2 (written first, as they were queued first), the three events in order,
  // then the journal_recovered events.
  ASSERT_GE(kinds.size(), 5u);
  EXPECT_EQ(kinds[0], EventKind::JournalFailed);
  EXPECT_EQ(kinds[1], EventKind::JournalFailed);
  std::vector<std::string> ours;
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    if (kinds[i] != EventKind::JournalFailed && kinds[i] != EventKind::JournalRecovered) {
      ours.push_back(messages[i]);
    }
  }
  ASSERT_EQ(ours.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(ours[static_cast<std::size_t>(i)], fullEvent(i).message);
  }
  // The SQLite journal has the same history.
  Query q;
  q.limit = 0;
  q.kind = EventKind::JournalFailed;
  auto stored_failed = j->search(q);
  ASSERT_TRUE(stored_failed) << stored_failed.error().toString();
  EXPECT_EQ(stored_failed->size(), 2u);
  EXPECT_GE(all(*j).size(), 5u);
}

// A journal file overwritten with garbage: moved aside (kept, named in a critical event) and a
// new journal started; nothing refuses to run.
TEST_F(JournalTest, CorruptDatabaseFileIsMovedAsideAndANewOneStarted) {
  ProblemLog problems;
  JournalOptions o = options();
  const std::string garbage(8192, 'x');
  { std::ofstream(o.sqlite_path) << garbage; }
  o.on_problem = problems.sink();
  auto j = open(o);
  ASSERT_TRUE(j);
  auto failed = problems.waitFor(EventKind::JournalFailed);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->severity, Severity::Critical);
  EXPECT_NE(failed->reason.find("not a pathpilot journal"), std::string::npos) << failed->reason;
  auto pos = failed->message.find(o.sqlite_path + ".bad-");
  ASSERT_NE(pos, std::string::npos) << failed->message;
  std::string aside = failed->message.substr(pos, failed->message.find(';', pos) - pos);
  std::ifstream kept(aside, std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(kept)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, garbage) << "the bad file is kept, byte for byte, at " << aside;
  EXPECT_EQ(j->stats().moved_aside, 1u);

  ASSERT_TRUE(j->append(fullEvent()));
  ASSERT_TRUE(j->flush());
  auto stored = all(*j);
  ASSERT_EQ(stored.size(), 2u) << "the journal_failed event and ours, in a new journal";
  EXPECT_EQ(problems.count(EventKind::JournalRecovered), 0u) << "the new journal never failed";
}

// Disk full (ENOSPC on every write): events are kept up to retry_capacity, the oldest beyond
// it are counted as lost, and the other sink keeps everything.
TEST_F(JournalTest, FailingSinkHoldsABoundedNumberOfEventsAndCountsTheLoss) {
  ProblemLog problems;
  JournalOptions o = options();
  o.jsonl_path = "/dev/full";
  o.retry_capacity = 3;
  o.on_problem = problems.sink();
  auto j = open(o);
  ASSERT_TRUE(j);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(j->append(fullEvent(i)));
  }
  EXPECT_FALSE(j->flush());
  JournalStats s = j->stats();
  EXPECT_EQ(s.held, 3u);
  EXPECT_EQ(s.lost, 3u) << "5 events + journal_failed held in 3 slots";
  EXPECT_EQ(problems.count(EventKind::JournalFailed), 1u) << "one report per episode";
  EXPECT_EQ(all(*j).size(), 6u) << "SQLite has every event and the journal_failed";
}

TEST_F(JournalTest, SinkFailureIsCountedReportedAndOtherSinkStillWrites) {
  JournalOptions o = options();
  o.jsonl_path = "/dev/full";  // every write fails with ENOSPC
  auto j = open(o);
  ASSERT_TRUE(j);
  ASSERT_TRUE(j->append(fullEvent()));
  auto flushed = j->flush();
  ASSERT_FALSE(flushed);
  EXPECT_NE(flushed.error().toString().find("/dev/full"), std::string::npos);
  EXPECT_EQ(j->stats().jsonl_failures, 1u);
  EXPECT_GE(j->stats().errors, 1u);
  ASSERT_TRUE(j->lastError());
  EXPECT_EQ(all(*j).size(), 2u) << "SQLite still has the event, and the journal_failed";
  // The write error is reported once; later flushes say that events are still held (they are
  // not durable until /dev/full takes them), and nothing is counted twice.
  auto again = j->flush();
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message().find("held in memory"), std::string::npos)
      << again.error().message();
  EXPECT_EQ(j->stats().jsonl_failures, 1u);
}

TEST_F(JournalTest, JsonLinesOnlyCountsSeqItself) {
  JournalOptions o = options();
  o.sqlite_path.clear();
  auto j = open(o);
  ASSERT_TRUE(j);
  ASSERT_TRUE(j->append(fullEvent(0)));
  ASSERT_TRUE(j->append(fullEvent(1)));
  ASSERT_TRUE(j->flush());
  auto lines = readLines(o.jsonl_path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(parseJsonLine(lines[1])->seq, 2u);
  auto r = j->search(Query{});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::Unavailable);
  EXPECT_FALSE(std::filesystem::exists(dir_.file("journal.db")));
}

TEST_F(JournalTest, LongFieldsAreCutAtACharacterBoundary) {
  auto j = open(options());
  ASSERT_TRUE(j);
  Event e = fullEvent();
  e.message.clear();
  for (int i = 0; i < 3000; ++i) {
    e.message += "é";  // 2 bytes each: 6000 bytes
  }
  e.reason = std::string(10000, 'r');
  ASSERT_TRUE(j->append(e));
  ASSERT_TRUE(j->flush());
  auto stored = all(*j);
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_LE(stored[0].message.size(), kMaxFieldBytes);
  EXPECT_EQ(stored[0].message.substr(stored[0].message.size() - 3), "…");
  EXPECT_EQ(stored[0].message.substr(0, 4), "éé");
  // Whole characters only: strip the ellipsis and every remaining char is "é".
  std::string body = stored[0].message.substr(0, stored[0].message.size() - 3);
  EXPECT_EQ(body.size() % 2, 0u);
  EXPECT_EQ(stored[0].reason.size(), kMaxFieldBytes);
}

TEST_F(JournalTest, RetentionPrunesOldEventsAtStart) {
  JournalOptions o = options();
  {
    auto store = SqliteStore::open(o.sqlite_path);
    ASSERT_TRUE(store);
    Event old_event = fullEvent();
    old_event.time = clock_.wallNow() - std::chrono::hours(48);
    Event recent = fullEvent();
    recent.time = clock_.wallNow() - std::chrono::hours(1);
    std::vector<Event> events = {old_event, recent};
    ASSERT_TRUE((*store)->insert(events));
  }
  o.retention = std::chrono::hours(24);
  auto j = open(o);
  ASSERT_TRUE(j);
  Event now_event = fullEvent();
  now_event.time = clock_.wallNow();
  ASSERT_TRUE(j->append(now_event));
  ASSERT_TRUE(j->flush());
  auto stored = all(*j);
  ASSERT_EQ(stored.size(), 2u);
  for (const Event& e : stored) {
    EXPECT_NE(e.seq, 1u) << "the 48 h old event should be gone";
  }
}

TEST_F(JournalTest, RetentionFollowsEventTimeWhileRunning) {
  JournalOptions o = options();
  o.retention = std::chrono::hours(24);
  auto j = open(o);
  ASSERT_TRUE(j);
  Event first = fullEvent();
  first.time = clock_.wallNow();
  ASSERT_TRUE(j->append(first));
  ASSERT_TRUE(j->flush());
  EXPECT_EQ(all(*j).size(), 1u);
  // A day and more later (by the events' own time), the first one has expired.
  clock_.advance(std::chrono::hours(25));
  Event later = fullEvent();
  later.time = clock_.wallNow();
  ASSERT_TRUE(j->append(later));
  ASSERT_TRUE(j->flush());
  auto stored = all(*j);
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].seq, 2u);
}

// One event dated a month ahead (a relayed event, a clock stepped back) must not make retention
// delete everything older than "a month from now minus the retention".
TEST_F(JournalTest, AFutureDatedEventDoesNotPruneHistory) {
  JournalOptions o = options();
  o.retention = std::chrono::hours(24);
  auto j = open(o);
  ASSERT_TRUE(j);
  Event first = fullEvent(0);
  first.time = clock_.wallNow();
  ASSERT_TRUE(j->append(first));
  Event future = fullEvent(1);
  future.time = clock_.wallNow() + std::chrono::hours(24 * 30);
  ASSERT_TRUE(j->append(future));
  ASSERT_TRUE(j->flush());
  clock_.advance(std::chrono::hours(2));
  Event later = fullEvent(2);
  later.time = clock_.wallNow();
  ASSERT_TRUE(j->append(later));
  ASSERT_TRUE(j->flush());
  EXPECT_EQ(all(*j).size(), 3u) << "nothing is older than 24 h by the clock";
  // Real time passing still expires the first event.
  clock_.advance(std::chrono::hours(23));
  Event last = fullEvent(3);
  last.time = clock_.wallNow();
  ASSERT_TRUE(j->append(last));
  ASSERT_TRUE(j->flush());
  EXPECT_EQ(all(*j).size(), 3u) << "the first event (25 h old) is gone, the rest stay";
}

// Routine events are synced within sync_interval without anyone asking; a route_changed is
// synced at once, even with a long interval.
TEST_F(JournalTest, EventsAreSyncedWithinTheIntervalAndRouteChangesAtOnce) {
  JournalOptions o = options();
  o.sync_interval = std::chrono::milliseconds(20);
  {
    auto j = open(o);
    ASSERT_TRUE(j);
    Event routine = fullEvent(0);
    routine.kind = EventKind::PathUp;
    routine.severity = Severity::Info;
    ASSERT_TRUE(j->append(routine));
    EXPECT_TRUE(j->waitSyncedForTest(1, std::chrono::seconds(10)));
    EXPECT_GE(j->stats().syncs, 1u);
  }
  o.sync_interval = std::chrono::hours(1);
  auto j = open(o);
  ASSERT_TRUE(j);
  Event routine = fullEvent(1);
  routine.kind = EventKind::PathUp;
  routine.severity = Severity::Info;
  ASSERT_TRUE(j->append(routine));
  EXPECT_FALSE(j->waitSyncedForTest(1, std::chrono::milliseconds(100)))
      << "a routine event waits for the interval (or a flush)";
  Event moved = fullEvent(2);
  moved.kind = EventKind::RouteChanged;
  moved.severity = Severity::Info;
  ASSERT_TRUE(j->append(moved));
  EXPECT_TRUE(j->waitSyncedForTest(2, std::chrono::seconds(10)))
      << "route_changed is synced as soon as it is written";
}

TEST_F(JournalTest, SearchFromAnotherThreadWhileWriting) {
  auto j = open(options());
  ASSERT_TRUE(j);
  std::atomic<bool> done{false};
  std::atomic<int> errors{0};
  std::thread reader([&] {
    while (!done.load()) {
      Query q;
      q.site = "Beijing";
      q.text = "moved";
      if (!j->search(q)) {
        ++errors;
      }
    }
  });
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(j->append(fullEvent(i)));
  }
  ASSERT_TRUE(j->flush());
  done = true;
  reader.join();
  EXPECT_EQ(errors.load(), 0);
  Query q;
  q.text = "moved";
  q.limit = 0;
  EXPECT_EQ(j->search(q)->size(), 2000u);
}

// The journal describes its own Prometheus families (metrics/family.h).
TEST(JournalMetricFamiliesTest, EventsByResultAndTheQueue) {
  JournalStats s;
  s.accepted = 5;
  s.written = 4;
  s.queue_depth = 1;
  s.queue_capacity = 1000;
  auto all = metricFamilies(s);
  const auto* events = metrics::findFamily(all, "pathpilot_journal_events_total");
  ASSERT_NE(events, nullptr);
  ASSERT_EQ(events->samples.size(), 4u);
  EXPECT_EQ(events->samples[0].labels.at(0).second, "accepted");
  EXPECT_DOUBLE_EQ(events->samples[0].value, 5);
  const auto* depth = metrics::findFamily(all, "pathpilot_journal_queue_depth");
  ASSERT_NE(depth, nullptr);
  EXPECT_EQ(depth->type, metrics::MetricType::Gauge);
  EXPECT_DOUBLE_EQ(depth->samples.at(0).value, 1);
}

}  // namespace
}  // namespace pathpilot::journal
