#include "http/http_client_pool.h"

#include <algorithm>

#include "base/check.h"

namespace pathpilot::http {

HttpClientPool::HttpClientPool(std::size_t size, const Factory& factory) {
  PP_CHECK(size >= 1);
  for (std::size_t i = 0; i < size; ++i) {
    clients_.push_back(factory());
    PP_CHECK(clients_.back() != nullptr);
    idle_.push_back(clients_.back().get());
  }
}

Result<Response> HttpClientPool::send(const Request& request) {
  HttpClient* client = nullptr;
  {
    std::unique_lock lock(mu_);
    freed_.wait(lock, [&] { return !idle_.empty(); });
    // Last in, first out: the most recently used client has the warmest connection.
    client = idle_.back();
    idle_.pop_back();
    max_in_flight_ = std::max(max_in_flight_, clients_.size() - idle_.size());
  }
  Result<Response> result = client->send(request);
  {
    std::lock_guard lock(mu_);
    idle_.push_back(client);
  }
  freed_.notify_one();
  return result;
}

std::size_t HttpClientPool::inFlight() const {
  std::lock_guard lock(mu_);
  return clients_.size() - idle_.size();
}

std::size_t HttpClientPool::maxInFlight() const {
  std::lock_guard lock(mu_);
  return max_in_flight_;
}

}  // namespace pathpilot::http
