// ha/ha_node.h — one monitor's membership in a group of monitors that elects one writer.
//
// Purpose: runs the election (ha/election.h) against etcd on its own thread and offers the
// rest of the daemon two things: a change callback (role, leader, term, or whether this
// monitor may write now changed) and fence(), the check every write goes through. Without an
// `ha` config section nothing of this exists and the monitor writes alone.
//
// Start-up: the thread grants a lease, then claims <prefix>/<site>/members/<node> under it; a
// member key held under another lease that does not go away within ttl + 2 s means a second
// live monitor has the same node name: the fatal callback reports it (the daemon exits with a
// clear error), since two monitors with one name could not tell their leadership apart.
//
// The fence (fence()): succeeds only if this monitor leads, its fence deadline (election.h)
// has not passed, and a transaction confirms that the leader key still has this term's
// creation revision; the deadline is checked again after the answer. It blocks for one etcd
// round trip (bounded by the keepalive interval) and may be called from any thread (the route
// and recovery workers call it right before their backend call).
//
// Shutdown: stop() ends the thread; a leader then deletes its leader key and revokes its lease,
// so that a follower takes over within one poll interval instead of one TTL.
//
// Threading: the election thread owns the loop's etcd client; fence() uses a second client
// under its own mutex; the Election is guarded by a mutex. Callbacks run on the election thread
// and must not block (the daemon posts them to the engine thread).
// Metrics: HaView (role, term, lease left, keepalive latency and failures, fence checks).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "base/time.h"
#include "ha/election.h"
#include "ha/etcd_client.h"
#include "http/http_client.h"

namespace pathpilot::ha {

struct HaOptions {
  std::string site;                   // one election per site
  std::string prefix = "/pathpilot";  // key prefix, no trailing '/'
  ElectionSettings election;
  EtcdOptions etcd;
};

// One monitor's view of the paths as it published it (under its lease: a monitor that is gone
// has no view).
struct PeerView {
  std::string node;
  std::string value;  // what publishView() was given (the daemon's compact JSON)
};

// What status, metrics and events show.
struct HaView {
  Role role = Role::Follower;
  std::string node;
  std::string leader;  // "" while unknown
  std::int64_t term = 0;
  bool writing = false;         // leader and inside its fence deadline
  Duration lease_left{};        // until the fence deadline (leader) / lease expiry; ≥ 0
  bool member_claimed = false;  // the node name is ours in etcd
  // etcd renewed this monitor's lease within the last lease TTL. False for a TTL: nobody can be
  // elected or write (etcd down or without quorum, or this monitor cut off from it).
  bool etcd_ok = false;
  std::string endpoint;         // the etcd endpoint the loop talks to
  std::string last_error;       // of the loop's last failed call ("" after a success)
  std::uint64_t keepalives = 0;
  std::uint64_t keepalive_failures = 0;
  Duration last_keepalive_latency{};
  std::uint64_t fence_checks = 0;
  std::uint64_t fence_refusals = 0;
  Duration max_fence_latency{};
  // Every monitor's published view, this one's included, by node name (read every poll
  // interval).
  std::vector<PeerView> views;
  // The group's drains (path → who asked), read with the views; nullopt until a read worked.
  std::optional<std::map<std::string, std::string>> drains;
  // The leader's state (publishState(): name → value), read with the views; nullopt until a
  // read worked. `state_term`: the term this monitor led when that read began (0: it did
  // not lead), so a new leader knows when it has read everything its predecessors wrote.
  std::optional<std::map<std::string, std::string>> state;
  std::int64_t state_term = 0;

  // Role, leader, term, writing and etcd_ok are the same.
  bool sameLeadership(const HaView& o) const {
    return role == o.role && leader == o.leader && term == o.term && writing == o.writing &&
           etcd_ok == o.etcd_ok;
  }
};

class HaNode {
 public:
  using ChangeSink = std::function<void(const HaView&)>;
  using FatalSink = std::function<void(const Error&)>;

  // Requires: the clients outlive nothing else (owned); options valid (config checks them).
  HaNode(const Clock& clock, HaOptions options, std::unique_ptr<http::HttpClient> loop_http,
         std::unique_ptr<http::HttpClient> fence_http);
  ~HaNode();
  HaNode(const HaNode&) = delete;
  HaNode& operator=(const HaNode&) = delete;

  // Starts the election thread. on_change gets the first view once etcd answered.
  void start(ChangeSink on_change, FatalSink on_fatal);
  // Stops the thread; a leader gives up its key and lease (see the header comment).
  void stop();

