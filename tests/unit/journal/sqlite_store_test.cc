#include "journal/sqlite_store.h"

#include <sqlite3.h>

#include <atomic>
#include <fstream>
#include <iterator>
#include <random>
#include <thread>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "samples.h"
#include "temp_dir.h"

namespace pathpilot::journal {
namespace {

using testing::fullEvent;
using testing::sampleTime;
using testing::simpleEvent;
using testing::TempDir;

std::vector<std::uint64_t> seqsOf(const std::vector<Event>& events) {
  std::vector<std::uint64_t> out;
  for (const Event& e : events) {
    out.push_back(e.seq);
  }
  return out;
}

// Runs one SQL statement on `path` through a separate raw connection; returns the first column
// of the first row as text.
std::string rawQuery(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  sqlite3_stmt* stmt = nullptr;
  std::string out;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK) {
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      out = std::string("error: ") + sqlite3_errmsg(db);
    }
  } else {
    out = std::string("error: ") + sqlite3_errmsg(db);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<SqliteStore> openStore(const StoreOptions& options = {}) {
    auto store = SqliteStore::open(path_, options);
    EXPECT_TRUE(store) << store.error().toString();
    return store ? std::move(*store) : nullptr;
  }

  void insert(SqliteStore& store, std::vector<Event> events) {
    auto r = store.insert(events);
    ASSERT_TRUE(r) << r.error().toString();
  }

  std::vector<Event> search(SqliteStore& store, const Query& q) {
    auto r = store.search(q);
    EXPECT_TRUE(r) << r.error().toString();
    return r ? *r : std::vector<Event>{};
  }

  // A small journal of two sites, both link kinds and several kinds; times 0..9 s.
  void fillReference(SqliteStore& store) {
    std::vector<Event> events;
    auto add = [&](const std::string& site, EventKind kind, const std::string& path, Link link,
                   const std::string& table, std::int64_t at_s, const std::string& message,
                   const std::string& reason = "") {
      Event e = simpleEvent(site, kind, at_s * 1000, message);
      e.path = path;
      e.link = link;
      e.route_table = table;
      e.reason = reason;
      events.push_back(e);
    };
    add("Beijing", EventKind::PathDown, "dx", Link::Dx, "", 0, "DX path down",
        "loss 100% over 10 probes");                                                   // seq 1
    add("Beijing", EventKind::RouteChanged, "vpn-a", Link::Vpn, "rtb-468f5222", 1,
        "rtb-468f5222 10.10.0.0/16 moved from dx to vpn-a");                          // seq 2
    add("Beijing", EventKind::RouteChanged, "vpn-b", Link::Vpn, "rtb-4b8f522f", 2,
        "rtb-4b8f522f 10.10.0.0/16 moved from dx to vpn-b");                          // seq 3
    add("Singapore", EventKind::PathDown, "dx", Link::Dx, "", 3, "DX path down",
        "probe error: timeout");                                                       // seq 4
    add("Singapore", EventKind::PathDegraded, "vpn-a", Link::Vpn, "", 4,
        "VPN-A degraded", "rtt 180ms over 150ms");                                     // seq 5
    add("Beijing", EventKind::PathUp, "dx", Link::Dx, "", 5, "DX path up");            // seq 6
    add("Beijing", EventKind::ConfigLoaded, "", Link::None, "", 6, "config loaded");    // seq 7
    add("Singapore", EventKind::RecoveryStarted, "vpn-b", Link::Vpn, "", 7,
        "stop/start i-0430fe110cdec5835");                                             // seq 8
    insert(store, events);
  }

  TempDir dir_;
  std::string path_ = dir_.file("journal.db");
};

TEST_F(SqliteStoreTest, CreatesVersionedSchemaInWalMode) {
  auto store = openStore();
  ASSERT_TRUE(store);
  EXPECT_EQ(rawQuery(path_, "PRAGMA user_version"), std::to_string(kSchemaVersion));
  EXPECT_EQ(rawQuery(path_, "PRAGMA application_id"), std::to_string(kApplicationId));
  EXPECT_EQ(rawQuery(path_, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(store->ftsMode(), FtsMode::ExternalContent);
  for (const char* index : {"events_by_time", "events_by_site", "events_by_kind",
                            "events_by_path", "events_by_link", "events_by_route_table"}) {
    EXPECT_EQ(rawQuery(path_, std::string("SELECT name FROM sqlite_master WHERE name='") +
                                  index + "'"),
              index);
  }
}

// The journal and its -wal/-shm files are 0640 under any umask (SQLite alone would make them
// 0644 whatever the umask).
TEST_F(SqliteStoreTest, FilesAreExactly0640WhateverTheUmask) {
  for (mode_t mask : {mode_t{0}, mode_t{077}}) {
    TempDir dir;
    std::string path = dir.file("journal.db");
    mode_t before = ::umask(mask);
    auto store = SqliteStore::open(path, {});
    ASSERT_TRUE(store) << store.error().toString();
    insert(**store, {simpleEvent("Lab", EventKind::PathDown, 1)});
    ::umask(before);
    for (const std::string& f : {path, path + "-wal", path + "-shm"}) {
      struct stat st {};
      ASSERT_EQ(::stat(f.c_str(), &st), 0) << f;
      EXPECT_EQ(st.st_mode & 07777, 0640u) << f << " umask " << std::oct << mask;
    }
  }
}

TEST_F(SqliteStoreTest, RoundTripsEveryField) {
  auto store = openStore();
  ASSERT_TRUE(store);
  std::vector<Event> events = {fullEvent()};
  events[0].message = "quote ' \" ; DROP TABLE events; -- 北京 ünï";
  events[0].reason = std::string("nul\0inside", 10);
  ASSERT_TRUE(store->insert(events));
  EXPECT_EQ(events[0].seq, 1u);

  auto found = search(*store, Query{});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0], events[0]);

  // And through a second, read-only connection after reopening.
  store.reset();
  auto reader = SqliteStore::openReadOnly(path_);
  ASSERT_TRUE(reader) << reader.error().toString();
  auto again = (*reader)->search(Query{});
  ASSERT_TRUE(again);
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0], events[0]);
}

