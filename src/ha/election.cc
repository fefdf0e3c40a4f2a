// ha/election.cc — see election.h.
#include "ha/election.h"

#include <algorithm>

#include "base/check.h"

namespace pathpilot::ha {

const char* roleName(Role role) { return role == Role::Leader ? "leader" : "follower"; }

Election::Election(ElectionSettings settings) : settings_(std::move(settings)) {
  PP_CHECK(settings_.margin < settings_.ttl);
  PP_CHECK(settings_.keepalive_interval > Duration::zero());
  PP_CHECK(settings_.poll_interval > Duration::zero());
  PP_CHECK(settings_.retry_interval > Duration::zero());
}

Election::Next Election::next(MonoTime now) const {
  if (lease_.id == 0) {
    return next_grant_ <= now ? Next{Step::GrantLease, now} : Next{Step::Wait, next_grant_};
  }
  // The keepalive comes first: it is what keeps the fence deadline ahead.
  if (next_keepalive_ <= now) {
    return {Step::KeepAlive, now};
  }
  Step poll = role_ == Role::Leader ? Step::Check : Step::Campaign;
  MonoTime poll_at = next_poll_;
  if (poll == Step::Campaign) {
    poll_at = std::max(poll_at, no_campaign_until_);
  }
  if (poll_at <= now) {
    return {poll, now};
  }
  // Wake at the next call, and at the fence deadline so the loop reports the end of writing.
  MonoTime at = std::min(next_keepalive_, poll_at);
  if (role_ == Role::Leader && fenceDeadline() > now) {
    at = std::min(at, fenceDeadline());
  }
  return {Step::Wait, at};
}

void Election::leaseGranted(const Lease& lease, MonoTime sent) {
  lease_ = lease;
  renewed_sent_ = sent;
  renewed_ttl_ = lease.ttl;
  next_keepalive_ = sent + settings_.keepalive_interval;
  next_poll_ = MonoTime::min();  // campaign at once
}

void Election::keptAlive(std::optional<Duration> ttl, MonoTime sent) {
  if (!ttl) {
    // etcd no longer has the lease: whatever we held under it is gone.
    loseLease();
    next_grant_ = MonoTime::min();
    return;
  }
  // Answers can arrive out of order only across retries; keep the latest send time.
  if (sent >= renewed_sent_) {
    renewed_sent_ = sent;
    renewed_ttl_ = *ttl;
  }
  next_keepalive_ = sent + settings_.keepalive_interval;
}

void Election::campaigned(const CreateResult& result, MonoTime sent) {
  next_poll_ = sent + settings_.poll_interval;
  if (lease_.id == 0) {
    return;  // the lease was lost while the call was out; the next grant starts over
  }
  if (result.created || (result.kv.lease == lease_.id && result.kv.value == settings_.node)) {
    // Created now, or created by an earlier attempt of ours whose answer was lost.
    role_ = Role::Leader;
  } else {
    role_ = Role::Follower;
  }
  leader_ = result.kv.value;
  term_ = result.kv.create_revision;
}

void Election::checked(bool holds, MonoTime sent) {
  next_poll_ = sent + settings_.poll_interval;
  if (!holds && role_ == Role::Leader) {
    // Deleted (an operator forcing an election, or the lease expired) or re-created: the
    // next campaign tells who leads now.
    role_ = Role::Follower;
    leader_.clear();
    term_ = 0;
    next_poll_ = MonoTime::min();
  }
}

void Election::failed(Step step, MonoTime now) {
  const MonoTime retry = now + settings_.retry_interval;
  switch (step) {
    case Step::GrantLease:
      next_grant_ = retry;
      break;
    case Step::KeepAlive:
      next_keepalive_ = retry;
      break;
    case Step::Campaign:
    case Step::Check:
      next_poll_ = retry;
      break;
    case Step::Wait:
      break;
  }
}

void Election::resigned(MonoTime no_campaign_until) {
  role_ = Role::Follower;
  leader_.clear();
  term_ = 0;
  no_campaign_until_ = no_campaign_until;
}

void Election::loseLease() {
  lease_ = Lease{};
  role_ = Role::Follower;
  leader_.clear();
  term_ = 0;
  renewed_ttl_ = Duration::zero();
}

bool Election::mayWrite(MonoTime now) const {
  return role_ == Role::Leader && now < fenceDeadline();
}

MonoTime Election::fenceDeadline() const {
  if (lease_.id == 0 || renewed_ttl_ <= Duration::zero()) {
    return MonoTime::min();
  }
  return renewed_sent_ + renewed_ttl_ - settings_.margin;
}

MonoTime Election::leaseExpiry() const {
  if (lease_.id == 0) {
    return MonoTime::min();
  }
  return renewed_sent_ + renewed_ttl_;
}

}  // namespace pathpilot::ha
