#include "config/detail/suggest.h"

#include <algorithm>
#include <array>
#include <limits>

namespace pathpilot::config::detail {
namespace {

constexpr std::size_t kMaxCompared = 64;

char fold(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

std::size_t editDistance(std::string_view a, std::string_view b) {
  if (a.size() > kMaxCompared || b.size() > kMaxCompared) {
    return a == b ? 0 : std::numeric_limits<std::size_t>::max() / 2;
  }
  // Three rolling rows of the optimal-string-alignment matrix, rotated by pointer.
  std::array<std::array<std::size_t, kMaxCompared + 1>, 3> rows{};
  std::size_t* before = rows[0].data();
  std::size_t* previous = rows[1].data();
  std::size_t* current = rows[2].data();
  for (std::size_t j = 0; j <= b.size(); ++j) {
    previous[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t cost = fold(a[i - 1]) == fold(b[j - 1]) ? 0 : 1;
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && fold(a[i - 1]) == fold(b[j - 2]) && fold(a[i - 2]) == fold(b[j - 1])) {
        current[j] = std::min(current[j], before[j - 2] + 1);
      }
    }
    std::size_t* recycled = before;
    before = previous;
    previous = current;
    current = recycled;
  }
  return previous[b.size()];
}

std::optional<std::string> closestMatch(std::string_view word,
                                        const std::vector<std::string_view>& candidates) {
  std::size_t limit = std::max<std::size_t>(1, word.size() / 3);
  std::optional<std::string> best;
  std::size_t best_distance = limit + 1;
  for (std::string_view candidate : candidates) {
    // The distance is at least the difference in length: skip the matrix when that is
    // already too far (most unknown keys in a hostile file).
    std::size_t gap = word.size() > candidate.size() ? word.size() - candidate.size()
                                                     : candidate.size() - word.size();
    if (gap > limit) {
      continue;
    }
    std::size_t d = editDistance(word, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = std::string(candidate);
    }
  }
  return best;
}

std::string didYouMean(std::string_view word, const std::vector<std::string_view>& candidates) {
  auto match = closestMatch(word, candidates);
  return match ? " (did you mean '" + *match + "'?)" : std::string();
}

std::string joinAlternatives(const std::vector<std::string_view>& words) {
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) {
      out += i + 1 == words.size() ? " or " : ", ";
    }
    out += words[i];
  }
  return out;
}

}  // namespace pathpilot::config::detail