TEST_F(SqliteStoreTest, TimeIsKeptToTheMillisecond) {
  auto store = openStore();
  ASSERT_TRUE(store);
  std::vector<Event> events = {fullEvent()};
  events[0].time += std::chrono::microseconds(789);
  ASSERT_TRUE(store->insert(events));
  auto found = search(*store, Query{});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].time, sampleTime());
  EXPECT_EQ(rawQuery(path_, "SELECT time FROM events"), "2026-11-25T12:52:52.123Z");
}

TEST_F(SqliteStoreTest, SeqIncreasesAcrossBatchesAndReopen) {
  {
    auto store = openStore();
    ASSERT_TRUE(store);
    std::vector<Event> a = {fullEvent(), fullEvent(1)};
    ASSERT_TRUE(store->insert(a));
    EXPECT_EQ(seqsOf(a), (std::vector<std::uint64_t>{1, 2}));
    EXPECT_EQ(*store->lastSeq(), 2u);
  }
  auto store = openStore();
  ASSERT_TRUE(store);
  std::vector<Event> b = {fullEvent(2)};
  ASSERT_TRUE(store->insert(b));
  EXPECT_EQ(b[0].seq, 3u);
  EXPECT_EQ(*store->count(), 3u);
}

TEST_F(SqliteStoreTest, NewestFirstWithLimit) {
  auto store = openStore();
  ASSERT_TRUE(store);
  fillReference(*store);
  EXPECT_EQ(seqsOf(search(*store, Query{})), (std::vector<std::uint64_t>{8, 7, 6, 5, 4, 3, 2, 1}));
  Query q;
  q.limit = 3;
  EXPECT_EQ(seqsOf(search(*store, q)), (std::vector<std::uint64_t>{8, 7, 6}));
  // Journal order wins over event time: an event recorded later with an older time (a
  // wall-clock step back) still comes first, and time filters still apply to its time.
  std::vector<Event> late = {simpleEvent("Beijing", EventKind::PathUp, 7000),
                             simpleEvent("Beijing", EventKind::PathUp, -1000)};
  ASSERT_TRUE(store->insert(late));
  q.limit = 0;
  EXPECT_EQ(seqsOf(search(*store, q)),
            (std::vector<std::uint64_t>{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}));
  q.since = sampleTime(5000);
  EXPECT_EQ(seqsOf(search(*store, q)), (std::vector<std::uint64_t>{9, 8, 7, 6}));
  q.since = sampleTime(-1000);
  q.until = sampleTime(1000);
  EXPECT_EQ(seqsOf(search(*store, q)), (std::vector<std::uint64_t>{10, 1}));
  q.since.reset();
  EXPECT_EQ(seqsOf(search(*store, q)), (std::vector<std::uint64_t>{10, 1}));
  q.text = "down";
  q.since = sampleTime(-5000);
  EXPECT_EQ(seqsOf(search(*store, q)), (std::vector<std::uint64_t>{1}));
}

