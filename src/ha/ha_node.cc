// ha/ha_node.cc — see ha_node.h.
#include "ha/ha_node.h"

#include <spdlog/spdlog.h>

namespace pathpilot::ha {
namespace {

// One etcd call must come back well before the fence deadline moves on: the loop's calls are
// bounded by the keepalive interval, so that a hung member (etcd without quorum holds calls
// ~7 s) costs one interval, after which the client has moved to the next endpoint.
EtcdOptions boundedCalls(EtcdOptions o, Duration bound) {
  o.timeout = std::min(o.timeout, bound);
  o.connect_timeout = std::min(o.connect_timeout, o.timeout);
  return o;
}

}  // namespace

HaNode::HaNode(const Clock& clock, HaOptions options, std::unique_ptr<http::HttpClient> loop_http,
               std::unique_ptr<http::HttpClient> fence_http)
    : clock_(clock),
      options_(std::move(options)),
      loop_http_(std::move(loop_http)),
      fence_http_(std::move(fence_http)),
      loop_etcd_(*loop_http_, boundedCalls(options_.etcd, options_.election.keepalive_interval)),
      election_(options_.election),
      fence_etcd_(*fence_http_, boundedCalls(options_.etcd, options_.election.keepalive_interval)) {
  endpoint_ = loop_etcd_.endpoint();
}

HaNode::~HaNode() { stop(); }

std::string HaNode::leaderKey() const { return options_.prefix + "/" + options_.site + "/leader"; }

std::string HaNode::memberKey() const {
  return options_.prefix + "/" + options_.site + "/members/" + options_.election.node;
}

std::string HaNode::viewsPrefix() const {
  return options_.prefix + "/" + options_.site + "/views/";
}

std::string HaNode::drainsPrefix() const {
  return options_.prefix + "/" + options_.site + "/drains/";
}

std::string HaNode::statePrefix() const {
  return options_.prefix + "/" + options_.site + "/state/";
}

void HaNode::publishState(std::string name, std::optional<std::string> value,
                          std::function<void()> written) {
  {
    std::lock_guard lock(mu_);
    StateWrite& w = state_writes_[std::move(name)];
    w.value = std::move(value);
    // A pending value of this name is replaced but its callbacks stay: writing the newer value
    // acknowledges them too.
    if (written) {
      w.written.push_back(std::move(written));
    }
  }
  cv_.notify_all();
}

void HaNode::writeState(std::map<std::string, StateWrite> writes) {
  std::int64_t term = 0;
  {
    std::lock_guard lock(mu_);
    if (election_.role() == Role::Leader && election_.mayWrite(clock_.now())) {
      term = election_.term();
    }
  }
  if (term == 0) {
    spdlog::debug("ha: {} state write(s) dropped: this monitor does not lead", writes.size());
    return;
  }
  for (auto it = writes.begin(); it != writes.end(); ++it) {
    auto& [name, write] = *it;
    auto done = loop_etcd_.writeIfHeld(leaderKey(), term, statePrefix() + name, write.value);
    if (!done) {
      spdlog::warn("ha: state {} not written: {}; retrying", name, done.error().message());
      std::lock_guard lock(mu_);
      for (auto rest = it; rest != writes.end(); ++rest) {
        auto [pos, fresh] = state_writes_.try_emplace(rest->first, std::move(rest->second));
        if (!fresh) {  // a newer value wins; it acknowledges the older ones too
          auto& acks = rest->second.written;
          pos->second.written.insert(pos->second.written.end(),
                                     std::make_move_iterator(acks.begin()),
                                     std::make_move_iterator(acks.end()));
        }
      }
      // State writes share the drains' retry time: run() takes both queues only once it passed.
      next_drain_write_ = clock_.now() + options_.election.retry_interval;
      return;
    }
    // Leadership of `term` is gone: this write and the rest are dropped, not queued again, and
    // their callbacks never run.
    if (!*done) {
      spdlog::warn("ha: state {} not written: the leader key of term {} is gone", name, term);
      return;
    }
    for (auto& written : write.written) {
      written();
    }
  }
}

void HaNode::requestDrain(std::string path, bool drain, std::string by) {
  {
    std::lock_guard lock(mu_);
    drain_requests_.push_back({std::move(path), drain, std::move(by)});
  }
  cv_.notify_all();
}

void HaNode::writeDrains(std::vector<DrainRequest> requests) {
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const auto& r = requests[i];
    auto done = r.drain ? loop_etcd_.put(drainsPrefix() + r.path, r.by, 0)
                        : loop_etcd_.remove(drainsPrefix() + r.path);
    if (!done) {
      spdlog::warn("ha: could not record the {} of {} in etcd ({}); retrying",
                   r.drain ? "drain" : "undrain", r.path, done.error().message());
      std::lock_guard lock(mu_);
      // Ahead of anything asked since, so that the order of an operator's commands holds.
      drain_requests_.insert(drain_requests_.begin(), requests.begin() + static_cast<long>(i),
                             requests.end());
      next_drain_write_ = clock_.now() + options_.election.retry_interval;
      return;
    }
    spdlog::info("ha: {} of {} recorded for the group ({})", r.drain ? "drain" : "undrain",
                 r.path, r.by);
  }
}

