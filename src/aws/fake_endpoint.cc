#include "aws/fake_endpoint.h"

#include <httplib.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <deque>
#include <functional>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aws/detail/xml.h"
#include "aws/query.h"
#include "aws/query_client.h"
#include "aws/retry.h"
#include "aws/sigv4.h"
#include "base/ip.h"

namespace pathpilot::aws {

namespace {

using detail::escape;

constexpr std::string_view kEc2Xmlns = "http://ec2.amazonaws.com/doc/2016-11-15/";
constexpr std::string_view kSnsXmlns = "http://sns.amazonaws.com/doc/2010-03-31/";
constexpr std::string_view kCwXmlns = "http://monitoring.amazonaws.com/doc/2010-08-01/";

enum class Service { Ec2, Sns, CloudWatch };

// AWS accepts 1 MB query API bodies; leave room above that.
constexpr std::size_t kMaxBody = 2 * 1024 * 1024;

// The origin EC2 reports for a route that a virtual private gateway propagates into a table
// (EnableVgwRoutePropagation): the routes its BGP sessions (DX, VPN) learn.
constexpr std::string_view kPropagated = "EnableVgwRoutePropagation";

struct Route {
  std::string destination;
  RouteTarget target;
  std::string origin;  // "CreateRouteTable" (local), "CreateRoute" (static), kPropagated
  bool propagated() const { return origin == kPropagated; }
};

struct Table {
  std::string id;
  std::string vpc_id;
  std::vector<Route> routes;
};

struct Instance {
  std::string id;
  std::string availability_zone;
  std::string state;  // running, stopped, pending, stopping
  MonoTime step_done{};  // when a pending/stopping step completes
};

// An answer: status, XML body and content type, and the AWS error code for the call log.
struct Reply {
  Reply(int s = 200, std::string b = {}, std::string type = "text/xml;charset=UTF-8")
      : status(s), body(std::move(b)), content_type(std::move(type)) {}
  int status;
  std::string body;
  std::string content_type;
  std::string code;
};

// Server threads: one per kept-alive client connection (the daemon's pool is at most 32).
constexpr std::size_t kServerThreads = 48;

// Calls kept in the log (GET /_fake/calls); counts per action and outcome are never dropped.
constexpr std::size_t kMaxCallLog = 100000;

int stateCode(std::string_view name) {
  if (name == "pending") return 0;
  if (name == "running") return 16;
  if (name == "shutting-down") return 32;
  if (name == "terminated") return 48;
  if (name == "stopping") return 64;
  if (name == "stopped") return 80;
  return -1;
}

// A request's parameters indexed by name: a PutMetricData batch has thousands, and looking
// each one up linearly made the fake quadratic.
struct Params {
  explicit Params(const QueryRequest& q) : action(q.action) {
    for (const auto& [k, v] : q.params) {
      map.emplace(k, v);  // the first value of a repeated name wins, as with param()
    }
  }
  std::string param(const std::string& name) const {
    auto it = map.find(name);
    return it == map.end() ? std::string() : it->second;
  }
  std::string action;
  std::unordered_map<std::string, std::string> map;
};

// Parameters "Prefix.1", "Prefix.2", ... in numeric order.
std::vector<std::string> numbered(const Params& r, std::string_view prefix) {
  std::vector<std::pair<int, std::string>> found;
  for (const auto& [k, v] : r.map) {
    if (k.size() > prefix.size() + 1 && k.compare(0, prefix.size(), prefix) == 0 &&
        k[prefix.size()] == '.') {
      int n = 0;
      std::string_view digits = std::string_view(k).substr(prefix.size() + 1);
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
      if (ec == std::errc() && end == digits.data() + digits.size()) {
        found.emplace_back(n, v);
      }
    }
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& [n, v] : found) {
    out.push_back(std::move(v));
  }
  return out;
}

// Filter.N.Name / Filter.N.Value.M → name → values.
std::map<std::string, std::vector<std::string>> filters(const Params& r) {
  std::map<std::string, std::vector<std::string>> out;
  for (int i = 1; i < 50; ++i) {
    std::string name = r.param("Filter." + std::to_string(i) + ".Name");
    if (name.empty()) {
      break;
    }
    auto values = numbered(r, "Filter." + std::to_string(i) + ".Value");
    auto& dst = out[name];
    dst.insert(dst.end(), values.begin(), values.end());
  }
  return out;
}

std::string ec2Error(std::string_view code, std::string_view message,
                     std::string_view request_id) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>" +
         escape(code) + "</Code><Message>" + escape(message) + "</Message></Error></Errors>" +
         "<RequestID>" + escape(request_id) + "</RequestID></Response>";
}

std::string queryError(Service service, std::string_view type, std::string_view code,
                       std::string_view message, std::string_view request_id) {
  return "<ErrorResponse xmlns=\"" +
         std::string(service == Service::Sns ? kSnsXmlns : kCwXmlns) +
         "\">\n  <Error>\n    <Type>" + escape(type) + "</Type>\n    <Code>" + escape(code) +
         "</Code>\n    <Message>" + escape(message) + "</Message>\n  </Error>\n  <RequestId>" +
         escape(request_id) + "</RequestId>\n</ErrorResponse>\n";
}

// <tag>escaped value</tag>
std::string element(std::string_view tag, std::string_view value) {
  return "<" + std::string(tag) + ">" + escape(value) + "</" + std::string(tag) + ">";
}

// The envelope every successful EC2 answer shares; `inner` holds the action's elements.
std::string ec2Response(std::string_view action, std::string_view rid, std::string_view inner) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<" + std::string(action) +
         "Response xmlns=\"" + std::string(kEc2Xmlns) + "\">\n  <requestId>" + std::string(rid) +
         "</requestId>\n" + std::string(inner) + "</" + std::string(action) + "Response>\n";
}

// CreateRoute/ReplaceRoute target parameters and the kind each one names.
constexpr std::array<std::pair<std::string_view, RouteTargetKind>, 6> kTargetParams = {{
    {"GatewayId", RouteTargetKind::Gateway},
    {"NetworkInterfaceId", RouteTargetKind::NetworkInterface},
    {"InstanceId", RouteTargetKind::Instance},
    {"TransitGatewayId", RouteTargetKind::TransitGateway},
    {"NatGatewayId", RouteTargetKind::NatGateway},
    {"VpcPeeringConnectionId", RouteTargetKind::VpcPeering},
}};

using FilterMap = std::map<std::string, std::vector<std::string>>;

// Whether an item with `value` passes both the explicit id list (`ids`, empty: any) and the
// filter `name` (absent: any). The Describe* actions AND their selectors, as EC2 does.
bool selectedBy(const std::vector<std::string>& ids, const FilterMap& f, const std::string& name,
                const std::string& value) {
  auto in = [&value](const std::vector<std::string>& v) {
    return std::find(v.begin(), v.end(), value) != v.end();
  };
  auto it = f.find(name);
  return (ids.empty() || in(ids)) && (it == f.end() || in(it->second));
}