TEST_F(SqliteStoreTest, FiltersByEachField) {
  auto store = openStore();
  ASSERT_TRUE(store);
  fillReference(*store);
  auto seqs = [&](auto set) {
    Query q;
    set(q);
    return seqsOf(search(*store, q));
  };
  using V = std::vector<std::uint64_t>;
  EXPECT_EQ(seqs([](Query& q) { q.site = "Singapore"; }), (V{8, 5, 4}));
  EXPECT_EQ(seqs([](Query& q) { q.site = "singapore"; }), V{});
  EXPECT_EQ(seqs([](Query& q) { q.path = "dx"; }), (V{6, 4, 1}));
  EXPECT_EQ(seqs([](Query& q) { q.link = Link::Vpn; }), (V{8, 5, 3, 2}));
  EXPECT_EQ(seqs([](Query& q) { q.link = Link::None; }), (V{7}));
  EXPECT_EQ(seqs([](Query& q) { q.kind = EventKind::PathDown; }), (V{4, 1}));
  EXPECT_EQ(seqs([](Query& q) { q.route_table = "rtb-468f5222"; }), (V{2}));
  EXPECT_EQ(seqs([](Query& q) { q.min_severity = Severity::Critical; }), (V{4, 1}));
  EXPECT_EQ(seqs([](Query& q) { q.min_severity = Severity::Warning; }), (V{8, 5, 4, 1}));
  EXPECT_EQ(seqs([](Query& q) { q.since = sampleTime(5000); }), (V{8, 7, 6}));
  EXPECT_EQ(seqs([](Query& q) { q.until = sampleTime(2000); }), (V{2, 1}));
  EXPECT_EQ(seqs([](Query& q) { q.after_seq = 6; }), (V{8, 7}));
  EXPECT_EQ(seqs([](Query& q) { q.before_seq = 3; }), (V{2, 1}));
}

TEST_F(SqliteStoreTest, CombinesFilters) {
  auto store = openStore();
  ASSERT_TRUE(store);
  fillReference(*store);
  using V = std::vector<std::uint64_t>;
  Query q;
  q.site = "Beijing";
  q.link = Link::Dx;
  EXPECT_EQ(seqsOf(search(*store, q)), (V{6, 1}));
  q.since = sampleTime(1000);
  EXPECT_EQ(seqsOf(search(*store, q)), (V{6}));
  Query r;
  r.site = "Beijing";
  r.kind = EventKind::RouteChanged;
  r.text = "vpn-b";
  EXPECT_EQ(seqsOf(search(*store, r)), (V{3}));
  r.until = sampleTime(2000);
  EXPECT_EQ(seqsOf(search(*store, r)), V{});
  Query s;
  s.path = "dx";
  s.kind = EventKind::PathDown;
  s.text = "timeout";
  s.limit = 1;
  EXPECT_EQ(seqsOf(search(*store, s)), (V{4}));
}

TEST_F(SqliteStoreTest, UserValuesAreNeverSql) {
  auto store = openStore();
  ASSERT_TRUE(store);
  fillReference(*store);
  Query q;
  q.site = "x' OR '1'='1";
  EXPECT_TRUE(search(*store, q).empty());
  q.site.reset();
  q.route_table = "\"; DROP TABLE events; --";
  EXPECT_TRUE(search(*store, q).empty());
  EXPECT_EQ(*store->count(), 8u);
}

