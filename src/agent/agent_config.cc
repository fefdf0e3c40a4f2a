#include "agent/agent_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include "aws/endpoints.h"

namespace pathpilot::agent {
namespace {

constexpr std::size_t kMaxFileBytes = 1024 * 1024;

class Parser {
 public:
  explicit Parser(std::string source) : source_(std::move(source)) {}

  tl::unexpected<Error> error(const YAML::Node& node, const std::string& key,
                              const std::string& message) const {
    std::string where = source_;
    if (node.IsDefined() && node.Mark().line >= 0) {
      where += ":" + std::to_string(node.Mark().line + 1) + ":" +
               std::to_string(node.Mark().column + 1);
    }
    return fail(ErrorCode::InvalidArgument, where + ": " + key + ": " + message);
  }

  Result<void> knownKeys(const YAML::Node& map, const std::string& where,
                         std::initializer_list<std::string_view> keys) const {
    if (!map.IsMap()) {
      return error(map, where.empty() ? "(top level)" : where, "expected a mapping");
    }
    for (const auto& kv : map) {
      auto key = kv.first.as<std::string>();
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
        std::string known;
        for (auto k : keys) {
          known += (known.empty() ? "" : ", ") + std::string(k);
        }
        return error(kv.first, (where.empty() ? "" : where + ".") + key,
                     "unknown key (known: " + known + ")");
      }
    }
    return ok();
  }

  Result<std::string> scalar(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar()) {
      return error(node, key, "expected a string");
    }
    return node.as<std::string>();
  }

  Result<Duration> duration(const YAML::Node& node, const std::string& key, Duration min,
                            Duration max) const {
    auto text = scalar(node, key);
    if (!text) {
      return fail(text.error());
    }
    auto d = parseDuration(*text);
    if (!d) {
      return error(node, key, "expected a duration such as 2s or 500ms, not \"" + *text + "\"");
    }
    if (*d < min || *d > max) {
      return error(node, key,
                   "must be between " + formatDuration(min) + " and " + formatDuration(max));
    }
    return *d;
  }

  Result<std::vector<std::string>> names(const YAML::Node& node, const std::string& key) const {
    if (!node.IsSequence()) {
      return error(node, key, "expected a list such as [tunnel1, tunnel2]");
    }
    std::vector<std::string> out;
    std::set<std::string> seen;
    for (const auto& item : node) {
      auto s = scalar(item, key);
      if (!s) {
        return fail(s.error());
      }
      if (s->empty() || s->size() > 255) {
        return error(item, key, "names must be 1..255 characters");
      }
      if (!seen.insert(*s).second) {
        return error(item, key, "\"" + *s + "\" is listed twice");
      }
      out.push_back(*s);
    }
    return out;
  }

 private:
  std::string source_;
};

bool validName(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
  });
}

}  // namespace

Result<ListenAddress> parseListen(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return fail(ErrorCode::InvalidArgument, "expected [address]:port, not \"" +
                                                  std::string(text) + "\"");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return fail(ErrorCode::InvalidArgument,
                  "expected address:port such as 127.0.0.1:9181, not \"" + std::string(text) +
                      "\"");
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto address = IpAddress::parse(host);
  if (!address) {
    return fail(ErrorCode::InvalidArgument,
                "\"" + std::string(host) + "\" is not an IP address (names are not resolved)");
  }
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || ptr != port.data() + port.size() || value == 0 || value > 65535) {
    return fail(ErrorCode::InvalidArgument, "port \"" + std::string(port) + "\" is not 1..65535");
  }
  return ListenAddress{*address, static_cast<std::uint16_t>(value)};
}

