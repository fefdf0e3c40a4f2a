// tests/unit/alert/alert_test_util.h — events and a scriptable channel for alert tests.
#pragma once

#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "alert/channel.h"
#include "journal/event.h"

namespace pathpilot::alert::testing {

inline journal::Event event(journal::EventKind kind, WallTime t, std::string path = "",
                            std::string table = "", std::string from = "", std::string to = "") {
  auto e = journal::makeEvent(kind, t, "Beijing");
  e.path = std::move(path);
  if (e.path == "dx") {
    e.link = journal::Link::Dx;
  } else if (!e.path.empty()) {
    e.link = journal::Link::Vpn;
  }
  e.route_table = std::move(table);
  e.from = std::move(from);
  e.to = std::move(to);
  if (kind == journal::EventKind::RouteChanged) {
    e.destination = "10.10.0.0/16";
    e.link = e.to == "dx" ? journal::Link::Dx : journal::Link::Vpn;
  }
  if (kind == journal::EventKind::PathDown) {
    e.reason = "loss 100% over 10 probes";
  }
  return e;
}

// A channel whose answers the test scripts; records what it was given.
class FakeChannel final : public Channel {
 public:
  explicit FakeChannel(std::string name,
                       config::AlertChannelKind kind = config::AlertChannelKind::Webhook)
      : name_(std::move(name)), kind_(kind) {}

  const std::string& name() const override { return name_; }
  config::AlertChannelKind kind() const override { return kind_; }
  DeliveryResult deliver(const Notification& n) override {
    std::lock_guard lock(mu_);
    attempts_.push_back(n);
    if (!script_.empty()) {
      DeliveryResult r = script_.front();
      script_.pop_front();
      if (r) {
        delivered_.push_back(n);
      }
      return r;
    }
    if (down_) {
      return deliveryFailed(Error(ErrorCode::Unavailable, "receiver down"));
    }
    delivered_.push_back(n);
    return std::string("ok");
  }

  void setDown(bool down) {
    std::lock_guard lock(mu_);
    down_ = down;
  }
  void script(DeliveryResult r) {
    std::lock_guard lock(mu_);
    script_.push_back(std::move(r));
  }
  std::vector<Notification> delivered() const {
    std::lock_guard lock(mu_);
    return delivered_;
  }
  std::size_t attempts() const {
    std::lock_guard lock(mu_);
    return attempts_.size();
  }

 private:
  std::string name_;
  config::AlertChannelKind kind_;
  mutable std::mutex mu_;
  bool down_ = false;
  std::deque<DeliveryResult> script_;
  std::vector<Notification> attempts_;
  std::vector<Notification> delivered_;
};

}  // namespace pathpilot::alert::testing
