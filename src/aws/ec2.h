// aws/ec2.h — the EC2 calls pathpilot makes: route tables and gateway instances.
//
// Purpose: read and program VPC route tables (DescribeRouteTables, CreateRoute,
// ReplaceRoute) and recover strongSwan gateway instances (DescribeInstances, StopInstances,
// StartInstances), through the Query API version 2016-11-15.
// The request builders and response parsers are pure and public so that they are tested on
// every body in testdata/aws/responses/ec2 and fuzzed (fuzz/aws_xml_fuzz.cc). Parsers are
// namespace-agnostic (any xmlns, or none), ignore elements they do not know, keep odd values
// (a route state "bogus") instead of failing, and fail only when the document is not XML
// or its root element is not the expected <Action>Response — with an Internal error naming
// the action. Lists (DescribeRouteTables, DescribeInstances) are paged with
// MaxResults/NextToken; Ec2Client follows the pages (bounded, and a repeated token stops).
// Threading: Ec2Client is as thread-safe as its QueryClient; the functions are pure.
// Metrics: none here (QueryClient has the counters).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/query.h"
#include "aws/query_client.h"
#include "base/error.h"
#include "base/ip.h"

namespace pathpilot::aws {

inline constexpr std::string_view kEc2ApiVersion = "2016-11-15";

// What a route points at. EC2 reports exactly one target per route.
enum class RouteTargetKind {
  Gateway,            // gatewayId: igw-, vgw- (Direct Connect/VPN), vpce-, or "local"
  NetworkInterface,   // networkInterfaceId: eni-
  Instance,           // instanceId: i- (EC2 also fills networkInterfaceId)
  TransitGateway,     // transitGatewayId: tgw-
  NatGateway,         // natGatewayId: nat-
  VpcPeering,         // vpcPeeringConnectionId: pcx-
  EgressOnlyGateway,  // egressOnlyInternetGatewayId: eigw-
  CarrierGateway,     // carrierGatewayId: cagw-
  LocalGateway,       // localGatewayId: lgw-
  CoreNetwork,        // coreNetworkArn
  None,               // a blackhole route whose target was deleted, or unknown
};

// "gateway", "network-interface", "instance", ...
std::string_view routeTargetKindName(RouteTargetKind kind);

struct RouteTarget {
  RouteTargetKind kind = RouteTargetKind::None;
  std::string id;

  bool operator==(const RouteTarget&) const = default;
  // Infers the kind from an id prefix: vgw-/igw-/vpce-/local → Gateway, eni- →
  // NetworkInterface, i- → Instance, tgw- → TransitGateway, nat-, pcx-, eigw-, cagw-, lgw-.
  // Errors: InvalidArgument naming the id.
  [[nodiscard]] static Result<RouteTarget> fromId(std::string_view id);
  // "vgw-078bcc55" / "instance i-0e14..." for messages.
  std::string toString() const;
};

struct Ec2Route {
  std::string destination;  // destinationCidrBlock, destinationIpv6CidrBlock or prefix list id
  RouteTarget target;
  std::string network_interface_id;  // also set for instance routes
  std::string state;                 // "active", "blackhole", or what EC2 sent
  std::string origin;  // "CreateRouteTable", "CreateRoute", "EnableVgwRoutePropagation"

  bool active() const { return state == "active"; }
  // The destination as a prefix. Errors: InvalidArgument for prefix lists and bad text.
  [[nodiscard]] Result<IpPrefix> prefix() const;
};

struct VpcRouteTableAssociation {
  std::string id;
  std::string subnet_id;  // empty for the main association
  bool main = false;
};

struct VpcRouteTable {
  std::string id;
  std::string vpc_id;
  std::string owner_id;
  std::vector<Ec2Route> routes;
  std::vector<VpcRouteTableAssociation> associations;
  std::vector<std::pair<std::string, std::string>> tags;
  std::vector<std::string> propagating_vgws;

  // The route whose destination is `destination` (exact text match after normalising the
  // prefix), or nullptr.
  const Ec2Route* findRoute(const IpPrefix& destination) const;
};

struct DescribeRouteTablesPage {
  std::vector<VpcRouteTable> tables;
  std::string next_token;
  std::string request_id;
};

// EC2 instance state codes (low byte of code): 0 pending, 16 running, 32 shutting-down,
// 48 terminated, 64 stopping, 80 stopped.
struct InstanceState {
  int code = -1;
  std::string name;  // "running", ...

