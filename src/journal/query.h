// journal/query.h — what a search of the journal asks for.
//
// Purpose: one value type shared by the SQLite store, the in-memory fake, the CLI
// (`pathpilot events`) and the HTTP API, so that every front end filters the same way.
//
// Semantics (all set filters must hold; unset ones do not filter):
//   site, path, route_table   exact, case-sensitive match of the field
//   link, kind                exact match
//   min_severity              severity >= min_severity (info < warning < critical)
//   since / until             since <= time < until (millisecond precision)
//   after_seq / before_seq    after_seq < seq < before_seq (paging and "what is new")
//   text                      free text over `message` and `reason`, see below
//   limit                     at most this many events (0 = no limit), newest first: ordered
//                             by time descending, ties by seq descending
//
// Free text (the CLI's --grep): the text is split into words at white space; a part in double
// quotes is one word even if it has spaces ("link down"). An event matches when EVERY word
// occurs in its message or its reason. A word matches as a case-insensitive sequence of
// tokens (tokens are runs of letters and digits; punctuation separates them), and its last
// token matches as a prefix: "time" finds "timeout", "10.10.3" finds "10.10.3.100",
// "i-0e14" finds "i-0e1466e8a5dd4892c", "北京" finds "北京链路中断". Nothing in the text is
// an operator: quotes, *, OR, AND, NOT, NEAR, ^, :, parentheses are just text, so pasting an
// error message never breaks the query. Words without letters or digits are ignored, but a
// text that has words and none with a letter or digit ("***") matches nothing; an empty or
// all-blank text does not filter.
// Matching does not find a word in the middle of a token ("466e8" does not find
// "i-0e1466e8a5dd4892c").
//
// Threading: value types.
// Metrics: none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/time.h"
#include "journal/event.h"

namespace pathpilot::journal {

struct Query {
  std::optional<std::string> site;
  std::optional<std::string> path;
  std::optional<Link> link;
  std::optional<EventKind> kind;
  std::optional<std::string> route_table;
  std::optional<Severity> min_severity;
  std::optional<WallTime> since;  // inclusive
  std::optional<WallTime> until;  // exclusive
  std::optional<std::uint64_t> after_seq;   // exclusive
  std::optional<std::uint64_t> before_seq;  // exclusive
  std::string text;                         // free text; empty = no text filter
  std::size_t limit = 100;                  // 0 = no limit
};

// Turns free text (see above) into an SQLite FTS5 MATCH expression in which every word is a
// quoted string with a prefix star, e.g. `timeout "a b` → `"timeout"* "a b"*`. Quotes inside
// the input never reach the expression unescaped, control characters become spaces. Returns
// "" when the text has no words.
std::string ftsMatchExpression(std::string_view text);

// True when `event` satisfies every filter of `query` except `limit` (the in-memory version
// of the SQL the store runs; used by MemoryEventLog). The text filter follows the rules
// above for ASCII; non-ASCII bytes are compared exactly (no case folding).
bool matches(const Query& query, const Event& event);

}  // namespace pathpilot::journal
