// http/http_client_pool.h — N HttpClients behind one, bounding concurrency.
//
// Purpose: parallel calls to one service (several route tables programmed at once) without
// unbounded parallelism. The pool owns `size` clients made by a factory (for the real thing,
// one CurlHttpClient each, so each keeps its own kept-alive connection); send() borrows a
// free client, waiting while all `size` are busy, so at most `size` requests are in flight —
// the concurrency bound towards AWS (whose request quota is per account and region).
// Threading: send() is safe from any number of threads. The factory runs in the constructor.
// Metrics: inFlight() and maxInFlight() for status and tests.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "http/http_client.h"

namespace pathpilot::http {

class HttpClientPool final : public HttpClient {
 public:
  using Factory = std::function<std::unique_ptr<HttpClient>()>;

  // Requires: size >= 1 and the factory returns non-null clients.
  HttpClientPool(std::size_t size, const Factory& factory);

  // http::HttpClient
  // Waits for a free client, then sends on it. The wait is bounded only by the requests in
  // flight, each bounded by its own timeout.
  Result<Response> send(const Request& request) override;

  std::size_t size() const { return clients_.size(); }
  std::size_t inFlight() const;
  // The largest number of requests ever in flight at once.
  std::size_t maxInFlight() const;

 private:
  std::vector<std::unique_ptr<HttpClient>> clients_;
  mutable std::mutex mu_;
  std::condition_variable freed_;
  std::vector<HttpClient*> idle_;  // guarded by mu_
  std::size_t max_in_flight_ = 0;  // guarded by mu_
};

}  // namespace pathpilot::http