// One page of a Describe* answer: items [begin, end) of the selection.
struct Page {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::size_t total = 0;
  std::string nextTokenElement() const {
    return end < total ? "  <nextToken>" + std::to_string(end) + "</nextToken>\n" : "";
  }
};

// The logged outcome of an answer (FakeAwsCall::outcome): the client's own classification
// (aws/query_client.h), so that the log and pathpilot's metrics use the same words.
std::string outcomeOf(const Reply& r) { return std::string(attemptOutcome(r.status, r.code)); }

std::string_view targetParam(RouteTargetKind kind) {
  switch (kind) {
    case RouteTargetKind::NetworkInterface:
      return "networkInterfaceId";
    case RouteTargetKind::Instance:
      return "instanceId";
    case RouteTargetKind::TransitGateway:
      return "transitGatewayId";
    case RouteTargetKind::NatGateway:
      return "natGatewayId";
    case RouteTargetKind::VpcPeering:
      return "vpcPeeringConnectionId";
    default:
      return "gatewayId";
  }
}

}  // namespace

struct FakeAwsEndpoint::Impl {
  explicit Impl(FakeAwsOptions o) : options(std::move(o)), rng(options.seed) {
    if (options.clock == nullptr) {
      owned_clock = std::make_unique<RealClock>();
      options.clock = owned_clock.get();
    }
    faults = options.faults;
  }

  FakeAwsOptions options;
  std::unique_ptr<RealClock> owned_clock;
  httplib::Server server;
  std::thread thread;
  int bound_port = 0;
  bool running = false;

  mutable std::mutex mu;
  std::map<std::string, Table> tables;
  // Gateways whose BGP session is down: the routes they propagate are not in any table.
  std::set<std::string> bgp_down;
  std::map<std::string, Instance> instances;
  std::vector<std::string> topics;
  std::vector<FakeSnsPublish> publishes;
  std::vector<FakeMetricDatum> metrics;
  FakeAwsFaults faults;
  std::deque<FakeAwsFault> scripted;
  std::mt19937_64 rng;
  FakeAwsStats stats;
  std::uint64_t next_id = 1;
  std::uint64_t in_flight = 0;
  std::deque<FakeAwsCall> call_log;  // seq ascending
  std::uint64_t next_call = 1;

  WallTime wallNow() const {
    return options.clock->wallNow() +
           std::chrono::duration_cast<WallTime::duration>(options.clock_offset);
  }
  MonoTime monoNow() const { return options.clock->now(); }

  // Requires mu.
  std::string requestId() {
    return fmt::format("fa4e0000-0000-4000-8000-{:012x}", next_id++);
  }

  // Requires mu. Completes transitions whose time has come.
  const std::string& stateOf(Instance& i) {
    MonoTime now = monoNow();
    if (i.state == "stopping" && now >= i.step_done) {
      i.state = "stopped";
    } else if (i.state == "pending" && now >= i.step_done) {
      i.state = "running";
    }
    return i.state;
  }

  // Requires mu. Whether `r` is in its table now: a propagated route only while its gateway's
  // BGP session is up (it appears and disappears with the session, as on EC2).
  bool visible(const Route& r) const { return !r.propagated() || bgp_down.count(r.target.id) == 0; }
  // Requires mu. The static (or local) route of `destination`: the only kind CreateRoute
  // conflicts with and ReplaceRoute / DeleteRoute act on. A propagated route of the same
  // prefix is a separate entry that those calls never see.
  std::vector<Route>::iterator staticRoute(Table& t, const std::string& destination) {
    return std::find_if(t.routes.begin(), t.routes.end(), [&](const Route& r) {
      return !r.propagated() && r.destination == destination;
    });
  }

  // Requires mu.
  std::string routeState(const Route& r) {
    if (r.target.kind != RouteTargetKind::Instance) {
      return "active";
    }
    auto it = instances.find(r.target.id);
    return it != instances.end() && stateOf(it->second) == "running" ? "active" : "blackhole";
  }

  Reply error(Service service, int status, std::string_view code, std::string_view message,
              const std::string& rid) {
    Reply r{status,
            service == Service::Ec2
                ? ec2Error(code, message, rid)
                : queryError(service, status >= 500 ? "Receiver" : "Sender", code, message, rid)};
    r.code = std::string(code);
    return r;
  }
  // The usual EC2 client error (HTTP 400) of the validations below.
  Reply invalid(std::string_view code, const std::string& message, const std::string& rid) {
    return error(Service::Ec2, 400, code, message, rid);
  }

  // ---- validation shared by the EC2 handlers ----
  // An InvalidParameterValue answer for the first filter not in `allowed`.
  std::optional<Reply> checkFilters(const FilterMap& f,
                                    std::initializer_list<std::string_view> allowed,
                                    const std::string& rid) {
    for (const auto& [name, values] : f) {
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        return invalid("InvalidParameterValue", "The filter '" + name + "' is invalid", rid);
      }
    }
    return std::nullopt;
  }
  // A `code` answer ("InvalidInstanceID.NotFound") for the first id `known` does not hold.
  template <class Map>
  std::optional<Reply> checkIds(const std::vector<std::string>& ids, const Map& known,
                                std::string_view code, std::string_view noun,
                                const std::string& rid) {
    for (const std::string& id : ids) {
      if (!known.count(id)) {
        return invalid(code, "The " + std::string(noun) + " ID '" + id + "' does not exist", rid);
      }
    }
    return std::nullopt;
  }
  // NextToken (an offset) and MaxResults (between 5 and `max_results`) over `total` items.
  tl::expected<Page, Reply> page(const Params& q, std::size_t total, int max_results,
                                 const std::string& rid);
  // Requires mu. The RouteTableId and destination parameters of a route change: the table and
  // the normalised destination (`strict`: a bad CIDR is an error, else it is kept as given).
  struct RouteRef {
    Table* table = nullptr;
    std::string destination;
  };
  tl::expected<RouteRef, Reply> routeParams(const Params& q, bool strict, const std::string& rid);

  // ---- the call log ----
  // Logs an arriving request; returns its sequence number.
  std::uint64_t beginCall(const QueryRequest* query);  // nullptr: no parsable body
  void endCall(std::uint64_t seq, const std::string& action, const Reply& reply,
               const std::string& caller);

  Reply serve(const httplib::Request& req, std::string body);
  // `caller`: set to the access key id once the signature is verified.
  Reply handle(const httplib::Request& req, std::string body, const Result<QueryRequest>& query,
               std::string* caller);
  Reply dispatch(Service service, const Params& q, const std::string& access_key,
                 const std::string& rid);
  Reply describeRouteTables(const Params& q, const std::string& rid);
  Reply changeRoute(const Params& q, bool replace, const std::string& rid);
  Reply deleteRoute(const Params& q, const std::string& rid);
  Reply describeInstances(const Params& q, const std::string& rid);
  Reply changeInstances(const Params& q, bool stop, const std::string& rid);
  Reply publish(const Params& q, const std::string& access_key, const std::string& rid);
  Reply putMetricData(const Params& q, const std::string& rid);
  std::string stateJson();
  std::string callsJson(std::uint64_t since);
  std::vector<FakeAwsCall> calls(std::uint64_t since);
};

