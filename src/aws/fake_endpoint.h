// aws/fake_endpoint.h — an in-memory AWS (EC2 + SNS + CloudWatch) on loopback, for tests,
// the network lab and demos.
//
// Purpose: let pathpilot's real HTTP, signing, retry and parsing code run end to end without
// an AWS account. The fake listens on 127.0.0.1 (port 0 picks a free port), speaks the Query
// protocol on "POST /", and answers in the real response shapes:
//   EC2 (2016-11-15): DescribeRouteTables (filters route-table-id, RouteTableId.N,
//     MaxResults/NextToken), CreateRoute, ReplaceRoute, DeleteRoute (GatewayId, NetworkInterfaceId,
//     InstanceId, TransitGatewayId, NatGatewayId, VpcPeeringConnectionId), with each route's
//     origin: CreateRouteTable (local), CreateRoute (static) and EnableVgwRoutePropagation
//     (propagated by a virtual private gateway, listed beside a static route of the same
//     prefix; it comes and goes with the gateway's BGP session and is never touched by
//     Create/Replace/DeleteRoute: those act on the static route only, so a prefix with only a
//     propagated route takes a CreateRoute and answers Replace/DeleteRoute as one with no
//     route, and a static route created over a propagated one takes precedence, as in a VPC),
//     DescribeInstances (instance-id filter, InstanceId.N, paging), StopInstances,
//     StartInstances — instances move running → stopping → stopped and stopped → pending →
//     running, each step taking `transition` of the injected clock; routes to an instance
//     that is not running are reported as "blackhole", as EC2 does;
//   SNS (2010-03-31): Publish to a topic or, with PhoneNumber, as an SMS (recorded; an SMS
//     must be E.164 and at most 1,600 bytes, as SNS checks);
//   CloudWatch (2010-08-01): PutMetricData (recorded, validated like the service).
// EVERY request must carry a valid SigV4 Authorization for a configured access key; bad,
// missing, skewed or tampered signatures are rejected with the AWS error shape
// (AuthFailure / SignatureDoesNotMatch / InvalidClientTokenId / RequestTimeTooSkewed ...).
// Faults: throttling and 5xx at given rates (seeded RNG, so runs repeat), added latency at a
// given rate, and a deterministic queue of faults for the next N requests. Every response
// carries a Date header from the injected clock (+ `clock_offset`, to exercise skew
// correction). GET /_fake/state returns the whole state as JSON (lab scripts poll it);
// GET /_fake/calls the log of calls (action, route table, destination, target, status,
// outcome) and counts per action and outcome, so that end-to-end tests can assert "exactly
// one ReplaceRoute per table" (`?since=SEQ` returns only calls after SEQ); POST /_fake/faults
// with {"throttle_rate", "error_rate", "latency_rate", "latency_ms"} changes the fault rates
// of a running fake (absent fields become 0); POST /_fake/propagation with {"route_table_id",
// "destination", "gateway_id", "present"} adds or removes a propagated route, and POST
// /_fake/bgp with {"gateway_id", "up"} takes a gateway's BGP session down (its propagated
// routes vanish from every table) or up again (they come back).
// Threading: the server runs its own threads; every public method is thread-safe.
// Metrics: counters via stats().
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aws/ec2.h"
#include "base/error.h"
#include "base/time.h"

namespace pathpilot::aws {

struct FakeAwsFaults {
  double throttle_rate = 0;  // share of requests answered with throttling
  double error_rate = 0;     // share answered with 500 InternalError / 503 Unavailable
  double latency_rate = 0;   // share delayed by `latency` before being answered
  Duration latency = Duration::zero();
};

struct FakeAwsOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0: any free port
  // access key id → secret. Requests signed with other keys get InvalidClientTokenId.
  std::map<std::string, std::string> keys = {
      {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}};
  std::string region = "us-east-1";  // reported in ARNs; requests for any region are served
  std::string account = "111122223333";
  Duration transition = std::chrono::seconds(2);  // one stop/start step
  Duration max_skew = std::chrono::minutes(5);    // accepted signature time difference
  Duration clock_offset = Duration::zero();       // the fake's clock = clock + offset
  FakeAwsFaults faults;
  std::uint64_t seed = 1;
  // Time source (not owned; must outlive the endpoint). nullptr: the real clocks.
  const Clock* clock = nullptr;
};

// One fault for the deterministic queue.
enum class FakeAwsFault {
  Throttle,     // EC2: 503 RequestLimitExceeded; SNS/CloudWatch: 400 Throttling
  ServerError,  // 500 InternalError
  Unavailable,  // 503 with an HTML body (a load balancer's page, not an AWS error)
  Skewed,       // 403 RequestTimeTooSkewed (with the Date header)
  ExpiredToken, // 403 ExpiredToken
};

struct FakeSnsPublish {
  std::string topic_arn;  // "" for an SMS
  std::string subject;
  std::string message;
  std::string access_key_id;
  std::string phone_number;  // E.164 for an SMS (Publish with PhoneNumber), else ""
  std::string sms_type;      // MessageAttributes AWS.SNS.SMS.SMSType ("Transactional"), or ""
};

