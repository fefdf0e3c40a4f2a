// ha/ against a real 3-member etcd cluster on loopback (Debian's etcd-server; skipped when it
// is not installed): the JSON gateway calls as etcd really answers them, the leadership check
// staying linearizable when the cluster loses quorum, and two HaNodes electing one writer and
// handing over.
#include <signal.h>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/time.h"
#include "ha/etcd_client.h"
#include "ha/ha_node.h"
#include "http/curl_http_client.h"
#include "obs_tests/process.h"

namespace pathpilot::ha {
namespace {

using obs_testing::Process;
using namespace std::chrono_literals;

// Every thread of process `pid` is stopped (state T in /proc/<pid>/task/*/stat).
bool stopped(pid_t pid) {
  std::error_code ec;
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  bool any = false;
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream in(task.path() / "stat");
    std::string line;
    std::getline(in, line);
    const auto paren = line.rfind(')');
    if (paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] != 'T') {
      return false;
    }
    any = true;
  }
  return any;
}

class EtcdCluster {
 public:
  explicit EtcdCluster(const obs_testing::TempDir& dir) {
    std::vector<int> peers;
    for (int i = 0; i < 3; ++i) {
      clients_.push_back(obs_testing::freePort());
      peers.push_back(obs_testing::freePort());
    }
    std::string cluster;
    for (int i = 0; i < 3; ++i) {
      cluster += (i ? "," : "") + name(i) + "=http://127.0.0.1:" + std::to_string(peers[i]);
    }
    for (int i = 0; i < 3; ++i) {
      std::string client = "http://127.0.0.1:" + std::to_string(clients_[i]);
      std::string peer = "http://127.0.0.1:" + std::to_string(peers[i]);
      members_.push_back(std::make_unique<Process>(
          std::vector<std::string>{"/usr/bin/etcd", "--name", name(i), "--data-dir",
                                   dir.file(name(i)), "--listen-client-urls", client,
                                   "--advertise-client-urls", client, "--listen-peer-urls", peer,
                                   "--initial-advertise-peer-urls", peer, "--initial-cluster",
                                   cluster, "--initial-cluster-state", "new",
                                   "--heartbeat-interval", "100", "--election-timeout", "1000",
                                   "--logger", "zap", "--log-level", "error"},
          dir.file(name(i) + ".log")));
    }
  }
  ~EtcdCluster() {
    for (auto& m : members_) {
      ::kill(m->pid(), SIGCONT);
      m->stop(SIGKILL, 2000ms);
    }
  }

  std::vector<std::string> endpoints() const {
    std::vector<std::string> out;
    for (int port : clients_) {
      out.push_back("http://127.0.0.1:" + std::to_string(port));
    }
    return out;
  }
  std::string endpoint(int i) const { return endpoints()[static_cast<std::size_t>(i)]; }
  Process& member(int i) { return *members_[static_cast<std::size_t>(i)]; }

  // Index of the raft leader, from etcdctl (nullopt while there is none).
  std::optional<int> raftLeader() const {
    for (int i = 0; i < 3; ++i) {
      std::string out;
      if (obs_testing::run({"etcdctl", "--endpoints=" + endpoint(i), "--command-timeout=1s",
                            "endpoint", "status", "-w", "fields"},
                           out) != 0) {
        continue;
      }
      auto field = [&](const std::string& key) {
        auto p = out.find("\"" + key + "\" : ");
        return p == std::string::npos
                   ? std::string()
                   : out.substr(p + key.size() + 5, out.find('\n', p) - p - key.size() - 5);
      };
      if (!field("Leader").empty() && field("Leader") == field("MemberID")) {
        return i;
      }
    }
    return std::nullopt;
  }

 private:
  static std::string name(int i) { return "m" + std::to_string(i + 1); }
  std::vector<int> clients_;
  std::vector<std::unique_ptr<Process>> members_;
};

class RealEtcdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!obs_testing::haveProgram("etcd") || !obs_testing::haveProgram("etcdctl")) {
      GTEST_SKIP() << "etcd-server/etcd-client not installed";
    }
    cluster_ = std::make_unique<EtcdCluster>(dir_);
    EtcdOptions o;
    o.endpoints = cluster_->endpoints();
    client_ = std::make_unique<EtcdClient>(http_, o);
    ASSERT_TRUE(obs_testing::waitFor(
        [&] { return client_->put("/pathpilot/ready", "1", 0).has_value(); }, 20s, 100ms))
        << "the etcd cluster never accepted a write";
  }

  obs_testing::TempDir dir_;
  std::unique_ptr<EtcdCluster> cluster_;
  http::CurlHttpClient http_;
  std::unique_ptr<EtcdClient> client_;
};

