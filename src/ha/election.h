// ha/election.h — one monitor's side of the leader election, as a pure state machine.
//
// Purpose: decides, from the answers etcd gave and the monotonic time they were asked at,
// what this monitor is (follower or leader), who leads and in which term, what to ask etcd
// next, and — the one question that matters for safety — whether this monitor may write now.
// No I/O: ha/ha_node.h performs the calls and feeds the answers back; tests drive it with
// made-up answers and times.
//
// The election (docs/ha.md): every monitor holds a lease of `ttl` and keeps it alive every
// `keepalive_interval`. The leader key (<prefix>/<site>/leader) is created only if absent
// (a transaction), under the creator's lease; its creation revision is the term. A monitor
// without the key tries to create it every `poll_interval` (the same transaction tells it who
// holds the key otherwise); the leader re-checks every `poll_interval` that the key still has
// its term's creation revision.
//
// The fence: etcd renews a lease when it processes a keepalive, so a lease whose keepalive was
// *sent* at t (and answered) cannot expire before t + ttl on etcd's clock, and nobody else can
// create the leader key before that. The leader writes only while
//     now < fence deadline = (send time of the last answered keepalive or grant) + ttl − margin
// on its own monotonic clock; the margin covers clock-rate differences and the time between
// the check and the write reaching its target. A leader whose deadline passes stays leader on
// paper (etcd may still keep its lease: without quorum leases do not expire) but writes
// nothing until a keepalive is answered again; if etcd says the lease is gone it is a follower.
//
// Threading: not thread-safe; HaNode guards it with a mutex. Metrics: none (HaNode reports).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/time.h"
#include "ha/etcd_client.h"

namespace pathpilot::ha {

enum class Role : std::uint8_t {
  Follower,  // no lease yet, or another monitor (or nobody known) leads
  Leader,    // this monitor holds the leader key (may still be fenced: see mayWrite)
};
const char* roleName(Role role);

struct ElectionSettings {
  std::string node;  // this monitor's name (the leader key's value)
  Duration ttl = std::chrono::seconds(2);
  Duration margin = std::chrono::milliseconds(500);              // < ttl
  Duration keepalive_interval = std::chrono::milliseconds(500);  // < ttl − margin
  Duration poll_interval = std::chrono::milliseconds(250);
  // After a failed call, the same call is retried this much later.
  Duration retry_interval = std::chrono::milliseconds(250);
};

class Election {
 public:
  enum class Step : std::uint8_t {
    GrantLease,  // no lease: grant one
    KeepAlive,   // renew the lease
    Campaign,    // try to create the leader key (learns the holder otherwise)
    Check,       // leader: does the key still have our term's creation revision?
    Wait,        // nothing due before `at`
  };
  struct Next {
    Step step = Step::Wait;
    MonoTime at = MonoTime::max();
  };

  explicit Election(ElectionSettings settings);

  // What to do next, and when (at ≤ now: now).
  Next next(MonoTime now) const;

  // Answers. `sent` = the monotonic time the request was sent.
  void leaseGranted(const Lease& lease, MonoTime sent);
  void keptAlive(std::optional<Duration> ttl, MonoTime sent);
  void campaigned(const CreateResult& result, MonoTime sent);
  void checked(bool holds, MonoTime sent);
  // Any call failed at `now`: it is retried after retry_interval.
  void failed(Step step, MonoTime now);
  // Gave the key up (resign): a follower without knowing who leads next, which does not
  // campaign before `no_campaign_until` (so that another monitor takes the key).
  void resigned(MonoTime no_campaign_until = MonoTime::min());

  Role role() const { return role_; }
  // The leader's node name ("" when unknown), its term (the leader key's creation revision; 0
  // when unknown).
  const std::string& leader() const { return leader_; }
  std::int64_t term() const { return term_; }
  std::int64_t leaseId() const { return lease_.id; }
  // True when this monitor leads and its fence deadline has not passed.
  bool mayWrite(MonoTime now) const;
  // MonoTime::min() when there is no answered keepalive.
  MonoTime fenceDeadline() const;
  // When the lease expires at the latest by our clock (last answered send time + ttl).
  MonoTime leaseExpiry() const;
  const ElectionSettings& settings() const { return settings_; }

 private:
  void loseLease();

  ElectionSettings settings_;
  Role role_ = Role::Follower;
  Lease lease_;              // id 0: none
  MonoTime renewed_sent_{};  // send time of the last answered grant/keepalive
  Duration renewed_ttl_{};   // the TTL that answer gave
  MonoTime next_keepalive_ = MonoTime::min();
  MonoTime next_poll_ = MonoTime::min();
  MonoTime next_grant_ = MonoTime::min();
  MonoTime no_campaign_until_ = MonoTime::min();
  std::string leader_;
  std::int64_t term_ = 0;
};

}  // namespace pathpilot::ha