void HaNode::publishView(std::string value) {
  {
    std::lock_guard lock(mu_);
    if (value == view_value_ && !view_dirty_) {
      return;
    }
    view_value_ = std::move(value);
    view_dirty_ = true;
  }
  cv_.notify_all();
}

void HaNode::resign(Duration hold_off) {
  {
    std::lock_guard lock(mu_);
    if (election_.role() != Role::Leader) {
      return;
    }
    resign_requested_ = hold_off;
  }
  cv_.notify_all();
}

void HaNode::resignNow(Duration hold_off) {
  std::int64_t term = 0;
  {
    std::lock_guard lock(mu_);
    if (election_.role() != Role::Leader) {
      return;
    }
    term = election_.term();
    // Writing stops now, before the key is gone.
    election_.resigned(clock_.now() + hold_off);
  }
  auto deleted = loop_etcd_.deleteIfHeld(leaderKey(), term);
  spdlog::warn("ha: {} gave up leadership of term {}{}; no campaign for {}",
               options_.election.node, term,
               deleted ? "" : " (the key stays until its lease expires: " +
                                  deleted.error().message() + ")",
               formatDuration(hold_off));
}

void HaNode::putView() {
  std::string value;
  std::int64_t lease = 0;
  {
    std::lock_guard lock(mu_);
    value = view_value_;
    lease = election_.leaseId();
    // Cleared before the put: a publishView() during the call sets it again, so the newer value
    // goes out next.
    view_dirty_ = false;
  }
  if (auto put = loop_etcd_.put(viewsPrefix() + options_.election.node, value, lease); !put) {
    std::lock_guard lock(mu_);
    view_dirty_ = true;  // again after the next election step
    last_error_ = put.error().message();
  }
}

void HaNode::readViews() {
  // Taken before the reads (HaView::state_term): state read while this monitor did not lead yet
  // must not pass for everything its predecessors wrote.
  std::int64_t term = 0;
  {
    std::lock_guard lock(mu_);
    term = election_.role() == Role::Leader ? election_.term() : 0;
  }
  auto kvs = loop_etcd_.getPrefix(viewsPrefix());
  auto drains = loop_etcd_.getPrefix(drainsPrefix());
  auto state = loop_etcd_.getPrefix(statePrefix());
  std::lock_guard lock(mu_);
  if (state) {
    std::map<std::string, std::string> s;
    for (auto& kv : *state) {
      s[kv.key.substr(statePrefix().size())] = std::move(kv.value);
    }
    state_ = std::move(s);
    state_term_ = term;
  }
  if (drains) {
    std::map<std::string, std::string> d;
    for (auto& kv : *drains) {
      d[kv.key.substr(drainsPrefix().size())] = std::move(kv.value);
    }
    drains_ = std::move(d);
  }
  // Once a second; on failure the last views stay (status shows the etcd error).
  next_views_read_ = clock_.now() + options_.election.poll_interval;
  if (!kvs) {
    return;
  }
  views_.clear();
  for (auto& kv : *kvs) {
    views_.push_back(PeerView{kv.key.substr(viewsPrefix().size()), std::move(kv.value)});
  }
}

