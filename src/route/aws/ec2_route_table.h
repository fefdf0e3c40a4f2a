// route/aws/ec2_route_table.h — AWS VPC route tables as a RouteBackend ("aws"), on the
// aws/ module's EC2 client.
//
// Purpose: let the reconciler program VPC route tables exactly as it programs Linux tables:
// list() is DescribeRouteTables for the table (routes reported as opaque targets: "local",
// "vgw-078bcc55", "i-0e1466e8a5dd4892c", "eni-...", "tgw-..."; prefix-list destinations are
// skipped, a route whose target was deleted is reported with target "blackhole"), and
// reports only the routes that can be programmed: static ones (origin CreateRoute) and the
// local one (CreateRouteTable). Propagated routes (origin EnableVgwRoutePropagation: what the
// VGW learns over the DX's BGP session, appearing and disappearing with it) are read-only
// facts: EC2 lists one beside a static route of the same prefix, the static route takes
// precedence, and ReplaceRoute / DeleteRoute never act on it. So list() leaves them out: the
// reconciler sees "no route" where only a propagated one exists and programs a static route
// with CreateRoute, which then overrides the propagated one; a BGP flap is not drift; and
// nothing here ever replaces or deletes a propagated route.
// apply() points a destination at a target id with ReplaceRoute, falling back to CreateRoute
// when the table has no such route yet (and back to ReplaceRoute when a concurrent or retried
// create finds one), or deletes it (DeleteRoute; an absent route counts as deleted). Both act
// on the static route of the prefix only; a propagated route of the prefix stays as it is.
// The target kind comes from its id prefix (vgw-/igw-/vpce- GatewayId, eni-
// NetworkInterfaceId, i- InstanceId, tgw- TransitGatewayId, nat-, pcx-).
//
// Parallelism: every table opened from one backend shares one QueryClient (credentials, retry
// quota, learned clock offset) over an http::HttpClientPool of `max_concurrency` curl
// handles. The reconciler calls different tables from different worker threads; those calls
// run in parallel, each on its own kept-alive connection, and never more than
// `max_concurrency` requests are in flight towards EC2 for the account and region (further
// calls wait for a free connection).
//
// Errors name the table, destination and target, e.g.
//   "aws rtb-468f5222 10.10.0.0/16 -> vgw-078bcc55: EC2 ReplaceRoute failed:
//    UnauthorizedOperation: ... (HTTP 403, request id ...)"
// with the mapped codes of aws/query.h (Throttled / Unavailable / Timeout are retried by the
// reconciler with backoff after the client's own retries; NotFound when the table is gone;
// PermissionDenied; InvalidArgument for a next hop that is not an EC2 target id).
// Threading: see route/route_table.h; everything here is safe to call concurrently.
// Metrics: the pool's inFlight()/maxInFlight(), the QueryClient's retry quota, and every
// request through Ec2RouteBackendOptions::on_attempt.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aws/credential_providers.h"
#include "aws/ec2.h"
#include "aws/query_client.h"
#include "base/error.h"
#include "base/time.h"
#include "http/http_client.h"
#include "http/http_client_pool.h"
#include "route/route_table.h"

namespace pathpilot::route {

struct Ec2RouteBackendOptions {
  std::string region;        // "ap-southeast-1", "cn-north-1"
  std::string endpoint_url;  // optional override (VPC endpoint, fake endpoint)
  // At most this many EC2 requests in flight for all tables of this backend.
  std::size_t max_concurrency = 4;
  aws::RetryOptions retry;
  Duration timeout = std::chrono::seconds(10);
  Duration connect_timeout = std::chrono::seconds(3);
  std::string user_agent = "pathpilot";
  std::string ca_file;                   // for the HTTP clients; empty: the system store
  aws::QueryAttemptObserver on_attempt;  // optional: every EC2 request's outcome (metrics)
};

// True for a route that can be programmed (origin CreateRoute, the local CreateRouteTable
// route, or no origin given); false for a propagated route (EnableVgwRoutePropagation) and any
// other origin EC2 may add for routes it manages itself.
bool isStaticRoute(const aws::Ec2Route& route);

class Ec2RouteBackend final : public RouteBackend {
 public:
  // The backend on a pool of `max_concurrency` clients from `http` (the daemon passes
  // http::curlClients()). Errors: InvalidArgument for a malformed region, endpoint_url or
  // max_concurrency 0.
  [[nodiscard]] static Result<std::unique_ptr<Ec2RouteBackend>> create(
      const Ec2RouteBackendOptions& options, const http::HttpClientFactory& http,
      aws::CredentialsProvider& credentials, const Clock& clock);

  // With an injected HttpClient (tests). `http`, `credentials` and `clock` must outlive the
  // backend. Errors as create().
  [[nodiscard]] static Result<std::unique_ptr<Ec2RouteBackend>> createForTest(
      const Ec2RouteBackendOptions& options, http::HttpClient& http,
      aws::CredentialsProvider& credentials, const Clock& clock, aws::RetryHooks hooks = {});

  // RouteBackend
  std::string_view kind() const override { return "aws"; }
  // Validates the id (InvalidArgument unless rtb-<hex>); no I/O.
  Result<std::unique_ptr<RouteTable>> openTable(std::string_view id) override;

  aws::Ec2Client& ec2() { return ec2_; }
  aws::QueryClient& queryClient() { return *query_; }
  // The pool when created by create(); nullptr with an injected client.
  const http::HttpClientPool* pool() const { return pool_.get(); }

 private:
  Ec2RouteBackend(std::unique_ptr<http::HttpClientPool> pool, http::HttpClient& http,
                  aws::CredentialsProvider& credentials, const Clock& clock,
                  aws::QueryClientOptions options, aws::RetryHooks hooks);

  std::unique_ptr<http::HttpClientPool> pool_;
  std::unique_ptr<aws::QueryClient> query_;
  aws::Ec2Client ec2_;
};

class Ec2RouteTable final : public RouteTable {
 public:
  // `ec2` must outlive the table (it belongs to the backend).
  Ec2RouteTable(std::string id, aws::Ec2Client& ec2) : id_(std::move(id)), ec2_(ec2) {}

  // RouteTable
  const std::string& id() const override { return id_; }
  std::string_view kind() const override { return "aws"; }
  Result<std::vector<Route>> list() override;
  Result<void> apply(const RouteDelta& delta) override;

 private:
  Error describe(const Error& error, const RouteDelta& delta) const;

  std::string id_;
  aws::Ec2Client& ec2_;
};

}  // namespace pathpilot::route
