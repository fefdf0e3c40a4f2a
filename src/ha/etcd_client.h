// ha/etcd_client.h — the few etcd v3 calls leader election needs, over etcd's JSON gateway.
//
// Purpose: pathpilot's only contact with etcd (docs/ha.md). etcd 3.4 serves its gRPC API as
// JSON at POST /v3/<service>/<call>; keys and values travel as base64 and 64-bit integers as
// decimal strings, and zero values are left out of answers (a lost txn has no "succeeded", a
// missing key no "kvs", a dead lease's keepalive no "TTL"). This client hides all of that
// behind typed calls: grant/keep alive/revoke a lease, read keys, and the two transactions the
// election is built of (create a key only if absent; check that a key still has the creation
// revision we gave it).
//
// Endpoints: calls go to one endpoint of the list at a time. A transport error, a timeout or
// an HTTP 5xx (etcd answers 503 "no leader" / "request timed out" and 500 "context deadline
// exceeded" while it has no quorum) fails the call and moves the client to the next endpoint;
// the caller retries on its own schedule (the election loop's next tick). Each call is one
// HTTP request bounded by `timeout`, never a retry loop, so that a caller with a deadline (the
// write fence) knows how long it can wait.
//
// Errors: Unavailable (transport, 5xx, endpoint rotated), Timeout, NotFound (etcd code 5: an
// unknown lease), InvalidArgument (4xx other than 404: a request etcd refused; also an
// answer that is not the JSON we expect, naming the call and the field). Messages name the
// call and the endpoint; no request body is ever quoted (values may be operator data).
//
// Threading: one caller at a time (the HttpClient's rule). The election loop and the fence use
// separate instances. Metrics: calls and failures per call name (stats()).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/time.h"
#include "http/http_client.h"

namespace pathpilot::ha {

struct EtcdOptions {
  // Base URLs of the members, "http://10.0.0.5:2379" or "https://etcd-1:2379"; at least one.
  std::vector<std::string> endpoints;
  // Bound of one call (connect + request + answer).
  Duration timeout = std::chrono::seconds(1);
  Duration connect_timeout = std::chrono::milliseconds(500);
};

// One key as etcd stores it. Revisions are etcd's store revisions; lease 0 = none.
struct KeyValue {
  std::string key;
  std::string value;
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
  std::int64_t version = 0;
  std::int64_t lease = 0;
};

struct Lease {
  std::int64_t id = 0;
  Duration ttl{};  // as granted (etcd may raise a request below its minimum)
};

// The result of createIfAbsent().
struct CreateResult {
  bool created = false;
  // created: our key (create_revision = the revision of the put); else the key that exists.
  KeyValue kv;
  // The store revision of the answer.
  std::int64_t revision = 0;
};

struct EtcdCallStats {
  std::uint64_t calls = 0;
  std::uint64_t failures = 0;
};

class EtcdClient {
 public:
  // Requires: options.endpoints not empty; `http` outlives the client.
  EtcdClient(http::HttpClient& http, EtcdOptions options);

  // A new lease of `ttl` (whole seconds, rounded up; at least 1).
  [[nodiscard]] Result<Lease> grantLease(Duration ttl);
  // One keepalive: the lease's renewed TTL, or nullopt when the lease no longer exists.
  [[nodiscard]] Result<std::optional<Duration>> keepAlive(std::int64_t lease);
  // Revokes `lease` (its keys go with it). An unknown lease is not an error.
  [[nodiscard]] Result<void> revoke(std::int64_t lease);

  // Transaction: if `key` does not exist, put it with `value` under `lease`; else read it.
  [[nodiscard]] Result<CreateResult> createIfAbsent(std::string_view key, std::string_view value,
                                                    std::int64_t lease);
  // Transaction: true when `key` exists and was created at `create_revision` (the same
  // incarnation of the key); false when it is gone or was re-created. A linearizable read
  // (never answered from a member's stale copy, see etcd_client.cc).
  [[nodiscard]] Result<bool> holds(std::string_view key, std::int64_t create_revision);
  // Transaction: deletes `key` only if it still has `create_revision`. True if deleted.
  [[nodiscard]] Result<bool> deleteIfHeld(std::string_view key, std::int64_t create_revision);

  // Transaction: puts `key` = `value` (no lease), or deletes it when `value` is nullopt, only
  // if `guard` still has `create_revision` (a leader's write that must not outlive its
  // leadership). True if written.
  [[nodiscard]] Result<bool> writeIfHeld(std::string_view guard, std::int64_t create_revision,
                                         std::string_view key,
                                         const std::optional<std::string>& value);
  // Linearizable read of one key (nullopt: absent).
  [[nodiscard]] Result<std::optional<KeyValue>> get(std::string_view key);
  // Linearizable read of every key starting with `prefix`, in key order.
  [[nodiscard]] Result<std::vector<KeyValue>> getPrefix(std::string_view prefix);
  // Deletes `key` (absent: fine).
  [[nodiscard]] Result<void> remove(std::string_view key);
  // Puts `key` = `value` under `lease` (0: no lease).
  [[nodiscard]] Result<void> put(std::string_view key, std::string_view value, std::int64_t lease);

  // The endpoint the next call goes to.
  const std::string& endpoint() const { return options_.endpoints[current_]; }
  // Per call name ("lease/keepalive", "kv/txn", ...).
  const std::map<std::string, EtcdCallStats, std::less<>>& stats() const { return stats_; }

 private:
  // POSTs `body` to /v3/<call>; returns the parsed 200 answer or the classified error.
  Result<std::string> call(std::string_view call, const std::string& body);

  http::HttpClient& http_;
  EtcdOptions options_;
  std::size_t current_ = 0;
  std::map<std::string, EtcdCallStats, std::less<>> stats_;
};

// The end of the key range that holds every key starting with `prefix` (etcd's range_end:
// the prefix with its last byte incremented, dropping trailing 0xff bytes; "\0" = to the end).
std::string prefixRangeEnd(std::string_view prefix);

}  // namespace pathpilot::ha
