#include "daemon/secrets.h"

#include <sys/prctl.h>
#include <sys/resource.h>

#include <cerrno>
#include <string>

namespace pathpilot::daemon {

std::shared_ptr<const Redactor> knownSecrets(const config::Config& config,
                                             const alert::EnvGetter& env) {
  auto redactor = std::make_shared<Redactor>();
  // Unreadable secrets are the owning module's error to report; nothing to redact then.
  auto add = [&](const std::optional<config::SecretRef>& ref, bool is_url) {
    if (!ref) {
      return;
    }
    auto value = alert::resolveSecret(*ref, env);
    if (!value) {
      return;
    }
    if (is_url) {
      redactor->addUrl(*value);
    } else {
      redactor->add(*value);
    }
  };
  if (config.api) {
    add(config.api->auth_token, false);
  }
  if (config.alerts) {
    using K = config::AlertChannelKind;
    for (const config::AlertChannelConfig& c : config.alerts->channels) {
      // A chat robot's URL holds its token, and a URL the operator keeps in env/file or with
      // a query string may; a plain inline URL (http://127.0.0.1:9093) stays readable.
      bool chat =
          c.kind == K::Slack || c.kind == K::DingTalk || c.kind == K::Feishu || c.kind == K::WeCom;
      if (c.url && (chat || c.url->source != config::SecretRef::Source::Inline ||
                    c.url->value.find_first_of("?@") != std::string::npos)) {
        add(c.url, true);
      }
      add(c.secret, false);
      add(c.token, false);
      add(c.password, false);
    }
  }
  for (std::string_view name : credentialVariables()) {
    if (auto value = env(name)) {
      redactor->add(*value);
    }
  }
  return redactor;
}

journal::Event redactEvent(journal::Event e, const Redactor& redactor) {
  if (redactor.empty()) {
    return e;
  }
  for (std::string* field :
       {&e.path, &e.route_table, &e.destination, &e.from, &e.to, &e.reason, &e.message}) {
    if (!field->empty()) {
      *field = redactor.apply(std::move(*field));
    }
  }
  return e;
}

Result<void> disableCoreDumps() {
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return fail(Error::fromErrno("prctl(PR_SET_DUMPABLE, 0)", errno));
  }
  rlimit none{0, 0};
  if (::setrlimit(RLIMIT_CORE, &none) != 0) {
    return fail(Error::fromErrno("setrlimit(RLIMIT_CORE, 0)", errno));
  }
  return ok();
}

}  // namespace pathpilot::daemon