  bool operator==(const InstanceState&) const = default;
};

struct Ec2Instance {
  std::string id;
  InstanceState state;
  std::string state_reason;  // stateReason/message, e.g. "Client.UserInitiatedShutdown: ..."
  std::string availability_zone;
  std::string instance_type;
  std::string private_ip;
  std::string subnet_id;
  std::string vpc_id;
  std::optional<bool> source_dest_check;  // must be false on a VPN gateway
  std::vector<std::pair<std::string, std::string>> tags;
};

struct DescribeInstancesPage {
  std::vector<Ec2Instance> instances;
  std::string next_token;
  std::string request_id;
};

struct InstanceStateChange {
  std::string instance_id;
  InstanceState current;
  InstanceState previous;
};

// ---- pure request builders ----

// DescribeRouteTables filtered by route-table-id (all tables when `ids` is empty).
QueryRequest describeRouteTablesRequest(const std::vector<std::string>& ids,
                                        std::string_view next_token, int max_results = 100);
// CreateRoute / ReplaceRoute (`replace`). IPv6 destinations use DestinationIpv6CidrBlock.
QueryRequest routeRequest(bool replace, std::string_view route_table_id,
                          const IpPrefix& destination, const RouteTarget& target);
// DeleteRoute.
QueryRequest deleteRouteRequest(std::string_view route_table_id, const IpPrefix& destination);

// True for a VPC route table id: rtb- and 8 (old) or 17 (current) lower-case hex digits.
bool isRouteTableId(std::string_view id);
// DescribeInstances filtered by instance-id.
QueryRequest describeInstancesRequest(const std::vector<std::string>& ids,
                                      std::string_view next_token, int max_results = 1000);
// StopInstances (`stop`, with Force when `force`) / StartInstances.
QueryRequest instanceStateRequest(bool stop, const std::vector<std::string>& ids,
                                  bool force = false);

// ---- pure response parsers ----

[[nodiscard]] Result<DescribeRouteTablesPage> parseDescribeRouteTables(std::string_view xml);
[[nodiscard]] Result<DescribeInstancesPage> parseDescribeInstances(std::string_view xml);
// StartInstancesResponse / StopInstancesResponse (the root is checked against `action`).
[[nodiscard]] Result<std::vector<InstanceStateChange>> parseInstanceStateChanges(
    std::string_view xml, std::string_view action);
// CreateRouteResponse / ReplaceRouteResponse: the <return> value.
[[nodiscard]] Result<bool> parseReturn(std::string_view xml, std::string_view action);

// ---- the client ----

class Ec2Client {
 public:
  // `query` must outlive the client and be configured for EC2 (api "EC2", version
  // kEc2ApiVersion, endpoint from resolveEndpoint("ec2", region)).
  explicit Ec2Client(QueryClient& query) : query_(query) {}

  // All pages. Tables that do not exist are simply absent (filter semantics).
  [[nodiscard]] Result<std::vector<VpcRouteTable>> describeRouteTables(
      const std::vector<std::string>& ids);
  // Errors as mapped by aws/query.h; AlreadyExists when the destination already has a
  // route (RouteAlreadyExists).
  [[nodiscard]] Result<void> createRoute(std::string_view route_table_id,
                                         const IpPrefix& destination, const RouteTarget& target);
  // NotFound when the table has no route for `destination` (EC2 says
  // InvalidParameterValue "There is no route defined for ..."), so callers can fall back
  // to createRoute.
  [[nodiscard]] Result<void> replaceRoute(std::string_view route_table_id,
                                          const IpPrefix& destination,
                                          const RouteTarget& target);
  // NotFound when the table has no such route (InvalidRoute.NotFound).
  [[nodiscard]] Result<void> deleteRoute(std::string_view route_table_id,
                                         const IpPrefix& destination);
  [[nodiscard]] Result<std::vector<Ec2Instance>> describeInstances(
      const std::vector<std::string>& ids);
  [[nodiscard]] Result<std::vector<InstanceStateChange>> stopInstances(
      const std::vector<std::string>& ids, bool force = false);
  [[nodiscard]] Result<std::vector<InstanceStateChange>> startInstances(
      const std::vector<std::string>& ids);

 private:
  QueryClient& query_;
};

}  // namespace pathpilot::aws
