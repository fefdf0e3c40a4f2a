// Fuzz target for the journal's text inputs: any byte string
//   - as a JSON line: parses to an Event or to an error, never a crash or an exception; a
//     parsed event serialises and parses back to the same fields;
//   - as --grep text: becomes an FTS5 expression that SQLite always accepts (no syntax error,
//     whatever quotes, operators or bytes the text holds), and the in-memory matcher agrees
//     not to crash on it;
//   - as event text: renders as one terminal line without control characters;
//   - as a --since argument: parses or fails cleanly.
// Under the fuzz preset this is a libFuzzer binary; under GCC the replay main runs the seed
// corpus in ctest (label fuzz).
#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "journal/event.h"
#include "journal/query.h"
#include "journal/text_format.h"

using namespace pathpilot::journal;
using pathpilot::WallTime;

namespace {

// An in-memory FTS5 table shaped like the journal's, created once.
sqlite3_stmt* matchStatement() {
  static sqlite3_stmt* stmt = [] {
    sqlite3* db = nullptr;
    sqlite3_open(":memory:", &db);
    sqlite3_exec(db,
                 "CREATE VIRTUAL TABLE f USING fts5(message, reason, tokenize='unicode61');"
                 "INSERT INTO f VALUES('DX path down', 'loss 100% over 10 probes');"
                 "INSERT INTO f VALUES('rtb-468f5222 moved to vpn-a', 'probe error: timeout');"
                 "INSERT INTO f VALUES('北京 专线 中断', 'ünïcode \"quoted\" OR NOT');",
                 nullptr, nullptr, nullptr);
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM f WHERE f MATCH ?1", -1, &s, nullptr);
    return s;
  }();
  return stmt;
}

void check(bool ok) {
  if (!ok) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto event = parseJsonLine(text)) {
    auto again = parseJsonLine(toJsonLine(*event));
    check(again.has_value());
    Event a = *event;
    Event b = *again;
    a.time = b.time = WallTime{};  // serialised with ms precision; compared separately
    check(a == b);
    check(truncateToMillis(event->time) == again->time);
  }

  std::string expression = ftsMatchExpression(text);
  if (!expression.empty()) {
    sqlite3_stmt* stmt = matchStatement();
    sqlite3_bind_text(stmt, 1, expression.data(), static_cast<int>(expression.size()),
                      SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    check(rc == SQLITE_ROW);  // never "fts5: syntax error"
  }
  Query q;
  q.text = std::string(text);
  Event sample = makeEvent(EventKind::PathDown, WallTime{}, "Beijing");
  sample.message = "DX path down";
  (void)matches(q, sample);

  Event shown = sample;
  shown.message = std::string(text);
  shown.site = std::string(text.substr(0, 16));
  Event list[] = {shown};
  std::string table = formatEventTable(list);
  std::size_t newlines = 0;
  for (char c : table) {
    auto u = static_cast<unsigned char>(c);
    newlines += c == '\n' ? 1 : 0;
    check(c == '\n' || u >= 0x20);
    check(u != 0x7f);
  }
  check(newlines == 2);  // the header and the one event

  (void)parseTimeArgument(text, WallTime{});
  return 0;
}
