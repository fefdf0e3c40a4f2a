#include "journal/journal.h"

#include <fstream>
#include <map>
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
    accepted += j->append(simpleEvent("Beijing", EventKind::PathUp, i, "e" + std::to_string(i)))
                    ? 1
                    : 0;
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

TEST_F(JournalTest, OpenErrorsNameTheFile) {
  JournalOptions o = options();
  o.sqlite_path = dir_.file("missing/journal.db");
  auto r = Journal::open(o, clock_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().toString().find(o.sqlite_path), std::string::npos);

  o = options();
  o.jsonl_path = "/sys/pathpilot-test/events.jsonl";
  r = Journal::open(o, clock_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().toString().find(o.jsonl_path), std::string::npos);

  o = options();
  o.sqlite_path = "/sys/pathpilot-journal-test.db";
  r = Journal::open(o, clock_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::PermissionDenied);

  o = options();
  o.queue_capacity = 0;
  r = Journal::open(o, clock_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::InvalidArgument);
}

TEST_F(JournalTest, CorruptDatabaseFileIsRefusedAtOpen) {
  JournalOptions o = options();
  { std::ofstream(o.sqlite_path) << std::string(8192, 'x'); }
  auto r = Journal::open(o, clock_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::InvalidArgument);
  EXPECT_NE(r.error().toString().find(o.sqlite_path), std::string::npos);
  EXPECT_NE(r.error().toString().find("not a pathpilot journal"), std::string::npos);
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
  EXPECT_EQ(all(*j).size(), 1u) << "SQLite still has the event";
  // Reported once: a later flush with nothing new failing... still sees /dev/full failing, so
  // append nothing and check that the old failure is not reported again.
  EXPECT_TRUE(j->flush());
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

}  // namespace
}  // namespace pathpilot::journal