TEST_F(SqliteStoreTest, FullTextSearchOverMessageAndReason) {
  auto store = openStore();
  ASSERT_TRUE(store);
  fillReference(*store);
  auto text = [&](const std::string& t) {
    Query q;
    q.text = t;
    return seqsOf(search(*store, q));
  };
  using V = std::vector<std::uint64_t>;
  EXPECT_EQ(text("moved"), (V{3, 2}));
  EXPECT_EQ(text("MOVED"), (V{3, 2}));
  EXPECT_EQ(text("timeout"), (V{4}));          // from reason
  EXPECT_EQ(text("time"), V{});                // whole tokens ...
  EXPECT_EQ(text("time*"), (V{4}));            // ... or a prefix when asked
  EXPECT_EQ(text("loss probes"), (V{1}));      // all words
  EXPECT_EQ(text("dx timeout"), (V{4}));       // words from message and reason
  EXPECT_EQ(text("\"path down\""), (V{4, 1}));  // phrase
  EXPECT_EQ(text("\"down path\""), V{});
  EXPECT_EQ(text("i-0430fe*"), (V{8}));        // ids split at '-', last token prefix
  EXPECT_EQ(text("i-0430fe110cdec5835"), (V{8}));
  EXPECT_EQ(text("i-0430fe"), V{});
  EXPECT_EQ(text("10.10.0.0/16 vpn-a"), (V{2}));
  EXPECT_EQ(text("rtt 180ms"), (V{5}));
  EXPECT_EQ(text("nothing-like-this"), V{});
}

TEST_F(SqliteStoreTest, HostileSearchTextNeverBreaksTheQuery) {
  auto store = openStore();
  ASSERT_TRUE(store);
  std::vector<Event> events = {
      simpleEvent("Beijing", EventKind::AlertFailed, 0,
                  "webhook said: \"invalid token\" (code 40001) OR worse"),
      simpleEvent("Beijing", EventKind::PathDown, 1, "北京 专线 中断 — Ünïcode café"),
      simpleEvent("Beijing", EventKind::RouteError, 2, "AND NOT NEAR(x y) ^start col:val *"),
  };
  insert(*store, events);
  const char* hostile[] = {
      "\"",        "\"\"",      "\"\"\"",     "*",           "**",         "a*b",
      "OR",        "AND",       "NOT",        "NEAR(a b)",   "a OR b",     "-x",
      "+x",        "(",         ")",          "{message}:x", "message:x",  "^x",
      "'",         "';--",      "\\",         "\x01\x02",    "\xff\xfe",   "💥",
      "a\"b\"c",   "NEAR",      "x NOT",      "col:val",     "\"invalid token\" OR",
  };
  for (const char* t : hostile) {
    Query q;
    q.text = t;
    auto r = store->search(q);
    EXPECT_TRUE(r) << "text " << t << ": " << (r ? "" : r.error().toString());
  }
  auto text = [&](const std::string& t) {
    Query q;
    q.text = t;
    auto r = store->search(q);
    EXPECT_TRUE(r);
    return r ? seqsOf(*r) : std::vector<std::uint64_t>{};
  };
  using V = std::vector<std::uint64_t>;
  // Operators are plain words: they match where the word occurs, not as operators.
  EXPECT_EQ(text("OR"), (V{1}));
  EXPECT_EQ(text("\"invalid token\" OR"), (V{1}));
  EXPECT_EQ(text("NOT NEAR"), (V{3}));
  EXPECT_EQ(text("col:val"), (V{3}));
  EXPECT_EQ(text("(code 40001)"), (V{1}));
  EXPECT_EQ(text("*"), V{});
  // Unicode: CJK runs are tokens, diacritics and case are folded.
  EXPECT_EQ(text("北京"), (V{2}));
  EXPECT_EQ(text("专线"), (V{2}));
  EXPECT_EQ(text("unicode cafe"), (V{2}));
  EXPECT_EQ(text("ÜNÏCODE"), (V{2}));
}

