// config/message_template.h — the small template language of alert messages.
//
// Purpose: operators shape alert titles and bodies in the config file
// (`alerts.templates.title: "[{status}] {site} {path}: {summary}"`). This header owns the
// language and its field names, so that `pathpilot check` rejects a template that names an
// unknown field at load time (naming the field and the key), instead of the daemon sending
// "{sumary}" to a phone at 3 a.m. The alert module renders parsed templates with the values
// of one alert (alert/render.h).
//
// Syntax: literal text with `{field}` placeholders; `{{` and `}}` are literal braces. A field
// name is [a-z_]+ and must be one of kTemplateFields. Nothing else (no conditionals, no
// filters): boring beats clever.
//
// Threading: pure functions on values. Metrics: none.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace pathpilot::config {

// Every field a template may name, with what it expands to (also used for help texts):
//   status        FIRING or RESOLVED
//   severity      info, warning, critical
//   site          the site name (Beijing)
//   kind          the event kind that opened the incident (path_down, fail_static, ...)
//   path          the path concerned (dx, vpn-a), may be empty
//   link          dx or vpn, may be empty
//   from, to      what moved: previous and new path / next hop / state
//   reason        measured loss/RTT or the error that caused it
//   message       the opening event's own sentence
//   route_tables  the route tables affected, e.g. "rtb-1, rtb-2 (+18 more)"
//   tables_count  how many route tables were affected
//   destinations  the destinations affected, e.g. "10.10.0.0/16"
//   count         how many events this alert groups
//   time          when this alert was raised (RFC 3339, UTC)
//   started       when the incident started (RFC 3339, UTC)
//   duration      how long the incident lasted (for RESOLVED), e.g. "3m12s"
//   summary       a short generated sentence ("DX down: 20 route tables moved dx → vpn-a")
//   details       one line per grouped event (time, kind, table, from → to, reason)
const std::vector<std::string_view>& templateFields();

// One piece of a parsed template: literal text, or a field to substitute.
struct TemplatePart {
  bool is_field = false;
  std::string text;  // literal text, or the field name

  friend bool operator==(const TemplatePart&, const TemplatePart&) = default;
};

struct MessageTemplate {
  std::string source;  // as written
  std::vector<TemplatePart> parts;

  bool empty() const { return parts.empty(); }
  // Whether the template names `field`.
  bool uses(std::string_view field) const;
};

// Parses `text`. Errors (InvalidArgument): an unknown field ("unknown field {sumary} (did you
// mean {summary}?)"), an unclosed '{', a stray '}', an empty or malformed field name.
[[nodiscard]] Result<MessageTemplate> parseTemplate(std::string_view text);

}  // namespace pathpilot::config
