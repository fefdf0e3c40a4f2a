// Benchmarks for the journal (src/journal):
//   BM_JournalAppendFlush   events/s through Journal::append() + flush() (goal >= 50k/s)
//   BM_JournalAppendOnly    cost of append() alone on the caller's thread (writer paused)
//   BM_ToJsonLine           cost of one JSON line
//   BM_StoreSearch1M        search over a 1M-event store: site + kind + text (goal < 50 ms)
//   BM_RawSearch1M          the same question as hand-written SQL, to compare plans
//                           (full-text index outer vs IN-subquery) and FTS modes (external
//                           content vs contentless); the store uses the first
//   BM_StoreBuild           insert rate of SqliteStore::insert by FTS mode (batches of 10k)
//
// The 1M-event databases are built once per process in a temp directory (about a minute per
// FTS mode on a small VM) and deleted at exit. Set PP_JOURNAL_BENCH_DIR to keep and reuse them.
//
// Run: build-<you>/bench/journal_bench --benchmark_counters_tabular=true
//
// Measured 2026-11-25 on the shared 2-vCPU dev VM (load average ~13, so wall-clock rates are
// 2.5-3x below CPU-time rates), RelWithDebInfo, medians of 3:
//   append+flush, 10k events/flush  SQLite 100k/CPU-s (39k/s wall), JSONL 373k/CPU-s
//                                   (117k/s wall), both 85k/CPU-s (29k/s wall)
//   append() on the caller          0.56 us CPU (writer paused)
//   SqliteStore::insert             ~100k/CPU-s, external content = contentless
//   1M events, site+kind+"timeout"  2.4 ms CPU / 7 ms wall (100 of 4351 matches)
//     rare token                    0.05 ms; text only 0.16 ms; +since 1d 0.4 ms
//     prefix "time*"                7.3 ms CPU
//     every match (limit 0)         100 ms CPU (4351 rows)
//     common word + rare filter     65 ms CPU: the full-text index is walked to the end
//   IN-subquery instead of FTS-outer 23 ms CPU for the everyday query (10x slower)
#include <sqlite3.h>

#include <cstdint>
#include <ctime>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "base/time.h"
#include "journal/journal.h"
#include "journal/sqlite_store.h"

namespace pathpilot::journal {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMillion = 1'000'000;
constexpr std::size_t kBuildBatch = 10'000;

const char* const kSites[] = {"Beijing",   "Singapore", "Ningxia", "Tokyo",
                              "Frankfurt", "Virginia",  "Sydney",  "Mumbai"};

// A scratch directory removed at exit unless PP_JOURNAL_BENCH_DIR names a directory to keep.
class BenchDir {
 public:
  BenchDir() {
    if (const char* keep = std::getenv("PP_JOURNAL_BENCH_DIR"); keep != nullptr && *keep != 0) {
      path_ = keep;
      fs::create_directories(path_);
      keep_ = true;
    } else {
      std::string pattern = (fs::temp_directory_path() / "pp_journal_bench_XXXXXX").string();
      path_ = mkdtemp(pattern.data()) != nullptr ? pattern : "/tmp";
    }
  }
  ~BenchDir() {
    if (!keep_) {
      std::error_code ec;
      fs::remove_all(path_, ec);
    }
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
  bool keep_ = false;
};

BenchDir& benchDir() {
  static BenchDir dir;
  return dir;
}

// Deterministic, roughly realistic events: eight sites, path events most common, free text
// with a shared vocabulary plus rare tokens (ticket numbers, instance ids), one event every
// ~31 s over a year (1M events).
class EventGenerator {
 public:
  explicit EventGenerator(std::uint32_t seed = 42) : rng_(seed) {}