// The body is decoded once, here, for the log and the action; the raw body still goes to the
// signature check. A request is logged before it is authenticated, so that rejected and
// throttled calls show up too (a test counts what the client sent, not only what succeeded).
Reply FakeAwsEndpoint::Impl::serve(const httplib::Request& req, std::string body) {
  Result<QueryRequest> query = decodeQueryBody(body);
  const std::uint64_t seq = beginCall(query ? &*query : nullptr);
  std::string caller;
  Reply reply = handle(req, std::move(body), query, &caller);
  endCall(seq, query ? query->action : std::string(), reply, caller);
  return reply;
}

std::uint64_t FakeAwsEndpoint::Impl::beginCall(const QueryRequest* query) {
  FakeAwsCall call;
  if (query) {
    call.action = query->action;
    call.route_table_id = query->param("RouteTableId");
    call.destination = query->param("DestinationCidrBlock");
    if (call.destination.empty()) {
      call.destination = query->param("DestinationIpv6CidrBlock");
    }
    for (const auto& [param, kind] : kTargetParams) {
      if (std::string id = query->param(param); !id.empty()) {
        call.target = id;
      }
    }
    // Stop/Start/DescribeInstances name instances instead (indexing a large PutMetricData
    // body here would only cost time).
    if (call.action.find("Instances") != std::string::npos) {
      Params p(*query);
      for (const std::string& id : numbered(p, "InstanceId")) {
        call.instance_ids += (call.instance_ids.empty() ? "" : ",") + id;
      }
      call.target.clear();
    }
  }
  std::lock_guard lock(mu);
  call.seq = next_call++;
  call_log.push_back(std::move(call));
  if (call_log.size() > kMaxCallLog) {
    call_log.pop_front();
  }
  return call_log.back().seq;
}

void FakeAwsEndpoint::Impl::endCall(std::uint64_t seq, const std::string& action,
                                    const Reply& reply, const std::string& caller) {
  std::string outcome = outcomeOf(reply);
  std::lock_guard lock(mu);
  ++stats.outcomes[action][outcome];
  // The log is in seq order and only loses its oldest entries: index by offset.
  if (!call_log.empty() && seq >= call_log.front().seq) {
    std::size_t i = static_cast<std::size_t>(seq - call_log.front().seq);
    if (i < call_log.size()) {
      call_log[i].status = reply.status;
      call_log[i].code = reply.code;
      call_log[i].outcome = std::move(outcome);
      call_log[i].caller = caller;
    }
  }
}

tl::expected<Page, Reply> FakeAwsEndpoint::Impl::page(const Params& q, std::size_t total,
                                                      int max_results, const std::string& rid) {
  Page p;
  p.total = total;
  if (std::string token = q.param("NextToken"); !token.empty()) {
    auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), p.begin);
    if (ec != std::errc() || end != token.data() + token.size() || p.begin > total) {
      return tl::unexpected(invalid("InvalidParameterValue", "Invalid NextToken", rid));
    }
  }
  std::size_t max = total;
  if (std::string m = q.param("MaxResults"); !m.empty()) {
    int n = 0;
    std::from_chars(m.data(), m.data() + m.size(), n);
    if (n < 5 || n > max_results) {
      return tl::unexpected(
          invalid("InvalidParameterValue",
                  "Value ( " + m +
                      " ) for parameter maxResults is invalid. Expecting a value between 5 "
                      "and " +
                      std::to_string(max_results) + ".",
                  rid));
    }
    max = static_cast<std::size_t>(n);
  }
  p.end = std::min(total, p.begin + max);
  return p;
}

tl::expected<FakeAwsEndpoint::Impl::RouteRef, Reply> FakeAwsEndpoint::Impl::routeParams(
    const Params& q, bool strict, const std::string& rid) {
  std::string table_id = q.param("RouteTableId");
  std::string dst = q.param("DestinationCidrBlock");
  std::string dst_name = "destinationCidrBlock";
  if (dst.empty()) {
    dst = q.param("DestinationIpv6CidrBlock");
    dst_name = "destinationIpv6CidrBlock";
  }
  if (table_id.empty()) {
    return tl::unexpected(
        invalid("MissingParameter", "The request must contain the parameter routeTableId", rid));
  }
  if (dst.empty()) {
    return tl::unexpected(invalid("MissingParameter",
                                  "The request must contain the parameter destinationCidrBlock "
                                  "or destinationIpv6CidrBlock",
                                  rid));
  }
  auto prefix = IpPrefix::parse(dst, strict);
  if (!prefix && strict) {
    return tl::unexpected(invalid("InvalidParameterValue",
                                  "Value (" + dst + ") for parameter " + dst_name +
                                      " is invalid. This is not a valid CIDR block.",
                                  rid));
  }
  auto t = tables.find(table_id);
  if (t == tables.end()) {
    return tl::unexpected(invalid("InvalidRouteTableID.NotFound",
                                  "The routeTable ID '" + table_id + "' does not exist", rid));
  }
  return RouteRef{&t->second, prefix ? prefix->toString() : dst};
}