void HaNode::start(ChangeSink on_change, FatalSink on_fatal) {
  on_change_ = std::move(on_change);
  on_fatal_ = std::move(on_fatal);
  started_ = clock_.now();
  thread_ = std::thread([this] { run(); });
}

void HaNode::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      return;
    }
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
  // Give the key up at once instead of letting the lease run out: the followers' next
  // campaign (one poll interval) takes over.
  // The thread has ended, so loop_etcd_ (the election thread's client) is free for these calls.
  std::int64_t term = 0;
  std::int64_t lease = 0;
  bool leader = false;
  {
    std::lock_guard lock(mu_);
    leader = election_.role() == Role::Leader;
    term = election_.term();
    lease = election_.leaseId();
    // fence() refuses from here on, before the key is deleted.
    election_.resigned();
  }
  if (leader && term != 0) {
    if (auto d = loop_etcd_.deleteIfHeld(leaderKey(), term); !d) {
      spdlog::warn("ha: could not give up leadership on stop: {}", d.error().message());
    } else {
      spdlog::info("ha: gave up leadership (term {})", term);
    }
  }
  // Revoking the lease also removes the member key and the view put under it.
  if (lease != 0) {
    (void)loop_etcd_.revoke(lease);
  }
}

bool HaNode::mayWrite() const {
  std::lock_guard lock(mu_);
  return election_.mayWrite(clock_.now());
}

HaView HaNode::view() const {
  std::lock_guard lock(mu_);
  return viewLocked(clock_.now());
}

HaView HaNode::viewLocked(MonoTime now) const {
  HaView v;
  v.role = election_.role();
  v.node = options_.election.node;
  v.leader = election_.leader();
  v.term = election_.term();
  v.writing = election_.mayWrite(now);
  MonoTime until = v.role == Role::Leader ? election_.fenceDeadline() : election_.leaseExpiry();
  v.lease_left = until > now ? until - now : Duration::zero();
  v.member_claimed = member_claimed_;
  v.etcd_ok = last_success_ != MonoTime::min() && now - last_success_ < options_.election.ttl;
  v.endpoint = endpoint_;
  v.last_error = last_error_;
  v.keepalives = keepalives_;
  v.keepalive_failures = keepalive_failures_;
  v.last_keepalive_latency = last_keepalive_latency_;
  v.fence_checks = fence_checks_;
  v.fence_refusals = fence_refusals_;
  v.max_fence_latency = max_fence_latency_;
  v.views = views_;
  v.drains = drains_;
  v.state = state_;
  v.state_term = state_term_;
  return v;
}

Result<void> HaNode::fence() {
  const MonoTime start = clock_.now();
  std::int64_t term = 0;
  MonoTime deadline{};
  {
    std::lock_guard lock(mu_);
    ++fence_checks_;
    if (!election_.mayWrite(start)) {
      ++fence_refusals_;
      std::string why =
          election_.role() != Role::Leader
              ? "this monitor is a follower" + (election_.leader().empty()
                                                    ? std::string(" (no leader known)")
                                                    : "; the leader is " + election_.leader())
              : std::string(
                    "the lease was not renewed in time (fence deadline "
                    "passed)");
      return fail(ErrorCode::Unavailable, "not writing: " + why);
    }
    term = election_.term();
    deadline = election_.fenceDeadline();
  }
  // The round trip runs outside mu_, so that the election thread keeps renewing the lease
  // meanwhile.
  Result<bool> held;
  {
    std::lock_guard lock(fence_mu_);
    held = fence_etcd_.holds(leaderKey(), term);
  }
  const MonoTime end = clock_.now();
  std::lock_guard lock(mu_);
  max_fence_latency_ = std::max(max_fence_latency_, end - start);
  if (!held) {
    ++fence_refusals_;
    return fail(ErrorCode::Unavailable,
                "not writing: leadership check failed: " + held.error().message());
  }
  if (!*held) {
    ++fence_refusals_;
    // Every writer stops now rather than at the loop's next Check, and the woken loop campaigns
    // at once to learn who leads.
    election_.checked(false, end);
    cv_.notify_all();
    return fail(ErrorCode::Unavailable, "not writing: the leader key of term " +
                                            std::to_string(term) +
                                            " is gone (deleted, or its lease expired)");
  }
  // A different term now means the answer concerned the previous term's key.
  if (end >= deadline || election_.term() != term) {
    ++fence_refusals_;
    return fail(ErrorCode::Unavailable,
                "not writing: the fence deadline passed during the leadership check");
  }
  return ok();
}

