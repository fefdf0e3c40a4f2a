// ha/etcd_client.h against etcd 3.4 answers recorded byte for byte (tests/data/etcd).
#include "ha/etcd_client.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/base64.h"
#include "fakes/fake_http_client.h"

namespace pathpilot::ha {
namespace {

using testing::FakeHttpClient;
const std::string kData = PP_SOURCE_DIR "/tests/data/etcd/";

http::Response recorded(const std::string& name, int status = 200) {
  return FakeHttpClient::fileResponse(status, kData + name);
}

EtcdOptions options(std::vector<std::string> endpoints = {"http://10.0.0.1:2379"}) {
  EtcdOptions o;
  o.endpoints = std::move(endpoints);
  return o;
}

nlohmann::json body(const http::Request& r) { return nlohmann::json::parse(r.body); }

TEST(EtcdClientTest, GrantsALeaseAndSendsTheTtlAsAString) {
  FakeHttpClient http;
  http.on("POST", "/v3/lease/grant", recorded("lease_grant.json"));
  EtcdClient etcd(http, options());
  auto lease = etcd.grantLease(std::chrono::milliseconds(4500));
  ASSERT_TRUE(lease) << lease.error().toString();
  EXPECT_EQ(lease->id, 7777);
  EXPECT_EQ(lease->ttl, std::chrono::seconds(5));
  ASSERT_EQ(http.requests().size(), 1U);
  EXPECT_EQ(http.requests()[0].url, "http://10.0.0.1:2379/v3/lease/grant");
  EXPECT_EQ(body(http.requests()[0])["TTL"], "5");  // 4.5 s rounded up
  EXPECT_TRUE(http.requests()[0].bypass_proxy);
}

TEST(EtcdClientTest, KeepAliveTellsARenewedLeaseFromAGoneOne) {
  FakeHttpClient http;
  http.on("POST", "/v3/lease/keepalive",
          std::vector<Result<http::Response>>{recorded("lease_keepalive.json"),
                                              recorded("lease_keepalive_gone.json")});
  EtcdClient etcd(http, options());
  auto renewed = etcd.keepAlive(7777);
  ASSERT_TRUE(renewed) << renewed.error().toString();
  EXPECT_EQ(*renewed, std::optional<Duration>(std::chrono::seconds(5)));
  auto gone = etcd.keepAlive(9999);
  ASSERT_TRUE(gone);
  EXPECT_FALSE(gone->has_value());
}

TEST(EtcdClientTest, CreateIfAbsentWinsWithThePutsRevisionAsTerm) {
  FakeHttpClient http;
  http.on("POST", "/v3/kv/txn", recorded("txn_create_won.json"));
  EtcdClient etcd(http, options());
  auto r = etcd.createIfAbsent("/pathpilot/site-a/leader", "mon-a", 7777);
  ASSERT_TRUE(r) << r.error().toString();
  EXPECT_TRUE(r->created);
  EXPECT_EQ(r->kv.create_revision, 2);
  EXPECT_EQ(r->kv.value, "mon-a");
  EXPECT_EQ(r->kv.lease, 7777);
  auto req = body(http.requests()[0]);
  EXPECT_EQ(req["compare"][0]["key"], base64Encode("/pathpilot/site-a/leader"));
  EXPECT_EQ(req["compare"][0]["target"], "CREATE");
  EXPECT_EQ(req["compare"][0]["create_revision"], "0");
  EXPECT_EQ(req["success"][0]["request_put"]["value"], base64Encode("mon-a"));
  EXPECT_EQ(req["success"][0]["request_put"]["lease"], "7777");
}

TEST(EtcdClientTest, CreateIfAbsentLostNamesTheHolder) {
  FakeHttpClient http;
  http.on("POST", "/v3/kv/txn", recorded("txn_create_lost.json"));
  EtcdClient etcd(http, options());
  auto r = etcd.createIfAbsent("/pathpilot/site-a/leader", "mon-b", 8888);
  ASSERT_TRUE(r) << r.error().toString();
  EXPECT_FALSE(r->created);
  EXPECT_EQ(r->kv.key, "/pathpilot/site-a/leader");
  EXPECT_EQ(r->kv.value, "mon-a");
  EXPECT_EQ(r->kv.create_revision, 2);
  EXPECT_EQ(r->kv.lease, 7777);
}

TEST(EtcdClientTest, HoldsComparesTheCreationRevision) {
  FakeHttpClient http;
  http.on("POST", "/v3/kv/txn",
          std::vector<Result<http::Response>>{recorded("txn_holds_true.json"),
                                              recorded("txn_holds_false.json")});
  EtcdClient etcd(http, options());
  auto yes = etcd.holds("/pathpilot/site-a/leader", 2);
  auto no = etcd.holds("/pathpilot/site-a/leader", 99);
  ASSERT_TRUE(yes && no);
  EXPECT_TRUE(*yes);
  EXPECT_FALSE(*no);
  auto req = body(http.requests()[1]);
  EXPECT_EQ(req["compare"][0]["create_revision"], "99");
  // Not compares alone, which etcd answers from a stale copy without quorum: a range (not
  // serializable) in both branches makes the txn a linearizable read.
  for (const char* branch : {"success", "failure"}) {
    ASSERT_EQ(req[branch].size(), 1U) << branch;
    EXPECT_EQ(req[branch][0]["request_range"]["key"], base64Encode("/pathpilot/site-a/leader"));
    EXPECT_FALSE(req[branch][0]["request_range"].contains("serializable"));
  }
}

// A leader's state write (ha_node.h publishState): put or delete, only while the guard key has
// the leader's creation revision.
TEST(EtcdClientTest, WriteIfHeldPutsOrDeletesUnderTheLeaderKey) {
  FakeHttpClient http;
  http.on("POST", "/v3/kv/txn",
          std::vector<Result<http::Response>>{recorded("txn_write_held.json"),
                                              recorded("txn_write_not_held.json"),
                                              recorded("txn_delete_held.json")});
  EtcdClient etcd(http, options());
  const std::string key = "/pathpilot/site-a/state/incident/Lab/path/dx";
  auto put = etcd.writeIfHeld("/pathpilot/site-a/leader", 2, key, "{\"version\":1}");
  auto refused = etcd.writeIfHeld("/pathpilot/site-a/leader", 99, key, "{\"version\":1}");
  auto deleted = etcd.writeIfHeld("/pathpilot/site-a/leader", 2, key, std::nullopt);
  ASSERT_TRUE(put && refused && deleted);
  EXPECT_TRUE(*put);
  EXPECT_FALSE(*refused);
  EXPECT_TRUE(*deleted);
  auto req = body(http.requests()[0]);
  EXPECT_EQ(req["compare"][0]["key"], base64Encode("/pathpilot/site-a/leader"));
  EXPECT_EQ(req["compare"][0]["target"], "CREATE");
  EXPECT_EQ(req["compare"][0]["create_revision"], "2");
  EXPECT_EQ(req["success"][0]["request_put"]["key"], base64Encode(key));
  EXPECT_EQ(req["success"][0]["request_put"]["value"], base64Encode("{\"version\":1}"));
  EXPECT_FALSE(req["success"][0]["request_put"].contains("lease"));  // outlives the leader
  auto del = body(http.requests()[2]);
  EXPECT_EQ(del["success"][0]["request_delete_range"]["key"], base64Encode(key));
}

TEST(EtcdClientTest, RangeReadsOneKeyOrNone) {
  FakeHttpClient http;
  http.on(
      "POST", "/v3/kv/range",
      std::vector<Result<http::Response>>{recorded("range_one.json"), recorded("range_none.json")});
  EtcdClient etcd(http, options());
  auto one = etcd.get("/pathpilot/site-a/leader");
  ASSERT_TRUE(one && one->has_value());
  EXPECT_EQ((*one)->value, "mon-a");
  EXPECT_EQ((*one)->mod_revision, 2);
  EXPECT_EQ((*one)->version, 1);
  auto none = etcd.get("/nothing");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
}

TEST(EtcdClientTest, PrefixRangeEndIncrementsTheLastByte) {
  EXPECT_EQ(prefixRangeEnd("/p/"), "/p0");
  EXPECT_EQ(prefixRangeEnd("a\xff"), "b");
  EXPECT_EQ(prefixRangeEnd("\xff\xff"), std::string(1, '\0'));
  FakeHttpClient http;
  http.on("POST", "/v3/kv/range", recorded("range_one.json"));
  EtcdClient etcd(http, options());
  ASSERT_TRUE(etcd.getPrefix("/pathpilot/site-a/"));
  EXPECT_EQ(body(http.requests()[0])["range_end"], base64Encode("/pathpilot/site-a0"));
}

TEST(EtcdClientTest, ErrorsAreClassifiedAndNameTheCallAndEndpoint) {
  FakeHttpClient http;
  http.on("POST", "/v3/lease/revoke", recorded("lease_revoke_unknown.json", 404));
  http.on("POST", "/v3/kv/put", recorded("put_unknown_lease.json", 404));
  http.on("POST", "/v3/kv/txn", recorded("txn_malformed.json", 400));
  EtcdClient etcd(http, options());
  EXPECT_TRUE(etcd.revoke(12345));  // already gone: fine
  auto put = etcd.put("k", "v", 4242);
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code(), ErrorCode::NotFound);
  EXPECT_NE(put.error().message().find("etcd kv/put at http://10.0.0.1:2379"), std::string::npos);
  EXPECT_NE(put.error().message().find("requested lease not found"), std::string::npos);
  auto txn = etcd.holds("k", 1);
  ASSERT_FALSE(txn);
  EXPECT_EQ(txn.error().code(), ErrorCode::InvalidArgument);
  // A client error is not the endpoint's fault: no rotation.
  EXPECT_EQ(etcd.endpoint(), "http://10.0.0.1:2379");
}

TEST(EtcdClientTest, UnavailableMembersRotateToTheNextEndpoint) {
  FakeHttpClient http;
  http.on("POST", "10.0.0.1:2379/v3/lease/keepalive",
          recorded("keepalive_no_leader_503.json", 503));
  http.on("POST", "10.0.0.2:2379/v3/lease/keepalive",
          Result<http::Response>(fail(ErrorCode::Timeout, "timed out")));
  http.on("POST", "10.0.0.3:2379/v3/lease/keepalive", recorded("lease_keepalive.json"));
  EtcdClient etcd(
      http, options({"http://10.0.0.1:2379/", "http://10.0.0.2:2379", "http://10.0.0.3:2379"}));
  auto first = etcd.keepAlive(7777);
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().code(), ErrorCode::Unavailable);
  EXPECT_NE(first.error().message().find("no leader"), std::string::npos);
  auto second = etcd.keepAlive(7777);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), ErrorCode::Timeout);
  auto third = etcd.keepAlive(7777);
  ASSERT_TRUE(third) << third.error().toString();
  EXPECT_EQ(etcd.endpoint(), "http://10.0.0.3:2379");
  EXPECT_EQ(etcd.stats().at("lease/keepalive").calls, 3U);
  EXPECT_EQ(etcd.stats().at("lease/keepalive").failures, 2U);
}

