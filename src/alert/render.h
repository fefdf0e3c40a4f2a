// alert/render.h — alerts as text people read on a phone, and which channels get them.
//
// Purpose:
//   - render(): an Alert + the channel's templates (config/message_template.h) → title and
//     body. The built-in defaults put the verdict in a short first line
//     ("[FIRING] Beijing: dx down, 20 route tables moved dx → vpn-a"), then the facts one per
//     line, empty ones left out: site, path, what moved where, route tables, measured
//     loss/RTT, times, and the grouped events.
//   - Router: alerts.routes (severity, site, link, event kind) → channel names.
// Threading: pure. Metrics: none.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "alert/alert.h"
#include "config/config.h"
#include "config/message_template.h"

namespace pathpilot::alert {

// The value of one template field for `alert` (see config::templateFields()).
std::string fieldValue(const Alert& alert, std::string_view field);

// The generated one-line summary ("dx down: 20 route tables moved dx → vpn-a").
std::string summarize(const Alert& alert);

// Parsed templates of one channel: its own, else the global ones, else the defaults (empty).
struct ChannelTemplates {
  config::MessageTemplate title;
  config::MessageTemplate body;
};

// Parses the channel's effective templates. Errors: InvalidArgument naming the key (the config
// loader already rejects bad templates; this is for configs built in code).
[[nodiscard]] Result<ChannelTemplates> compileTemplates(const config::AlertTemplates& global,
                                                        const config::AlertTemplates& channel);

// Substitutes the fields of `alert` into `tmpl`.
std::string renderTemplate(const config::MessageTemplate& tmpl, const Alert& alert);

// Title and body for one channel. An empty template uses the built-in default.
void renderInto(const Alert& alert, const ChannelTemplates& templates, Notification& out);

// Builds the Notification for `channel` (everything but created_at).
Notification makeNotification(const Alert& alert, const ChannelTemplates& templates,
                              const std::string& channel);

// Titles are one line: line breaks and control characters become spaces, and the text is
// cut at a UTF-8 boundary to at most `max_bytes` (with "…").
std::string oneLine(std::string_view text, std::size_t max_bytes = 200);

class Router {
 public:
  // Requires: every route names channels that exist in `settings` (the loader checks).
  explicit Router(const config::AlertSettings& settings);

  // The channels `alert` goes to, in config order, without duplicates.
  std::vector<std::string> channelsFor(const Alert& alert) const;

 private:
  std::vector<config::AlertRoute> routes_;
};

}  // namespace pathpilot::alert
