#include "metrics/exposition.h"

#include <charconv>
#include <cmath>

#include "base/check.h"

namespace pathpilot::metrics {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is invalid (overlong forms,
// surrogates and code points above U+10FFFF are invalid, as in RFC 3629 §4).
std::size_t utf8SequenceLength(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  std::size_t n = 0;
  // Only the second byte's range depends on the lead byte (the table of RFC 3629 §4): narrowing
  // it rejects overlong forms (E0, F0), surrogates (ED) and code points above U+10FFFF (F4).
  // C0, C1 and F5..FF never lead a valid sequence.
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c == 0xE0) {
    n = 3;
    lo = 0xA0;
  } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
    n = 3;
  } else if (c == 0xED) {
    n = 3;
    hi = 0x9F;  // no surrogates
  } else if (c == 0xF0) {
    n = 4;
    lo = 0x90;
  } else if (c >= 0xF1 && c <= 0xF3) {
    n = 4;
  } else if (c == 0xF4) {
    n = 4;
    hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) {
    return 0;
  }
  unsigned char second = byte(i + 1);
  if (second < lo || second > hi) {
    return 0;
  }
  for (std::size_t k = 2; k < n; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) {
      return 0;
    }
  }
  return n;
}

// Appends `text`, escaping backslash and newline always and double quotes when asked,
// replacing invalid UTF-8 with U+FFFD.
void appendEscaped(std::string& out, std::string_view text, bool quotes) {
  // Fast path: most values (path names, prefixes, route table ids) need no escaping at all.
  bool plain = true;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x80 || c == '\\' || c == '\n' || (quotes && c == '"')) {
      plain = false;
      break;
    }
  }
  if (plain) {
    out.append(text);
    return;
  }
  std::size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    auto u = static_cast<unsigned char>(c);
    if (u < 0x80) {
      if (c == '\\') {
        out += "\\\\";
      } else if (c == '\n') {
        out += "\\n";
      } else if (c == '"' && quotes) {
        out += "\\\"";
      } else {
        out += c;
      }
      ++i;
      continue;
    }
    std::size_t n = utf8SequenceLength(text, i);
    if (n == 0) {
      // One U+FFFD per invalid byte, resuming at the next byte: a valid sequence right after a
      // stray byte is kept.
      out += kReplacement;
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
}

}  // namespace

std::string_view metricTypeName(MetricType type) {
  switch (type) {
    case MetricType::Counter:
      return "counter";
    case MetricType::Gauge:
      return "gauge";
    case MetricType::Histogram:
      return "histogram";
    case MetricType::Untyped:
      return "untyped";
  }
  return "untyped";
}

bool isValidMetricName(std::string_view name) {
  if (name.empty()) {
    return false;
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = isAlpha(c) || c == '_' || c == ':' || (i > 0 && isDigit(c));
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool isValidLabelName(std::string_view name) {
  if (name.empty() || name.substr(0, 2) == "__") {
    return false;
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = isAlpha(c) || c == '_' || (i > 0 && isDigit(c));
    if (!ok) {
      return false;
    }
  }
  return true;
}

void appendEscapedLabelValue(std::string& out, std::string_view value) {
  appendEscaped(out, value, /*quotes=*/true);
}

void appendEscapedHelp(std::string& out, std::string_view text) {
  appendEscaped(out, text, /*quotes=*/false);
}

void appendValue(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    // The shortest representation that reads back to the same double, e.g. 0.1, 1e-05,
    // 12345678.9; Prometheus parses it with Go's ParseFloat.
    // The longest such form takes 24 characters ("-2.2250738585072014e-308"), so to_chars does
    // not fail with this buffer.
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
    out.append(buf, ec == std::errc() ? end : buf);
  }
}

void appendValue(std::string& out, std::uint64_t value) {
  // At most 20 digits (2^64 - 1), so to_chars does not fail with this buffer.
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, ec == std::errc() ? end : buf);
}

void ExpositionWriter::family(std::string_view name, MetricType type, std::string_view help) {
  PP_CHECK_MSG(isValidMetricName(name), "invalid metric name");
  PP_CHECK_MSG(seen_.find(name) == seen_.end(), "metric family written twice");
  seen_.emplace(name);
  current_.assign(name);
  current_type_ = type;
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  appendEscapedHelp(out_, help);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += metricTypeName(type);
  out_ += '\n';
}

void ExpositionWriter::writeSeries(std::string_view suffix, std::span<const Label> labels,
                                   const Label* extra) {
  out_ += current_;
  out_ += suffix;
  if (!labels.empty() || extra != nullptr) {
    out_ += '{';
    bool first = true;
    auto put = [&](const Label& l) {
      PP_CHECK_MSG(isValidLabelName(l.name), "invalid label name");
      if (!first) {
        out_ += ',';
      }
      first = false;
      out_ += l.name;
      out_ += "=\"";
      appendEscapedLabelValue(out_, l.value);
      out_ += '"';
    };
    for (const Label& l : labels) {
      put(l);
    }
    if (extra != nullptr) {
      put(*extra);
    }
    out_ += '}';
  }
  out_ += ' ';
}

void ExpositionWriter::sample(std::span<const Label> labels, double value) {
  PP_CHECK(!current_.empty() && current_type_ != MetricType::Histogram);
  writeSeries("", labels, nullptr);
  appendValue(out_, value);
  out_ += '\n';
}

void ExpositionWriter::sample(std::span<const Label> labels, std::uint64_t value) {
  PP_CHECK(!current_.empty() && current_type_ != MetricType::Histogram);
  writeSeries("", labels, nullptr);
  appendValue(out_, value);
  out_ += '\n';
}

void ExpositionWriter::histogram(std::span<const Label> labels, const Histogram& h) {
  PP_CHECK(current_type_ == MetricType::Histogram);
  std::uint64_t cumulative = 0;
  auto bounds = h.bounds();
  const auto& counts = h.counts();
  // Thousands of histograms share one set of bounds: format them once.
  // The bounds live in static storage (histogram.h), so their address identifies them.
  if (bounds.data() != le_bounds_ || bounds.size() != le_text_.size()) {
    le_bounds_ = bounds.data();
    le_text_.clear();
    for (double b : bounds) {
      le_text_.emplace_back();
      appendValue(le_text_.back(), b);
    }
  }
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    cumulative += counts[i];
    Label extra{"le", le_text_[i]};
    writeSeries("_bucket", labels, &extra);
    appendValue(out_, cumulative);
    out_ += '\n';
  }
  // counts() has one more entry, the +Inf bucket; writing count() itself keeps le="+Inf" equal
  // to `_count` by construction.
  Label inf{"le", "+Inf"};
  writeSeries("_bucket", labels, &inf);
  appendValue(out_, h.count());
  out_ += '\n';
  writeSeries("_sum", labels, nullptr);
  appendValue(out_, h.sum());
  out_ += '\n';
  writeSeries("_count", labels, nullptr);
  appendValue(out_, h.count());
  out_ += '\n';
}

}  // namespace pathpilot::metrics
