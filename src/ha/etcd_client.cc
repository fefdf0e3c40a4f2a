// ha/etcd_client.cc — see etcd_client.h. The JSON shapes follow etcd 3.4's gateway as
// recorded in tests/data/etcd (docs/ha.md lists what was checked against a real cluster).
#include "ha/etcd_client.h"

#include <algorithm>
#include <charconv>

#include <nlohmann/json.hpp>

#include "base/base64.h"
#include "base/check.h"

namespace pathpilot::ha {
namespace {

using nlohmann::json;

// etcd sends int64 fields as decimal strings (JSON numbers lose precision above 2^53); a
// missing field is zero. Accepts a number too.
Result<std::int64_t> int64Field(const json& obj, const char* name, std::string_view call) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) {
    return std::int64_t{0};
  }
  if (it->is_number_integer()) {
    return it->get<std::int64_t>();
  }
  if (it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && end == s.data() + s.size()) {
      return v;
    }
  }
  return fail(ErrorCode::InvalidArgument,
              std::string(call) + ": field " + name + " is not a 64-bit integer");
}

Result<std::string> bytesField(const json& obj, const char* name, std::string_view call) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) {
    return std::string();
  }
  if (it->is_string()) {
    if (auto decoded = base64Decode(it->get_ref<const std::string&>())) {
      return std::move(*decoded);
    }
  }
  return fail(ErrorCode::InvalidArgument, std::string(call) + ": field " + name + " is not base64");
}

Result<KeyValue> parseKv(const json& j, std::string_view call) {
  if (!j.is_object()) {
    return fail(ErrorCode::InvalidArgument, std::string(call) + ": a kv is not an object");
  }
  KeyValue kv;
  auto key = bytesField(j, "key", call);
  auto value = bytesField(j, "value", call);
  auto create = int64Field(j, "create_revision", call);
  auto mod = int64Field(j, "mod_revision", call);
  auto version = int64Field(j, "version", call);
  auto lease = int64Field(j, "lease", call);
  for (const Error* e : {key ? nullptr : &key.error(), value ? nullptr : &value.error(),
                         create ? nullptr : &create.error(), mod ? nullptr : &mod.error(),
                         version ? nullptr : &version.error(), lease ? nullptr : &lease.error()}) {
    if (e != nullptr) {
      return fail(*e);
    }
  }
  kv.key = std::move(*key);
  kv.value = std::move(*value);
  kv.create_revision = *create;
  kv.mod_revision = *mod;
  kv.version = *version;
  kv.lease = *lease;
  return kv;
}

Result<std::vector<KeyValue>> parseKvs(const json& obj, std::string_view call) {
  std::vector<KeyValue> out;
  auto it = obj.find("kvs");
  if (it == obj.end() || it->is_null()) {
    return out;
  }
  if (!it->is_array()) {
    return fail(ErrorCode::InvalidArgument, std::string(call) + ": kvs is not a list");
  }
  for (const auto& item : *it) {
    auto kv = parseKv(item, call);
    if (!kv) {
      return fail(kv.error());
    }
    out.push_back(std::move(*kv));
  }
  return out;
}

// The first JSON document of an answer (a streamed call such as lease/keepalive sends one
// object per line).
Result<json> parseAnswer(const std::string& body, std::string_view call) {
  std::string_view first = body;
  if (auto nl = first.find('\n'); nl != std::string_view::npos) {
    first = first.substr(0, nl);
  }
  json j = json::parse(first, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return fail(ErrorCode::InvalidArgument,
                std::string(call) + ": the answer is not a JSON object");
  }
  return j;
}

// "etcdserver: no leader" from either error shape (unary {"message": …}, streaming
// {"error": {"message": …}}), capped; empty when the body is not etcd's JSON.
std::string etcdMessage(const std::string& body) {
  json j = json::parse(body.substr(0, body.find('\n')), nullptr, false);
  std::string m;
  if (j.is_object()) {
    if (auto it = j.find("message"); it != j.end() && it->is_string()) {
      m = it->get<std::string>();
    } else if (auto e = j.find("error"); e != j.end() && e->is_object()) {
      if (auto em = e->find("message"); em != e->end() && em->is_string()) {
        m = em->get<std::string>();
      }
    }
  }
  // Capped and flattened to one line: the text goes into error messages and logs.
  if (m.size() > 200) {
    m.resize(200);
  }
  std::replace_if(
      m.begin(), m.end(), [](char c) { return c < 0x20; }, ' ');
  return m;
}

