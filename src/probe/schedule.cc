#include "probe/schedule.h"

#include "base/check.h"

namespace pathpilot::probe {
namespace {

constexpr std::size_t kMaxSeq = 65536;
// How far allocate() looks past a waiting slot before growing the table. A few long-timeout
// probes then do not force growth, and the search stays O(1).
constexpr std::size_t kProbeAhead = 8;

// Maps a 64-bit random value to [0, 1) with 53 bits of precision.
double unit(std::uint64_t random) {
  return static_cast<double>(random >> 11) * (1.0 / 9007199254740992.0);
}

}  // namespace

Duration jitteredInterval(Duration interval, std::uint32_t jitter_pct, std::uint64_t random) {
  PP_CHECK(jitter_pct <= 100);
  if (jitter_pct == 0 || interval <= Duration::zero()) {
    return interval;
  }
  // factor in [1 - j, 1 + j)
  const double j = static_cast<double>(jitter_pct) / 100.0;
  const double factor = 1.0 - j + 2.0 * j * unit(random);
  const auto ns = static_cast<double>(interval.count()) * factor;
  return Duration(static_cast<Duration::rep>(ns));
}

MonoTime nextDue(MonoTime previous_due, Duration step, Duration interval, MonoTime now) {
  PP_CHECK(interval > Duration::zero());
  MonoTime next = previous_due + step;
  if (next <= now) {
    const auto missed = (now - next) / interval + 1;
    next += missed * interval;
  }
  return next;
}

// Modulo bias is at most interval/2^64: irrelevant for spreading probes.
Duration firstProbeOffset(Duration interval, std::uint64_t random) {
  if (interval <= Duration::zero()) {
    return Duration::zero();
  }
  return Duration(static_cast<Duration::rep>(random % static_cast<std::uint64_t>(interval.count())));
}

PhaseSlot quorumPhaseSlot(std::size_t index, std::size_t targets, std::size_t quorum) {
  PP_CHECK(quorum >= 1 && quorum <= targets && index < targets);
  // k targets must fail together; ⌊N/k⌋ groups of them fit in the interval. Targets beyond
  // the last full group (N not a multiple of k) join the groups from the front again, which
  // keeps every group at least k strong.
  const std::size_t k = targets - quorum + 1;
  const std::size_t groups = targets / k;
  return PhaseSlot{static_cast<std::uint32_t>((index / k) % groups),
                   static_cast<std::uint32_t>(groups)};
}

MonoTime phasedFirstGrid(MonoTime anchor, Duration interval, PhaseSlot phase, MonoTime now) {
  PP_CHECK(interval > Duration::zero() && phase.slots >= 1 && phase.slot < phase.slots);
  const MonoTime base = anchor + interval * phase.slot / phase.slots;
  // Floor division that also works for `now` before `base`.
  auto n = (now - base) / interval;
  if (base + n * interval > now) {
    --n;
  }
  MonoTime at = base + n * interval;
  if (at < now) {
    at += interval;
  }
  return at;
}

Duration gridJitter(Duration interval, std::uint32_t jitter_pct, std::uint64_t random) {
  PP_CHECK(jitter_pct <= 100);
  if (jitter_pct == 0 || interval <= Duration::zero()) {
    return Duration::zero();
  }
  const double half = static_cast<double>(jitter_pct) / 200.0;
  const double offset = (2.0 * unit(random) - 1.0) * half;  // [−half, +half)
  return Duration(static_cast<Duration::rep>(static_cast<double>(interval.count()) * offset));
}

SeqTable::SeqTable(std::size_t initial_size) : slots_(initial_size) {
  PP_CHECK(initial_size >= 1 && initial_size <= kMaxSeq &&
           (initial_size & (initial_size - 1)) == 0);
}

std::optional<std::uint16_t> SeqTable::allocate(std::uint32_t target, std::uint32_t target_gen,
                                                std::uint64_t nonce, MonoTime sent_at) {
  std::optional<std::size_t> chosen;
  for (std::size_t i = 0; i < kProbeAhead && i < slots_.size(); ++i) {
    const std::size_t at = (cursor_ + i) & (slots_.size() - 1);
    if (slots_[at].state != InFlight::State::Waiting) {
      chosen = at;
      break;
    }
  }
  if (!chosen) {
    if (slots_.size() >= kMaxSeq) {
      // Full around the cursor: move on so that the next attempt looks at other slots.
      cursor_ = (cursor_ + kProbeAhead) & (slots_.size() - 1);
      return std::nullopt;
    }
    // Grow: the new upper half is free; continue there.
    const std::size_t old = slots_.size();
    slots_.resize(old * 2);
    chosen = old;
  }
  InFlight& slot = slots_[*chosen];
  slot = InFlight{InFlight::State::Waiting, target, target_gen, nonce, sent_at};
  ++waiting_;
  cursor_ = (*chosen + 1) & (slots_.size() - 1);
  return static_cast<std::uint16_t>(*chosen);
}

// The nonce and the send time must both match: a reply to an earlier probe that used the same
// sequence number (after a wrap) carries the old cookie and is rejected.
ReplyMatch SeqTable::onReply(std::uint16_t seq, std::uint64_t nonce, MonoTime sent_at,
                             InFlight* probe) {
  if (seq >= slots_.size()) {
    return ReplyMatch::Foreign;
  }
  InFlight& slot = slots_[seq];
  if (slot.nonce != nonce || slot.sent_at != sent_at) {
    return ReplyMatch::Foreign;
  }
  switch (slot.state) {
    case InFlight::State::Waiting:
      if (probe != nullptr) {
        *probe = slot;
      }
      slot.state = InFlight::State::Free;
      --waiting_;
      return ReplyMatch::Valid;
    case InFlight::State::TimedOut:
      if (probe != nullptr) {
        *probe = slot;  // whose probe was late: its timeout estimate learns from it
      }
      slot.state = InFlight::State::Free;
      return ReplyMatch::Late;
    case InFlight::State::Free:
      break;
  }
  return ReplyMatch::Foreign;
}

bool SeqTable::expire(std::uint16_t seq, std::uint64_t nonce) {
  if (seq >= slots_.size()) {
    return false;
  }
  InFlight& slot = slots_[seq];
  if (slot.state != InFlight::State::Waiting || slot.nonce != nonce) {
    return false;
  }
  slot.state = InFlight::State::TimedOut;
  --waiting_;
  return true;
}

bool SeqTable::finish(std::uint16_t seq, std::optional<std::uint64_t> nonce, InFlight* probe) {
  if (seq >= slots_.size()) {
    return false;
  }
  InFlight& slot = slots_[seq];
  if (slot.state != InFlight::State::Waiting || (nonce && slot.nonce != *nonce)) {
    return false;
  }
  if (probe != nullptr) {
    *probe = slot;
  }
  slot.state = InFlight::State::Free;
  --waiting_;
  return true;
}

const InFlight* SeqTable::find(std::uint16_t seq) const {
  return seq < slots_.size() ? &slots_[seq] : nullptr;
}

}  // namespace pathpilot::probe