void HaNode::run() {
  for (;;) {
    Election::Next next;
    bool put_view = false;
    bool read_views = false;
    std::optional<Duration> resign;
    std::vector<DrainRequest> drains;
    std::map<std::string, StateWrite> state_writes;
    {
      std::unique_lock lock(mu_);
      if (stopping_ || fatal_) {
        return;
      }
      std::swap(resign, resign_requested_);
      // A resignation goes first, alone: drains and state writes stay queued for the next
      // pass (taken here, they would be dropped by the `continue` below and an operator's
      // drain lost).
      if (!resign && clock_.now() >= next_drain_write_) {
        std::swap(drains, drain_requests_);
        std::swap(state_writes, state_writes_);
      }
    }
    if (resign) {
      resignNow(*resign);
      notify();
      continue;
    }
    if (!state_writes.empty()) {
      writeState(std::move(state_writes));
    }
    if (!drains.empty()) {
      writeDrains(std::move(drains));
      readViews();  // every monitor, this one included, applies what etcd holds
      continue;
    }
    {
      std::unique_lock lock(mu_);
      if (stopping_ || fatal_) {
        return;
      }
      MonoTime now = clock_.now();
      next = election_.next(now);
      // Views go out between election steps, which always come first.
      const bool registered = member_claimed_ && election_.leaseId() != 0;
      put_view = registered && view_dirty_;
      read_views = registered && now >= next_views_read_;
      const bool drains_due =
          (!drain_requests_.empty() || !state_writes_.empty()) && now >= next_drain_write_;
      if (next.step == Election::Step::Wait && !put_view && !read_views && !resign_requested_ &&
          !drains_due) {
        // The clock is the monotonic one; waiting on the condition variable's steady clock
        // for the difference is equivalent in production (RealClock is steady_clock).
        MonoTime until = registered ? std::min(next.at, next_views_read_) : next.at;
        if (!drain_requests_.empty() || !state_writes_.empty()) {
          until = std::min(until, next_drain_write_);
        }
        cv_.wait_for(lock, until - now);
        continue;
      }
    }
    if (next.step != Election::Step::Wait) {
      step(next);
      notify();
      continue;
    }
    if (put_view) {
      putView();
    }
    if (read_views) {
      readViews();
    }
  }
}