std::string b64(std::string_view s) { return base64Encode(s); }

// The parsed answer of a call, or the call's error.
Result<json> answerOf(Result<std::string> body, std::string_view call) {
  if (!body) {
    return fail(body.error());
  }
  return parseAnswer(*body, call);
}

// The txn compare "`key` was created at `create_revision`" (0: does not exist).
json createdAt(std::string_view key, std::int64_t create_revision) {
  return json::array({{{"key", b64(key)},
                       {"target", "CREATE"},
                       {"result", "EQUAL"},
                       {"create_revision", std::to_string(create_revision)}}});
}

}  // namespace

std::string prefixRangeEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

EtcdClient::EtcdClient(http::HttpClient& http, EtcdOptions options)
    : http_(http), options_(std::move(options)) {
  PP_CHECK(!options_.endpoints.empty());
  // A configured "http://etcd-1:2379/" would otherwise give "...2379//v3/..." in call().
  for (auto& e : options_.endpoints) {
    while (!e.empty() && e.back() == '/') {
      e.pop_back();
    }
  }
}

Result<std::string> EtcdClient::call(std::string_view name, const std::string& body) {
  auto st = stats_.find(name);
  if (st == stats_.end()) {
    st = stats_.emplace(std::string(name), EtcdCallStats{}).first;
  }
  ++st->second.calls;
  // Kept aside: after rotate() below, endpoint() names the next member, and the error must
  // name the one that failed.
  const std::string ep = endpoint();
  http::Request req;
  req.method = "POST";
  req.url = ep + "/v3/" + std::string(name);
  req.headers = {{"Content-Type", "application/json"}};
  req.body = body;
  req.timeout = options_.timeout;
  req.connect_timeout = std::min(options_.connect_timeout, options_.timeout);
  // etcd is a service of the monitors' own network: never through an HTTP proxy that the
  // environment sets for the AWS APIs.
  req.bypass_proxy = true;
  auto rotate = [this] { current_ = (current_ + 1) % options_.endpoints.size(); };
  auto r = http_.send(req);
  const std::string what = "etcd " + std::string(name) + " at " + ep;
  if (!r) {
    ++st->second.failures;
    rotate();
    return fail(
        r.error().code() == ErrorCode::Timeout ? ErrorCode::Timeout : ErrorCode::Unavailable,
        what + ": " + r.error().message());
  }
  if (r->status == 200) {
    return std::move(r->body);
  }
  ++st->second.failures;
  std::string detail = etcdMessage(r->body);
  std::string msg = what + ": HTTP " + std::to_string(r->status) +
                    (detail.empty() ? std::string() : " (" + detail + ")");
  // Only a member's failure (5xx, or a transport error above) rotates: a 4xx refuses the
  // request itself, and every member would refuse it alike.
  if (r->status >= 500) {
    rotate();
    return fail(ErrorCode::Unavailable, std::move(msg));
  }
  // The gateway maps gRPC NotFound (code 5, e.g. an unknown lease) to HTTP 404.
  if (r->status == 404) {
    return fail(ErrorCode::NotFound, std::move(msg));
  }
  if (r->status == 401 || r->status == 403) {
    return fail(ErrorCode::PermissionDenied, std::move(msg));
  }
  return fail(ErrorCode::InvalidArgument, std::move(msg));
}

