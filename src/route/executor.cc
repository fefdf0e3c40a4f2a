#include "route/executor.h"

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/thread_pool.hpp>

#include "base/check.h"

namespace pathpilot::route {

ThreadPoolExecutor::ThreadPoolExecutor(asio::io_context& engine, std::size_t threads)
    : engine_(engine) {
  PP_CHECK(threads >= 1);
  pool_ = std::make_unique<asio::thread_pool>(threads);
}

ThreadPoolExecutor::~ThreadPoolExecutor() {
  pool_->stop();
  pool_->join();
}

void ThreadPoolExecutor::run(std::string /*lane*/, JobBody body) {
  asio::post(*pool_, [this, body = std::move(body)]() {
    Completion done = body();
    if (done) {
      // The io_context outlives this executor (constructor contract), and the pool is joined
      // before `this` goes away, so both references stay valid here.
      asio::post(engine_, std::move(done));
    }
  });
}

}  // namespace pathpilot::route
