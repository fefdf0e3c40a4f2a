// pathpilot's Linux route backend next to a real FRR (zebra + staticd) in one network namespace.
//
// Each test makes a private namespace (unshare(CLONE_NEWNET); it disappears with the test's
// processes), starts FRR's zebra and staticd in it (Debian package frr, /usr/lib/frr; their own
// pathspace /var/run/frr/ppfrr<pid>, removed at the end; each daemon is stopped by its PID) and
// runs pathpilot's route code as the daemon wires it (LinuxRouteTable, Reconciler on worker
// threads, LinuxRouteMonitor). staticd installs zebra's static routes: 10.20.0.0/16 and
// 2001:db8:20::/48 in table 101 (the table pathpilot programs) and 10.30.0.0/16 in the main
// table, all `proto 196` (FRR's number for static routes) at metric 20.
//
//   ZebraAndPathpilotKeepEachOthersRoutes: both sets coexist; restarting zebra (which takes every
//     `proto 196` route it finds as its own, as the control route shows) leaves pathpilot's route
//     alone and costs pathpilot no write; a failover leaves zebra's routes alone.
//   DeletesAndRefusalsLeaveZebrasRoutesAlone: pathpilot's delete of a destination zebra holds
//     never removes zebra's route (no RTM_DELROUTE for it is ever seen, while the owner-less
//     delete pathpilot used to send does show one, the control); a write that would
//     overwrite it or lose to it is refused with a message naming FRR; a write that wins on
//     metric makes zebra step back, and zebra's route returns when pathpilot's goes.
//
// Needs root (namespaces, routes, FRR's privileges); skipped otherwise.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "route/linux/linux_route_table.h"
#include "route/linux/route_monitor.h"
#include "route/reconciler.h"
#include "runtime/executor.h"
#include "runtime/wakeup_timer.h"

extern char** environ;

namespace pathpilot::route {
namespace {

namespace fs = std::filesystem;

IpPrefix prefix(const char* text) { return *IpPrefix::parse(text); }
IpAddress address(const char* text) { return *IpAddress::parse(text); }

const IpPrefix kOnPrem = prefix("10.10.0.0/16");
const IpPrefix kZebraPrefix = prefix("10.20.0.0/16");  // staticd's, in table 101
const NextHop kDxHop = NextHop::gateway(address("10.99.0.3"), "v0");
const NextHop kVpnHop = NextHop::gateway(address("10.99.0.4"), "v0");

std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    return "popen failed";
  }
  char buffer[512];
  while (std::fgets(buffer, sizeof(buffer), pipe) != nullptr) {
    out += buffer;
  }
  ::pclose(pipe);
  return out;
}

bool sh(const std::string& command) { return std::system(command.c_str()) == 0; }

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Polls `done` every 20 ms for up to `limit` (an integration test waiting for real daemons).
bool waitFor(const std::function<bool()>& done, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// Runs `io` until `done()` or 20 s pass.
bool runUntil(asio::io_context& io, const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(std::chrono::milliseconds(50));
  }
  return done();
}

// Runs `io` until `notices` has not grown for `quiet` (at most 60 s): a restarted zebra
// reinstalls and sweeps routes for a few seconds after it starts, on timers of its own.
bool runUntilQuiet(asio::io_context& io, const std::vector<RouteNotice>& notices,
                   std::chrono::seconds quiet) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::size_t seen = notices.size();
  auto last_change = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(std::chrono::milliseconds(50));
    if (notices.size() != seen) {
      seen = notices.size();
      last_change = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - last_change >= quiet) {
      return true;
    }
  }
  return false;
}

RouteDelta replaceWith(const IpPrefix& dst, const NextHop& hop) {
  RouteDelta delta;
  delta.destination = dst;
  delta.new_next_hop = hop;
  return delta;
}

RouteDelta removal(const IpPrefix& dst) {
  RouteDelta delta;
  delta.destination = dst;
  return delta;
}

// zebra and staticd of one pathspace, started in the caller's network namespace.
class Frr {
 public:
  Frr() : pathspace_("ppfrr" + std::to_string(::getpid())), dir_("/tmp/" + pathspace_) {}
  ~Frr() { stopAll(); }

