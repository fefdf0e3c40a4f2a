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
//   limit                     at most this many events (0 = no limit)
// Order: newest first, meaning highest seq first: the order in which the journal recorded the
// events. Event times normally follow the same order; when they do not (a wall-clock step
// back, two threads racing to append) the journal order wins, as in journalctl.
//
// Free text (the CLI's --grep): the text is split into words at white space; a part in double
// quotes is one word even if it has spaces ("link down"). An event matches when EVERY word
// occurs in its message or its reason. A word matches as a case-insensitive sequence of whole
// tokens (tokens are runs of letters and digits; punctuation separates them, Unicode letters
// are case- and accent-folded), so "timeout" finds "probe error: timeout", "10.10.3" finds
// "10.10.3.100" (the tokens 10, 10, 3 in a row), "北京" finds "北京 专线" but not "北京专线"
// (a run of CJK characters is one token). A `*` right after a word makes its last token a
// prefix: "time*" finds "timeout", "i-0e14*" finds "i-0e1466e8a5dd4892c" (prefix searches
// of very short prefixes are slow on big journals). Nothing else in the text is an operator:
// quotes, OR, AND, NOT, NEAR, ^, :, parentheses are plain text, so pasting an error message
// never breaks the query. Words without letters or digits are ignored, but a text that has
// words and none with a letter or digit ("***") matches nothing; an empty or all-blank text
// does not filter.
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
// quoted string, followed by * for prefix words: `timeout i-0e14* "a b` →
// `"timeout" "i-0e14"* "a b"`. Quotes inside the input never reach the expression unescaped,
// control characters become spaces. Returns "" when the text has no words.
std::string ftsMatchExpression(std::string_view text);

// True when `event` satisfies every filter of `query` except `limit` (the in-memory version
// of the SQL the store runs; used by MemoryEventLog). The text filter follows the rules
// above for ASCII; non-ASCII bytes are compared exactly (no case folding).
bool matches(const Query& query, const Event& event);

}  // namespace pathpilot::journal
