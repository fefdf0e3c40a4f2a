#include "aws/ec2.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <set>

#include "aws/detail/xml.h"

namespace pathpilot::aws {

namespace {

using detail::child;
using detail::childText;
using detail::forEachItem;
using detail::localName;

// Guards against a service (or fake) that keeps returning NextToken.
constexpr int kMaxPages = 1000;

struct TargetField {
  std::string_view xml_name;   // in responses (lowerCamel)
  std::string_view param;      // in requests (UpperCamel)
  std::string_view id_prefix;  // for RouteTarget::fromId
  RouteTargetKind kind;
};

// Instance first: EC2 reports instance routes with both instanceId and networkInterfaceId.
constexpr std::array<TargetField, 10> kTargets = {{
    {"instanceId", "InstanceId", "i-", RouteTargetKind::Instance},
    {"transitGatewayId", "TransitGatewayId", "tgw-", RouteTargetKind::TransitGateway},
    {"natGatewayId", "NatGatewayId", "nat-", RouteTargetKind::NatGateway},
    {"vpcPeeringConnectionId", "VpcPeeringConnectionId", "pcx-", RouteTargetKind::VpcPeering},
    {"egressOnlyInternetGatewayId", "EgressOnlyInternetGatewayId", "eigw-",
     RouteTargetKind::EgressOnlyGateway},
    {"carrierGatewayId", "CarrierGatewayId", "cagw-", RouteTargetKind::CarrierGateway},
    {"localGatewayId", "LocalGatewayId", "lgw-", RouteTargetKind::LocalGateway},
    {"coreNetworkArn", "CoreNetworkArn", "arn:", RouteTargetKind::CoreNetwork},
    {"networkInterfaceId", "NetworkInterfaceId", "eni-", RouteTargetKind::NetworkInterface},
    // No single id prefix (igw-, vgw-, vpce-, "local"): RouteTarget::fromId() matches those
    // itself.
    {"gatewayId", "GatewayId", "", RouteTargetKind::Gateway},
}};

// Checks the root element; returns it. An error document where a result was expected (some
// proxies answer 200 with one) becomes that AWS error, so the caller sees the real cause.
Result<pugi::xml_node> rootOf(pugi::xml_document& doc, std::string_view xml,
                              std::string_view action) {
  const std::string api = "EC2 " + std::string(action);
  auto root = detail::parseDocument(doc, xml, api);
  if (!root) {
    return fail(root.error());
  }
  const std::string expected = std::string(action) + "Response";
  if (localName(*root) != expected) {
    std::string got(localName(*root).substr(0, 60));
    if (got == "Response" || got == "ErrorResponse") {
      AwsError e = parseAwsError(200, xml);
      return fail(toError(e, "EC2", action));
    }
    return fail(ErrorCode::Internal, api + ": expected <" + expected + ">, got <" + got + ">");
  }
  return *root;
}

std::vector<std::pair<std::string, std::string>> parseTags(const pugi::xml_node& node) {
  std::vector<std::pair<std::string, std::string>> tags;
  forEachItem(node, "tagSet", [&](const pugi::xml_node& item) {
    tags.emplace_back(childText(item, "key"), childText(item, "value"));
  });
  return tags;
}

// A missing or non-numeric code stays -1 rather than failing the whole page: the state name
// is what callers use, the code is informational.
InstanceState parseState(const pugi::xml_node& node) {
  InstanceState s;
  std::string code = childText(node, "code");
  int value = -1;
  auto [end, ec] = std::from_chars(code.data(), code.data() + code.size(), value);
  if (ec == std::errc() && end == code.data() + code.size()) {
    // The high byte is internal to EC2 (documented); only the low byte is the state.
    s.code = value & 0xff;
  }
  s.name = childText(node, "name");
  return s;
}

void addFilter(QueryRequest& r, int index, std::string_view name,
               const std::vector<std::string>& values) {
  std::string prefix = "Filter." + std::to_string(index) + ".";
  r.add(prefix + "Name", std::string(name));
  int n = 1;
  for (const std::string& v : values) {
    r.add(prefix + "Value." + std::to_string(n++), v);
  }
}

void addIds(QueryRequest& r, std::string_view name, const std::vector<std::string>& ids) {
  int n = 1;
  for (const std::string& id : ids) {
    r.add(std::string(name) + "." + std::to_string(n++), id);
  }
}

// Follows NextToken until it is empty; `fetch(token)` returns one page.
template <class Item, class Fetch>
Result<std::vector<Item>> allPages(std::string_view what, Fetch&& fetch) {
  std::vector<Item> out;
  std::string token;
  std::set<std::string> seen;
  for (int page = 0; page < kMaxPages; ++page) {
    auto r = fetch(token);
    if (!r) {
      return fail(r.error());
    }
    for (auto& item : r->items) {
      out.push_back(std::move(item));
    }
    if (r->next_token.empty()) {
      return out;
    }
    if (!seen.insert(r->next_token).second) {
      return fail(ErrorCode::Internal,
                  std::string(what) + ": the service repeated a NextToken; stopping");
    }
    token = std::move(r->next_token);
  }
  return fail(ErrorCode::Internal,
              std::string(what) + ": more than " + std::to_string(kMaxPages) + " pages");
}

template <class Item>
struct Page {
  std::vector<Item> items;
  std::string next_token;
};

}  // namespace

std::string_view routeTargetKindName(RouteTargetKind kind) {
  switch (kind) {
    case RouteTargetKind::Gateway:
      return "gateway";
    case RouteTargetKind::NetworkInterface:
      return "network-interface";
    case RouteTargetKind::Instance:
      return "instance";
    case RouteTargetKind::TransitGateway:
      return "transit-gateway";
    case RouteTargetKind::NatGateway:
      return "nat-gateway";
    case RouteTargetKind::VpcPeering:
      return "vpc-peering";
    case RouteTargetKind::EgressOnlyGateway:
      return "egress-only-gateway";
    case RouteTargetKind::CarrierGateway:
      return "carrier-gateway";
    case RouteTargetKind::LocalGateway:
      return "local-gateway";
    case RouteTargetKind::CoreNetwork:
      return "core-network";
    case RouteTargetKind::None:
      return "none";
  }
  return "none";
}

Result<RouteTarget> RouteTarget::fromId(std::string_view id) {
  if (id == "local") {
    return RouteTarget{RouteTargetKind::Gateway, "local"};
  }
  // Here and below, an id must be longer than its prefix: a bare "igw-" is not an id.
  for (std::string_view gw : {"igw-", "vgw-", "vpce-"}) {
    if (id.size() > gw.size() && id.substr(0, gw.size()) == gw) {
      return RouteTarget{RouteTargetKind::Gateway, std::string(id)};
    }
  }
  for (const TargetField& f : kTargets) {
    if (!f.id_prefix.empty() && id.size() > f.id_prefix.size() &&
        id.substr(0, f.id_prefix.size()) == f.id_prefix) {
      return RouteTarget{f.kind, std::string(id)};
    }
  }
  return fail(ErrorCode::InvalidArgument,
              "route target '" + std::string(id.substr(0, 80)) +
                  "' is not an EC2 id (vgw-, igw-, eni-, i-, tgw-, nat-, pcx-, ...)");
}

std::string RouteTarget::toString() const {
  if (kind == RouteTargetKind::Gateway || kind == RouteTargetKind::None) {
    return id.empty() ? std::string("none") : id;
  }
  return std::string(routeTargetKindName(kind)) + " " + id;
}

// Not strict: a destination with host bits set parses to its network instead of failing.
Result<IpPrefix> Ec2Route::prefix() const { return IpPrefix::parse(destination, false); }

const Ec2Route* VpcRouteTable::findRoute(const IpPrefix& destination) const {
  for (const Ec2Route& r : routes) {
    // Prefix-list destinations (pl-...) do not parse as prefixes and never match.
    auto p = r.prefix();
    if (p && *p == destination) {
      return &r;
    }
  }
  return nullptr;
}

// Filters rather than RouteTableId.N: with ids EC2 fails the whole call when one table is
// missing and refuses MaxResults; a filter returns what exists and pages.
QueryRequest describeRouteTablesRequest(const std::vector<std::string>& ids,
                                        std::string_view next_token, int max_results) {
  QueryRequest r;
  r.action = "DescribeRouteTables";
  r.version = std::string(kEc2ApiVersion);
  if (!ids.empty()) {
    addFilter(r, 1, "route-table-id", ids);
  }
  r.add("MaxResults", std::to_string(max_results));
  if (!next_token.empty()) {
    r.add("NextToken", std::string(next_token));
  }
  return r;
}

QueryRequest routeRequest(bool replace, std::string_view route_table_id,
                          const IpPrefix& destination, const RouteTarget& target) {
  QueryRequest r;
  r.action = replace ? "ReplaceRoute" : "CreateRoute";
  r.version = std::string(kEc2ApiVersion);
  r.add("RouteTableId", std::string(route_table_id));
  r.add(destination.family() == IpFamily::V6 ? "DestinationIpv6CidrBlock"
                                             : "DestinationCidrBlock",
        destination.toString());
  // RouteTargetKind::None has no entry in kTargets and is sent as GatewayId.
  std::string_view param = "GatewayId";
  for (const TargetField& f : kTargets) {
    if (f.kind == target.kind) {
      param = f.param;
      break;
    }
  }
  r.add(std::string(param), target.id);
  return r;
}

QueryRequest deleteRouteRequest(std::string_view route_table_id, const IpPrefix& destination) {
  QueryRequest r;
  r.action = "DeleteRoute";
  r.version = std::string(kEc2ApiVersion);
  r.add("RouteTableId", std::string(route_table_id));
  r.add(destination.family() == IpFamily::V6 ? "DestinationIpv6CidrBlock"
                                             : "DestinationCidrBlock",
        destination.toString());
  return r;
}

// A filter for the same reason as in describeRouteTablesRequest: InstanceId.N fails the whole
// call on one unknown id and cannot be combined with MaxResults.
QueryRequest describeInstancesRequest(const std::vector<std::string>& ids,
                                      std::string_view next_token, int max_results) {
  QueryRequest r;
  r.action = "DescribeInstances";
  r.version = std::string(kEc2ApiVersion);
  if (!ids.empty()) {
    addFilter(r, 1, "instance-id", ids);
  }
  r.add("MaxResults", std::to_string(max_results));
  if (!next_token.empty()) {
    r.add("NextToken", std::string(next_token));
  }
  return r;
}

QueryRequest instanceStateRequest(bool stop, const std::vector<std::string>& ids, bool force) {
  QueryRequest r;
  r.action = stop ? "StopInstances" : "StartInstances";
  r.version = std::string(kEc2ApiVersion);
  addIds(r, "InstanceId", ids);
  if (stop && force) {
    r.add("Force", "true");
  }
  return r;
}

// Only direct children are read at each level (forEachItem), so nested <item>s of
// associationSet or tagSet are never mistaken for routes or tables.
Result<DescribeRouteTablesPage> parseDescribeRouteTables(std::string_view xml) {
  pugi::xml_document doc;
  auto root = rootOf(doc, xml, "DescribeRouteTables");
  if (!root) {
    return fail(root.error());
  }
  DescribeRouteTablesPage page;
  page.request_id = childText(*root, "requestId");
  page.next_token = childText(*root, "nextToken");
  forEachItem(*root, "routeTableSet", [&](const pugi::xml_node& t) {
    VpcRouteTable table;
    table.id = childText(t, "routeTableId");
    table.vpc_id = childText(t, "vpcId");
    table.owner_id = childText(t, "ownerId");
    forEachItem(t, "routeSet", [&](const pugi::xml_node& item) {
      Ec2Route route;
      // One of three destination fields is set; a prefix-list id is kept as text
      // (prefix() refuses it).
      route.destination = childText(item, "destinationCidrBlock");
      if (route.destination.empty()) {
        route.destination = childText(item, "destinationIpv6CidrBlock");
      }
      if (route.destination.empty()) {
        route.destination = childText(item, "destinationPrefixListId");
      }
      route.network_interface_id = childText(item, "networkInterfaceId");
      for (const TargetField& f : kTargets) {
        std::string id = childText(item, f.xml_name);
        if (!id.empty()) {
          route.target = RouteTarget{f.kind, std::move(id)};
          break;
        }
      }
      route.state = childText(item, "state");
      route.origin = childText(item, "origin");
      table.routes.push_back(std::move(route));
    });
    forEachItem(t, "associationSet", [&](const pugi::xml_node& item) {
      VpcRouteTableAssociation a;
      a.id = childText(item, "routeTableAssociationId");
      a.subnet_id = childText(item, "subnetId");
      a.main = childText(item, "main") == "true";
      table.associations.push_back(std::move(a));
    });
    forEachItem(t, "propagatingVgwSet", [&](const pugi::xml_node& item) {
      table.propagating_vgws.push_back(childText(item, "gatewayId"));
    });
    table.tags = parseTags(t);
    page.tables.push_back(std::move(table));
  });
  return page;
}

Result<DescribeInstancesPage> parseDescribeInstances(std::string_view xml) {
  pugi::xml_document doc;
  auto root = rootOf(doc, xml, "DescribeInstances");
  if (!root) {
    return fail(root.error());
  }
  DescribeInstancesPage page;
  page.request_id = childText(*root, "requestId");
  page.next_token = childText(*root, "nextToken");
  // Instances come grouped by reservation (one per launch request); the page lists them flat.
  forEachItem(*root, "reservationSet", [&](const pugi::xml_node& reservation) {
    forEachItem(reservation, "instancesSet", [&](const pugi::xml_node& i) {
      Ec2Instance inst;
      inst.id = childText(i, "instanceId");
      inst.state = parseState(child(i, "instanceState"));
      inst.state_reason = childText(child(i, "stateReason"), "message");
      inst.availability_zone = childText(child(i, "placement"), "availabilityZone");
      inst.instance_type = childText(i, "instanceType");
      inst.private_ip = childText(i, "privateIpAddress");
      inst.subnet_id = childText(i, "subnetId");
      inst.vpc_id = childText(i, "vpcId");
      // Absent or unexpected text stays unknown (nullopt) rather than passing for true or false.
      std::string sdc = childText(i, "sourceDestCheck");
      if (sdc == "true" || sdc == "false") {
        inst.source_dest_check = sdc == "true";
      }
      inst.tags = parseTags(i);
      page.instances.push_back(std::move(inst));
    });
  });
  return page;
}

Result<std::vector<InstanceStateChange>> parseInstanceStateChanges(std::string_view xml,
                                                                   std::string_view action) {
  pugi::xml_document doc;
  auto root = rootOf(doc, xml, action);
  if (!root) {
    return fail(root.error());
  }
  std::vector<InstanceStateChange> out;
  forEachItem(*root, "instancesSet", [&](const pugi::xml_node& item) {
    InstanceStateChange c;
    c.instance_id = childText(item, "instanceId");
    c.current = parseState(child(item, "currentState"));
    c.previous = parseState(child(item, "previousState"));
    out.push_back(std::move(c));
  });
  return out;
}

Result<bool> parseReturn(std::string_view xml, std::string_view action) {
  pugi::xml_document doc;
  auto root = rootOf(doc, xml, action);
  if (!root) {
    return fail(root.error());
  }
  std::string value = childText(*root, "return");
  if (value == "true") {
    return true;
  }
  if (value == "false") {
    return false;
  }
  return fail(ErrorCode::Internal, "EC2 " + std::string(action) +
                                       ": response has no <return>true|false</return>");
}

// ---- Ec2Client ----

Result<std::vector<VpcRouteTable>> Ec2Client::describeRouteTables(
    const std::vector<std::string>& ids) {
  return allPages<VpcRouteTable>(
      "EC2 DescribeRouteTables", [&](const std::string& token) -> Result<Page<VpcRouteTable>> {
        auto resp = query_.callOrError(describeRouteTablesRequest(ids, token));
        if (!resp) {
          return fail(resp.error());
        }
        auto page = parseDescribeRouteTables(resp->body);
        if (!page) {
          return fail(page.error());
        }
        return Page<VpcRouteTable>{std::move(page->tables), std::move(page->next_token)};
      });
}

Result<void> Ec2Client::createRoute(std::string_view route_table_id, const IpPrefix& destination,
                                    const RouteTarget& target) {
  auto resp = query_.callOrError(routeRequest(false, route_table_id, destination, target));
  if (!resp) {
    return fail(resp.error());
  }
  auto ret = parseReturn(resp->body, "CreateRoute");
  if (!ret) {
    return fail(ret.error());
  }
  if (!*ret) {
    return fail(ErrorCode::Internal, "EC2 CreateRoute returned false for " +
                                         std::string(route_table_id) + " " +
                                         destination.toString());
  }
  return ok();
}

Result<void> Ec2Client::replaceRoute(std::string_view route_table_id,
                                     const IpPrefix& destination, const RouteTarget& target) {
  // call(), not callOrError(): the AWS code and message are needed to recognise a missing route.
  auto resp = query_.call(routeRequest(true, route_table_id, destination, target));
  if (!resp) {
    const QueryFailure& f = resp.error();
    // "There is no route defined for '10.10.0.0/16' in the route table. Use CreateRoute
    // instead." comes as InvalidParameterValue; make it NotFound so callers can create.
    if (f.aws && f.aws->code == "InvalidParameterValue" &&
        f.aws->message.find("no route") != std::string::npos) {
      return fail(ErrorCode::NotFound, f.error.message());
    }
    return fail(f.error);
  }
  auto ret = parseReturn(resp->body, "ReplaceRoute");
  if (!ret) {
    return fail(ret.error());
  }
  if (!*ret) {
    return fail(ErrorCode::Internal, "EC2 ReplaceRoute returned false for " +
                                         std::string(route_table_id) + " " +
                                         destination.toString());
  }
  return ok();
}

Result<void> Ec2Client::deleteRoute(std::string_view route_table_id,
                                    const IpPrefix& destination) {
  auto resp = query_.callOrError(deleteRouteRequest(route_table_id, destination));
  if (!resp) {
    return fail(resp.error());
  }
  auto ret = parseReturn(resp->body, "DeleteRoute");
  if (!ret) {
    return fail(ret.error());
  }
  return ok();
}

Result<std::vector<Ec2Instance>> Ec2Client::describeInstances(const std::vector<std::string>& ids) {
  return allPages<Ec2Instance>(
      "EC2 DescribeInstances", [&](const std::string& token) -> Result<Page<Ec2Instance>> {
        auto resp = query_.callOrError(describeInstancesRequest(ids, token));
        if (!resp) {
          return fail(resp.error());
        }
        auto page = parseDescribeInstances(resp->body);
        if (!page) {
          return fail(page.error());
        }
        return Page<Ec2Instance>{std::move(page->instances), std::move(page->next_token)};
      });
}

Result<std::vector<InstanceStateChange>> Ec2Client::stopInstances(
    const std::vector<std::string>& ids, bool force) {
  if (ids.empty()) {
    return fail(ErrorCode::InvalidArgument, "EC2 StopInstances: no instance ids");
  }
  auto resp = query_.callOrError(instanceStateRequest(true, ids, force));
  if (!resp) {
    return fail(resp.error());
  }
  return parseInstanceStateChanges(resp->body, "StopInstances");
}

Result<std::vector<InstanceStateChange>> Ec2Client::startInstances(
    const std::vector<std::string>& ids) {
  if (ids.empty()) {
    return fail(ErrorCode::InvalidArgument, "EC2 StartInstances: no instance ids");
  }
  auto resp = query_.callOrError(instanceStateRequest(false, ids));
  if (!resp) {
    return fail(resp.error());
  }
  return parseInstanceStateChanges(resp->body, "StartInstances");
}

bool isRouteTableId(std::string_view id) {
  if (id.substr(0, 4) != "rtb-") {
    return false;
  }
  std::string_view hex = id.substr(4);
  // Old ids have 8 hex digits, current ones 17.
  if (hex.size() != 8 && hex.size() != 17) {
    return false;
  }
  return std::all_of(hex.begin(), hex.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace pathpilot::aws