TEST_F(SqliteStoreTest, ConcurrentReaderSeesConsistentGrowingJournal) {
  auto writer = openStore();
  ASSERT_TRUE(writer);
  auto reader = SqliteStore::openReadOnly(path_);
  ASSERT_TRUE(reader) << reader.error().toString();

  constexpr int kBatches = 200;
  constexpr int kPerBatch = 10;
  std::atomic<bool> done{false};
  std::atomic<int> reader_errors{0};
  std::atomic<int> reads{0};
  std::thread reading([&] {
    std::uint64_t last = 0;
    while (!done.load()) {
      Query q;
      q.limit = 0;
      q.text = "batch";
      auto r = (*reader)->search(q);
      if (!r) {
        ++reader_errors;
        continue;
      }
      // A reader sees whole transactions only, and never fewer events than before.
      if (r->size() % kPerBatch != 0 || r->size() < last) {
        ++reader_errors;
      }
      last = r->size();
      ++reads;
    }
  });
  for (int b = 0; b < kBatches; ++b) {
    std::vector<Event> batch;
    for (int i = 0; i < kPerBatch; ++i) {
      batch.push_back(simpleEvent("Beijing", EventKind::PathUp, b * kPerBatch + i,
                                  "batch " + std::to_string(b)));
    }
    auto r = writer->insert(batch);
    ASSERT_TRUE(r) << r.error().toString();
  }
  done = true;
  reading.join();
  EXPECT_EQ(reader_errors.load(), 0);
  EXPECT_GT(reads.load(), 0);
  Query all;
  all.limit = 0;
  EXPECT_EQ((*reader)->search(all)->size(), static_cast<std::size_t>(kBatches * kPerBatch));
}

TEST_F(SqliteStoreTest, ReaderInAnotherProcessWhileTheWriterWrites) {
  // What `pathpilot events` does while the daemon runs: separate processes, real file locks.
  { ASSERT_TRUE(openStore()); }
  constexpr int kBatches = 100;
  constexpr int kPerBatch = 20;
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto store = SqliteStore::open(path_);
    if (!store) {
      _exit(2);
    }
    for (int b = 0; b < kBatches; ++b) {
      std::vector<Event> batch;
      for (int i = 0; i < kPerBatch; ++i) {
        batch.push_back(simpleEvent("Beijing", EventKind::PathDown, b * kPerBatch + i,
                                    "link down " + std::to_string(b)));
      }
      if (!(*store)->insert(batch)) {
        _exit(3);
      }
    }
    _exit(0);
  }
  auto reader = SqliteStore::openReadOnly(path_);
  ASSERT_TRUE(reader) << reader.error().toString();
  int status = 0;
  int reads = 0;
  int bad = 0;
  std::size_t last = 0;
  while (true) {
    pid_t done = waitpid(child, &status, WNOHANG);
    Query q;
    q.limit = 0;
    q.text = "link down";
    auto r = (*reader)->search(q);
    if (!r || r->size() % kPerBatch != 0 || r->size() < last) {
      ++bad;
    } else {
      last = r->size();
    }
    ++reads;
    if (done == child) {
      break;
    }
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(bad, 0);
  EXPECT_GT(reads, 1);
  EXPECT_EQ(last, static_cast<std::size_t>(kBatches * kPerBatch));
}

TEST_F(SqliteStoreTest, RandomHostileTextIsAlwaysAValidQuery) {
  // A deterministic miniature of fuzz/journal_fuzz.cc that runs with the unit tests.
  auto store = openStore();
  ASSERT_TRUE(store);
  fillReference(*store);
  const std::string alphabet[] = {"\"", "*", " ", "OR", "AND", "NOT", "NEAR", "(", ")", ":",
                                  "^", "-", "+", "'", "\\", "{", "}", "a", "dx", "北京",
                                  "\xff", std::string(1, '\0'), "\n", "down", "é", ",", "."};
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string text;
    int n = static_cast<int>(rng() % 8) + 1;
    for (int k = 0; k < n; ++k) {
      text += alphabet[rng() % std::size(alphabet)];
    }
    Query q;
    q.text = text;
    auto r = store->search(q);
    ASSERT_TRUE(r) << "text: " << text << " → " << ftsMatchExpression(text) << ": "
                   << r.error().toString();
  }
}