Result<AgentConfig> parseAgentConfig(std::string_view text, std::string source) {
  Parser p(source);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return fail(ErrorCode::InvalidArgument, source + ":" + std::to_string(e.mark.line + 1) + ":" +
                                                std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  AgentConfig cfg;
  cfg.source = source;
  try {
    if (auto k = p.knownKeys(root, "", {"gateway", "site", "vici", "poll_interval", "tunnels",
                                        "interfaces", "listen", "cloudwatch"});
        !k) {
      return fail(k.error());
    }
    if (!root["gateway"]) {
      return fail(ErrorCode::InvalidArgument,
                  source + ": gateway: required (the name of this gateway, e.g. strongswan-1)");
    }
    auto gateway = p.scalar(root["gateway"], "gateway");
    if (!gateway) {
      return fail(gateway.error());
    }
    if (!validName(*gateway)) {
      return p.error(root["gateway"], "gateway", "expected 1-64 of A-Z a-z 0-9 _ . -");
    }
    cfg.gateway = *gateway;
    if (root["site"]) {
      auto site = p.scalar(root["site"], "site");
      if (!site) {
        return fail(site.error());
      }
      cfg.site = *site;
    }
    if (const auto vici = root["vici"]) {
      if (auto k = p.knownKeys(vici, "vici", {"socket", "timeout"}); !k) {
        return fail(k.error());
      }
      if (vici["socket"]) {
        auto s = p.scalar(vici["socket"], "vici.socket");
        if (!s) {
          return fail(s.error());
        }
        std::string path = s->rfind("unix://", 0) == 0 ? s->substr(7) : *s;
        if (path.empty() || path.front() != '/' || path.size() > 107) {
          return p.error(vici["socket"], "vici.socket",
                         "expected unix:///absolute/path (at most 107 bytes)");
        }
        cfg.vici_socket = *s;
      }
      if (vici["timeout"]) {
        auto d = p.duration(vici["timeout"], "vici.timeout", std::chrono::milliseconds(100),
                            std::chrono::seconds(60));
        if (!d) {
          return fail(d.error());
        }
        cfg.vici_timeout = *d;
      }
    }
    if (root["poll_interval"]) {
      auto d = p.duration(root["poll_interval"], "poll_interval", std::chrono::seconds(1),
                          std::chrono::minutes(10));
      if (!d) {
        return fail(d.error());
      }
      cfg.poll_interval = *d;
    }
    if (cfg.vici_timeout >= cfg.poll_interval) {
      return p.error(root["poll_interval"] ? root["poll_interval"] : root["vici"], "vici.timeout",
                     "must be shorter than poll_interval");
    }
    if (root["tunnels"]) {
      auto t = p.names(root["tunnels"], "tunnels");
      if (!t) {
        return fail(t.error());
      }
      cfg.tunnels = std::move(*t);
    }
    if (root["interfaces"]) {
      auto t = p.names(root["interfaces"], "interfaces");
      if (!t) {
        return fail(t.error());
      }
      for (const auto& name : *t) {
        if (name.size() > 15) {
          return p.error(root["interfaces"], "interfaces",
                         "\"" + name + "\" is longer than an interface name can be (15)");
        }
      }
      cfg.interfaces = std::move(*t);
    }
    if (const auto listen = root["listen"]) {
      auto s = p.scalar(listen, "listen");
      if (!s) {
        return fail(s.error());
      }
      if (s->empty()) {
        cfg.listen.reset();
      } else {
        auto l = parseListen(*s);
        if (!l) {
          return p.error(listen, "listen", l.error().message());
        }
        cfg.listen = *l;
      }
    }
    if (const auto cw = root["cloudwatch"]) {
      if (auto k = p.knownKeys(cw, "cloudwatch",
                               {"region", "namespace", "dimensions", "interval",
                                "storage_resolution", "endpoint_url", "profile"});
          !k) {
        return fail(k.error());
      }
      CloudWatchSettings c;
      if (!cw["region"]) {
        return p.error(cw, "cloudwatch.region", "required (e.g. ap-southeast-1, cn-north-1)");
      }
      auto region = p.scalar(cw["region"], "cloudwatch.region");
      if (!region) {
        return fail(region.error());
      }
      if (auto part = aws::partitionForRegion(*region); !part) {
        return p.error(cw["region"], "cloudwatch.region", part.error().message());
      }
      c.region = *region;
      if (cw["namespace"]) {
        auto ns = p.scalar(cw["namespace"], "cloudwatch.namespace");
        if (!ns) {
          return fail(ns.error());
        }
        if (ns->empty() || ns->size() > 255 || ns->rfind("AWS/", 0) == 0) {
          return p.error(cw["namespace"], "cloudwatch.namespace",
                         "must be 1..255 characters and not start with \"AWS/\"");
        }
        c.metric_namespace = *ns;
      }
      if (const auto dims = cw["dimensions"]) {
        if (!dims.IsMap()) {
          return p.error(dims, "cloudwatch.dimensions", "expected a mapping {Name: value}");
        }
        for (const auto& kv : dims) {
          auto name = kv.first.as<std::string>();
          auto value = p.scalar(kv.second, "cloudwatch.dimensions." + name);
          if (!value) {
            return fail(value.error());
          }
          if (name == "Tunnel") {
            return p.error(kv.first, "cloudwatch.dimensions.Tunnel",
                           "is set by the agent for each tunnel");
          }
          if (name.empty() || name.size() > 255 || value->empty() || value->size() > 1024) {
            return p.error(kv.first, "cloudwatch.dimensions." + name,
                           "names must be 1..255 and values 1..1024 characters");
          }
          c.dimensions.emplace_back(name, *value);
        }
        if (c.dimensions.size() > 29) {
          return p.error(dims, "cloudwatch.dimensions",
                         "at most 29 (CloudWatch allows 30, and the agent adds Tunnel)");
        }
      } else {
        c.dimensions.emplace_back("Gateway", cfg.gateway);
        if (!cfg.site.empty()) {
          c.dimensions.emplace_back("Site", cfg.site);
        }
      }
      if (cw["interval"]) {
        auto d = p.duration(cw["interval"], "cloudwatch.interval", std::chrono::seconds(10),
                            std::chrono::hours(1));
        if (!d) {
          return fail(d.error());
        }
        c.interval = *d;
      }
      if (cw["storage_resolution"]) {
        auto s = p.scalar(cw["storage_resolution"], "cloudwatch.storage_resolution");
        if (!s) {
          return fail(s.error());
        }
        if (*s != "1" && *s != "60") {
          return p.error(cw["storage_resolution"], "cloudwatch.storage_resolution",
                         "must be 60 (standard) or 1 (high resolution)");
        }
        c.storage_resolution = *s == "1" ? 1 : 60;
      }
      if (cw["endpoint_url"]) {
        auto s = p.scalar(cw["endpoint_url"], "cloudwatch.endpoint_url");
        if (!s) {
          return fail(s.error());
        }
        c.endpoint_url = *s;
        if (auto e = aws::resolveEndpoint("monitoring", c.region, c.endpoint_url); !e) {
          return p.error(cw["endpoint_url"], "cloudwatch.endpoint_url", e.error().message());
        }
      }
      if (cw["profile"]) {
        auto s = p.scalar(cw["profile"], "cloudwatch.profile");
        if (!s) {
          return fail(s.error());
        }
        c.profile = *s;
      }
      cfg.cloudwatch = std::move(c);
    }
  } catch (const YAML::Exception& e) {
    return fail(ErrorCode::InvalidArgument, source + ":" + std::to_string(e.mark.line + 1) + ":" +
                                                std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  return cfg;
}

Result<AgentConfig> loadAgentConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    if (err == ENOENT) {
      return fail(ErrorCode::NotFound, path + ": no such file", err);
    }
    return fail(Error::fromErrno("cannot read " + path, err));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.size() > kMaxFileBytes) {
    return fail(ErrorCode::InvalidArgument, path + ": the file is larger than 1 MiB");
  }
  return parseAgentConfig(text, path);
}

}  // namespace pathpilot::agent