  // The write fence (see the header comment). Errors: Unavailable naming why this monitor
  // may not write ("follower; the leader is mon-b", "fence deadline passed", "leadership
  // check failed: <etcd error>").
  [[nodiscard]] Result<void> fence();
  // Local part of the fence only (no etcd call): leader inside its deadline.
  bool mayWrite() const;
  // This monitor's view of the paths (any text; the daemon sends compact JSON), put under
  // <prefix>/<site>/views/<node> with the lease by the election thread as soon as it can. Call
  // it when the view changes; thread-safe, never blocks on etcd.
  void publishView(std::string value);
  // An operator's drain (or undrain) of `path` for the whole group: the election thread puts
  // (deletes) <prefix>/<site>/drains/<path> = `by`, with no lease, so that it outlives every
  // monitor; every monitor applies what it reads there (HaView::drains). Thread-safe.
  void requestDrain(std::string path, bool drain, std::string by);
  // State the leader keeps for its successors (open alert incidents, recovery limits):
  // <prefix>/<site>/state/<name> = `value` (nullopt: deleted), with no lease, written by the
  // election thread in a transaction that requires this monitor's leader key of the current
  // term, so a monitor that no longer leads cannot overwrite its successor's state. The last
  // value per name wins; dropped when this monitor does not lead. Thread-safe, never blocks.
  // `written` (optional) runs on the election thread once etcd acknowledged this value or a
  // newer one of the same name; never when the write was dropped (the caller bounds its wait).
  void publishState(std::string name, std::optional<std::string> value,
                    std::function<void()> written = nullptr);
  // Gives leadership up (a no-op for a follower): the election thread deletes the leader key
  // and does not campaign for `hold_off`, so that another monitor leads. Thread-safe.
  void resign(Duration hold_off);
  HaView view() const;
  // The lease TTL asked of etcd (config `ha.lease_ttl`).
  Duration leaseTtl() const { return options_.election.ttl; }

  std::string leaderKey() const;
  std::string memberKey() const;
  std::string viewsPrefix() const;
  std::string drainsPrefix() const;
  std::string statePrefix() const;

 private:
  void run();
  void step(Election::Next next);
  void claimMember(MonoTime sent);
  void putView();
  void readViews();
  HaView viewLocked(MonoTime now) const;
  void notify();

  const Clock& clock_;
  HaOptions options_;
  std::unique_ptr<http::HttpClient> loop_http_;
  std::unique_ptr<http::HttpClient> fence_http_;
  EtcdClient loop_etcd_;  // election thread only

  mutable std::mutex mu_;
  std::condition_variable cv_;
  Election election_;
  bool stopping_ = false;
  bool member_claimed_ = false;
  MonoTime member_conflict_since_ = MonoTime::max();
  std::string last_error_;
  MonoTime started_{};
  MonoTime last_success_ = MonoTime::min();
  std::string endpoint_;
  std::uint64_t keepalives_ = 0;
  std::uint64_t keepalive_failures_ = 0;
  Duration last_keepalive_latency_{};
  std::uint64_t fence_checks_ = 0;
  std::uint64_t fence_refusals_ = 0;
  Duration max_fence_latency_{};
  std::optional<Duration> resign_requested_;
  struct DrainRequest {
    std::string path;
    bool drain = true;
    std::string by;
  };
  std::vector<DrainRequest> drain_requests_;
  MonoTime next_drain_write_{};  // after a failed write: retry then
  std::optional<std::map<std::string, std::string>> drains_;
  void writeDrains(std::vector<DrainRequest> requests);
  struct StateWrite {
    std::optional<std::string> value;            // the latest
    std::vector<std::function<void()>> written;  // of this value and the ones it replaced
  };
  void writeState(std::map<std::string, StateWrite> writes);
  std::map<std::string, StateWrite> state_writes_;  // by name
  std::optional<std::map<std::string, std::string>> state_;
  std::int64_t state_term_ = 0;
  void resignNow(Duration hold_off);
  std::string view_value_;
  bool view_dirty_ = false;
  MonoTime next_views_read_{};
  std::vector<PeerView> views_;

  std::mutex fence_mu_;
  EtcdClient fence_etcd_;  // under fence_mu_

  ChangeSink on_change_;
  FatalSink on_fatal_;
  HaView last_notified_;
  bool notified_once_ = false;
  bool fatal_ = false;
  std::thread thread_;
};

}  // namespace pathpilot::ha