TEST(EtcdClientTest, MalformedAnswersAreErrorsNotCrashes) {
  const char* bodies[] = {
      "",
      "not json",
      "[1,2]",
      R"({"ID":"x7","TTL":"5"})",
      R"({"ID":"7","TTL":"5"} trailing)",
      R"({"responses":[{"response_range":{"kvs":[{"key":"!!!!"}]}}]})",
      R"({"responses":[{"response_range":{"kvs":"no"}}]})",
      R"({"responses":[]})",
      R"({"succeeded":true,"responses":[{"response_put":{}}]})",
      R"({"result":"no"})",
      R"({"kvs":[{"key":"a2V5","create_revision":"99999999999999999999"}]})",
  };
  for (const char* b : bodies) {
    FakeHttpClient http;
    http.on("POST", "/v3/", FakeHttpClient::response(200, b));
    EtcdClient etcd(http, options());
    auto lease = etcd.grantLease(std::chrono::seconds(2));
    auto kept = etcd.keepAlive(1);
    auto created = etcd.createIfAbsent("k", "v", 1);
    auto got = etcd.get("k");
    // Nothing above may throw or crash; each either fails or returns a well-formed value.
    if (lease) {
      EXPECT_NE(lease->id, 0) << b;
    }
    if (created) {
      EXPECT_GT(created->kv.create_revision, 0) << b;
    }
    (void)kept;
    (void)got;
  }
}

}  // namespace
}  // namespace pathpilot::ha
