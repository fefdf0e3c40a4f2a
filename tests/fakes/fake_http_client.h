// tests/fakes/fake_http_client.h — an HttpClient that records requests and replays
// scripted responses (recorded AWS bodies from tests/data, or hand-made ones).
//
// Scripting: on(method, url_substring, response...) adds a route; a request is answered by
// the first route whose method matches (empty = any) and whose substring occurs in the URL
// (or, for POST query APIs, in "URL + '?' + body", so "Action=StopInstances" works). Each
// route replays its responses in order and repeats the last one forever. A request no route
// matches fails with Unavailable naming it, so a forgotten script shows up clearly.
// Thread-safe (a mutex), so parallel code under test may share one instance.
#pragma once

#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "http/http_client.h"

namespace pathpilot::testing {

class FakeHttpClient final : public http::HttpClient {
 public:
  using Handler = std::function<Result<http::Response>(const http::Request&)>;

  // A 200 (or `status`) response with `body`.
  static http::Response response(int status, std::string body, http::Headers headers = {}) {
    http::Response r;
    r.status = status;
    r.body = std::move(body);
    r.headers = std::move(headers);
    return r;
  }
  // A response whose body is the content of `path` (e.g. a tests/data XML file). A file that
  // cannot be read throws, so that missing test data fails the test instead of replaying "".
  static http::Response fileResponse(int status, const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      throw std::runtime_error("test data not readable: " + path.string());
    }
    std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return response(status, std::move(body));
  }

  // Adds a route (see the header comment). Returns *this for chaining.
  FakeHttpClient& on(std::string method, std::string url_substring,
                     std::vector<Result<http::Response>> responses) {
    std::lock_guard lock(mu_);
    routes_.push_back({std::move(method), std::move(url_substring),
                       std::deque<Result<http::Response>>(responses.begin(), responses.end()),
                       nullptr});
    return *this;
  }
  FakeHttpClient& on(std::string method, std::string url_substring,
                     Result<http::Response> response) {
    return on(std::move(method), std::move(url_substring),
              std::vector<Result<http::Response>>{std::move(response)});
  }
  // A route answered by a function (for stateful fakes).
  FakeHttpClient& onCall(std::string method, std::string url_substring, Handler handler) {
    std::lock_guard lock(mu_);
    routes_.push_back({std::move(method), std::move(url_substring), {}, std::move(handler)});
    return *this;
  }

  // http::HttpClient
  Result<http::Response> send(const http::Request& request) override {
    std::lock_guard lock(mu_);
    requests_.push_back(request);
    std::string haystack = request.url + "?" + request.body;
    for (Route& route : routes_) {
      if (!route.method.empty() && route.method != request.method) {
        continue;
      }
      if (haystack.find(route.url_substring) == std::string::npos) {
        continue;
      }
      if (route.handler) {
        return route.handler(request);
      }
      if (route.responses.empty()) {
        continue;
      }
      Result<http::Response> r = route.responses.front();
      if (route.responses.size() > 1) {
        route.responses.pop_front();
      }
      return r;
    }
    return tl::unexpected<Error>(Error(ErrorCode::Unavailable,
                                       "FakeHttpClient: no scripted response for " +
                                           http::describeRequest(request)));
  }

  std::vector<http::Request> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  std::size_t requestCount() const {
    std::lock_guard lock(mu_);
    return requests_.size();
  }
  void clearRequests() {
    std::lock_guard lock(mu_);
    requests_.clear();
  }

 private:
  struct Route {
    std::string method;
    std::string url_substring;
    std::deque<Result<http::Response>> responses;
    Handler handler;
  };
  mutable std::mutex mu_;
  std::vector<Route> routes_;
  std::vector<http::Request> requests_;
};

}  // namespace pathpilot::testing
