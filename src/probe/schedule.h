// probe/schedule.h — the pure bookkeeping behind the probe engine.
//
// Purpose: scheduling math (jittered intervals, first-send offsets), one min-heap of deadlines
// for every send and timeout of the engine, and the table of in-flight ICMP probes per
// identifier that decides whether a reply is valid, late or foreign. No sockets, no clock:
// callers pass `now` and random numbers, so unit tests drive everything with a fake clock and
// a seeded generator.
//
// Why one heap and not one asio timer per probe: with thousands of targets at 10 ms intervals
// there are ~10^5 sends and ~10^5 timeouts per second. The engine keeps them all in one
// DeadlineQueue (O(log n) push/pop, stale entries skipped lazily) and arms a single asio timer
// for the earliest one, firing once per batch instead of once per probe.
//
// Threading: not thread-safe; owned by the engine thread. Metrics: none (the engine counts).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "base/time.h"

namespace pathpilot::probe {

// Returns `interval` scaled by a factor drawn uniformly from [1 - jitter_pct/100, 1 + jitter_pct/100],
// using the 64-bit uniform random value `random`. jitter_pct 0 returns interval unchanged.
// Requires: jitter_pct <= 100.
Duration jitteredInterval(Duration interval, std::uint32_t jitter_pct, std::uint64_t random);

// The due time of a target's next probe: `step` (a jittered interval) after the previous due
// time, so schedules do not drift with loop latency. If that is not after `now` (the loop
// stalled), whole intervals are skipped until it is: missed probes are dropped, never sent in
// a burst, and each target keeps its phase. Re-basing on `now` instead would give every
// overdue target the same due time, and a thousand targets would fire together from then on.
// Requires: interval > 0.
MonoTime nextDue(MonoTime previous_due, Duration step, Duration interval, MonoTime now);

// Offset of a new target's first probe in [0, interval), from `random`, so that targets added
// together do not all fire in the same instant.
Duration firstProbeOffset(Duration interval, std::uint64_t random);

// ---- Phase-locked schedules ------------------------------------------------------------------
//
// The targets of one path are probed on a common grid: target i of a path fires at
// anchor + slot_i · interval / slots + n · interval (plus a bounded jitter), where the anchor is
// drawn once per path. Which targets share a slot follows from the quorum:
//
// A path is Down once so many targets are Down that the quorum cannot be met, i.e. when
// k = targets − quorum + 1 of them have each lost `fall` probes in a row. After a fault at t0,
// target i loses its first probe at t0 + w_i (w_i in [0, interval) is the wait for its next
// send) and is Down at t0 + w_i + (fall − 1) · interval + timeout, so the path is Down at the
// k-th smallest w_i plus that constant. That order statistic is what the phases decide:
//   * independent random phases (one target's first send random, and jitter that accumulates):
//     for k = 2 of 2, the median of max(w_1, w_2) is 0.71 · interval;
//   * N targets I/N apart: the k-th smallest is (k − 1) · I/N + U[0, I/N): for quorum 1 of 2
//     the median is 0.75 · interval, worse than random;
//   * groups of k targets in one slot, groups I/m apart (m = ⌊N/k⌋ groups): the first group
//     that sends after t0 takes the path down, median interval / (2m).
// So quorum N (every target needed) gives N slots I/N apart, the classic stagger, and quorum 1
// puts all targets in one slot (median interval / 2). Outages shorter than (fall − 1)·interval
// cannot take a target down in any phase, so the phases change detection time only, not the
// false-positive rate; and each target keeps its own jitter, so they never fire in lock-step.
struct PhaseSlot {
  std::uint32_t slot = 0;   // this target's slot, < slots
  std::uint32_t slots = 1;  // slots of the path's interval
  bool operator==(const PhaseSlot&) const = default;
};

// The slot of target `index` of a path with `targets` targets and `quorum` as described above.
// Requires: 1 <= quorum <= targets, index < targets.
PhaseSlot quorumPhaseSlot(std::size_t index, std::size_t targets, std::size_t quorum);

// The first grid point of a phase-locked target at or after `now`: the earliest
// anchor + slot · interval / slots + n · interval (n any integer) that is >= now.
// Requires: interval > 0, slot < slots.
MonoTime phasedFirstGrid(MonoTime anchor, Duration interval, PhaseSlot phase, MonoTime now);

// Jitter of a phase-locked send around its grid point, uniform in
// [−jitter_pct/200 · interval, +jitter_pct/200 · interval): two consecutive sends are then
// interval × (1 ± jitter_pct/100) apart, as with jitteredInterval(), but the offsets do not
// accumulate, so targets keep their phase. Requires: jitter_pct <= 100.
Duration gridJitter(Duration interval, std::uint32_t jitter_pct, std::uint64_t random);

// A deterministic 64-bit generator (splitmix64). Cheap enough to draw one value per probe for
// jitter and nonces; seeded by the engine (tests inject the seed).
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t state_;
};