Result<Lease> EtcdClient::grantLease(Duration ttl) {
  auto secs = std::max<std::int64_t>(1, std::chrono::ceil<std::chrono::seconds>(ttl).count());
  auto j = answerOf(call("lease/grant", json{{"TTL", std::to_string(secs)}}.dump()), "lease/grant");
  if (!j) {
    return fail(j.error());
  }
  auto id = int64Field(*j, "ID", "lease/grant");
  auto granted = int64Field(*j, "TTL", "lease/grant");
  if (!id || !granted) {
    return fail(id ? granted.error() : id.error());
  }
  // Zero fields are left out of answers, so a missing ID or TTL reads as 0; lease id 0 means
  // "no lease" everywhere else and must not pass for a granted one.
  if (*id == 0 || *granted <= 0) {
    return fail(ErrorCode::InvalidArgument, "etcd lease/grant: no lease in the answer");
  }
  return Lease{*id, std::chrono::seconds(*granted)};
}

Result<std::optional<Duration>> EtcdClient::keepAlive(std::int64_t lease) {
  auto j = answerOf(call("lease/keepalive", json{{"ID", std::to_string(lease)}}.dump()),
                    "lease/keepalive");
  if (!j) {
    return fail(j.error());
  }
  // A streaming call: the gateway wraps each message in {"result": …}, and an error on the
  // stream in {"error": …}, which etcdMessage() reads.
  auto result = j->find("result");
  if (result == j->end() || !result->is_object()) {
    std::string m = etcdMessage(j->dump());
    return fail(ErrorCode::Unavailable,
                "etcd lease/keepalive: no result" + (m.empty() ? std::string() : " (" + m + ")"));
  }
  auto ttl = int64Field(*result, "TTL", "lease/keepalive");
  if (!ttl) {
    return fail(ttl.error());
  }
  if (*ttl <= 0) {
    return std::optional<Duration>();  // the lease is gone (etcd leaves TTL out)
  }
  return std::optional<Duration>(std::chrono::seconds(*ttl));
}

Result<void> EtcdClient::revoke(std::int64_t lease) {
  auto body = call("lease/revoke", json{{"ID", std::to_string(lease)}}.dump());
  if (!body && body.error().code() != ErrorCode::NotFound) {
    return fail(body.error());
  }
  return ok();
}

Result<CreateResult> EtcdClient::createIfAbsent(std::string_view key, std::string_view value,
                                                std::int64_t lease) {
  // The failure branch reads the key, so a lost create learns the holder (value, lease,
  // create_revision) in the same round trip.
  json req = {
      {"compare", createdAt(key, 0)},
      {"success",
       json::array(
           {{{"request_put",
              {{"key", b64(key)}, {"value", b64(value)}, {"lease", std::to_string(lease)}}}}})},
      {"failure", json::array({{{"request_range", {{"key", b64(key)}}}}})}};
  auto j = answerOf(call("kv/txn", req.dump()), "kv/txn");
  if (!j) {
    return fail(j.error());
  }
  CreateResult out;
  out.created = j->value("succeeded", false);
  auto header = j->find("header");
  if (header != j->end() && header->is_object()) {
    if (auto rev = int64Field(*header, "revision", "kv/txn")) {
      out.revision = *rev;
    }
  }
  auto responses = j->find("responses");
  if (responses == j->end() || !responses->is_array() || responses->empty() ||
      !(*responses)[0].is_object()) {
    return fail(ErrorCode::InvalidArgument, "etcd kv/txn: no responses in the answer");
  }
  const json& first = (*responses)[0];
  if (out.created) {
    // The put's own revision is the key's create_revision.
    std::int64_t rev = out.revision;
    if (auto p = first.find("response_put"); p != first.end() && p->is_object()) {
      if (auto h = p->find("header"); h != p->end() && h->is_object()) {
        if (auto r = int64Field(*h, "revision", "kv/txn"); r && *r > 0) {
          rev = *r;
        }
      }
    }
    if (rev <= 0) {
      return fail(ErrorCode::InvalidArgument, "etcd kv/txn: no revision for the created key");
    }
    // The put answers with a header only; a key it created has mod_revision = create_revision
    // and version 1.
    out.kv = KeyValue{std::string(key), std::string(value), rev, rev, 1, lease};
    return out;
  }
  auto range = first.find("response_range");
  if (range == first.end() || !range->is_object()) {
    return fail(ErrorCode::InvalidArgument, "etcd kv/txn: no response_range in a lost txn");
  }
  auto kvs = parseKvs(*range, "kv/txn");
  if (!kvs) {
    return fail(kvs.error());
  }
  if (kvs->empty()) {
    // The compare saw the key, the range in the same revision cannot miss it.
    return fail(ErrorCode::InvalidArgument, "etcd kv/txn: lost, but the key is not in the answer");
  }
  out.kv = std::move(kvs->front());
  return out;
}