  const std::string& pathspace() const { return pathspace_; }

  // Writes the daemons' configs; FRR drops to user frr, so they must be world-readable.
  void writeConfigs() {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
    write("zebra.conf", "hostname pp-frr-test\n");
    write("staticd.conf",
          "ip route 10.20.0.0/16 10.99.0.2 table 101\n"
          "ip route 10.30.0.0/16 10.99.0.2\n"
          "ipv6 route 2001:db8:20::/48 2001:db8:1::2 table 101\n");
  }

  // Starts /usr/lib/frr/<daemon> in the foreground (output to <dir>/<daemon>.log).
  ::testing::AssertionResult start(const std::string& daemon) {
    std::string binary = "/usr/lib/frr/" + daemon;
    std::string conf = (dir_ / (daemon + ".conf")).string();
    std::string log = (dir_ / (daemon + ".log")).string();
    std::vector<std::string> args = {binary, "-N", pathspace_, "-f", conf, "-A", "127.0.0.1"};
    std::vector<char*> argv;
    for (std::string& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    pid_t pid = 0;
    int rc = ::posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      return ::testing::AssertionFailure() << "cannot start " << binary << " (" << std::strerror(rc)
                                           << "): install the frr package (tools/deps.sh)";
    }
    pids_[daemon] = pid;
    return ::testing::AssertionSuccess();
  }

  // SIGTERM to the daemon's PID; waits (bounded) for it to exit, then SIGKILL.
  void stop(const std::string& daemon) {
    auto it = pids_.find(daemon);
    if (it == pids_.end()) {
      return;
    }
    pid_t pid = it->second;
    pids_.erase(it);
    ::kill(pid, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  void stopAll() {
    stop("staticd");
    stop("zebra");
    std::error_code ec;
    fs::remove_all(fs::path("/var/run/frr") / pathspace_, ec);
    fs::remove_all(dir_, ec);
  }

  bool running(const std::string& daemon) {
    auto it = pids_.find(daemon);
    return it != pids_.end() && ::waitpid(it->second, nullptr, WNOHANG) == 0;
  }

  // vtysh's output; its complaint about a missing vtysh.conf (stderr) left out.
  std::string vtysh(const std::string& command) {
    std::string out = run("vtysh -N " + pathspace_ + " -c '" + command + "'");
    if (out.rfind("% Can't open configuration file", 0) == 0) {
      out.erase(0, out.find('\n') + 1);
    }
    return out;
  }

  // zebra's view of table 101 (`show ip route table 101 json`): prefix -> its routes.
  nlohmann::json table101(bool v6 = false) {
    std::string out = vtysh(std::string(v6 ? "show ipv6" : "show ip") + " route table 101 json");
    auto j = nlohmann::json::parse(out, nullptr, false);
    return j.is_discarded() ? nlohmann::json::object() : j;
  }

  // The protocol zebra gives the selected route for `p` in table 101 ("kernel": somebody
  // else's; "static": its own), or "" when it has none selected.
  std::string selectedProtocol(const std::string& p, bool v6 = false) {
    nlohmann::json t = table101(v6);
    if (!t.contains(p)) {
      return "";
    }
    for (const auto& r : t[p]) {
      if (r.value("selected", false)) {
        return r.value("protocol", "");
      }
    }
    return "";
  }

  std::string log(const std::string& daemon) {
    std::ifstream in(dir_ / (daemon + ".log"));
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

 private:
  void write(const std::string& name, const std::string& text) {
    fs::path p = dir_ / name;
    std::ofstream(p) << text;
    fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                           fs::perms::others_read);
  }

  std::string pathspace_;
  fs::path dir_;
  std::map<std::string, pid_t> pids_;
};

bool zebraRoutesInstalled() {
  return contains(run("ip route show table 101 proto 196"), "10.20.0.0/16 ") &&
         contains(run("ip route show proto 196"), "10.30.0.0/16 ") &&
         contains(run("ip -6 route show table 101 proto 196"), "2001:db8:20::/48 ");
}

class FrrCoexistTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      GTEST_SKIP() << "needs root: the test creates a network namespace and runs FRR";
    }
    if (::unshare(CLONE_NEWNET) != 0) {
      GTEST_SKIP() << "unshare(CLONE_NEWNET) failed (" << std::strerror(errno) << ")";
    }
    ASSERT_TRUE(sh("ip link set lo up"));
    ASSERT_TRUE(sh("ip link add v0 type veth peer name v1"));
    ASSERT_TRUE(sh("ip addr add 10.99.0.1/24 dev v0"));
    ASSERT_TRUE(sh("ip -6 addr add 2001:db8:1::1/64 dev v0 nodad"));
    ASSERT_TRUE(sh("ip link set v0 up && ip link set v1 up"));
    frr_.writeConfigs();
    ASSERT_TRUE(frr_.start("zebra"));
    ASSERT_TRUE(
        waitFor([&] { return fs::exists("/var/run/frr/" + frr_.pathspace() + "/zserv.api"); },
                std::chrono::seconds(20)))
        << frr_.log("zebra");
    ASSERT_TRUE(frr_.start("staticd"));
    ASSERT_TRUE(waitFor(zebraRoutesInstalled, std::chrono::seconds(30)))
        << run("ip route show table all") << frr_.log("zebra") << frr_.log("staticd");
  }

  void TearDown() override { frr_.stopAll(); }

  Frr frr_;
};