void HaNode::step(Election::Next next) {
  const MonoTime sent = clock_.now();
  std::string error;
  switch (next.step) {
    case Election::Step::GrantLease: {
      auto lease = loop_etcd_.grantLease(options_.election.ttl);
      std::lock_guard lock(mu_);
      if (lease) {
        election_.leaseGranted(*lease, sent);
        // The member key was held under the previous lease, if any: it is claimed again under
        // this one.
        member_claimed_ = false;
        view_dirty_ = !view_value_.empty();  // the old lease's view went with it
        spdlog::info("ha: lease {:x} granted ({} s) by {}", lease->id,
                     std::chrono::duration_cast<std::chrono::seconds>(lease->ttl).count(),
                     loop_etcd_.endpoint());
      } else {
        election_.failed(next.step, clock_.now());
        error = lease.error().message();
      }
      break;
    }
    case Election::Step::KeepAlive: {
      std::int64_t id = 0;
      {
        std::lock_guard lock(mu_);
        id = election_.leaseId();
      }
      auto ttl = loop_etcd_.keepAlive(id);
      const MonoTime done = clock_.now();
      std::lock_guard lock(mu_);
      if (ttl) {
        ++keepalives_;
        last_keepalive_latency_ = done - sent;
        if (!*ttl) {
          spdlog::warn("ha: lease {:x} expired in etcd; {} starts over", id,
                       options_.election.node);
          member_claimed_ = false;
        }
        election_.keptAlive(*ttl, sent);
      } else {
        ++keepalive_failures_;
        election_.failed(next.step, done);
        error = ttl.error().message();
      }
      break;
    }
    case Election::Step::Campaign: {
      bool claimed = false;
      std::int64_t lease = 0;
      {
        std::lock_guard lock(mu_);
        claimed = member_claimed_;
        lease = election_.leaseId();
      }
      if (!claimed) {
        claimMember(sent);
        return;
      }
      auto r = loop_etcd_.createIfAbsent(leaderKey(), options_.election.node, lease);
      std::lock_guard lock(mu_);
      if (r) {
        if (election_.leaseId() == lease) {
          election_.campaigned(*r, sent);
          if (election_.role() == Role::Leader) {
            // A new leader reads what its predecessors left (state) at once.
            next_views_read_ = clock_.now();
          }
        }
      } else {
        election_.failed(next.step, clock_.now());
        error = r.error().message();
      }
      break;
    }
    case Election::Step::Check: {
      std::int64_t term = 0;
      {
        std::lock_guard lock(mu_);
        term = election_.term();
      }
      auto held = loop_etcd_.holds(leaderKey(), term);
      std::lock_guard lock(mu_);
      if (held) {
        // fence() may have found the key gone during the call (term reset to 0); an answer about
        // the old term is then stale.
        if (election_.term() == term) {
          election_.checked(*held, sent);
        }
      } else {
        election_.failed(next.step, clock_.now());
        error = held.error().message();
      }
      break;
    }
    case Election::Step::Wait:
      break;
  }
  std::lock_guard lock(mu_);
  endpoint_ = loop_etcd_.endpoint();
  if (error.empty() &&
      (next.step == Election::Step::GrantLease || next.step == Election::Step::KeepAlive)) {
    // Only a lease renewal says that etcd can elect: without quorum a member may still answer
    // some reads for a moment.
    last_success_ = clock_.now();
  }
  if (error != last_error_) {
    if (!error.empty()) {
      spdlog::warn("ha: {}", error);
    } else if (!last_error_.empty()) {
      spdlog::info("ha: etcd answers again ({})", endpoint_);
    }
    last_error_ = error;
  }
}

void HaNode::claimMember(MonoTime sent) {
  std::int64_t lease = 0;
  {
    std::lock_guard lock(mu_);
    lease = election_.leaseId();
  }
  auto r = loop_etcd_.createIfAbsent(memberKey(), options_.election.node, lease);
  std::lock_guard lock(mu_);
  if (!r) {
    election_.failed(Election::Step::Campaign, clock_.now());
    last_error_ = r.error().message();
    return;
  }
  last_error_.clear();
  // Created now, or already ours: an earlier claim that etcd applied but whose answer was lost.
  if (r->created || r->kv.lease == lease) {
    member_claimed_ = true;
    member_conflict_since_ = MonoTime::max();
    return;  // next: campaign at once
  }
  // Another lease holds our name: a previous run of ours (killed; its lease runs out within
  // one TTL) or a second live monitor with the same name (its lease never runs out).
  if (member_conflict_since_ == MonoTime::max()) {
    member_conflict_since_ = sent;
    spdlog::info("ha: node name {} is held by lease {:x}; waiting for it to expire",
                 options_.election.node, r->kv.lease);
  }
  if (sent - member_conflict_since_ > options_.election.ttl + std::chrono::seconds(2)) {
    fatal_ = true;
    Error e(ErrorCode::AlreadyExists,
            "another monitor named " + options_.election.node + " is running for site " +
                options_.site + " (etcd key " + memberKey() + " is held by lease " +
                std::to_string(r->kv.lease) +
                ", renewed beyond its TTL); give each monitor its own ha.node");
    if (on_fatal_) {
      on_fatal_(e);
    }
    return;
  }
  election_.failed(Election::Step::Campaign, clock_.now());
}

void HaNode::notify() {
  HaView v;
  {
    std::lock_guard lock(mu_);
    v = viewLocked(clock_.now());
    if (notified_once_ && v.sameLeadership(last_notified_)) {
      return;
    }
    if (!member_claimed_ && !notified_once_ && clock_.now() - started_ < options_.election.ttl) {
      return;  // nothing to say before etcd confirmed our name, unless it stays silent
    }
    notified_once_ = true;
    last_notified_ = v;
  }
  if (on_change_) {
    on_change_(v);
  }
}

}  // namespace pathpilot::ha
