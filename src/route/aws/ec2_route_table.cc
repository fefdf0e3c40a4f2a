#include "route/aws/ec2_route_table.h"

#include "aws/endpoints.h"

namespace pathpilot::route {

namespace {

Result<aws::QueryClientOptions> clientOptions(const Ec2RouteBackendOptions& options) {
  if (options.max_concurrency == 0) {
    return fail(ErrorCode::InvalidArgument, "aws backend: max_concurrency must be at least 1");
  }
  auto endpoint = aws::resolveEndpoint("ec2", options.region, options.endpoint_url);
  if (!endpoint) {
    return fail(endpoint.error().withContext("aws backend"));
  }
  aws::QueryClientOptions q;
  q.api_name = "EC2";
  q.endpoint = std::move(*endpoint);
  q.version = std::string(aws::kEc2ApiVersion);
  q.retry = options.retry;
  q.timeout = options.timeout;
  q.connect_timeout = options.connect_timeout;
  q.user_agent = options.user_agent;
  q.on_attempt = options.on_attempt;
  return q;
}

}  // namespace

bool isStaticRoute(const aws::Ec2Route& route) {
  // No origin: an answer that predates the field (and hand-written fixtures).
  return route.origin.empty() || route.origin == "CreateRoute" ||
         route.origin == "CreateRouteTable";
}

Ec2RouteBackend::Ec2RouteBackend(std::unique_ptr<http::HttpClientPool> pool, http::HttpClient& http,
                                 aws::CredentialsProvider& credentials, const Clock& clock,
                                 aws::QueryClientOptions options, aws::RetryHooks hooks)
    : pool_(std::move(pool)),
      query_(std::make_unique<aws::QueryClient>(http, credentials, clock, std::move(options),
                                                std::move(hooks))),
      ec2_(*query_) {}

Result<std::unique_ptr<Ec2RouteBackend>> Ec2RouteBackend::create(
    const Ec2RouteBackendOptions& options, const http::HttpClientFactory& http_clients,
    aws::CredentialsProvider& credentials, const Clock& clock) {
  auto q = clientOptions(options);
  if (!q) {
    return fail(q.error());
  }
  http::ClientOptions client;
  client.ca_file = options.ca_file;
  client.user_agent = options.user_agent;
  // One client (and so one kept-alive connection) per concurrent request.
  auto pool = std::make_unique<http::HttpClientPool>(options.max_concurrency,
                                                     [&] { return http_clients(client); });
  http::HttpClient& http = *pool;
  return std::unique_ptr<Ec2RouteBackend>(
      new Ec2RouteBackend(std::move(pool), http, credentials, clock, std::move(*q), {}));
}

Result<std::unique_ptr<Ec2RouteBackend>> Ec2RouteBackend::createForTest(
    const Ec2RouteBackendOptions& options, http::HttpClient& http,
    aws::CredentialsProvider& credentials, const Clock& clock, aws::RetryHooks hooks) {
  auto q = clientOptions(options);
  if (!q) {
    return fail(q.error());
  }
  return std::unique_ptr<Ec2RouteBackend>(
      new Ec2RouteBackend(nullptr, http, credentials, clock, std::move(*q), std::move(hooks)));
}

Result<std::unique_ptr<RouteTable>> Ec2RouteBackend::openTable(std::string_view id) {
  if (!aws::isRouteTableId(id)) {
    return fail(ErrorCode::InvalidArgument,
                "aws backend: '" + std::string(id.substr(0, 40)) +
                    "' is not a VPC route table id (rtb- and 8 or 17 hex digits)");
  }
  return std::unique_ptr<RouteTable>(new Ec2RouteTable(std::string(id), ec2_));
}

Result<std::vector<Route>> Ec2RouteTable::list() {
  auto tables = ec2_.describeRouteTables({id_});
  if (!tables) {
    return fail(tables.error().withContext("aws " + id_ + " list"));
  }
  const aws::VpcRouteTable* found = nullptr;
  for (const aws::VpcRouteTable& t : *tables) {
    if (t.id == id_) {
      found = &t;
    }
  }
  if (found == nullptr) {
    // The filter returns nothing rather than an error for a missing table.
    return fail(ErrorCode::NotFound, "aws " + id_ +
                                         ": route table does not exist or is not visible to "
                                         "these credentials");
  }
  std::vector<Route> out;
  for (const aws::Ec2Route& r : found->routes) {
    if (!isStaticRoute(r)) {
      // A propagated route (the VGW's BGP routes) is a fact of the table, not a route anyone
      // can program: EC2 never replaces or deletes it, and a static route of the same prefix
      // takes precedence over it. Reporting it would make the reconciler adopt it as ours,
      // read its coming and going with BGP as drift, and "repair" it with ReplaceRoute.
      continue;
    }
    auto prefix = r.prefix();
    if (!prefix) {
      continue;  // prefix-list destinations are not ours to manage
    }
    std::string target = r.target.kind == aws::RouteTargetKind::None ? "blackhole" : r.target.id;
    out.push_back(Route{id_, *prefix, NextHop::opaque(std::move(target))});
  }
  return out;
}

Error Ec2RouteTable::describe(const Error& error, const RouteDelta& delta) const {
  std::string what = "aws " + id_ + " " + delta.destination.toString() + " -> " +
                     (delta.new_next_hop ? delta.new_next_hop->toString() : "(delete)");
  return error.withContext(what);
}

Result<void> Ec2RouteTable::apply(const RouteDelta& delta) {
  if (delta.isDelete()) {
    auto r = ec2_.deleteRoute(id_, delta.destination);
    if (!r && r.error().code() == ErrorCode::NotFound &&
        r.error().message().find("InvalidRoute.NotFound") != std::string::npos) {
      return ok();  // already gone: deleting is idempotent
    }
    if (!r) {
      return fail(describe(r.error(), delta));
    }
    return ok();
  }
  const NextHop& hop = *delta.new_next_hop;
  if (!hop.isTarget() || hop.via || !hop.dev.empty()) {
    return fail(describe(Error(ErrorCode::InvalidArgument,
                               "the aws backend needs an EC2 target id (vgw-, eni-, i-, tgw-, "
                               "...), not '" +
                                   hop.toString() + "'"),
                         delta));
  }
  auto target = aws::RouteTarget::fromId(hop.target);
  if (!target) {
    return fail(describe(target.error(), delta));
  }
  // Replace first: the normal case is moving an existing route. When the reconciler believes
  // nothing is installed, create first instead and fall back the other way.
  const bool create_first = !delta.old_next_hop.has_value();
  Result<void> r = create_first ? ec2_.createRoute(id_, delta.destination, *target)
                                : ec2_.replaceRoute(id_, delta.destination, *target);
  if (!r && create_first && r.error().code() == ErrorCode::AlreadyExists) {
    r = ec2_.replaceRoute(id_, delta.destination, *target);
  } else if (!r && !create_first && r.error().code() == ErrorCode::NotFound &&
             r.error().message().find("InvalidRouteTableID") == std::string::npos) {
    r = ec2_.createRoute(id_, delta.destination, *target);
    if (!r && r.error().code() == ErrorCode::AlreadyExists) {
      // Created meanwhile (by a retried call of ours or by someone else): replace it.
      r = ec2_.replaceRoute(id_, delta.destination, *target);
    }
  }
  if (!r) {
    return fail(describe(r.error(), delta));
  }
  return ok();
}

}  // namespace pathpilot::route