TEST_F(SqliteStoreTest, PruneDeletesOldEventsAndTheirTextEntries) {
  auto store = openStore();
  ASSERT_TRUE(store);
  fillReference(*store);
  auto pruned = store->pruneBefore(sampleTime(4000));
  ASSERT_TRUE(pruned) << pruned.error().toString();
  EXPECT_EQ(*pruned, 4u);
  EXPECT_EQ(*store->count(), 4u);
  Query q;
  q.text = "down";
  EXPECT_TRUE(search(*store, q).empty());
  q.text = "degraded";
  EXPECT_EQ(seqsOf(search(*store, q)), (std::vector<std::uint64_t>{5}));
  EXPECT_EQ(rawQuery(path_, "INSERT INTO events_fts(events_fts) VALUES('integrity-check')"), "");
  // seq never goes back, even after deleting (AUTOINCREMENT).
  ASSERT_TRUE(store->pruneBefore(sampleTime(100000)));
  std::vector<Event> more = {fullEvent()};
  ASSERT_TRUE(store->insert(more));
  EXPECT_EQ(more[0].seq, 9u);
}

TEST_F(SqliteStoreTest, ContentlessModeSearchesTheSame) {
  StoreOptions options;
  options.fts_mode = FtsMode::Contentless;
  auto store = openStore(options);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->ftsMode(), FtsMode::Contentless);
  fillReference(*store);
  Query q;
  q.text = "moved";
  EXPECT_EQ(seqsOf(search(*store, q)), (std::vector<std::uint64_t>{3, 2}));
  auto pruned = store->pruneBefore(sampleTime(4000));
  ASSERT_FALSE(pruned);
  EXPECT_EQ(pruned.error().code(), ErrorCode::InvalidArgument);
  // The mode is a property of the file: reopening with the default keeps it.
  store.reset();
  auto again = openStore();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->ftsMode(), FtsMode::Contentless);
}

TEST_F(SqliteStoreTest, SyncCheckpointAndAnalyzeSucceed) {
  auto store = openStore();
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->sync()) << "nothing written yet is fine";
  fillReference(*store);
  EXPECT_TRUE(store->sync());
  EXPECT_TRUE(store->checkpoint());
  EXPECT_TRUE(store->analyze());
  auto reader = SqliteStore::openReadOnly(path_);
  ASSERT_TRUE(reader);
  EXPECT_FALSE((*reader)->checkpoint());
  EXPECT_FALSE((*reader)->sync());
  std::vector<Event> e = {fullEvent()};
  auto r = (*reader)->insert(e);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::PermissionDenied);
}

// --- open errors -------------------------------------------------------------------------

void expectOpenError(const Result<std::unique_ptr<SqliteStore>>& r, ErrorCode code,
                     const std::string& path, const std::string& detail) {
  ASSERT_FALSE(r) << "expected an error for " << path;
  EXPECT_EQ(r.error().code(), code) << r.error().toString();
  EXPECT_NE(r.error().toString().find(path), std::string::npos) << r.error().toString();
  EXPECT_NE(r.error().toString().find(detail), std::string::npos) << r.error().toString();
}

TEST_F(SqliteStoreTest, MissingDirectoryNamesIt) {
  std::string path = dir_.file("no/such/dir/journal.db");
  expectOpenError(SqliteStore::open(path), ErrorCode::NotFound, path,
                  "directory " + dir_.file("no/such/dir") + " does not exist");
}

TEST_F(SqliteStoreTest, MissingFileForReadingIsNotFound) {
  std::string path = dir_.file("absent.db");
  expectOpenError(SqliteStore::openReadOnly(path), ErrorCode::NotFound, path, "no such file");
  EXPECT_FALSE(std::filesystem::exists(path)) << "a reader must not create the file";
}

TEST_F(SqliteStoreTest, DirectoryInsteadOfFile) {
  expectOpenError(SqliteStore::open(dir_.path().string()), ErrorCode::InvalidArgument,
                  dir_.path().string(), "is a directory");
}