struct FakeMetricDatum {
  std::string metric_namespace;
  std::string name;
  double value = 0;
  std::string unit;
  std::string timestamp;
  std::vector<std::pair<std::string, std::string>> dimensions;
};

// One request as the fake saw it. Logged when it arrives (status 0: still being handled) and
// completed with its answer, so that a test can see calls that are in flight.
struct FakeAwsCall {
  std::uint64_t seq = 0;     // 1, 2, ... in order of arrival
  std::string action;        // "ReplaceRoute"; "" when the body had no Action
  std::string route_table_id;
  std::string destination;   // DestinationCidrBlock / DestinationIpv6CidrBlock
  std::string target;        // GatewayId, InstanceId, ... whichever was given
  std::string instance_ids;  // InstanceId.N joined with ',' (Stop/Start/DescribeInstances)
  int status = 0;            // HTTP status of the answer; 0 while in flight
  std::string code;          // AWS error code of the answer ("" on success)
  // "ok", "throttled", "server_error", "auth_error", "client_error"; "" while in flight.
  std::string outcome;
  // The access key id whose signature the request carried ("" when it was not verified):
  // who made the call, when several clients share one fake (one key each).
  std::string caller;
};

struct FakeAwsStats {
  std::uint64_t requests = 0;
  std::uint64_t rejected_signatures = 0;
  std::uint64_t injected_faults = 0;
  std::uint64_t max_in_flight = 0;  // most signed requests being handled at once
  std::map<std::string, std::uint64_t> actions;  // "DescribeRouteTables" → count (served)
  // action → outcome (as FakeAwsCall::outcome) → answered requests, faults included.
  std::map<std::string, std::map<std::string, std::uint64_t>> outcomes;
};

class FakeAwsEndpoint {
 public:
  explicit FakeAwsEndpoint(FakeAwsOptions options = {});
  ~FakeAwsEndpoint();  // stops the server
  FakeAwsEndpoint(const FakeAwsEndpoint&) = delete;
  FakeAwsEndpoint& operator=(const FakeAwsEndpoint&) = delete;

  // Binds and starts serving. Errors: Unavailable when the address cannot be bound.
  [[nodiscard]] Result<void> start();
  void stop();
  int port() const;
  // "http://127.0.0.1:<port>" — use as endpoint_url.
  std::string url() const;

  // ---- state set-up and inspection ----
  void addRouteTable(const std::string& id, const std::string& vpc_id = "vpc-0fake");
  // Adds or replaces a static route (set-up only; no checks). A propagated route of the same
  // prefix stays.
  void putRoute(const std::string& route_table_id, const std::string& destination,
                const RouteTarget& target);
  // Route propagation (EnableVgwRoutePropagation): `gateway_id` (vgw-…) propagates
  // `destination` into the table, as when the VGW learns it over the DX's BGP session. The
  // route is listed with origin EnableVgwRoutePropagation, beside any static route of the same
  // prefix, while the gateway's BGP session is up. Adds or re-targets it.
  void propagateRoute(const std::string& route_table_id, const std::string& destination,
                      const std::string& gateway_id);
  // The gateway stops propagating `destination` into the table. False when it did not.
  bool withdrawPropagatedRoute(const std::string& route_table_id, const std::string& destination);
  // `gateway_id`'s BGP session goes down (every route it propagates vanishes from every table)
  // or comes back up (they are listed again). Sessions start up.
  void setBgpSession(const std::string& gateway_id, bool up);
  // The table as DescribeRouteTables lists it now (static, local and visible propagated
  // routes, each with its origin).
  std::optional<VpcRouteTable> routeTable(const std::string& id) const;
  // `state`: "running", "stopped", "pending", "stopping".
  void addInstance(const std::string& id, const std::string& state = "running",
                   const std::string& availability_zone = "us-east-1a");
  std::optional<InstanceState> instanceState(const std::string& id) const;
  // Registered topics; while none is registered, Publish accepts any topic ARN.
  void addTopic(const std::string& arn);
  std::vector<FakeSnsPublish> publishes() const;
  std::vector<FakeMetricDatum> metrics() const;

  // ---- faults ----
  void setFaults(const FakeAwsFaults& faults);
  // The next `count` signed requests get `fault` (before random faults apply).
  void injectNext(FakeAwsFault fault, int count = 1);

  FakeAwsStats stats() const;
  // The state as JSON (what GET /_fake/state returns).
  std::string stateJson() const;
  // The call log, oldest first (the newest 100,000 calls are kept), calls after `since_seq`.
  std::vector<FakeAwsCall> calls(std::uint64_t since_seq = 0) const;
  // What GET /_fake/calls returns: {"counts": {action: {outcome: n}}, "calls": [...]}.
  std::string callsJson(std::uint64_t since_seq = 0) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pathpilot::aws