TEST_F(RealEtcdTest, LeaseAndElectionCallsAsEtcdAnswersThem) {
  auto lease = client_->grantLease(2s);
  ASSERT_TRUE(lease) << lease.error().toString();
  EXPECT_EQ(lease->ttl, 2s);
  auto won = client_->createIfAbsent("/pathpilot/Lab/leader", "mon-a", lease->id);
  ASSERT_TRUE(won) << won.error().toString();
  EXPECT_TRUE(won->created);
  auto other = client_->grantLease(2s);
  ASSERT_TRUE(other);
  auto lost = client_->createIfAbsent("/pathpilot/Lab/leader", "mon-b", other->id);
  ASSERT_TRUE(lost);
  EXPECT_FALSE(lost->created);
  EXPECT_EQ(lost->kv.value, "mon-a");
  EXPECT_EQ(lost->kv.lease, lease->id);
  EXPECT_EQ(lost->kv.create_revision, won->kv.create_revision);
  auto holds = client_->holds("/pathpilot/Lab/leader", won->kv.create_revision);
  ASSERT_TRUE(holds) << holds.error().toString();
  EXPECT_TRUE(*holds);
  auto kept = client_->keepAlive(lease->id);
  ASSERT_TRUE(kept && kept->has_value());
  ASSERT_TRUE(client_->revoke(lease->id));
  auto gone = client_->holds("/pathpilot/Lab/leader", won->kv.create_revision);
  ASSERT_TRUE(gone);
  EXPECT_FALSE(*gone) << "the key went with its lease";
  auto dead = client_->keepAlive(lease->id);
  ASSERT_TRUE(dead);
  EXPECT_FALSE(dead->has_value());
  auto prefix = client_->getPrefix("/pathpilot/");
  ASSERT_TRUE(prefix);
  EXPECT_EQ(prefix->size(), 1U);  // /pathpilot/ready
}

TEST_F(RealEtcdTest, TheLeadershipCheckFailsWithoutQuorumInsteadOfAnsweringFromAStaleCopy) {
  auto lease = client_->grantLease(10s);
  ASSERT_TRUE(lease);
  auto won = client_->createIfAbsent("/pathpilot/Lab/leader", "mon-a", lease->id);
  ASSERT_TRUE(won && won->created);
  std::optional<int> leader;
  ASSERT_TRUE(obs_testing::waitFor([&] { return (leader = cluster_->raftLeader()).has_value(); },
                                   10s, 100ms));
  // Ask the raft leader itself: it is the member that answered compares-only transactions
  // without quorum.
  EtcdOptions o;
  o.endpoints = {cluster_->endpoint(*leader)};
  o.timeout = 1500ms;
  EtcdClient at_leader(http_, o);
  auto before = at_leader.holds("/pathpilot/Lab/leader", won->kv.create_revision);
  ASSERT_TRUE(before && *before);
  for (int i = 0; i < 3; ++i) {
    if (i != *leader) {
      ::kill(cluster_->member(i).pid(), SIGSTOP);
    }
  }
  // SIGSTOP takes effect when each thread of the member next runs: on a loaded machine a
  // member could still answer a heartbeat just after kill() returned. Wait until the kernel
  // shows both stopped.
  ASSERT_TRUE(obs_testing::waitFor(
      [&] {
        for (int i = 0; i < 3; ++i) {
          if (i != *leader && !stopped(cluster_->member(i).pid())) {
            return false;
          }
        }
        return true;
      },
      10s, 20ms));
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto during = at_leader.holds("/pathpilot/Lab/leader", won->kv.create_revision);
    EXPECT_FALSE(during) << "attempt " << attempt
                         << ": a leadership check answered without quorum";
  }
  for (int i = 0; i < 3; ++i) {
    ::kill(cluster_->member(i).pid(), SIGCONT);
  }
  EXPECT_TRUE(obs_testing::waitFor(
      [&] {
        auto after = at_leader.holds("/pathpilot/Lab/leader", won->kv.create_revision);
        return after && *after;
      },
      15s, 200ms));
}

HaOptions nodeOptions(const std::string& node, std::vector<std::string> endpoints) {
  HaOptions o;
  o.site = "Lab";
  o.election.node = node;
  o.election.ttl = 2s;
  o.election.margin = 500ms;
  o.election.keepalive_interval = 500ms;
  o.election.poll_interval = 250ms;
  o.election.retry_interval = 250ms;
  o.etcd.endpoints = std::move(endpoints);
  return o;
}