Result<bool> EtcdClient::holds(std::string_view key, std::int64_t create_revision) {
  // A txn of compares alone counts as serializable in etcd 3.4 (no operation needs a
  // linearizable read), so a member without quorum answers it from its own, possibly stale,
  // copy: measured here, the old raft leader answered "succeeded" for 6 s after the two other
  // members were stopped. A count-only range in both branches makes it a linearizable read,
  // which fails without quorum.
  const json range = {{"request_range", {{"key", b64(key)}, {"count_only", true}}}};
  json req = {{"compare", createdAt(key, create_revision)},
              {"success", json::array({range})},
              {"failure", json::array({range})}};
  auto j = answerOf(call("kv/txn", req.dump()), "kv/txn");
  if (!j) {
    return fail(j.error());
  }
  return j->value("succeeded", false);
}

Result<bool> EtcdClient::deleteIfHeld(std::string_view key, std::int64_t create_revision) {
  // Needs no range as holds() does: the delete makes the txn a write, which goes through raft
  // (and fails without quorum) whichever branch runs.
  json req = {{"compare", createdAt(key, create_revision)},
              {"success", json::array({{{"request_delete_range", {{"key", b64(key)}}}}})}};
  auto j = answerOf(call("kv/txn", req.dump()), "kv/txn");
  if (!j) {
    return fail(j.error());
  }
  return j->value("succeeded", false);
}

Result<bool> EtcdClient::writeIfHeld(std::string_view guard, std::int64_t create_revision,
                                     std::string_view key,
                                     const std::optional<std::string>& value) {
  json op = value ? json{{"request_put", {{"key", b64(key)}, {"value", b64(*value)}}}}
                  : json{{"request_delete_range", {{"key", b64(key)}}}};
  json req = {{"compare", createdAt(guard, create_revision)}, {"success", json::array({op})}};
  auto j = answerOf(call("kv/txn", req.dump()), "kv/txn");
  if (!j) {
    return fail(j.error());
  }
  return j->value("succeeded", false);
}

Result<std::optional<KeyValue>> EtcdClient::get(std::string_view key) {
  auto j = answerOf(call("kv/range", json{{"key", b64(key)}}.dump()), "kv/range");
  if (!j) {
    return fail(j.error());
  }
  auto kvs = parseKvs(*j, "kv/range");
  if (!kvs) {
    return fail(kvs.error());
  }
  if (kvs->empty()) {
    return std::optional<KeyValue>();
  }
  return std::optional<KeyValue>(std::move(kvs->front()));
}

Result<std::vector<KeyValue>> EtcdClient::getPrefix(std::string_view prefix) {
  auto body = call("kv/range",
                   json{{"key", b64(prefix)}, {"range_end", b64(prefixRangeEnd(prefix))}}.dump());
  if (!body) {
    return fail(body.error());
  }
  auto j = parseAnswer(*body, "kv/range");
  if (!j) {
    return fail(j.error());
  }
  return parseKvs(*j, "kv/range");
}

Result<void> EtcdClient::remove(std::string_view key) {
  auto body = call("kv/deleterange", json{{"key", b64(key)}}.dump());
  if (!body) {
    return fail(body.error());
  }
  return ok();
}

Result<void> EtcdClient::put(std::string_view key, std::string_view value, std::int64_t lease) {
  json req = {{"key", b64(key)}, {"value", b64(value)}};
  if (lease != 0) {
    req["lease"] = std::to_string(lease);
  }
  auto body = call("kv/put", req.dump());
  if (!body) {
    return fail(body.error());
  }
  return ok();
}

}  // namespace pathpilot::ha