// The order of checks follows AWS: authentication first (a bad signature never reaches
// throttling or the action), then injected faults, then the action. Faults are drawn under
// the lock from one seeded generator, so a run with the same seed and request order sees the
// same faults; the added latency is slept outside the lock so other requests proceed.
Reply FakeAwsEndpoint::Impl::handle(const httplib::Request& req, std::string body,
                                    const Result<QueryRequest>& query, std::string* caller) {
  SigV4Request sreq;
  sreq.method = req.method;
  std::string_view target = req.target;
  std::size_t q = target.find('?');
  sreq.path = std::string(target.substr(0, q));
  sreq.query = q == std::string_view::npos ? std::string() : std::string(target.substr(q + 1));
  for (const auto& [name, value] : req.headers) {
    sreq.headers.push_back({name, value});
  }
  sreq.body = std::move(body);

  // The error shape follows the service named in the credential scope (EC2 by default).
  Service service = Service::Ec2;
  std::string access_key;
  if (auto authz = http::findHeader(sreq.headers, "authorization")) {
    if (auto parsed = parseAuthorization(*authz)) {
      service = parsed->service == "sns"          ? Service::Sns
                : parsed->service == "monitoring" ? Service::CloudWatch
                                                  : Service::Ec2;
    }
  }
  std::string rid;
  {
    std::lock_guard lock(mu);
    ++stats.requests;
    rid = requestId();
  }
  auto lookup = [this](std::string_view id) -> std::optional<std::string> {
    auto it = options.keys.find(std::string(id));
    if (it == options.keys.end()) {
      return std::nullopt;
    }
    return it->second;
  };
  auto verified = verifyHeaderSignature(sreq, lookup, wallNow(), options.max_skew);
  if (!verified) {
    {
      std::lock_guard lock(mu);
      ++stats.rejected_signatures;
    }
    const std::string& m = verified.error().message();
    std::string code = m.substr(0, m.find(':'));
    std::string message = m.find(": ") == std::string::npos ? m : m.substr(m.find(": ") + 2);
    if (service == Service::Ec2 && code == "InvalidClientTokenId") {
      return error(service, 401, "AuthFailure",
                   "AWS was not able to validate the provided access credentials", rid);
    }
    return error(service, code == "IncompleteSignature" ? 400 : 403, code, message, rid);
  }
  access_key = verified->access_key_id;
  *caller = access_key;
  if (!query) {
    return error(service, 400, "MissingAction", "The request must contain the parameter Action",
                 rid);
  }

  // Faults: the scripted queue first, then the random rates.
  std::optional<FakeAwsFault> fault;
  bool delay = false;
  Duration latency{};
  {
    std::lock_guard lock(mu);
    if (!scripted.empty()) {
      fault = scripted.front();
      scripted.pop_front();
    } else {
      std::uniform_real_distribution<double> u(0.0, 1.0);
      double a = u(rng);
      double b = u(rng);
      if (a < faults.throttle_rate) {
        fault = FakeAwsFault::Throttle;
      } else if (a < faults.throttle_rate + faults.error_rate) {
        fault = FakeAwsFault::ServerError;
      }
      delay = b < faults.latency_rate;
      latency = faults.latency;
    }
    if (fault) {
      ++stats.injected_faults;
    }
  }
  if (delay && latency > Duration::zero()) {
    std::this_thread::sleep_for(latency);
  }
  if (fault) {
    switch (*fault) {
      case FakeAwsFault::Throttle:
        return service == Service::Ec2
                   ? error(service, 503, "RequestLimitExceeded", "Request limit exceeded.", rid)
                   : error(service, 400, "Throttling", "Rate exceeded", rid);
      case FakeAwsFault::ServerError:
        return error(service, 500, "InternalError",
                     "An internal error has occurred. Please try again.", rid);
      case FakeAwsFault::Unavailable:
        return {503,
                "<html><head><title>503 Service Temporarily Unavailable</title></head><body>"
                "<h1>503 Service Temporarily Unavailable</h1></body></html>\n",
                "text/html"};
      case FakeAwsFault::Skewed:
        return error(service, 403, "RequestTimeTooSkewed",
                     "The difference between the request time and the current time is too "
                     "large.",
                     rid);
      case FakeAwsFault::ExpiredToken:
        return error(service, 403, "ExpiredToken",
                     "The security token included in the request is expired", rid);
    }
  }
  return dispatch(service, Params(*query), access_key, rid);
}

Reply FakeAwsEndpoint::Impl::dispatch(Service service, const Params& q,
                                      const std::string& access_key, const std::string& rid) {
  Reply reply;
  const std::string& a = q.action;
  if (a == "DescribeRouteTables") {
    reply = describeRouteTables(q, rid);
  } else if (a == "CreateRoute" || a == "ReplaceRoute") {
    reply = changeRoute(q, a == "ReplaceRoute", rid);
  } else if (a == "DeleteRoute") {
    reply = deleteRoute(q, rid);
  } else if (a == "DescribeInstances") {
    reply = describeInstances(q, rid);
  } else if (a == "StopInstances" || a == "StartInstances") {
    reply = changeInstances(q, a == "StopInstances", rid);
  } else if (a == "Publish") {
    reply = publish(q, access_key, rid);
  } else if (a == "PutMetricData") {
    reply = putMetricData(q, rid);
  } else {
    return error(service, 400, "InvalidAction",
                 "The action " + a + " is not valid for this web service.", rid);
  }
  if (reply.status == 200) {
    std::lock_guard lock(mu);
    ++stats.actions[a];
  }
  return reply;
}

// Paging uses the offset into the sorted selection as NextToken: opaque to clients, stable
// while tables are not added or removed between pages (good enough for a fake).
Reply FakeAwsEndpoint::Impl::describeRouteTables(const Params& q, const std::string& rid) {
  std::lock_guard lock(mu);
  auto ids = numbered(q, "RouteTableId");
  auto f = filters(q);
  if (auto bad = checkFilters(f, {"route-table-id", "vpc-id"}, rid)) {
    return *bad;
  }
  if (auto bad = checkIds(ids, tables, "InvalidRouteTableID.NotFound", "routeTable", rid)) {
    return *bad;
  }
  std::vector<const Table*> selected;
  for (const auto& [id, t] : tables) {
    if (selectedBy(ids, f, "route-table-id", id) && selectedBy({}, f, "vpc-id", t.vpc_id)) {
      selected.push_back(&t);
    }
  }
  auto pg = page(q, selected.size(), 100, rid);
  if (!pg) {
    return pg.error();
  }
  std::string out = "    <routeTableSet>\n";
  for (std::size_t i = pg->begin; i < pg->end; ++i) {
    const Table& t = *selected[i];
    out += "        <item>\n            <routeTableId>" + escape(t.id) +
           "</routeTableId>\n            <vpcId>" + escape(t.vpc_id) + "</vpcId>\n" +
           "            <ownerId>" + escape(options.account) + "</ownerId>\n" +
           "            <routeSet>\n";
    std::set<std::string> propagating;
    for (const Route& r : t.routes) {
      if (r.propagated()) {
        propagating.insert(r.target.id);
      }
      if (!visible(r)) {
        continue;
      }
      const std::string dst_tag = r.destination.find(':') != std::string::npos
                                      ? "destinationIpv6CidrBlock"
                                      : "destinationCidrBlock";
      const std::string param(targetParam(r.target.kind));
      out += "                <item>\n                    " + element(dst_tag, r.destination) +
             "\n                    " + element(param, r.target.id) + "\n";
      if (r.target.kind == RouteTargetKind::Instance) {
        out += "                    " + element("instanceOwnerId", options.account) + "\n";
      }
      out += "                    <state>" + routeState(r) + "</state>\n                    " +
             element("origin", r.origin) + "\n                </item>\n";
    }
    out += "            </routeSet>\n            <associationSet/>\n";
    if (propagating.empty()) {
      out += "            <propagatingVgwSet/>\n";
    } else {
      out += "            <propagatingVgwSet>\n";
      for (const std::string& vgw : propagating) {
        out += "                <item>" + element("gatewayId", vgw) + "</item>\n";
      }
      out += "            </propagatingVgwSet>\n";
    }
    out += "            <tagSet/>\n        </item>\n";
  }
  out += "    </routeTableSet>\n" + pg->nextTokenElement();
  return {200, ec2Response("DescribeRouteTables", rid, out)};
}

