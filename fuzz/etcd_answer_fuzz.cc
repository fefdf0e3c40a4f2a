// Fuzz target for etcd's answers as ha/etcd_client.h reads them (the JSON gateway of a member
// that may be broken, hostile or another program on the port). The first byte picks the HTTP
// status; the rest is the body. Every call either fails with a short message or returns a
// well-formed value (a lease has an id and a TTL, a created key a revision); never a crash, an
// exception or a hang.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "ha/etcd_client.h"

namespace {

class OneAnswer final : public pathpilot::http::HttpClient {
 public:
  OneAnswer(int status, std::string body) : status_(status), body_(std::move(body)) {}
  pathpilot::Result<pathpilot::http::Response> send(const pathpilot::http::Request&) override {
    pathpilot::http::Response r;
    r.status = status_;
    r.body = body_;
    return r;
  }

 private:
  int status_;
  std::string body_;
};

void checkError(const pathpilot::Error& e) {
  if (e.message().empty() || e.message().size() > 600) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pathpilot;
  static const int kStatuses[] = {200, 200, 200, 200, 400, 404, 412, 500, 503};
  int status = size == 0 ? 200 : kStatuses[data[0] % (sizeof kStatuses / sizeof *kStatuses)];
  std::string body(reinterpret_cast<const char*>(data) + (size == 0 ? 0 : 1),
                   size == 0 ? 0 : size - 1);
  OneAnswer http(status, body);
  ha::EtcdOptions options;
  options.endpoints = {"http://127.0.0.1:2379", "http://127.0.0.2:2379"};
  ha::EtcdClient etcd(http, options);
  if (auto lease = etcd.grantLease(std::chrono::seconds(2))) {
    if (lease->id == 0 || lease->ttl <= Duration::zero()) {
      std::abort();
    }
  } else {
    checkError(lease.error());
  }
  if (auto kept = etcd.keepAlive(7777)) {
    if (*kept && **kept <= Duration::zero()) {
      std::abort();
    }
  } else {
    checkError(kept.error());
  }
  if (auto created = etcd.createIfAbsent("/pathpilot/s/leader", "mon-a", 7777)) {
    if (created->kv.create_revision <= 0 && created->created) {
      std::abort();
    }
  } else {
    checkError(created.error());
  }
  if (auto held = etcd.holds("/pathpilot/s/leader", 3); !held) {
    checkError(held.error());
  }
  if (auto got = etcd.get("k"); !got) {
    checkError(got.error());
  }
  if (auto all = etcd.getPrefix("/pathpilot/s/views/"); !all) {
    checkError(all.error());
  }
  if (auto d = etcd.deleteIfHeld("/pathpilot/s/leader", 3); !d) {
    checkError(d.error());
  }
  return 0;
}
