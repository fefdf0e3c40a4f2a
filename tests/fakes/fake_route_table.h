// tests/fakes/fake_route_table.h — an in-memory route::RouteTable with scripted failures.
//
// Holds a map prefix -> next hop. Tests can change it behind the reconciler's back
// (setRoute/removeRoute, to simulate drift), script failures (the Nth call from now fails with
// a given code, or the next K calls), add latency (a real sleep, for benchmarks only) or close
// a gate that blocks calls until the test opens it (a deterministic "slow table" for tests that
// use real worker threads). Every call is recorded.
//
// Threading: all methods are thread-safe (calls come from executor workers).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/time.h"
#include "route/route_table.h"

namespace pathpilot::testing {

class FakeRouteTable final : public route::RouteTable {
 public:
  enum class Op { List, Apply, Any };

  struct Call {
    Op op = Op::Apply;
    std::optional<route::RouteDelta> delta;  // for Apply
    bool failed = false;
  };

  explicit FakeRouteTable(std::string id);
  ~FakeRouteTable() override;

  // route::RouteTable
  const std::string& id() const override { return id_; }
  std::string_view kind() const override { return "fake"; }
  [[nodiscard]] Result<std::vector<route::Route>> list() override;
  [[nodiscard]] Result<void> apply(const route::RouteDelta& delta) override;

  // Content, changed without a call being recorded (what an operator's `ip route` does).
  void setRoute(const IpPrefix& destination, route::NextHop hop);
  void removeRoute(const IpPrefix& destination);
  std::map<IpPrefix, route::NextHop> routes() const;
  std::optional<route::NextHop> routeFor(const IpPrefix& destination) const;

  // The nth call of `op` from now (1 = the next one) fails with `code`.
  void failCall(int nth, ErrorCode code, Op op = Op::Any);
  // The next `count` calls of `op` fail with `code`.
  void failNext(int count, ErrorCode code, Op op = Op::Any);
  // Every call of `op` fails until clearFailures().
  void failAlways(ErrorCode code, Op op = Op::Any);
  void clearFailures();

  // Each call sleeps this long first (benchmarks; unit tests use the gate instead).
  void setLatency(Duration latency);
  // While closed, calls wait at the gate until openGate().
  void closeGate();
  void openGate();
  // Calls currently waiting at the gate; waitForBlocked blocks until at least n are.
  std::size_t blockedCalls() const;
  void waitForBlocked(std::size_t n) const;

  std::vector<Call> calls() const;
  int applyCount() const;
  int listCount() const;
  void clearCalls();

 private:
  struct Script {
    Op op;
    int remaining_skips;  // matching calls to let through first
    int count;            // then this many fail (-1: forever)
    ErrorCode code;
  };
  // Returns the error for this call, if scripted. Requires: mutex_ held.
  std::optional<Error> scriptedFailure(Op op);
  void enter(std::unique_lock<std::mutex>& lock);

  std::string id_;
  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  std::map<IpPrefix, route::NextHop> routes_;
  std::vector<Script> scripts_;
  std::vector<Call> calls_;
  Duration latency_{};
  bool gate_closed_ = false;
  std::size_t blocked_ = 0;
};

}  // namespace pathpilot::testing
