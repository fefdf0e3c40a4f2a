#include "alert/alert.h"

#include <nlohmann/json.hpp>

namespace pathpilot::alert {

std::string_view alertStatusLabel(AlertStatus s) {
  return s == AlertStatus::Firing ? "FIRING" : "RESOLVED";
}

nlohmann::json toJson(const Notification& n) {
  nlohmann::json j;
  j["channel"] = n.channel;
  j["fingerprint"] = n.fingerprint;
  j["status"] = n.status == AlertStatus::Firing ? "firing" : "resolved";
  j["severity"] = journal::severityName(n.severity);
  j["site"] = n.site;
  j["kind"] = n.kind;
  j["path"] = n.path;
  j["link"] = n.link;
  j["title"] = n.title;
  j["body"] = n.body;
  j["route_tables"] = n.route_tables;
  j["starts_at"] = formatRfc3339(n.starts_at);
  if (n.ends_at) {
    j["ends_at"] = formatRfc3339(*n.ends_at);
  }
  j["created_at"] = formatRfc3339(n.created_at);
  if (n.one_shot) {
    j["one_shot"] = true;
  }
  if (n.test) {
    j["test"] = true;
  }
  return j;
}

namespace {

Result<std::string> getString(const nlohmann::json& j, const char* key, bool required) {
  auto it = j.find(key);
  if (it == j.end()) {
    if (required) {
      return fail(ErrorCode::InvalidArgument,
                  std::string("notification: missing key \"") + key + "\"");
    }
    return std::string();
  }
  if (!it->is_string()) {
    return fail(ErrorCode::InvalidArgument,
                std::string("notification: key \"") + key + "\" is not a string");
  }
  return it->get<std::string>();
}

Result<WallTime> getTime(const nlohmann::json& j, const char* key) {
  auto text = getString(j, key, true);
  if (!text) {
    return fail(text.error());
  }
  auto t = parseRfc3339(*text);
  if (!t) {
    return fail(t.error().withContext(std::string("notification: key \"") + key + "\""));
  }
  return *t;
}

}  // namespace

Result<Notification> notificationFromJson(const nlohmann::json& j) {
  if (!j.is_object()) {
    return fail(ErrorCode::InvalidArgument, "notification: expected a JSON object");
  }
  Notification n;
  auto fields = {std::pair<const char*, std::string*>{"channel", &n.channel},
                 {"fingerprint", &n.fingerprint},
                 {"site", &n.site},
                 {"kind", &n.kind},
                 {"path", &n.path},
                 {"link", &n.link},
                 {"title", &n.title},
                 {"body", &n.body}};
  for (auto [key, out] : fields) {
    auto v = getString(j, key, false);
    if (!v) {
      return fail(v.error());
    }
    *out = std::move(*v);
  }
  auto status = getString(j, "status", true);
  if (!status) {
    return fail(status.error());
  }
  if (*status == "firing") {
    n.status = AlertStatus::Firing;
  } else if (*status == "resolved") {
    n.status = AlertStatus::Resolved;
  } else {
    return fail(ErrorCode::InvalidArgument, "notification: unknown status \"" + *status + "\"");
  }
  auto severity = getString(j, "severity", true);
  if (!severity) {
    return fail(severity.error());
  }
  auto sev = journal::parseSeverity(*severity);
  if (!sev) {
    return fail(sev.error().withContext("notification"));
  }
  n.severity = *sev;
  if (auto it = j.find("route_tables"); it != j.end()) {
    if (!it->is_array()) {
      return fail(ErrorCode::InvalidArgument, "notification: route_tables is not a list");
    }
    for (const auto& t : *it) {
      if (!t.is_string()) {
        return fail(ErrorCode::InvalidArgument, "notification: route_tables holds a non-string");
      }
      n.route_tables.push_back(t.get<std::string>());
    }
  }
  auto starts = getTime(j, "starts_at");
  if (!starts) {
    return fail(starts.error());
  }
  n.starts_at = *starts;
  if (j.contains("ends_at")) {
    auto ends = getTime(j, "ends_at");
    if (!ends) {
      return fail(ends.error());
    }
    n.ends_at = *ends;
  }
  auto created = getTime(j, "created_at");
  if (!created) {
    return fail(created.error());
  }
  n.created_at = *created;
  if (auto it = j.find("one_shot"); it != j.end() && it->is_boolean()) {
    n.one_shot = it->get<bool>();
  }
  if (auto it = j.find("test"); it != j.end() && it->is_boolean()) {
    n.test = it->get<bool>();
  }
  return n;
}

std::string toJsonText(const Notification& n) {
  return toJson(n).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<Notification> parseNotification(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    return fail(ErrorCode::InvalidArgument, "notification: malformed JSON");
  }
  return notificationFromJson(j);
}

}  // namespace pathpilot::alert