  Event next() {
    Event e;
    e.time = fromUnixMillis(start_ms_ + static_cast<std::int64_t>(n_++) * 31'536);
    e.site = kSites[pick(8)];
    std::uint32_t r = pick(100);
    static const EventKind kCommon[] = {EventKind::PathDown, EventKind::PathUp,
                                        EventKind::PathDegraded, EventKind::RouteChanged};
    if (r < 80) {
      e.kind = kCommon[r % 4];
    } else {
      e.kind = allEventKinds()[pick(static_cast<std::uint32_t>(allEventKinds().size()))];
    }
    e.severity = defaultSeverity(e.kind);
    static const char* const kPaths[] = {"dx", "vpn-a", "vpn-b"};
    std::uint32_t p = pick(3);
    e.path = kPaths[p];
    e.link = p == 0 ? Link::Dx : Link::Vpn;
    static const char* const kReasons[] = {
        "loss 100% over 10 probes to 10.10.3.100", "probe error: timeout",
        "rtt p95 180ms over 150ms",                "loss 40% over 10 probes to 169.254.100.1",
        "probe error: host unreachable",           "tcp connect refused on 10.10.3.100:179"};
    switch (e.kind) {
      case EventKind::RouteChanged:
      case EventKind::RouteDrift:
      case EventKind::RouteError:
        e.route_table = pick(2) == 0 ? "rtb-468f5222" : "rtb-4b8f522f";
        e.destination = "10.10.0.0/16";
        e.from = "vgw-078bcc55";
        e.to = pick(2) == 0 ? "i-0e1466e8a5dd4892c" : "i-0430fe110cdec5835";
        e.message = e.route_table + " " + e.destination + " moved from " + e.from + " to " + e.to;
        e.reason = kReasons[pick(6)];
        break;
      default:
        e.message = std::string(kPaths[p]) + " " + std::string(eventKindName(e.kind)) + " at " +
                    e.site + " ticket T" + std::to_string(pick(100'000));
        e.reason = kReasons[pick(6)];
        break;
    }
    return e;
  }

 private:
  std::uint32_t pick(std::uint32_t n) { return static_cast<std::uint32_t>(rng_() % n); }

  std::mt19937 rng_;
  std::int64_t start_ms_ = 1'764'547'200'000;  // 2025-12-01T00:00:00Z
  std::uint64_t n_ = 0;
};

// Builds (once) a store with `count` generated events and returns its path. Also reports the
// insert rate of the build on stderr.
std::string buildStore(FtsMode mode, std::size_t count) {
  std::string name = std::string(mode == FtsMode::Contentless ? "contentless" : "external") +
                     "_" + std::to_string(count) + ".db";
  std::string path = benchDir().file(name);
  if (fs::exists(path)) {
    auto existing = SqliteStore::openReadOnly(path);
    if (existing && *(*existing)->count() == count) {
      return path;
    }
    fs::remove(path);
  }
  StoreOptions options;
  options.fts_mode = mode;
  auto store = SqliteStore::open(path, options);
  if (!store) {
    std::fprintf(stderr, "journal_bench: %s\n", store.error().toString().c_str());
    std::abort();
  }
  EventGenerator gen;
  auto start = std::chrono::steady_clock::now();
  std::vector<Event> batch;
  for (std::size_t done = 0; done < count; done += batch.size()) {
    batch.clear();
    for (std::size_t i = 0; i < kBuildBatch && done + i < count; ++i) {
      batch.push_back(gen.next());
    }
    if (auto r = (*store)->insert(batch); !r) {
      std::fprintf(stderr, "journal_bench: %s\n", r.error().toString().c_str());
      std::abort();
    }
  }
  (void)(*store)->checkpoint();
  (void)(*store)->analyze();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "journal_bench: built %s: %zu events in %.1f s (%.0f events/s), %.0f MB\n",
               name.c_str(), count, secs, static_cast<double>(count) / secs,
               static_cast<double>(fs::file_size(path)) / 1e6);
  return path;
}

// --- append + flush --------------------------------------------------------------------------

double processCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Arg 0: events per iteration; arg 1: sinks (1 = SQLite, 2 = JSON Lines, 3 = both).
void BM_JournalAppendFlush(benchmark::State& state) {
  const auto per_iteration = static_cast<std::size_t>(state.range(0));
  const auto sinks = state.range(1);
  static int run = 0;
  std::string stem = benchDir().file("append_" + std::to_string(run++));
  JournalOptions options;
  if (sinks & 1) {
    options.sqlite_path = stem + ".db";
  }
  if (sinks & 2) {
    options.jsonl_path = stem + ".jsonl";
  }
  options.site = "Beijing";
  RealClock clock;
  auto journal = Journal::open(options, clock);
  if (!journal) {
    state.SkipWithError(journal.error().toString().c_str());
    return;
  }
  EventGenerator gen;
  std::vector<Event> events;
  for (std::size_t i = 0; i < per_iteration; ++i) {
    events.push_back(gen.next());
  }
  const double cpu_start = processCpuSeconds();
  for (auto _ : state) {
    for (const Event& e : events) {
      if (!(*journal)->append(e)) {
        state.SkipWithError("append dropped an event");
        return;
      }
    }
    if (auto r = (*journal)->flush(); !r) {
      state.SkipWithError(r.error().toString().c_str());
      return;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * per_iteration));
  state.counters["events_per_s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * per_iteration), benchmark::Counter::kIsRate);
  state.counters["batches"] = static_cast<double>((*journal)->stats().batches);
  // Events per CPU second of the whole process (caller + writer): the rate on an idle core,
  // independent of other load on the machine.
  double cpu = processCpuSeconds() - cpu_start;
  state.counters["events_per_cpu_s"] =
      cpu > 0 ? static_cast<double>(state.iterations() * per_iteration) / cpu : 0;
  journal->reset();
  std::error_code ec;
  for (const char* suffix : {".db", ".db-wal", ".db-shm", ".jsonl"}) {
    fs::remove(stem + suffix, ec);
  }
}
BENCHMARK(BM_JournalAppendFlush)
    ->ArgNames({"events", "sinks"})
    ->Args({10'000, 1})
    ->Args({10'000, 2})
    ->Args({10'000, 3})
    ->Args({100, 3})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The engine thread's cost: append() with the writer paused (no contention with writing).
void BM_JournalAppendOnly(benchmark::State& state) {
  JournalOptions options;
  options.jsonl_path = benchDir().file("append_only.jsonl");
  options.queue_capacity = 1 << 20;
  RealClock clock;
  auto journal = Journal::open(options, clock);
  if (!journal) {
    state.SkipWithError(journal.error().toString().c_str());
    return;
  }
  EventGenerator gen;
  const Event e = gen.next();
  std::size_t n = 0;
  (*journal)->pauseWriterForTest();
  for (auto _ : state) {
    if (++n == options.queue_capacity) {
      // Drain outside the timed region so that the queue never overflows.
      state.PauseTiming();
      (*journal)->resumeWriterForTest();
      (void)(*journal)->flush();
      (*journal)->pauseWriterForTest();
      n = 0;
      state.ResumeTiming();
    }
    benchmark::DoNotOptimize((*journal)->append(e));
  }
  state.SetItemsProcessed(state.iterations());
  journal->reset();
  fs::remove(options.jsonl_path);
}
BENCHMARK(BM_JournalAppendOnly);

// Serialising one event for the JSON Lines file (nlohmann, ordered keys).
void BM_ToJsonLine(benchmark::State& state) {
  EventGenerator gen;
  const Event e = gen.next();
  for (auto _ : state) {
    std::string line = toJsonLine(e);
    benchmark::DoNotOptimize(line.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ToJsonLine);

// --- search over 1M events -------------------------------------------------------------------

struct SearchCase {
  const char* name;
  const char* site;  // nullptr: no site/kind filter
  EventKind kind;
  const char* text;
  std::size_t limit;
  std::int64_t since_ms_before_end = 0;  // > 0: since = last event time - this
};

constexpr std::int64_t kDayMs = 86'400'000;

const SearchCase kCases[] = {
    // 0: the everyday question, a common word (1 event in 6 has it), limit 100
    {"site+kind+timeout", "Beijing", EventKind::PathDown, "timeout", 100},
    // 1: a rare token (one ticket number)
    {"site+kind+ticket", "Beijing", EventKind::PathDown, "T72803", 100},
    // 2: common word, every match (no limit)
    {"site+kind+timeout/all", "Beijing", EventKind::PathDown, "timeout", 0},
    // 3: text only, a word in 1 event of 3
    {"text/loss", nullptr, EventKind::PathDown, "loss", 100},
    // 4: a prefix search
    {"site+kind+time*", "Beijing", EventKind::PathDown, "time*", 100},
    // 5: no text, last day only
    {"site+kind+since1d", "Beijing", EventKind::PathDown, "", 100, kDayMs},
    // 6: text + last day
    {"site+timeout+since1d", "Beijing", EventKind::PathDown, "timeout", 100, kDayMs},
    // 7: worst case for a text-driven plan: a common word, a rare filter (few drains)
    {"site+rare-kind+timeout", "Mumbai", EventKind::Drain, "timeout", 100},
};
constexpr int kCaseCount = static_cast<int>(std::size(kCases));

// The time of the last generated event of a 1M store.
WallTime lastEventTime() { return fromUnixMillis(1'764'547'200'000 + (kMillion - 1) * 31'536); }

Query queryFor(const SearchCase& c) {
  Query q;
  if (c.site != nullptr) {
    q.site = c.site;
    q.kind = c.kind;
  }
  q.text = c.text;
  q.limit = c.limit;
  if (c.since_ms_before_end > 0) {
    q.since = lastEventTime() - std::chrono::milliseconds(c.since_ms_before_end);
  }
  return q;
}

// Arg 0: case index; arg 1: FtsMode (0 external content, 1 contentless).
void BM_StoreSearch1M(benchmark::State& state) {
  const SearchCase& c = kCases[state.range(0)];
  auto mode = state.range(1) == 0 ? FtsMode::ExternalContent : FtsMode::Contentless;
  std::string path = buildStore(mode, kMillion);
  auto store = SqliteStore::openReadOnly(path);
  if (!store) {
    state.SkipWithError(store.error().toString().c_str());
    return;
  }
  Query q = queryFor(c);
  std::size_t found = 0;
  for (auto _ : state) {
    auto r = (*store)->search(q);
    if (!r) {
      state.SkipWithError(r.error().toString().c_str());
      return;
    }
    found = r->size();
    benchmark::DoNotOptimize(r->data());
  }
  state.SetLabel(std::string(c.name) + (mode == FtsMode::Contentless ? " contentless" : ""));
  state.counters["found"] = static_cast<double>(found);
}
BENCHMARK(BM_StoreSearch1M)
    ->ArgNames({"case", "contentless"})
    ->ArgsProduct({benchmark::CreateDenseRange(0, kCaseCount - 1, 1), {0, 1}})
    ->Unit(benchmark::kMillisecond);

// The site + kind + text question in two SQL shapes, straight through sqlite3, returning seq:
// arg 1 = 0: full-text index outer, "events_fts CROSS JOIN events", rowid DESC (what the store
//            runs: stops at the limit);
// arg 1 = 1: "seq IN (SELECT rowid FROM events_fts WHERE ... MATCH)" (materialises every
//            match first).
// Arg 0: case index (cases with site and text only); arg 2: FtsMode.
void BM_RawSearch1M(benchmark::State& state) {
  const SearchCase& c = kCases[state.range(0)];
  if (c.site == nullptr || *c.text == 0 || c.since_ms_before_end > 0) {
    state.SkipWithError("raw variants need site, kind and text, no since");
    return;
  }
  const bool in_subquery = state.range(1) == 1;
  auto mode = state.range(2) == 0 ? FtsMode::ExternalContent : FtsMode::Contentless;
  std::string path = buildStore(mode, kMillion);
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  std::string sql =
      in_subquery
          ? "SELECT seq FROM events WHERE site = ?1 AND kind = ?2 AND seq IN "
            "(SELECT rowid FROM events_fts WHERE events_fts MATCH ?3) ORDER BY seq DESC"
          : "SELECT e.seq FROM events_fts CROSS JOIN events e ON e.seq = events_fts.rowid "
            "WHERE events_fts MATCH ?3 AND e.site = ?1 AND e.kind = ?2 "
            "ORDER BY events_fts.rowid DESC";
  if (c.limit > 0) {
    sql += " LIMIT " + std::to_string(c.limit);
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    state.SkipWithError(sqlite3_errmsg(db));
    sqlite3_close(db);
    return;
  }
  std::string match = ftsMatchExpression(c.text);
  std::string kind(eventKindName(c.kind));
  std::size_t found = 0;
  for (auto _ : state) {
    sqlite3_bind_text(stmt, 1, c.site, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, kind.c_str(), -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, match.c_str(), -1, SQLITE_STATIC);
    found = 0;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      ++found;
    }
    sqlite3_reset(stmt);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  state.SetLabel(std::string(c.name) + (in_subquery ? " in-subquery" : " fts-outer") +
                 (mode == FtsMode::Contentless ? " contentless" : ""));
  state.counters["found"] = static_cast<double>(found);
}
BENCHMARK(BM_RawSearch1M)
    ->ArgNames({"case", "in", "contentless"})
    ->ArgsProduct({{0, 1, 2, 4, 7}, {0, 1}, {0, 1}})
    ->Unit(benchmark::kMillisecond);

// Insert rate by FTS mode, straight into the store (no queue), 10k events per transaction.
void BM_StoreBuild(benchmark::State& state) {
  auto mode = state.range(0) == 0 ? FtsMode::ExternalContent : FtsMode::Contentless;
  static int run = 0;
  std::string path = benchDir().file("build_" + std::to_string(run++) + ".db");
  StoreOptions options;
  options.fts_mode = mode;
  auto store = SqliteStore::open(path, options);
  if (!store) {
    state.SkipWithError(store.error().toString().c_str());
    return;
  }
  EventGenerator gen;
  std::vector<Event> batch;
  for (auto _ : state) {
    state.PauseTiming();
    batch.clear();
    for (std::size_t i = 0; i < kBuildBatch; ++i) {
      batch.push_back(gen.next());
    }
    state.ResumeTiming();
    if (auto r = (*store)->insert(batch); !r) {
      state.SkipWithError(r.error().toString().c_str());
      return;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBuildBatch));
  state.SetLabel(mode == FtsMode::Contentless ? "contentless" : "external content");
  store->reset();
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    fs::remove(path + suffix, ec);
  }
}
BENCHMARK(BM_StoreBuild)->ArgName("contentless")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace pathpilot::journal

BENCHMARK_MAIN();