TEST_F(FrrCoexistTest, ZebraAndPathpilotKeepEachOthersRoutes) {
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  RealClock clock;
  std::vector<RouteChangedEvent> changed;
  std::vector<RouteDriftEvent> drifts;
  std::vector<RouteErrorEvent> errors;
  std::vector<RouteNotice> notices;
  runtime::ThreadPoolExecutor executor(io, 2);
  std::unique_ptr<Reconciler> reconciler;
  runtime::WakeupTimer timer(io, clock, [&](MonoTime now) { reconciler->poll(now); });
  ReconcilerCallbacks callbacks;
  callbacks.route_changed = [&](const RouteChangedEvent& e) { changed.push_back(e); };
  callbacks.route_drift = [&](const RouteDriftEvent& e) { drifts.push_back(e); };
  callbacks.route_error = [&](const RouteErrorEvent& e) { errors.push_back(e); };
  callbacks.wakeup = [&](MonoTime when) { timer.arm(when); };
  reconciler = std::make_unique<Reconciler>(executor, clock, callbacks);
  LinuxRouteTable table("101", 101, LinuxRouteOptions{});  // the defaults: proto 157
  LinuxMonitorOptions monitor_options;
  monitor_options.tables = {{101, "101"}, {254, "main"}};
  LinuxRouteMonitor monitor(io, monitor_options, [&](const RouteNotice& n) {
    notices.push_back(n);
    reconciler->noteExternalChange(n, clock.now());
  });
  ASSERT_TRUE(monitor.start());
  reconciler->addTable(table, clock.now());
  ASSERT_TRUE(reconciler->setDesired({"101", kOnPrem}, {kDxHop, "dx"}, clock.now()));
  reconciler->start(clock.now());
  ASSERT_TRUE(runUntil(io, [&] { return changed.size() == 1; })) << errors.size();

  // Side by side: ours (proto 157) and zebra's (proto 196, metric 20) in table 101 and main.
  EXPECT_TRUE(
      contains(run("ip route show table 101 proto 157"), "10.10.0.0/16 via 10.99.0.3 dev v0"));
  EXPECT_TRUE(zebraRoutesInstalled());
  EXPECT_EQ(frr_.selectedProtocol("10.10.0.0/16"), "kernel") << "zebra sees it as not its own";
  EXPECT_EQ(frr_.selectedProtocol("10.20.0.0/16"), "static");

  // The control: a route as pathpilot wrote it before (proto 196, FRR's static number).
  ASSERT_TRUE(sh("ip route add 10.40.0.0/16 via 10.99.0.3 dev v0 table 101 proto 196"));

  // zebra restarts: it removes its routes when it stops, installs them again when it starts,
  // and takes every proto-196 route it finds as its own.
  frr_.stop("zebra");
  ASSERT_TRUE(waitFor([] { return !contains(run("ip route show table 101"), "10.20.0.0/16"); },
                      std::chrono::seconds(10)))
      << "zebra removes its routes when it stops";
  ASSERT_TRUE(frr_.start("zebra"));
  ASSERT_TRUE(waitFor(zebraRoutesInstalled, std::chrono::seconds(40)))
      << run("ip route show table all") << frr_.log("zebra");
  ASSERT_TRUE(waitFor([&] { return frr_.selectedProtocol("10.40.0.0/16") == "static"; },
                      std::chrono::seconds(20)))
      << frr_.vtysh("show ip route table 101");
  // The old number's route is zebra's now: listed as one of its static routes, with a second
  // copy zebra installed at metric 20 (which would outlive any change pathpilot made).
  EXPECT_EQ(run("ip route show table 101 10.40.0.0/16 | wc -l"), "2\n")
      << run("ip route show table 101");

  // Ours is untouched: one route, proto 157, and still somebody else's in zebra's eyes.
  EXPECT_EQ(run("ip route show table 101 10.10.0.0/16 | wc -l"), "1\n");
  EXPECT_TRUE(contains(run("ip route show table 101 10.10.0.0/16 proto 157"),
                       "10.10.0.0/16 via 10.99.0.3 dev v0"));
  EXPECT_EQ(frr_.selectedProtocol("10.10.0.0/16"), "kernel");
  // ... and pathpilot saw zebra's comings and goings without a drift or a write.
  reconciler->requestVerify("101", clock.now());
  std::uint64_t lists = reconciler->stats().lists;
  ASSERT_TRUE(runUntil(io, [&] { return reconciler->stats().lists > lists; }));
  EXPECT_EQ(changed.size(), 1u);
  EXPECT_TRUE(drifts.empty()) << drifts[0].key.toString();
  EXPECT_TRUE(errors.empty()) << errors[0].error.toString();

  // A failover rewrites our route; zebra's stay, and no notification says one went away. (Once
  // zebra has settled: its own reinstalls after the restart are not ours to judge.)
  ASSERT_TRUE(runUntilQuiet(io, notices, std::chrono::seconds(3)));
  std::size_t before = notices.size();
  ASSERT_TRUE(reconciler->setDesired({"101", kOnPrem}, {kVpnHop, "vpn-a"}, clock.now()));
  ASSERT_TRUE(runUntil(io, [&] { return changed.size() == 2; }));
  EXPECT_TRUE(
      contains(run("ip route show table 101 proto 157"), "10.10.0.0/16 via 10.99.0.4 dev v0"));
  EXPECT_TRUE(zebraRoutesInstalled());
  // A marker change after the failover: once its notice is in, any notice the failover caused
  // is in too (one socket delivers in order).
  ASSERT_TRUE(sh("ip route add 10.251.0.0/16 dev v0 table 101 proto 157"));
  ASSERT_TRUE(runUntil(io, [&] {
    return std::any_of(
        notices.begin() + static_cast<std::ptrdiff_t>(before), notices.end(),
        [](const RouteNotice& n) { return n.route.destination == prefix("10.251.0.0/16"); });
  }));
  for (std::size_t i = before; i < notices.size(); ++i) {
    EXPECT_FALSE(notices[i].kind == RouteNotice::Kind::Removed &&
                 notices[i].route.destination != kOnPrem)
        << "removed: " << notices[i].route.toString();
  }
  EXPECT_TRUE(frr_.running("staticd"));
  monitor.stop();
}

