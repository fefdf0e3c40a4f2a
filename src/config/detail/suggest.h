// config/detail/suggest.h — "did you mean ...?" for misspelt keys and names.
//
// Purpose: a config with `intervall:` or `kind: vnp` should get an answer, not just "unknown".
// Uses the optimal-string-alignment distance (Levenshtein plus adjacent transpositions), case
// folded, so "intreval", "Interval" and "interva" all find "interval".
// Module-private: only config/ includes it.
// Threading: pure functions.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pathpilot::config::detail {

// Edit distance between `a` and `b` (ASCII case folded). Inputs longer than 64 bytes are
// compared only for equality (returns 0 or a large number) to keep hostile input cheap.
std::size_t editDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` if it is close enough to be a plausible typo: distance at
// most 1 for short words, up to a third of the length for longer ones. Ties: first candidate.
std::optional<std::string> closestMatch(std::string_view word,
                                        const std::vector<std::string_view>& candidates);

// " (did you mean 'x'?)" or "" — ready to append to a message.
std::string didYouMean(std::string_view word, const std::vector<std::string_view>& candidates);

// "a, b or c" — for "expected one of" messages.
std::string joinAlternatives(const std::vector<std::string_view>& words);

}  // namespace pathpilot::config::detail