// CreateRoute / ReplaceRoute with EC2's validations and error codes: missing parameters,
// bad CIDR, not exactly one target, unknown table or instance, RouteAlreadyExists on create,
// and the "no route ... Use CreateRoute instead" InvalidParameterValue on replace. Both act on
// the static route of the prefix only: a propagated route of the same prefix neither blocks a
// create (the static route then takes precedence, as in a VPC) nor is ever replaced.
Reply FakeAwsEndpoint::Impl::changeRoute(const Params& q, bool replace,
                                         const std::string& rid) {
  std::lock_guard lock(mu);
  auto where = routeParams(q, /*strict=*/true, rid);
  if (!where) {
    return where.error();
  }
  std::vector<RouteTarget> targets;
  for (const auto& [param, kind] : kTargetParams) {
    if (std::string id = q.param(std::string(param)); !id.empty()) {
      targets.push_back({kind, id});
    }
  }
  if (targets.size() != 1) {
    return invalid(targets.empty() ? "MissingParameter" : "InvalidParameterCombination",
                   "The request must contain exactly one of gatewayId, natGatewayId, "
                   "networkInterfaceId, instanceId, transitGatewayId or vpcPeeringConnectionId",
                   rid);
  }
  if (targets[0].kind == RouteTargetKind::Instance) {
    if (auto bad =
            checkIds({targets[0].id}, instances, "InvalidInstanceID.NotFound", "instance", rid)) {
      return *bad;
    }
  }
  auto& routes = where->table->routes;
  auto existing = staticRoute(*where->table, where->destination);
  if (replace) {
    if (existing == routes.end()) {
      return invalid("InvalidParameterValue",
                     "There is no route defined for '" + where->destination +
                         "' in the route table. Use CreateRoute instead.",
                     rid);
    }
    existing->target = targets[0];
    existing->origin = "CreateRoute";
  } else {
    if (existing != routes.end()) {
      return invalid("RouteAlreadyExists",
                     "The route identified by " + where->destination + " already exists.", rid);
    }
    routes.push_back({where->destination, targets[0], "CreateRoute"});
  }
  return {200,
          ec2Response(replace ? "ReplaceRoute" : "CreateRoute", rid, "  <return>true</return>\n")};
}

Reply FakeAwsEndpoint::Impl::deleteRoute(const Params& q, const std::string& rid) {
  std::lock_guard lock(mu);
  auto where = routeParams(q, /*strict=*/false, rid);
  if (!where) {
    return where.error();
  }
  auto& routes = where->table->routes;
  auto it = staticRoute(*where->table, where->destination);
  if (it == routes.end()) {
    return invalid("InvalidRoute.NotFound",
                   "no route with destination-cidr-block " + where->destination +
                       " in route table " + where->table->id,
                   rid);
  }
  routes.erase(it);
  return {200, ec2Response("DeleteRoute", rid, "  <return>true</return>\n")};
}

// One reservation per instance (real accounts group instances launched together; callers
// must not rely on either). States are evaluated lazily, so a stop issued 10 s ago reads
// "stopped" once `transition` has passed on the injected clock, without any timer thread.
Reply FakeAwsEndpoint::Impl::describeInstances(const Params& q, const std::string& rid) {
  std::lock_guard lock(mu);
  auto ids = numbered(q, "InstanceId");
  auto f = filters(q);
  if (auto bad = checkFilters(f, {"instance-id", "instance-state-name"}, rid)) {
    return *bad;
  }
  if (auto bad = checkIds(ids, instances, "InvalidInstanceID.NotFound", "instance", rid)) {
    return *bad;
  }
  std::vector<Instance*> selected;
  for (auto& [id, inst] : instances) {
    if (selectedBy(ids, f, "instance-id", id) &&
        selectedBy({}, f, "instance-state-name", stateOf(inst))) {
      selected.push_back(&inst);
    }
  }
  auto pg = page(q, selected.size(), 1000, rid);
  if (!pg) {
    return pg.error();
  }
  std::string out = "  <reservationSet>\n";
  for (std::size_t i = pg->begin; i < pg->end; ++i) {
    Instance& inst = *selected[i];
    const std::string& state = stateOf(inst);
    out += "    <item>\n      <reservationId>r-" + inst.id.substr(std::min<std::size_t>(2, inst.id.size())) +
           "</reservationId>\n      <ownerId>" + escape(options.account) +
           "</ownerId>\n      <groupSet/>\n      <instancesSet>\n        <item>\n"
           "          <instanceId>" + escape(inst.id) + "</instanceId>\n"
           "          <imageId>ami-0fake0000000000000</imageId>\n"
           "          <instanceState>\n            <code>" + std::to_string(stateCode(state)) +
           "</code>\n            <name>" + state + "</name>\n          </instanceState>\n"
           "          <instanceType>t3.small</instanceType>\n"
           "          <placement>\n            <availabilityZone>" +
           escape(inst.availability_zone) +
           "</availabilityZone>\n            <tenancy>default</tenancy>\n          </placement>\n"
           "          <vpcId>vpc-0fake</vpcId>\n"
           "          <sourceDestCheck>false</sourceDestCheck>\n"
           "          <tagSet/>\n        </item>\n      </instancesSet>\n    </item>\n";
  }
  out += "  </reservationSet>\n" + pg->nextTokenElement();
  return {200, ec2Response("DescribeInstances", rid, out)};
}

// Stop/Start move an instance one step at once (stopping / pending) and finish the step
// `transition` later (stateOf). Repeating a request in the same direction is a no-op, as on
// EC2; the opposite direction in mid-step is IncorrectInstanceState.
Reply FakeAwsEndpoint::Impl::changeInstances(const Params& q, bool stop,
                                             const std::string& rid) {
  std::lock_guard lock(mu);
  auto ids = numbered(q, "InstanceId");
  if (ids.empty()) {
    return invalid("MissingParameter", "The request must contain the parameter InstanceId", rid);
  }
  if (auto bad = checkIds(ids, instances, "InvalidInstanceID.NotFound", "instance", rid)) {
    return *bad;
  }
  // Check every instance first: EC2 changes all or none.
  for (const std::string& id : ids) {
    const std::string& s = stateOf(instances[id]);
    if ((stop && s == "pending") || (!stop && s == "stopping")) {
      return invalid("IncorrectInstanceState",
                     "The instance '" + id + "' is not in a state from which it can be " +
                         (stop ? "stopped." : "started."),
                     rid);
    }
  }
  std::string out = "  <instancesSet>\n";
  for (const std::string& id : ids) {
    Instance& inst = instances[id];
    std::string previous = stateOf(inst);
    if (stop && previous == "running") {
      inst.state = "stopping";
      inst.step_done = monoNow() + options.transition;
    } else if (!stop && previous == "stopped") {
      inst.state = "pending";
      inst.step_done = monoNow() + options.transition;
    }
    const std::string& current = stateOf(inst);
    out += "    <item>\n      <instanceId>" + escape(id) + "</instanceId>\n      <currentState>\n"
           "        <code>" + std::to_string(stateCode(current)) + "</code>\n        <name>" +
           current + "</name>\n      </currentState>\n      <previousState>\n        <code>" +
           std::to_string(stateCode(previous)) + "</code>\n        <name>" + previous +
           "</name>\n      </previousState>\n    </item>\n";
  }
  out += "  </instancesSet>\n";
  return {200, ec2Response(stop ? "StopInstances" : "StartInstances", rid, out)};
}

