// pp-traffic: a numbered UDP stream for the network lab, so that loss and traffic gaps during a
// failover can be counted exactly.
//
//   pp-traffic send --to 10.10.3.100:9000 --rate 1000 --stream rtb-a [--duration 60s]
//   pp-traffic recv --port 9000 --report gaps.json
//
// Each datagram carries the stream name, a sequence number and the sender's send time. The
// receiver records, per stream, every run of missing sequence numbers: how many packets were
// lost and the gap in arrival time around them (last packet before → first packet after). On
// SIGINT/SIGTERM, or every --flush interval, it writes a JSON report:
//   {"streams":{"rtb-a":{"received":N,"lost":M,"last_seq":S,
//                        "gaps":[{"at":"RFC3339","gap_ms":312.4,"lost":311,"first_seq":..}]}}}
// Only the lab uses it; it sends to the address it is given and nowhere else.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "base/time.h"

namespace {

using pathpilot::Duration;
using SteadyClock = std::chrono::steady_clock;

std::atomic<bool> g_stop{false};

void onSignal(int) { g_stop = true; }

struct Wire {
  char magic[4];  // "PPT1"
  std::uint64_t seq;
  std::int64_t sent_unix_ns;
  char stream[32];
} __attribute__((packed));

int sendMode(const std::string& to, int rate, const std::string& stream, Duration duration) {
  auto colon = to.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "pp-traffic: --to must be ADDRESS:PORT, got \"%s\"\n", to.c_str());
    return 2;
  }
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(static_cast<std::uint16_t>(std::stoi(to.substr(colon + 1))));
  if (inet_pton(AF_INET, to.substr(0, colon).c_str(), &dst.sin_addr) != 1) {
    std::fprintf(stderr, "pp-traffic: bad address in --to \"%s\"\n", to.c_str());
    return 2;
  }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    std::perror("pp-traffic: socket");
    return 1;
  }
  Wire w{};
  std::memcpy(w.magic, "PPT1", 4);
  std::snprintf(w.stream, sizeof w.stream, "%s", stream.c_str());
  auto period = std::chrono::nanoseconds(1'000'000'000LL / rate);
  auto start = SteadyClock::now();
  auto next = start;
  std::uint64_t seq = 0;
  while (!g_stop) {
    if (duration.count() > 0 && SteadyClock::now() - start >= duration) {
      break;
    }
    w.seq = seq++;
    w.sent_unix_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    // Errors (no route while a path is being switched) are expected: the packet is lost,
    // which is exactly what the receiver measures.
    (void)sendto(fd, &w, sizeof w, 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst);
    next += period;
    std::this_thread::sleep_until(next);
  }
  close(fd);
  std::fprintf(stderr, "pp-traffic: sent %llu packets on stream %s\n",
               static_cast<unsigned long long>(seq), stream.c_str());
  return 0;
}

struct Gap {
  pathpilot::WallTime at;
  double gap_ms;
  std::uint64_t lost;
  std::uint64_t first_seq;
};

struct StreamState {
  bool started = false;
  std::uint64_t received = 0;
  std::uint64_t lost = 0;
  std::uint64_t last_seq = 0;
  std::uint64_t reordered = 0;
  SteadyClock::time_point last_arrival{};
  pathpilot::WallTime last_wall{};
  std::vector<Gap> gaps;
};

void writeReport(const std::map<std::string, StreamState>& streams, const std::string& path) {
  nlohmann::json j;
  j["streams"] = nlohmann::json::object();
  for (const auto& [name, s] : streams) {
    nlohmann::json gaps = nlohmann::json::array();
    for (const Gap& g : s.gaps) {
      gaps.push_back({{"at", pathpilot::formatRfc3339(g.at)},
                      {"gap_ms", g.gap_ms},
                      {"lost", g.lost},
                      {"first_seq", g.first_seq}});
    }
    j["streams"][name] = {{"received", s.received}, {"lost", s.lost},
                          {"last_seq", s.last_seq}, {"reordered", s.reordered},
                          {"last_at", pathpilot::formatRfc3339(s.last_wall)},
                          {"gaps", gaps}};
  }
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << j.dump(1) << "\n";
  }
  std::rename(tmp.c_str(), path.c_str());
}

int recvMode(int port, const std::string& report, Duration flush) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    std::perror("pp-traffic: socket");
    return 1;
  }
  int rcvbuf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror("pp-traffic: bind");
    return 1;
  }
  std::map<std::string, StreamState> streams;
  auto last_flush = SteadyClock::now();
  while (!g_stop) {
    pollfd p{fd, POLLIN, 0};
    int rc = poll(&p, 1, 100);
    auto now = SteadyClock::now();
    if (rc > 0) {
      Wire w{};
      ssize_t n = recv(fd, &w, sizeof w, 0);
      if (n == static_cast<ssize_t>(sizeof w) && std::memcmp(w.magic, "PPT1", 4) == 0) {
        w.stream[sizeof w.stream - 1] = '\0';
        StreamState& s = streams[w.stream];
        auto wall = std::chrono::system_clock::now();
        if (s.started && w.seq <= s.last_seq) {
          ++s.reordered;
          continue;
        }
        if (s.started && w.seq > s.last_seq + 1) {
          std::uint64_t missing = w.seq - s.last_seq - 1;
          s.lost += missing;
          s.gaps.push_back({s.last_wall,
                            std::chrono::duration<double, std::milli>(now - s.last_arrival).count(),
                            missing, s.last_seq + 1});
        }
        s.started = true;
        s.last_seq = w.seq;
        s.last_arrival = now;
        s.last_wall = wall;
        ++s.received;
      }
    }
    if (flush.count() > 0 && now - last_flush >= flush) {
      writeReport(streams, report);
      last_flush = now;
    }
  }
  writeReport(streams, report);
  close(fd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"pp-traffic: numbered UDP stream for the pathpilot lab", "pp-traffic"};
  app.require_subcommand(1);
  std::string to, stream = "default", report = "traffic.json", duration_text = "0",
                  flush_text = "1s";
  int rate = 1000;
  int port = 9000;
  auto* send = app.add_subcommand("send", "send a numbered stream");
  send->add_option("--to", to, "ADDRESS:PORT")->required();
  send->add_option("--rate", rate, "packets per second")->check(CLI::Range(1, 100000));
  send->add_option("--stream", stream, "stream name (max 31 chars)");
  send->add_option("--duration", duration_text, "stop after this long (0 = until signalled)");
  auto* recv = app.add_subcommand("recv", "receive streams and report gaps");
  recv->add_option("--port", port, "UDP port")->check(CLI::Range(1, 65535));
  recv->add_option("--report", report, "JSON report file");
  recv->add_option("--flush", flush_text, "rewrite the report this often");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  struct sigaction sa{};
  sa.sa_handler = onSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  if (send->parsed()) {
    auto d = pathpilot::parseDuration(duration_text);
    if (!d) {
      std::fprintf(stderr, "pp-traffic: --duration: %s\n", d.error().message().c_str());
      return 2;
    }
    return sendMode(to, rate, stream, *d);
  }
  auto f = pathpilot::parseDuration(flush_text);
  if (!f) {
    std::fprintf(stderr, "pp-traffic: --flush: %s\n", f.error().message().c_str());
    return 2;
  }
  return recvMode(port, report, *f);
}
