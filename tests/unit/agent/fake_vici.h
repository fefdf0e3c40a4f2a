// Test doubles for the agent: a scripted ViciConnection, a LinkStatsSource and a
// MetricPublisher that record what they were given.
#pragma once

#include <deque>
#include <mutex>
#include <vector>

#include "agent/cloudwatch_publisher.h"
#include "agent/link_stats.h"
#include "agent/vici_client.h"

namespace pathpilot::agent::testing {

class FakeVici final : public ViciConnection {
 public:
  // What list-conns and list-sas answer until changed; `down` makes every call fail.
  std::vector<ViciSection> conns;
  std::vector<ViciSection> sas;
  bool down = false;
  std::vector<std::string> commands;

  Result<ViciSection> call(std::string_view command, const ViciSection&,
                           std::string_view stream_event,
                           std::vector<ViciSection>* events) override {
    commands.emplace_back(command);
    ++stats_.calls;
    if (down) {
      ++stats_.errors;
      return fail(ErrorCode::Unavailable,
                  "vici unix:///run/charon.vici: connect: No such file or directory");
    }
    if (events != nullptr) {
      if (command == "list-conns" && stream_event == "list-conn") {
        *events = conns;
      } else if (command == "list-sas" && stream_event == "list-sa") {
        *events = sas;
      }
    }
    return ViciSection{};
  }
  void close() override {}
  ViciStats stats() const override { return stats_; }

 private:
  ViciStats stats_;
};

class FakeLinks final : public LinkStatsSource {
 public:
  std::vector<LinkStats> links;
  bool fail_next = false;
  Result<std::vector<LinkStats>> read() override {
    if (fail_next) {
      fail_next = false;
      return fail(ErrorCode::Unavailable, "netlink: link dump: Operation not permitted");
    }
    return links;
  }
};

class FakePublisher final : public MetricPublisher {
 public:
  Result<aws::PutMetricDataResult> put(std::string_view ns,
                                       const std::vector<aws::MetricDatum>& data) override {
    std::lock_guard<std::mutex> lock(mutex);
    namespaces.emplace_back(ns);
    batches.push_back(data);
    if (fail) {
      return pathpilot::fail(ErrorCode::Throttled, "CloudWatch PutMetricData: Throttling");
    }
    return aws::PutMetricDataResult{1, data.size()};
  }
  std::mutex mutex;
  bool fail = false;
  std::vector<std::string> namespaces;
  std::vector<std::vector<aws::MetricDatum>> batches;
};

}  // namespace pathpilot::agent::testing