// SNS checks the subject itself (under 100 bytes, no line breaks): a client that sends a bad
// one gets InvalidParameter here too, which is how the sanitising in aws/sns.cc is tested.
Reply FakeAwsEndpoint::Impl::publish(const Params& q, const std::string& access_key,
                                     const std::string& rid) {
  std::lock_guard lock(mu);
  FakeSnsPublish p{q.param("TopicArn"), q.param("Subject"),     q.param("Message"),
                   access_key,          q.param("PhoneNumber"), ""};
  // MessageAttributes.entry.N.{Name,Value.DataType,Value.StringValue}, as the Query API
  // flattens the map.
  for (int i = 1; i <= 10; ++i) {
    std::string entry = "MessageAttributes.entry." + std::to_string(i);
    if (q.param(entry + ".Name") == "AWS.SNS.SMS.SMSType") {
      p.sms_type = q.param(entry + ".Value.StringValue");
    }
  }
  if (!p.phone_number.empty()) {
    if (!p.topic_arn.empty()) {
      return error(Service::Sns, 400, "InvalidParameter",
                   "Invalid parameter: TopicArn or TargetArn Reason: Only one of TopicArn, "
                   "TargetArn or PhoneNumber may be given",
                   rid);
    }
    bool e164 = p.phone_number.size() >= 3 && p.phone_number.size() <= 16 &&
                p.phone_number[0] == '+' && p.phone_number[1] != '0' &&
                std::all_of(p.phone_number.begin() + 1, p.phone_number.end(),
                            [](char c) { return c >= '0' && c <= '9'; });
    if (!e164) {
      return error(Service::Sns, 400, "InvalidParameter",
                   "Invalid parameter: PhoneNumber Reason: not a valid E.164 number", rid);
    }
    if (p.message.size() > 1600) {
      return error(Service::Sns, 400, "InvalidParameter",
                   "Invalid parameter: Message Reason: Message too long for SMS", rid);
    }
    if (p.sms_type != "" && p.sms_type != "Transactional" && p.sms_type != "Promotional") {
      return error(Service::Sns, 400, "ParameterValueInvalid",
                   "The value of AWS.SNS.SMS.SMSType is not valid", rid);
    }
  } else if (p.topic_arn.empty()) {
    return error(Service::Sns, 400, "InvalidParameter", "Invalid parameter: TopicArn", rid);
  }
  if (p.message.empty()) {
    return error(Service::Sns, 400, "InvalidParameter", "Invalid parameter: Empty message", rid);
  }
  if (p.subject.size() >= 100 || p.subject.find_first_of("\r\n") != std::string::npos) {
    return error(Service::Sns, 400, "InvalidParameter", "Invalid parameter: Subject", rid);
  }
  if (p.phone_number.empty() && !topics.empty() &&
      std::find(topics.begin(), topics.end(), p.topic_arn) == topics.end()) {
    return error(Service::Sns, 404, "NotFound", "Topic does not exist", rid);
  }
  publishes.push_back(std::move(p));
  std::string message_id = fmt::format("5e55a9e0-0000-5000-9000-{:012x}", publishes.size());
  return {200, "<PublishResponse xmlns=\"" + std::string(kSnsXmlns) +
                   "\">\n  <PublishResult>\n    <MessageId>" + message_id +
                   "</MessageId>\n  </PublishResult>\n  <ResponseMetadata>\n    <RequestId>" +
                   rid + "</RequestId>\n  </ResponseMetadata>\n</PublishResponse>\n"};
}

// Parsed completely before anything is recorded: a batch with one bad value is rejected as
// a whole, as CloudWatch does.
Reply FakeAwsEndpoint::Impl::putMetricData(const Params& q, const std::string& rid) {
  std::string ns = q.param("Namespace");
  if (ns.empty()) {
    return error(Service::CloudWatch, 400, "MissingParameter",
                 "The parameter Namespace is required.", rid);
  }
  if (ns.rfind("AWS/", 0) == 0) {
    return error(Service::CloudWatch, 400, "InvalidParameterValue",
                 "The value AWS/ for parameter Namespace is invalid.", rid);
  }
  std::vector<FakeMetricDatum> data;
  for (int i = 1;; ++i) {
    const std::string p = "MetricData.member." + std::to_string(i) + ".";
    std::string name = q.param(p + "MetricName");
    if (name.empty()) {
      break;
    }
    if (i > 1000) {
      return error(Service::CloudWatch, 400, "InvalidParameterValue",
                   "The collection MetricData must not have a size greater than 1000.", rid);
    }
    FakeMetricDatum d;
    d.metric_namespace = ns;
    d.name = name;
    std::string value = q.param(p + "Value");
    char* end = nullptr;
    d.value = std::strtod(value.c_str(), &end);
    if (value.empty() || end != value.c_str() + value.size() || !std::isfinite(d.value)) {
      return error(Service::CloudWatch, 400, "InvalidParameterValue",
                   "The value " + value + " for parameter " + p + "Value is invalid.", rid);
    }
    d.unit = q.param(p + "Unit");
    d.timestamp = q.param(p + "Timestamp");
    for (int j = 1;; ++j) {
      const std::string dp = p + "Dimensions.member." + std::to_string(j) + ".";
      std::string dn = q.param(dp + "Name");
      if (dn.empty()) {
        break;
      }
      d.dimensions.emplace_back(dn, q.param(dp + "Value"));
    }
    data.push_back(std::move(d));
  }
  if (data.empty()) {
    return error(Service::CloudWatch, 400, "MissingParameter",
                 "The parameter MetricData is required.", rid);
  }
  std::lock_guard lock(mu);
  metrics.insert(metrics.end(), data.begin(), data.end());
  return {200, "<PutMetricDataResponse xmlns=\"" + std::string(kCwXmlns) +
                   "\">\n  <ResponseMetadata>\n    <RequestId>" + rid +
                   "</RequestId>\n  </ResponseMetadata>\n</PutMetricDataResponse>\n"};
}

// What lab scripts poll (GET /_fake/state): routes with their live state, instances, what
// was published and measured, and the counters. No key material is included.
std::string FakeAwsEndpoint::Impl::stateJson() {
  std::lock_guard lock(mu);
  nlohmann::json j;
  j["route_tables"] = nlohmann::json::array();
  for (const auto& [id, t] : tables) {
    nlohmann::json routes = nlohmann::json::array();
    for (const Route& r : t.routes) {
      if (!visible(r)) {
        continue;
      }
      routes.push_back({{"destination", r.destination},
                        {"target", r.target.id},
                        {"target_kind", std::string(routeTargetKindName(r.target.kind))},
                        {"state", routeState(r)},
                        {"origin", r.origin}});
    }
    j["route_tables"].push_back({{"id", id}, {"vpc_id", t.vpc_id}, {"routes", routes}});
  }
  j["bgp_down"] = bgp_down;
  j["instances"] = nlohmann::json::array();
  for (auto& [id, inst] : instances) {
    const std::string& s = stateOf(inst);
    j["instances"].push_back({{"id", id},
                              {"state", s},
                              {"code", stateCode(s)},
                              {"availability_zone", inst.availability_zone}});
  }
  j["publishes"] = nlohmann::json::array();
  for (const FakeSnsPublish& p : publishes) {
    j["publishes"].push_back({{"topic_arn", p.topic_arn},
                              {"subject", p.subject},
                              {"message", p.message},
                              {"phone_number", p.phone_number},
                              {"sms_type", p.sms_type}});
  }
  j["metrics"] = nlohmann::json::array();
  for (const FakeMetricDatum& m : metrics) {
    nlohmann::json dims = nlohmann::json::object();
    for (const auto& [k, v] : m.dimensions) {
      dims[k] = v;
    }
    j["metrics"].push_back({{"namespace", m.metric_namespace},
                            {"name", m.name},
                            {"value", m.value},
                            {"unit", m.unit},
                            {"dimensions", dims}});
  }
  j["stats"] = {{"requests", stats.requests},
                {"rejected_signatures", stats.rejected_signatures},
                {"injected_faults", stats.injected_faults},
                {"max_in_flight", stats.max_in_flight},
                {"actions", stats.actions},
                {"outcomes", stats.outcomes}};
  return j.dump(2) + "\n";
}

