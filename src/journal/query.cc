#include "journal/query.h"

#include <utility>
#include <vector>

namespace pathpilot::journal {
namespace {

struct Word {
  std::string text;
  bool prefix = false;  // the last token matches as a prefix (the user wrote a trailing *)
};

// Splits free text into words: white space separates words, a double quote opens or closes a
// quoted word (which may contain spaces). An unterminated quote runs to the end. Control
// characters count as white space. A trailing * on an unquoted word, or a * right after a
// closing quote, marks the word as a prefix; any other * is an ordinary character. Empty
// words are dropped.
std::vector<Word> splitWords(std::string_view text) {
  std::vector<Word> words;
  Word current;
  bool quoted = false;
  bool just_closed = false;  // the previous character closed a quoted word
  auto finish = [&](bool was_quoted) -> bool {
    if (!was_quoted) {
      // "time*" → prefix "time"; "*" alone stays a (token-less) word.
      std::size_t end = current.text.find_last_not_of('*');
      if (end != std::string::npos && end + 1 < current.text.size()) {
        current.text.resize(end + 1);
        current.prefix = true;
      }
    }
    bool pushed = !current.text.empty();
    if (pushed) {
      words.push_back(std::move(current));
    }
    current = Word{};
    return pushed;
  };
  for (char raw : text) {
    auto c = static_cast<unsigned char>(raw);
    bool closed_before = std::exchange(just_closed, false);
    if (c == '"') {
      bool pushed = finish(quoted);
      just_closed = quoted && pushed;
      quoted = !quoted;
    } else if (c < 0x20 || c == 0x7f || (c == ' ' && !quoted)) {
      if (quoted) {
        current.text += ' ';
      } else {
        (void)finish(false);
      }
    } else if (c == '*' && closed_before) {
      words.back().prefix = true;
    } else {
      current.text += raw;
    }
  }
  (void)finish(quoted);
  return words;
}

// FTS5's unicode61 tokenizer keeps letters and digits; for ASCII that is [A-Za-z0-9]. Bytes of
// multi-byte UTF-8 sequences are treated as token characters here (good enough for the fake;
// the real store lets SQLite decide).
bool isTokenByte(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

std::vector<std::string> tokenize(std::string_view text) {
  std::vector<std::string> tokens;
  std::string current;
  for (char raw : text) {
    auto c = static_cast<unsigned char>(raw);
    if (isTokenByte(c)) {
      current += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : raw;
    } else if (!current.empty()) {
      tokens.push_back(std::move(current));
      current.clear();
    }
  }
  if (!current.empty()) {
    tokens.push_back(std::move(current));
  }
  return tokens;
}

// True when `word` (already tokenized) occurs in `field` as consecutive tokens, the last one as
// a prefix if `prefix`.
bool fieldHasPhrase(const std::vector<std::string>& field, const std::vector<std::string>& word,
                    bool prefix) {
  if (word.empty() || word.size() > field.size()) {
    return false;
  }
  for (std::size_t start = 0; start + word.size() <= field.size(); ++start) {
    bool all = true;
    for (std::size_t i = 0; i < word.size() && all; ++i) {
      const std::string& have = field[start + i];
      const std::string& want = word[i];
      all = (prefix && i + 1 == word.size()) ? have.compare(0, want.size(), want) == 0
                                             : have == want;
    }
    if (all) {
      return true;
    }
  }
  return false;
}

bool textMatches(std::string_view text, const Event& event) {
  std::vector<Word> words = splitWords(text);
  if (words.empty()) {
    return true;
  }
  std::vector<std::string> message = tokenize(event.message);
  std::vector<std::string> reason = tokenize(event.reason);
  bool any_word_with_tokens = false;
  for (const Word& w : words) {
    std::vector<std::string> tokens = tokenize(w.text);
    if (tokens.empty()) {
      continue;  // FTS5 ignores a phrase without tokens inside an AND
    }
    any_word_with_tokens = true;
    if (!fieldHasPhrase(message, tokens, w.prefix) && !fieldHasPhrase(reason, tokens, w.prefix)) {
      return false;
    }
  }
  return any_word_with_tokens;
}

}  // namespace

std::string ftsMatchExpression(std::string_view text) {
  std::string out;
  for (const Word& word : splitWords(text)) {
    if (!out.empty()) {
      out += ' ';
    }
    // An FTS5 string: double quotes around, a quote inside written twice (splitWords already
    // consumed quotes, this is defence in depth). A trailing * makes the last token a prefix.
    out += '"';
    for (char c : word.text) {
      if (c == '"') {
        out += '"';
      }
      out += c;
    }
    out += '"';
    if (word.prefix) {
      out += '*';
    }
  }
  return out;
}

bool matches(const Query& query, const Event& event) {
  if (query.site && event.site != *query.site) {
    return false;
  }
  if (query.path && event.path != *query.path) {
    return false;
  }
  if (query.link && event.link != *query.link) {
    return false;
  }
  if (query.kind && event.kind != *query.kind) {
    return false;
  }
  if (query.route_table && event.route_table != *query.route_table) {
    return false;
  }
  if (query.min_severity && event.severity < *query.min_severity) {
    return false;
  }
  std::int64_t ms = toUnixMillis(event.time);
  if (query.since && ms < toUnixMillis(*query.since)) {
    return false;
  }
  if (query.until && ms >= toUnixMillis(*query.until)) {
    return false;
  }
  if (query.after_seq && event.seq <= *query.after_seq) {
    return false;
  }
  if (query.before_seq && event.seq >= *query.before_seq) {
    return false;
  }
  return textMatches(query.text, event);
}

}  // namespace pathpilot::journal