TEST_F(FrrCoexistTest, DeletesAndRefusalsLeaveZebrasRoutesAlone) {
  asio::io_context io;
  std::vector<RouteNotice> notices;
  LinuxMonitorOptions monitor_options;
  monitor_options.tables = {{101, "101"}};
  LinuxRouteMonitor monitor(io, monitor_options,
                            [&](const RouteNotice& n) { notices.push_back(n); });
  ASSERT_TRUE(monitor.start());
  LinuxRouteTable table("101", 101, LinuxRouteOptions{});
  // zebra's own settling after its start is not ours to judge: wait until it is quiet.
  ASSERT_TRUE(runUntilQuiet(io, notices, std::chrono::seconds(3)));
  notices.clear();

  // A withdrawal of a destination zebra holds: before, the delete went out with protocol 0 and
  // the kernel removed zebra's route (zebra then put it back: a gap, and a notification).
  ASSERT_TRUE(table.apply(removal(kZebraPrefix)));
  ASSERT_TRUE(sh("ip route add 10.250.0.0/16 dev v0 table 101 proto 157"));  // the marker
  ASSERT_TRUE(runUntil(io, [&] {
    return std::any_of(notices.begin(), notices.end(), [](const RouteNotice& n) {
      return n.route.destination == prefix("10.250.0.0/16");
    });
  }));
  for (const RouteNotice& n : notices) {
    EXPECT_NE(n.route.destination, kZebraPrefix) << "zebra's route was touched";
  }
  EXPECT_EQ(frr_.selectedProtocol("10.20.0.0/16"), "static");
  auto listed = table.list();
  ASSERT_TRUE(listed);
  auto listedHop = [&](const IpPrefix& p) -> std::optional<NextHop> {
    for (const Route& r : *listed) {
      if (r.destination == p) {
        return r.next_hop;
      }
    }
    return std::nullopt;
  };
  EXPECT_EQ(listed->size(), 3u);  // zebra's two, and the marker
  EXPECT_EQ(listedHop(kZebraPrefix), NextHop::foreign("zstatic"));
  EXPECT_EQ(listedHop(prefix("2001:db8:20::/48")), NextHop::foreign("zstatic"));

  // At zebra's metric (20) a write would overwrite its route: refused, and the message says
  // whose it is.
  LinuxRouteOptions at20;
  at20.metric = 20;
  LinuxRouteTable table20("101", 101, at20);
  auto same = table20.apply(replaceWith(kZebraPrefix, kDxHop));
  ASSERT_FALSE(same);
  EXPECT_EQ(same.error().code(), ErrorCode::AlreadyExists);
  EXPECT_TRUE(contains(same.error().message(),
                       "held by a route pathpilot does not own (proto 196 (FRR staticd, through "
                       "zebra), metric 20"))
      << same.error().message();
  EXPECT_TRUE(contains(same.error().message(), "Remove it from FRR staticd, through zebra's"))
      << same.error().message();
  // IPv6 routes we write get metric 1024; zebra's 20 would keep deciding: refused too.
  auto v6 = table.apply(
      replaceWith(prefix("2001:db8:20::/48"), NextHop::gateway(address("2001:db8:1::3"), "v0")));
  ASSERT_FALSE(v6);
  EXPECT_TRUE(contains(v6.error().message(), "lower metric than ours (1024)"))
      << v6.error().message();
  EXPECT_TRUE(zebraRoutesInstalled());
  EXPECT_EQ(frr_.selectedProtocol("2001:db8:20::/48", true), "static");

  // Our metric 0 wins over zebra's 20: the write goes through, zebra prefers the kernel route
  // (administrative distance 0) and withdraws its own; when ours goes, zebra's comes back.
  ASSERT_TRUE(table.apply(replaceWith(kZebraPrefix, kDxHop)));
  ASSERT_TRUE(waitFor([&] { return frr_.selectedProtocol("10.20.0.0/16") == "kernel"; },
                      std::chrono::seconds(10)))
      << frr_.vtysh("show ip route table 101");
  listed = table.list();
  ASSERT_TRUE(listed);
  EXPECT_EQ(listedHop(kZebraPrefix), kDxHop);
  ASSERT_TRUE(table.apply(removal(kZebraPrefix)));
  ASSERT_TRUE(
      waitFor([] { return contains(run("ip route show table 101 proto 196"), "10.20.0.0/16 "); },
              std::chrono::seconds(10)))
      << "zebra's route is back";
  EXPECT_EQ(frr_.selectedProtocol("10.20.0.0/16"), "static");

  // The control: a delete that names no owner (protocol 0, what pathpilot sent before) takes
  // zebra's route, and the monitor sees it go.
  notices.clear();
  ASSERT_TRUE(sh("ip route del 10.20.0.0/16 table 101"));
  EXPECT_TRUE(runUntil(io, [&] {
    return std::any_of(notices.begin(), notices.end(), [](const RouteNotice& n) {
      return n.kind == RouteNotice::Kind::Removed && n.route.destination == kZebraPrefix;
    });
  }));
  monitor.stop();
}

}  // namespace
}  // namespace pathpilot::route
