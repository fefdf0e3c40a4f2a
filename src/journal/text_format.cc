#include "journal/text_format.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

namespace pathpilot::journal {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

// Decodes one UTF-8 sequence at `text[i]`, advancing `i`. Invalid or overlong sequences and
// surrogates yield U+FFFD and consume one byte, so decoding always makes progress.
char32_t decodeOne(std::string_view text, std::size_t& i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char b0 = byte(i);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  std::size_t len = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    ++i;
    return kReplacement;
  }
  if (i + len > text.size()) {
    ++i;
    return kReplacement;
  }
  for (std::size_t k = 1; k < len; ++k) {
    unsigned char b = byte(i + k);
    if ((b & 0xC0) != 0x80) {
      ++i;
      return kReplacement;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++i;
    return kReplacement;
  }
  i += len;
  return cp;
}

void appendUtf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool isControl(char32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

// East Asian Wide and Fullwidth blocks (Unicode UAX #11), enough for CJK site names and
// messages; combining marks are not special-cased.
bool isWide(char32_t cp) {
  struct Range {
    char32_t lo, hi;
  };
  static constexpr std::array<Range, 10> kWide = {{
      {0x1100, 0x115F},    // Hangul Jamo
      {0x2E80, 0x303E},    // CJK radicals, punctuation
      {0x3041, 0x33FF},    // Hiragana, Katakana, CJK symbols
      {0x3400, 0x4DBF},    // CJK Extension A
      {0x4E00, 0x9FFF},    // CJK Unified Ideographs
      {0xA000, 0xA4CF},    // Yi
      {0xAC00, 0xD7A3},    // Hangul syllables
      {0xF900, 0xFAFF},    // CJK compatibility ideographs
      {0xFF00, 0xFF60},    // Fullwidth forms
      {0x20000, 0x3FFFD},  // CJK Extensions B and beyond
  }};
  for (const Range& r : kWide) {
    if (cp >= r.lo && cp <= r.hi) {
      return true;
    }
  }
  return (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFFE0 && cp <= 0xFFE6) ||
         (cp >= 0x1F300 && cp <= 0x1F64F) || (cp >= 0x1F900 && cp <= 0x1F9FF);
}

std::string orDash(std::string_view s) { return s.empty() ? "-" : sanitizeForTerminal(s); }

}  // namespace

std::string sanitizeForTerminal(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    char32_t cp = decodeOne(text, i);
    appendUtf8(out, isControl(cp) ? U' ' : cp);
  }
  return out;
}

std::size_t displayWidth(std::string_view text) {
  std::size_t width = 0;
  for (std::size_t i = 0; i < text.size();) {
    width += isWide(decodeOne(text, i)) ? 2 : 1;
  }
  return width;
}

// Two passes: render every cell (sanitised) and measure, then pad. The last column is not
// padded, so long messages do not push trailing blanks.
std::string formatEventTable(std::span<const Event> events) {
  if (events.empty()) {
    return "";
  }
  constexpr std::size_t kColumns = 8;
  using Row = std::array<std::string, kColumns>;
  std::vector<Row> rows;
  rows.reserve(events.size() + 1);
  rows.push_back({"TIME", "SEVERITY", "SITE", "KIND", "PATH", "TABLE", "FROM→TO", "MESSAGE"});
  for (const Event& e : events) {
    std::string from_to = "-";
    if (!e.from.empty() || !e.to.empty()) {
      from_to = orDash(e.from) + "→" + orDash(e.to);
    }
    std::string message = sanitizeForTerminal(e.message);
    if (!e.reason.empty()) {
      message += (message.empty() ? "(" : " (") + sanitizeForTerminal(e.reason) + ")";
    }
    rows.push_back({formatRfc3339(e.time), std::string(severityName(e.severity)), orDash(e.site),
                    std::string(eventKindName(e.kind)), orDash(e.path), orDash(e.route_table),
                    from_to, message.empty() ? "-" : message});
  }
  std::array<std::size_t, kColumns> widths{};
  for (const Row& row : rows) {
    for (std::size_t c = 0; c + 1 < kColumns; ++c) {
      widths[c] = std::max(widths[c], displayWidth(row[c]));
    }
  }
  std::string out;
  for (const Row& row : rows) {
    for (std::size_t c = 0; c < kColumns; ++c) {
      out += row[c];
      if (c + 1 < kColumns) {
        out.append(widths[c] - displayWidth(row[c]) + 2, ' ');
      }
    }
    out += '\n';
  }
  return out;
}

// Durations first: they are what people type ("--since 1h"). Anything shaped like a date gets
// the RFC 3339 parser's precise complaint; anything else the general one.
Result<WallTime> parseTimeArgument(std::string_view text, WallTime now) {
  if (auto ago = parseDuration(text)) {
    return now - std::chrono::duration_cast<WallTime::duration>(*ago);
  }
  if (auto at = parseRfc3339(text)) {
    return *at;
  } else if (text.size() > 4 && text[4] == '-') {
    // It looks like a date: say what is wrong with it.
    return fail(ErrorCode::InvalidArgument,
                at.error().message() + " (expected an RFC 3339 time such as " +
                    "2026-11-25T12:00:00Z, or a duration before now such as 1h)");
  }
  return fail(ErrorCode::InvalidArgument,
              "invalid time \"" + std::string(text) +
                  "\": expected a duration before now (e.g. 90s, 15m, 1h, 7d) or an RFC 3339 "
                  "time (e.g. 2026-11-25T12:00:00Z)");
}

}  // namespace pathpilot::journal