std::vector<FakeAwsCall> FakeAwsEndpoint::Impl::calls(std::uint64_t since) {
  std::lock_guard lock(mu);
  std::vector<FakeAwsCall> out;
  for (const FakeAwsCall& c : call_log) {
    if (c.seq > since) {
      out.push_back(c);
    }
  }
  return out;
}

std::string FakeAwsEndpoint::Impl::callsJson(std::uint64_t since) {
  nlohmann::json j;
  j["calls"] = nlohmann::json::array();
  for (const FakeAwsCall& c : calls(since)) {
    j["calls"].push_back({{"seq", c.seq},
                          {"action", c.action},
                          {"route_table_id", c.route_table_id},
                          {"destination", c.destination},
                          {"target", c.target},
                          {"instance_ids", c.instance_ids},
                          {"status", c.status},
                          {"code", c.code},
                          {"outcome", c.outcome},
                          {"caller", c.caller}});
  }
  std::lock_guard lock(mu);
  j["counts"] = stats.outcomes;
  j["last_seq"] = next_call - 1;
  return j.dump(1) + "\n";
}

// ---- FakeAwsEndpoint ----

FakeAwsEndpoint::FakeAwsEndpoint(FakeAwsOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

FakeAwsEndpoint::~FakeAwsEndpoint() { stop(); }

// Binds before starting the accept thread, so that port() is valid when start() returns and
// a connection made right away waits in the listen backlog instead of being refused.
Result<void> FakeAwsEndpoint::start() {
  Impl& d = *impl_;
  if (d.running) {
    return ok();
  }
  d.server.set_payload_max_length(kMaxBody);
  // httplib serves each kept-alive connection on one pool thread until the client goes quiet
  // for 5 s; with its default pool (8 threads here) a client with more connections than
  // that (max_concurrency 16) has the rest wait those 5 s. EC2 has no such limit.
  d.server.new_task_queue = [] { return new httplib::ThreadPool(kServerThreads); };
  // Headers and body go out in separate writes; without TCP_NODELAY each answer waits for
  // the client's delayed ACK (40 ms on Linux).
  d.server.set_tcp_nodelay(true);
  // A content-reader handler: httplib would otherwise parse form bodies itself and refuse
  // those over 8 KiB with 413, while AWS accepts 1 MB (PutMetricData batches are larger).
  d.server.Post("/", [&d](const httplib::Request& req, httplib::Response& res,
                          const httplib::ContentReader& reader) {
    std::string body;
    bool too_large = false;
    reader([&](const char* data, std::size_t len) {
      if (body.size() + len > kMaxBody) {
        too_large = true;
        return false;
      }
      body.append(data, len);
      return true;
    });
    {
      std::lock_guard lock(d.mu);
      ++d.in_flight;
      d.stats.max_in_flight = std::max(d.stats.max_in_flight, d.in_flight);
    }
    Reply reply = too_large ? Reply{413, "", "text/plain"} : d.serve(req, std::move(body));
    {
      std::lock_guard lock(d.mu);
      --d.in_flight;
    }
    res.status = reply.status;
    res.set_header("Date", formatHttpDate(d.wallNow()));
    res.set_content(reply.body, reply.content_type.c_str());
  });
  // The test-control routes: JSON in and out; a bad request is a 400 with a JSON error.
  auto control = [&d](const char* method, const char* path,
                      std::function<std::string(const httplib::Request&)> fn) {
    auto handler = [fn = std::move(fn)](const httplib::Request& req, httplib::Response& res) {
      try {
        res.set_content(fn(req), "application/json");
      } catch (const std::exception& e) {
        res.status = 400;
        res.set_content(nlohmann::json{{"error", e.what()}}.dump() + "\n", "application/json");
      }
    };
    if (std::string_view(method) == "GET") {
      d.server.Get(path, handler);
    } else {
      d.server.Post(path, handler);
    }
  };
  control("GET", "/_fake/state", [&d](const httplib::Request&) { return d.stateJson(); });
  control("GET", "/_fake/calls", [&d](const httplib::Request& req) {
    std::uint64_t since = req.has_param("since") ? std::stoull(req.get_param_value("since")) : 0;
    return d.callsJson(since);
  });
  // Rates in [0, 1]; a field left out is 0, so {} clears every fault.
  control("POST", "/_fake/faults", [&d](const httplib::Request& req) {
    auto j = nlohmann::json::parse(req.body.empty() ? "{}" : req.body);
    FakeAwsFaults f;
    f.throttle_rate = j.value("throttle_rate", 0.0);
    f.error_rate = j.value("error_rate", 0.0);
    f.latency_rate = j.value("latency_rate", 0.0);
    f.latency = std::chrono::milliseconds(j.value("latency_ms", 0));
    for (double rate : {f.throttle_rate, f.error_rate, f.latency_rate}) {
      if (rate < 0 || rate > 1) {
        throw std::invalid_argument("rates must be between 0 and 1");
      }
    }
    std::lock_guard lock(d.mu);
    d.faults = f;
    return nlohmann::json{{"throttle_rate", f.throttle_rate},
                          {"error_rate", f.error_rate},
                          {"latency_rate", f.latency_rate},
                          {"latency_ms", j.value("latency_ms", 0)}}
               .dump() +
           "\n";
  });
  // Route propagation: a gateway starts or stops advertising one prefix into one table
  // ({"route_table_id", "destination", "gateway_id", "present": true|false}).
  control("POST", "/_fake/propagation", [this](const httplib::Request& req) {
    auto j = nlohmann::json::parse(req.body);
    std::string table = j.at("route_table_id").get<std::string>();
    std::string destination = j.at("destination").get<std::string>();
    if (!IpPrefix::parse(destination)) {
      throw std::invalid_argument("destination must be a prefix such as 10.10.0.0/16");
    }
    bool present = j.value("present", true);
    if (present) {
      std::string gateway = j.at("gateway_id").get<std::string>();
      if (gateway.rfind("vgw-", 0) != 0) {
        throw std::invalid_argument("only a virtual private gateway (vgw-) propagates routes");
      }
      this->propagateRoute(table, destination, gateway);
    } else if (!this->withdrawPropagatedRoute(table, destination)) {
      throw std::invalid_argument("no propagated route " + destination + " in " + table);
    }
    return nlohmann::json{
               {"route_table_id", table}, {"destination", destination}, {"present", present}}
               .dump() +
           "\n";
  });
  // A gateway's BGP session ({"gateway_id", "up": true|false}): while it is down, the routes
  // it propagates are in no table (DX lost its BGP session: the VGW withdraws what it learnt).
  control("POST", "/_fake/bgp", [this](const httplib::Request& req) {
    auto j = nlohmann::json::parse(req.body);
    std::string gateway = j.at("gateway_id").get<std::string>();
    bool up = j.at("up").get<bool>();
    this->setBgpSession(gateway, up);
    return nlohmann::json{{"gateway_id", gateway}, {"up", up}}.dump() + "\n";
  });
  int port = d.options.port == 0 ? d.server.bind_to_any_port(d.options.host)
                                 : (d.server.bind_to_port(d.options.host, d.options.port)
                                        ? d.options.port
                                        : -1);
  if (port <= 0) {
    return fail(ErrorCode::Unavailable, "fake AWS endpoint: cannot listen on " +
                                            d.options.host + ":" +
                                            std::to_string(d.options.port));
  }
  d.bound_port = port;
  d.thread = std::thread([&d] { d.server.listen_after_bind(); });
  while (!d.server.is_running()) {
    std::this_thread::yield();
  }
  d.running = true;
  return ok();
}

void FakeAwsEndpoint::stop() {
  Impl& d = *impl_;
  if (!d.running) {
    return;
  }
  d.server.stop();
  if (d.thread.joinable()) {
    d.thread.join();
  }
  d.running = false;
}

int FakeAwsEndpoint::port() const { return impl_->bound_port; }

std::string FakeAwsEndpoint::url() const {
  return "http://" + impl_->options.host + ":" + std::to_string(impl_->bound_port);
}

void FakeAwsEndpoint::addRouteTable(const std::string& id, const std::string& vpc_id) {
  std::lock_guard lock(impl_->mu);
  impl_->tables[id] = Table{id, vpc_id, {}};
}

void FakeAwsEndpoint::putRoute(const std::string& route_table_id, const std::string& destination,
                               const RouteTarget& target) {
  std::lock_guard lock(impl_->mu);
  Table& t = impl_->tables[route_table_id];
  t.id = route_table_id;
  if (t.vpc_id.empty()) {
    t.vpc_id = "vpc-0fake";
  }
  auto p = IpPrefix::parse(destination, false);
  std::string normalized = p ? p->toString() : destination;
  if (auto it = impl_->staticRoute(t, normalized); it != t.routes.end()) {
    it->target = target;
    return;
  }
  t.routes.push_back(
      {normalized, target, target.id == "local" ? "CreateRouteTable" : "CreateRoute"});
}

void FakeAwsEndpoint::propagateRoute(const std::string& route_table_id,
                                     const std::string& destination,
                                     const std::string& gateway_id) {
  std::lock_guard lock(impl_->mu);
  Table& t = impl_->tables[route_table_id];
  t.id = route_table_id;
  if (t.vpc_id.empty()) {
    t.vpc_id = "vpc-0fake";
  }
  auto p = IpPrefix::parse(destination, false);
  std::string normalized = p ? p->toString() : destination;
  for (Route& r : t.routes) {
    if (r.propagated() && r.destination == normalized) {
      r.target = {RouteTargetKind::Gateway, gateway_id};
      return;
    }
  }
  t.routes.push_back(
      {normalized, {RouteTargetKind::Gateway, gateway_id}, std::string(kPropagated)});
}

bool FakeAwsEndpoint::withdrawPropagatedRoute(const std::string& route_table_id,
                                              const std::string& destination) {
  std::lock_guard lock(impl_->mu);
  auto t = impl_->tables.find(route_table_id);
  if (t == impl_->tables.end()) {
    return false;
  }
  auto p = IpPrefix::parse(destination, false);
  std::string normalized = p ? p->toString() : destination;
  auto& routes = t->second.routes;
  auto it = std::find_if(routes.begin(), routes.end(), [&](const Route& r) {
    return r.propagated() && r.destination == normalized;
  });
  if (it == routes.end()) {
    return false;
  }
  routes.erase(it);
  return true;
}

void FakeAwsEndpoint::setBgpSession(const std::string& gateway_id, bool up) {
  std::lock_guard lock(impl_->mu);
  if (up) {
    impl_->bgp_down.erase(gateway_id);
  } else {
    impl_->bgp_down.insert(gateway_id);
  }
}

std::optional<VpcRouteTable> FakeAwsEndpoint::routeTable(const std::string& id) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->tables.find(id);
  if (it == impl_->tables.end()) {
    return std::nullopt;
  }
  VpcRouteTable out;
  out.id = id;
  out.vpc_id = it->second.vpc_id;
  out.owner_id = impl_->options.account;
  for (const Route& r : it->second.routes) {
    if (!impl_->visible(r)) {
      continue;
    }
    Ec2Route route;
    route.destination = r.destination;
    route.target = r.target;
    route.state = impl_->routeState(r);
    route.origin = r.origin;
    out.routes.push_back(std::move(route));
  }
  return out;
}

