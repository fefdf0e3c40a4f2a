// journal/text_format.h — events for people: aligned text lines and time arguments.
//
// Purpose: what `pathpilot events` prints without --json, and how it reads --since/--until.
// Kept here (not in cli/) so that the API's text endpoints and tests share it.
//
// Line format, columns aligned across one call (two spaces between columns):
//   TIME                      SEVERITY  SITE     KIND           PATH   TABLE         FROM→TO         MESSAGE
//   2026-11-25T12:52:52.123Z  critical  Beijing  path_down      dx     -             -               DX path down (loss 100% over 10 probes)
//   2026-11-25T12:52:53.456Z  info      Beijing  route_changed  vpn-a  rtb-468f5222  dx→vpn-a        rtb-468f5222 10.10.0.0/16 moved
// Empty fields print as "-"; the reason, when there is one, follows the message in
// parentheses. Control characters in any field (newlines, escape sequences from a command's
// output) are shown as spaces so that one event is always one line and a terminal cannot be
// driven by event text. Widths count East Asian wide characters (e.g. 北京) as two columns.
//
// Threading: pure functions.
// Metrics: none.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/time.h"
#include "journal/event.h"

namespace pathpilot::journal {

// The header and one line per event, each ending in '\n'. Empty `events` gives "".
std::string formatEventTable(std::span<const Event> events);

// `text` with every control character (C0, DEL, C1) replaced by a space and invalid UTF-8
// replaced by U+FFFD.
std::string sanitizeForTerminal(std::string_view text);

// Columns a terminal uses to show UTF-8 `text` (wide East Asian characters count 2).
std::size_t displayWidth(std::string_view text);

// Reads a --since/--until argument: either a duration meaning "that long before `now`"
// ("90s", "15m", "1h", "7d", "1h30m") or an RFC 3339 time ("2026-11-25T12:00:00Z",
// "2026-11-25T20:00:00+08:00"). Errors: InvalidArgument naming the text and both forms.
[[nodiscard]] Result<WallTime> parseTimeArgument(std::string_view text, WallTime now);

}  // namespace pathpilot::journal
