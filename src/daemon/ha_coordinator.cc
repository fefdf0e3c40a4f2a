// daemon/ha_coordinator.cc — see ha_coordinator.h.
#include "daemon/ha_coordinator.h"

#include <spdlog/spdlog.h>

#include "daemon/ha_setup.h"

namespace pathpilot::daemon {

HaCoordinator::HaCoordinator(asio::io_context& io, const Clock& clock, Engine& engine,
                             ha::HaNode& node, config::HaSettings settings,
                             std::function<void(const journal::Event&)> publish)
    : io_(io),
      clock_(clock),
      engine_(engine),
      node_(node),
      settings_(std::move(settings)),
      publish_(std::move(publish)),
      timer_(io) {}

void HaCoordinator::start(std::function<void(const Error&)> on_fatal) {
  tick();
  // Both callbacks run on the election thread: hand over to the engine thread.
  node_.start([this](const ha::HaView& v) { asio::post(io_, [this, v] { onLeadership(v); }); },
              [this, on_fatal = std::move(on_fatal)](const Error& error) {
                asio::post(io_, [on_fatal, error] { on_fatal(error); });
              });
}

void HaCoordinator::stop() {
  stopped_ = true;
  timer_.cancel();
}

void HaCoordinator::onPathChange() {
  if (!stopped_) {
    node_.publishView(compactView(engine_.statusJson()));
  }
}

void HaCoordinator::setLeaderState(AdoptFn adopt, std::function<void()> release) {
  adopt_ = std::move(adopt);
  release_ = std::move(release);
}

void HaCoordinator::onLeadership(const ha::HaView& v) {
  if (v.writing && v.term != adopted_term_ && adopt_) {
    // Routes may move at once (the engine adopts what is programmed first); gateway recovery
    // waits until the predecessor's limits are taken over (tick()).
    engine_.holdRecovery(true);
    if (!hold_since_) {
      hold_since_ = clock_.now();
    }
  }
  if (!v.writing) {
    hold_since_.reset();  // a later promotion holds afresh
  }
  engine_.setWriteAllowed(v.writing);
  if (adopted_term_ != 0 && (v.role != ha::Role::Leader || v.term != adopted_term_)) {
    adopted_term_ = 0;
    if (release_) {
      release_();
    }
  }
  const std::string& site = engine_.config().site.name;
  if (auto e = etcdEvent(seen_, v, site, clock_.wallNow())) {
    publish_(*e);
  }
  if (auto e = leadershipEvent(seen_, v, site, clock_.wallNow())) {
    spdlog::info("leader_changed: {}", e->message);
    publish_(*e);
  }
  seen_ = v;
}

void HaCoordinator::tick() {
  if (stopped_) {
    return;
  }
  auto status = engine_.statusJson();
  node_.publishView(compactView(status));
  const ha::HaView view = node_.view();
  applyGroupDrains(status, view);
  if (view.role == ha::Role::Leader && view.writing && view.state && view.term != 0 &&
      view.state_term == view.term && adopted_term_ != view.term) {
    adopted_term_ = view.term;
    if (adopt_) {
      adopt_(*view.state, status);
    }
    engine_.holdRecovery(false);
    hold_since_.reset();
  } else if (hold_since_ && clock_.now() - *hold_since_ >= settings_.lease_ttl) {
    // etcd answers keepalives but not the state read: recovery must not stay off for good.
    spdlog::warn(
        "ha: the previous leader's state could not be read within {}; gateway "
        "recovery goes on without its limits",
        formatDuration(settings_.lease_ttl));
    engine_.holdRecovery(false);
    hold_since_.reset();
  }
  if (settings_.require_agreement) {
    checkAgreement(status, view);
  }
  timer_.expires_after(settings_.lease_ttl / 16);
  timer_.async_wait([this](const asio::error_code& ec) {
    if (!ec) {
      tick();
    }
  });
}

void HaCoordinator::applyGroupDrains(const nlohmann::json& status, const ha::HaView& view) {
  if (!view.drains) {
    return;  // not read yet: nothing is known, nothing changes
  }
  for (const auto& p : status.value("paths", nlohmann::json::array())) {
    const std::string name = p.value("name", "");
    const bool want = view.drains->count(name) != 0;
    if (want && !p.value("drained", false)) {
      (void)engine_.drain(name, "the group (" + view.drains->at(name) + ")");
    } else if (!want && p.value("drained", false)) {
      (void)engine_.undrain(name, "the group (undrained on one of its monitors)");
    }
  }
}

void HaCoordinator::checkAgreement(const nlohmann::json& status, const ha::HaView& view) {
  const MonoTime now = clock_.now();
  GroupVerdict verdict = groupVerdict(view.node, status, view.views);
  // The others' views lag this monitor's by up to a poll interval each way: a fresh
  // disagreement is only unconfirmed; one that lasts 1 s is a dispute.
  std::map<std::string, MonoTime> still;
  std::map<std::string, std::string> disputed;
  for (const auto& [path, by] : verdict.disputed) {
    auto it = first_disputed_.find(path);
    MonoTime since = it == first_disputed_.end() ? now : it->second;
    still[path] = since;
    if (now - since >= std::chrono::seconds(1)) {
      disputed[path] = by;
    }
  }
  first_disputed_ = std::move(still);
  engine_.setConfirmed(std::move(verdict.confirmed));
  engine_.setDisputed(std::move(disputed));
  if (engine_.disputed().empty() || view.role != ha::Role::Leader) {
    leader_disputed_since_.reset();
  } else if (!leader_disputed_since_) {
    leader_disputed_since_ = now;
  } else if (now - *leader_disputed_since_ >= std::chrono::seconds(2)) {
    spdlog::warn("ha: the other monitors see up what this leader sees failing ({}); handing "
                 "leadership over",
                 engine_.disputed().begin()->first);
    node_.resign(3 * settings_.lease_ttl);
    leader_disputed_since_.reset();
  }
}

}  // namespace pathpilot::daemon