TEST_F(SqliteStoreTest, UnwritablePathIsPermissionDenied) {
  // sysfs refuses new files even to root, so this works whoever runs the test.
  expectOpenError(SqliteStore::open("/sys/pathpilot-journal-test.db"),
                  ErrorCode::PermissionDenied, "/sys/pathpilot-journal-test.db", "");
  // And a read-only directory, which only binds non-root users.
  if (geteuid() != 0) {
    std::filesystem::create_directory(dir_.file("ro"));
    std::filesystem::permissions(dir_.file("ro"), std::filesystem::perms::owner_read |
                                                      std::filesystem::perms::owner_exec);
    expectOpenError(SqliteStore::open(dir_.file("ro/journal.db")), ErrorCode::PermissionDenied,
                    dir_.file("ro/journal.db"), "");
    std::filesystem::permissions(dir_.file("ro"), std::filesystem::perms::owner_all);
  }
}

TEST_F(SqliteStoreTest, GarbageFileIsNotAJournal) {
  {
    std::ofstream out(path_, std::ios::binary);
    out << "this is not a database, just a config file someone pointed us at\n";
    for (int i = 0; i < 200; ++i) {
      out << "garbage line " << i << "\n";
    }
  }
  expectOpenError(SqliteStore::open(path_), ErrorCode::InvalidArgument, path_,
                  "not a pathpilot journal");
  expectOpenError(SqliteStore::openReadOnly(path_), ErrorCode::InvalidArgument, path_,
                  "not a pathpilot journal");
}

TEST_F(SqliteStoreTest, CorruptJournalIsReportedNotCrashed) {
  {
    auto store = openStore();
    ASSERT_TRUE(store);
    fillReference(*store);
    ASSERT_TRUE(store->checkpoint());
  }
  // Overwrite the pages after the header with garbage.
  {
    std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096);
    std::string junk(3 * 4096, '\xA5');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto store = SqliteStore::openReadOnly(path_);
  if (store) {
    // The header survived; the damage shows on the first read instead.
    auto r = (*store)->search(Query{});
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().toString().find(path_), std::string::npos) << r.error().toString();
  } else {
    EXPECT_NE(store.error().toString().find(path_), std::string::npos);
  }
}

TEST_F(SqliteStoreTest, ForeignSqliteDatabaseIsRefusedAndUntouched) {
  ASSERT_EQ(rawQuery(path_, "CREATE TABLE customers(id INTEGER)"), "");
  expectOpenError(SqliteStore::open(path_), ErrorCode::InvalidArgument, path_,
                  "not a pathpilot journal");
  EXPECT_EQ(rawQuery(path_, "PRAGMA journal_mode"), "delete");
}

TEST_F(SqliteStoreTest, NewerSchemaIsRefused) {
  { ASSERT_TRUE(openStore()); }
  ASSERT_EQ(rawQuery(path_, "PRAGMA user_version=99"), "");
  expectOpenError(SqliteStore::open(path_), ErrorCode::InvalidArgument, path_,
                  "schema version 99 is newer");
  expectOpenError(SqliteStore::openReadOnly(path_), ErrorCode::InvalidArgument, path_,
                  "schema version 99 is newer");
}

TEST_F(SqliteStoreTest, EmptyFileBecomesAJournalForTheWriterOnly) {
  { std::ofstream touch(path_); }
  expectOpenError(SqliteStore::openReadOnly(path_), ErrorCode::InvalidArgument, path_,
                  "not a pathpilot journal");
  EXPECT_TRUE(openStore());
}

TEST_F(SqliteStoreTest, UnknownKindFromANewerWriterIsANamedError) {
  auto store = openStore();
  ASSERT_TRUE(store);
  fillReference(*store);
  ASSERT_EQ(rawQuery(path_, "UPDATE events SET kind='path_teleported' WHERE seq=3"), "");
  auto r = store->search(Query{});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("seq 3"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("path_teleported"), std::string::npos);
}

}  // namespace
}  // namespace pathpilot::journal
