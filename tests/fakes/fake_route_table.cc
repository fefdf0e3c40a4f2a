#include "fakes/fake_route_table.h"

#include <thread>

namespace pathpilot::testing {

FakeRouteTable::FakeRouteTable(std::string id) : id_(std::move(id)) {}

FakeRouteTable::~FakeRouteTable() { openGate(); }

void FakeRouteTable::enter(std::unique_lock<std::mutex>& lock) {
  if (latency_ > Duration::zero()) {
    Duration latency = latency_;
    lock.unlock();
    std::this_thread::sleep_for(latency);
    lock.lock();
  }
  ++blocked_;
  cv_.notify_all();
  cv_.wait(lock, [this] { return !gate_closed_; });
  --blocked_;
}

std::optional<Error> FakeRouteTable::scriptedFailure(Op op) {
  for (auto it = scripts_.begin(); it != scripts_.end(); ++it) {
    if (it->op != Op::Any && it->op != op) {
      continue;
    }
    if (it->remaining_skips > 0) {
      --it->remaining_skips;
      continue;
    }
    Error error(it->code, "scripted failure of fake table " + id_);
    if (it->count > 0 && --it->count == 0) {
      scripts_.erase(it);
    }
    return error;
  }
  return std::nullopt;
}

Result<std::vector<route::Route>> FakeRouteTable::list() {
  std::unique_lock<std::mutex> lock(mutex_);
  enter(lock);
  auto failure = scriptedFailure(Op::List);
  calls_.push_back(Call{Op::List, std::nullopt, failure.has_value()});
  if (failure) {
    return fail(*failure);
  }
  std::vector<route::Route> out;
  for (const auto& [prefix, hop] : routes_) {
    out.push_back(route::Route{id_, prefix, hop});
  }
  return out;
}

Result<void> FakeRouteTable::apply(const route::RouteDelta& delta) {
  std::unique_lock<std::mutex> lock(mutex_);
  enter(lock);
  auto failure = scriptedFailure(Op::Apply);
  calls_.push_back(Call{Op::Apply, delta, failure.has_value()});
  if (failure) {
    return fail(*failure);
  }
  if (delta.new_next_hop) {
    routes_[delta.destination] = *delta.new_next_hop;
  } else {
    routes_.erase(delta.destination);
  }
  return ok();
}

void FakeRouteTable::setRoute(const IpPrefix& destination, route::NextHop hop) {
  std::lock_guard<std::mutex> lock(mutex_);
  routes_[destination] = std::move(hop);
}

void FakeRouteTable::removeRoute(const IpPrefix& destination) {
  std::lock_guard<std::mutex> lock(mutex_);
  routes_.erase(destination);
}

std::map<IpPrefix, route::NextHop> FakeRouteTable::routes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return routes_;
}

std::optional<route::NextHop> FakeRouteTable::routeFor(const IpPrefix& destination) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = routes_.find(destination);
  if (it == routes_.end()) {
    return std::nullopt;
  }
  return it->second;
}

void FakeRouteTable::failCall(int nth, ErrorCode code, Op op) {
  std::lock_guard<std::mutex> lock(mutex_);
  scripts_.push_back(Script{op, nth - 1, 1, code});
}

void FakeRouteTable::failNext(int count, ErrorCode code, Op op) {
  std::lock_guard<std::mutex> lock(mutex_);
  scripts_.push_back(Script{op, 0, count, code});
}

void FakeRouteTable::failAlways(ErrorCode code, Op op) {
  std::lock_guard<std::mutex> lock(mutex_);
  scripts_.push_back(Script{op, 0, -1, code});
}

void FakeRouteTable::clearFailures() {
  std::lock_guard<std::mutex> lock(mutex_);
  scripts_.clear();
}

void FakeRouteTable::setLatency(Duration latency) {
  std::lock_guard<std::mutex> lock(mutex_);
  latency_ = latency;
}

void FakeRouteTable::closeGate() {
  std::lock_guard<std::mutex> lock(mutex_);
  gate_closed_ = true;
}

void FakeRouteTable::openGate() {
  std::lock_guard<std::mutex> lock(mutex_);
  gate_closed_ = false;
  cv_.notify_all();
}

std::size_t FakeRouteTable::blockedCalls() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return gate_closed_ ? blocked_ : 0;
}

void FakeRouteTable::waitForBlocked(std::size_t n) const {
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [&] { return gate_closed_ && blocked_ >= n; });
}

std::vector<FakeRouteTable::Call> FakeRouteTable::calls() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return calls_;
}

int FakeRouteTable::applyCount() const {
  std::lock_guard<std::mutex> lock(mutex_);
  int n = 0;
  for (const Call& call : calls_) {
    n += call.op == Op::Apply ? 1 : 0;
  }
  return n;
}

int FakeRouteTable::listCount() const {
  std::lock_guard<std::mutex> lock(mutex_);
  int n = 0;
  for (const Call& call : calls_) {
    n += call.op == Op::List ? 1 : 0;
  }
  return n;
}

void FakeRouteTable::clearCalls() {
  std::lock_guard<std::mutex> lock(mutex_);
  calls_.clear();
}

}  // namespace pathpilot::testing