std::unique_ptr<HaNode> makeNode(const Clock& clock, const std::string& name,
                                 const EtcdCluster& cluster) {
  return std::make_unique<HaNode>(clock, nodeOptions(name, cluster.endpoints()),
                                  std::make_unique<http::CurlHttpClient>(),
                                  std::make_unique<http::CurlHttpClient>());
}

TEST_F(RealEtcdTest, TwoNodesElectOneWriterAndAStoppedLeaderHandsOver) {
  RealClock clock;
  auto a = makeNode(clock, "mon-a", *cluster_);
  auto b = makeNode(clock, "mon-b", *cluster_);
  a->start(nullptr, nullptr);
  ASSERT_TRUE(obs_testing::waitFor([&] { return a->mayWrite(); }, 10s, 20ms));
  b->start(nullptr, nullptr);
  ASSERT_TRUE(obs_testing::waitFor([&] { return b->view().leader == "mon-a"; }, 10s, 20ms));
  EXPECT_FALSE(b->mayWrite());
  auto refused = b->fence();
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("the leader is mon-a"), std::string::npos)
      << refused.error().message();
  ASSERT_TRUE(a->fence()) << "the leader passes its fence";
  const auto term_a = a->view().term;
  a->stop();
  ASSERT_TRUE(obs_testing::waitFor([&] { return b->mayWrite(); }, 5s, 20ms))
      << "mon-b took over after mon-a gave up its key";
  EXPECT_GT(b->view().term, term_a);
  EXPECT_TRUE(b->fence());
  EXPECT_FALSE(a->fence()) << "a stopped node never writes";
  b->stop();
}

// The write-ahead of alert incidents (daemon/ha_setup.h) rests on this: publishState's
// `written` runs only once etcd holds the value (or a newer one), and never for a monitor
// that does not lead.
TEST_F(RealEtcdTest, LeaderStateIsAcknowledgedOnlyOnceEtcdHoldsIt) {
  RealClock clock;
  auto a = makeNode(clock, "mon-a", *cluster_);
  auto b = makeNode(clock, "mon-b", *cluster_);
  a->start(nullptr, nullptr);
  ASSERT_TRUE(obs_testing::waitFor([&] { return a->mayWrite(); }, 10s, 20ms));
  b->start(nullptr, nullptr);
  ASSERT_TRUE(obs_testing::waitFor([&] { return b->view().leader == "mon-a"; }, 10s, 20ms));

  std::atomic<int> acked{0};
  std::atomic<bool> held_when_acked{false};
  const std::string key = a->statePrefix() + "incident/Beijing/path/dx";
  a->publishState("incident/Beijing/path/dx", std::string("{\"v\":1}"), [&] {
    // On the election thread, after the txn answered: etcd has it now.
    auto got = client_->get(key);
    held_when_acked = got && *got && (*got)->value == "{\"v\":1}";
    ++acked;
  });
  ASSERT_TRUE(obs_testing::waitFor([&] { return acked.load() == 1; }, 5s, 5ms));
  EXPECT_TRUE(held_when_acked.load());

  std::atomic<int> follower_acked{0};
  b->publishState("incident/Beijing/path/vpn-a", std::string("x"), [&] { ++follower_acked; });
  // Another write of the leader, acknowledged, proves the follower's had its turn.
  a->publishState("incident/Beijing/path/dx", std::nullopt, [&] { ++acked; });
  ASSERT_TRUE(obs_testing::waitFor([&] { return acked.load() == 2; }, 5s, 5ms));
  std::this_thread::sleep_for(300ms);  // the follower's election thread ran meanwhile
  EXPECT_EQ(follower_acked.load(), 0) << "a follower's state write is dropped, never acknowledged";
  auto gone = client_->get(a->statePrefix() + "incident/Beijing/path/vpn-a");
  ASSERT_TRUE(gone);
  EXPECT_FALSE(*gone);
  a->stop();
  b->stop();
}

TEST_F(RealEtcdTest, AFenceCheckCostsOneEtcdRoundTrip) {
  // Figures for the note (no assertion on time): 200 fence checks of a leader on loopback.
  RealClock clock;
  auto a = makeNode(clock, "mon-a", *cluster_);
  a->start(nullptr, nullptr);
  ASSERT_TRUE(obs_testing::waitFor([&] { return a->mayWrite(); }, 10s, 20ms));
  std::vector<double> ms;
  for (int i = 0; i < 200; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(a->fence());
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                     .count());
  }
  std::sort(ms.begin(), ms.end());
  std::printf("fence check, 200 calls: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", ms[100],
              ms[197], ms.back());
  a->stop();
}

}  // namespace
}  // namespace pathpilot::ha