void FakeAwsEndpoint::addInstance(const std::string& id, const std::string& state,
                                  const std::string& availability_zone) {
  std::lock_guard lock(impl_->mu);
  Instance inst{id, availability_zone, state, impl_->monoNow() + impl_->options.transition};
  impl_->instances[id] = std::move(inst);
}

std::optional<InstanceState> FakeAwsEndpoint::instanceState(const std::string& id) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->instances.find(id);
  if (it == impl_->instances.end()) {
    return std::nullopt;
  }
  const std::string& s = impl_->stateOf(it->second);
  return InstanceState{stateCode(s), s};
}

void FakeAwsEndpoint::addTopic(const std::string& arn) {
  std::lock_guard lock(impl_->mu);
  impl_->topics.push_back(arn);
}

std::vector<FakeSnsPublish> FakeAwsEndpoint::publishes() const {
  std::lock_guard lock(impl_->mu);
  return impl_->publishes;
}

std::vector<FakeMetricDatum> FakeAwsEndpoint::metrics() const {
  std::lock_guard lock(impl_->mu);
  return impl_->metrics;
}

void FakeAwsEndpoint::setFaults(const FakeAwsFaults& faults) {
  std::lock_guard lock(impl_->mu);
  impl_->faults = faults;
}

void FakeAwsEndpoint::injectNext(FakeAwsFault fault, int count) {
  std::lock_guard lock(impl_->mu);
  for (int i = 0; i < count; ++i) {
    impl_->scripted.push_back(fault);
  }
}

FakeAwsStats FakeAwsEndpoint::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

std::string FakeAwsEndpoint::stateJson() const { return impl_->stateJson(); }

std::vector<FakeAwsCall> FakeAwsEndpoint::calls(std::uint64_t since_seq) const {
  return impl_->calls(since_seq);
}

std::string FakeAwsEndpoint::callsJson(std::uint64_t since_seq) const {
  return impl_->callsJson(since_seq);
}

}  // namespace pathpilot::aws
