// pp-nfq-delay: adds latency to packets in the network lab, where the kernel has no netem
// (lab/README.md). iptables hands the packets to an NFQUEUE; this program holds each one for the
// configured delay (plus optional uniform jitter) and then gives the kernel its verdict
// (NF_ACCEPT), which reinjects it where it left off.
//
//   iptables -A FORWARD -i vpc -j NFQUEUE --queue-num 7 --queue-bypass
//   pp-nfq-delay --queue 7 --delay 50ms [--jitter 10ms] [--max-held 65536]
//
// Design notes:
//   * Only packet metadata is copied to userspace (NFQNL_COPY_META): the verdict needs nothing
//     but the packet id, and verdicts may be given in any order (nfnetlink_queue keys them by
//     id), so the packets stay in the kernel while they wait.
//   * Held packets sit in a min-heap on their release time. With jitter, later packets may
//     overtake earlier ones, as with netem's jitter; without it the order is kept.
//   * The kernel queue is sized to --max-held; beyond it the kernel drops (a full queue is real
//     loss, not something to hide). ENOBUFS is turned off on the netlink socket: a burst must
//     not kill the helper.
//   * SIGTERM/SIGINT release every held packet at once before the queue is unbound, so stopping
//     the helper never loses the packets it holds. The iptables rule should use
//     --queue-bypass so that packets pass undelayed when no helper is bound.
// Only the lab uses it; it runs inside the namespace whose traffic it delays.
// <netinet/in.h> must come before the <linux/...> headers: glibc's definitions then switch
// off the clashing ones in <linux/in.h> (linux/libc-compat.h).
#include <netinet/in.h>

#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>

#include <libnetfilter_queue/libnetfilter_queue.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "base/time.h"

namespace {

using SteadyClock = std::chrono::steady_clock;
using pathpilot::Duration;

volatile sig_atomic_t g_stop = 0;

void onSignal(int) { g_stop = 1; }

// One packet waiting for its verdict.
struct Held {
  SteadyClock::time_point release;
  std::uint32_t id;
  bool operator>(const Held& o) const { return release > o.release; }
};

struct State {
  nfq_q_handle* queue = nullptr;
  Duration delay{};
  Duration jitter{};
  std::mt19937_64 rng{std::random_device{}()};
  std::priority_queue<Held, std::vector<Held>, std::greater<>> held;
  std::uint64_t received = 0;
  std::uint64_t released = 0;
  std::uint64_t verdict_errors = 0;
};

// libnetfilter_queue callback: one queued packet. Returns < 0 only to stop
// nfq_handle_packet() on a broken message, which never happens for packets we understand.
int onPacket(nfq_q_handle*, nfgenmsg*, nfq_data* nfa, void* data) {
  auto* st = static_cast<State*>(data);
  nfqnl_msg_packet_hdr* ph = nfq_get_msg_packet_hdr(nfa);
  if (ph == nullptr) {
    return 0;
  }
  Duration d = st->delay;
  if (st->jitter.count() > 0) {
    std::uniform_int_distribution<Duration::rep> dist(-st->jitter.count(), st->jitter.count());
    d = std::max(Duration::zero(), d + Duration(dist(st->rng)));
  }
  st->held.push({SteadyClock::now() + d, ntohl(ph->packet_id)});
  ++st->received;
  return 0;
}

void release(State& st, std::uint32_t id) {
  if (nfq_set_verdict(st.queue, id, NF_ACCEPT, 0, nullptr) < 0) {
    // The packet may already be gone (its interface was deleted); nothing to do about it.
    ++st.verdict_errors;
  }
  ++st.released;
}

// Releases every packet whose time has come; returns how long until the next one is due
// (nullopt: nothing held).
std::optional<Duration> releaseDue(State& st) {
  auto now = SteadyClock::now();
  while (!st.held.empty() && st.held.top().release <= now) {
    release(st, st.held.top().id);
    st.held.pop();
  }
  if (st.held.empty()) {
    return std::nullopt;
  }
  return std::chrono::duration_cast<Duration>(st.held.top().release - now);
}

int run(int queue_num, Duration delay, Duration jitter, std::uint32_t max_held) {
  State st;
  st.delay = delay;
  st.jitter = jitter;

  nfq_handle* h = nfq_open();
  if (h == nullptr) {
    std::fprintf(stderr, "pp-nfq-delay: nfq_open: %s (needs CAP_NET_ADMIN)\n",
                 std::strerror(errno));
    return 1;
  }
  st.queue = nfq_create_queue(h, static_cast<std::uint16_t>(queue_num), &onPacket, &st);
  if (st.queue == nullptr) {
    std::fprintf(stderr, "pp-nfq-delay: cannot bind NFQUEUE %d: %s (another helper on it?)\n",
                 queue_num, std::strerror(errno));
    nfq_close(h);
    return 1;
  }
  if (nfq_set_mode(st.queue, NFQNL_COPY_META, 0) < 0) {
    std::fprintf(stderr, "pp-nfq-delay: nfq_set_mode: %s\n", std::strerror(errno));
    nfq_destroy_queue(st.queue);
    nfq_close(h);
    return 1;
  }
  if (nfq_set_queue_maxlen(st.queue, max_held) < 0) {
    std::fprintf(stderr, "pp-nfq-delay: warning: cannot set queue length %u: %s\n", max_held,
                 std::strerror(errno));
  }
  int fd = nfq_fd(h);
  int one = 1;
  // A burst beyond the socket buffer must not turn into recv() errors that end the helper.
  (void)setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);
  (void)nfnl_rcvbufsiz(nfq_nfnlh(h), 8u << 20);