// A min-heap of (deadline, payload). Entries with equal deadlines pop in insertion order, so
// schedules are deterministic. Entries are never removed early: owners invalidate them with a
// generation number in the payload and skip stale ones when they pop.
template <class T>
class DeadlineQueue {
 public:
  void push(MonoTime at, T payload) {
    heap_.push_back(Entry{at, order_++, std::move(payload)});
    std::push_heap(heap_.begin(), heap_.end(), Later{});
  }
  bool empty() const { return heap_.empty(); }
  std::size_t size() const { return heap_.size(); }
  // Requires: !empty().
  MonoTime nextDeadline() const { return heap_.front().at; }
  const T& top() const { return heap_.front().payload; }
  // Removes and returns the earliest entry's payload. Requires: !empty().
  T pop() {
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    T payload = std::move(heap_.back().payload);
    heap_.pop_back();
    return payload;
  }
  void clear() { heap_.clear(); }

 private:
  struct Entry {
    MonoTime at;
    std::uint64_t order;
    T payload;
  };
  // std heaps are max-heaps: "a is later than b" puts the earliest at the front.
  struct Later {
    bool operator()(const Entry& a, const Entry& b) const {
      return a.at != b.at ? a.at > b.at : a.order > b.order;
    }
  };
  std::vector<Entry> heap_;
  std::uint64_t order_ = 0;
};

// One in-flight (or recently finished) ICMP probe, indexed by sequence number.
struct InFlight {
  enum class State : std::uint8_t {
    Free,      // never used, or finished (reply or error): a reply for it is foreign
    Waiting,   // sent, no reply yet
    TimedOut,  // timed out; kept until the sequence number is reused so that a late reply
               // with the right cookie is counted as late rather than foreign
  };
  State state = State::Free;
  std::uint32_t target = 0;      // the engine's target slot
  std::uint32_t target_gen = 0;  // that slot's generation when the probe was sent
  std::uint64_t nonce = 0;
  MonoTime sent_at{};
};

// How a reply relates to the probes of one identifier.
enum class ReplyMatch : std::uint8_t {
  Valid,    // matches a waiting probe: the probe is complete
  Late,     // matches a probe that already timed out
  Foreign,  // matches nothing (other process, reused sequence, wrong cookie)
};

// The in-flight table of one ICMP identifier (one ping socket, or one identifier on a raw
// socket). Sequence numbers are handed out in order; the table starts small and doubles up to
// the 65,536 sequence numbers that ICMP has, so thousands of targets need only a few tables.
class SeqTable {
 public:
  // Requires: initial_size is a power of two in [1, 65536].
  explicit SeqTable(std::size_t initial_size = 256);

  // Reserves a sequence number for a probe of `target` sent at `sent_at` with `nonce` and
  // returns it. Looks a few slots past the cursor, grows the table when they are all waiting,
  // and returns nullopt when the table is at 65,536 and still busy there (the caller then uses
  // another identifier; the next call here looks further on).
  std::optional<std::uint16_t> allocate(std::uint32_t target, std::uint32_t target_gen,
                                        std::uint64_t nonce, MonoTime sent_at);

  // Classifies a reply with `seq` whose cookie says (nonce, sent_at). On Valid the probe is
  // complete and `*probe` receives a copy of it; on Late `*probe` receives the timed-out probe
  // and the tombstone is cleared so that a duplicate of the same late reply is counted as
  // foreign.
  ReplyMatch onReply(std::uint16_t seq, std::uint64_t nonce, MonoTime sent_at, InFlight* probe);

  // Marks the probe (seq, nonce) as timed out. Returns false (and changes nothing) when it is
  // not waiting any more, i.e. the deadline is stale.
  bool expire(std::uint16_t seq, std::uint64_t nonce);

  // Ends the probe `seq` because an error came back for it (ICMP unreachable, send failure).
  // With a nonce (the error quoted our whole cookie) it must match; without one, the sequence
  // alone identifies the probe. Returns false when it is not waiting. `*probe` receives a copy
  // on success.
  bool finish(std::uint16_t seq, std::optional<std::uint64_t> nonce, InFlight* probe);

  // Read access for tests and error matching. Returns nullptr for seq beyond the table.
  const InFlight* find(std::uint16_t seq) const;

  std::size_t capacity() const { return slots_.size(); }
  std::size_t waiting() const { return waiting_; }

 private:
  std::vector<InFlight> slots_;
  std::size_t cursor_ = 0;
  std::size_t waiting_ = 0;
};

}  // namespace pathpilot::probe