  // SIGTERM/SIGINT are blocked except inside ppoll(), so a signal can only interrupt the wait
  // and never a verdict half-sent.
  sigset_t block, wait_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  sigprocmask(SIG_BLOCK, &block, &wait_mask);
  sigdelset(&wait_mask, SIGTERM);
  sigdelset(&wait_mask, SIGINT);
  struct sigaction sa {};
  sa.sa_handler = onSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  std::fprintf(stderr, "pp-nfq-delay: queue %d, delay %s, jitter %s\n", queue_num,
               pathpilot::formatDuration(delay).c_str(), pathpilot::formatDuration(jitter).c_str());
  std::vector<char> buf(1 << 16);
  int rc = 0;
  while (g_stop == 0) {
    std::optional<Duration> next = releaseDue(st);
    timespec ts{};
    timespec* tsp = nullptr;
    if (next) {
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(*next).count();
      ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
      ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
      tsp = &ts;
    }
    pollfd p{fd, POLLIN, 0};
    int n = ppoll(&p, 1, tsp, &wait_mask);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      std::fprintf(stderr, "pp-nfq-delay: ppoll: %s\n", std::strerror(errno));
      rc = 1;
      break;
    }
    if (n == 0) {
      continue;
    }
    // Drain what is there without blocking.
    for (;;) {
      ssize_t len = recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
      if (len < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS && errno != EINTR) {
          std::fprintf(stderr, "pp-nfq-delay: recv: %s\n", std::strerror(errno));
          rc = 1;
        }
        break;
      }
      nfq_handle_packet(h, buf.data(), static_cast<int>(len));
    }
    if (rc != 0) {
      break;
    }
  }
  // Stopping never strands a packet: release everything still held, then unbind.
  while (!st.held.empty()) {
    release(st, st.held.top().id);
    st.held.pop();
  }
  nfq_destroy_queue(st.queue);
  nfq_close(h);
  std::fprintf(stderr, "pp-nfq-delay: queue %d: %llu packets delayed, %llu verdict errors\n",
               queue_num, static_cast<unsigned long long>(st.released),
               static_cast<unsigned long long>(st.verdict_errors));
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"pp-nfq-delay: hold NFQUEUE packets for a fixed delay (network lab)",
               "pp-nfq-delay"};
  int queue_num = 0;
  std::string delay_text, jitter_text = "0";
  std::uint32_t max_held = 65536;
  app.add_option("--queue", queue_num, "NFQUEUE number (iptables --queue-num)")
      ->required()
      ->check(CLI::Range(0, 65535));
  app.add_option("--delay", delay_text, "how long to hold each packet, e.g. 50ms")->required();
  app.add_option("--jitter", jitter_text, "uniform jitter around the delay, e.g. 5ms");
  app.add_option("--max-held", max_held, "kernel queue length (packets beyond it are dropped)")
      ->check(CLI::Range(1u, 10'000'000u));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  // A bare number means milliseconds, as in `lab/fault delay dx 50`.
  auto parse = [](std::string text, const char* what) -> std::optional<Duration> {
    if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
      text += "ms";
    }
    auto d = pathpilot::parseDuration(text);
    if (!d || d->count() < 0 || *d > std::chrono::minutes(1)) {
      std::fprintf(stderr, "pp-nfq-delay: %s: expected a duration from 0 to 1m, got \"%s\"%s%s\n",
                   what, text.c_str(), d ? "" : ": ", d ? "" : d.error().message().c_str());
      return std::nullopt;
    }
    return *d;
  };
  auto delay = parse(delay_text, "--delay");
  auto jitter = parse(jitter_text, "--jitter");
  if (!delay || !jitter) {
    return 2;
  }
  return run(queue_num, *delay, *jitter, max_held);
}
