// aws/query_client.h — sends signed Query API calls with the standard retry mode.
//
// Purpose: the one code path from a QueryRequest to a successful response body for EC2, SNS
// and CloudWatch: get credentials, build the POST, sign it with SigV4 at
// (wall clock + learned clock offset), send it through HttpClient, classify failures, back
// off (aws/retry.h) and try again, and turn the final failure into an Error whose message
// names the API, the action, the AWS code, message and request id — with any secret the
// service echoed back (SignatureDoesNotMatch messages can quote the canonical request,
// session token included) replaced by "<redacted>".
// Clock skew: when AWS rejects the request time (RequestTimeTooSkewed, RequestExpired, or an
// auth failure while the response Date differs from ours by more than 5 minutes), the offset
// server-minus-local is taken from the response Date header, kept for later calls, and the
// call is retried at once.
// Threading: call() may be used from several threads at once when the HttpClient allows it;
// the retry quota and clock offset are shared and thread-safe. call() blocks for the whole
// exchange including backoff sleeps: run it on a worker, never on the engine loop.
// Metrics: every attempt (one HTTP exchange) is reported to QueryClientOptions::on_attempt
// with its operation, outcome and duration — the daemon turns these into
// pathpilot_aws_api_calls_total{operation,outcome} and
// pathpilot_aws_api_request_duration_seconds{operation}; the retry quota level via
// retryQuota().
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <tl/expected.hpp>

#include "aws/credential_providers.h"
#include "aws/endpoints.h"
#include "aws/query.h"
#include "aws/retry.h"
#include "base/error.h"
#include "base/time.h"
#include "http/http_client.h"

namespace pathpilot::aws {

// One attempt of a call (one HTTP exchange; a call with two retries reports three).
struct QueryAttempt {
  std::string_view api;        // "EC2", "SNS", "CloudWatch"
  std::string_view operation;  // the Action: "ReplaceRoute"
  // "ok"; "throttled" (throttling codes, HTTP 429); "server_error" (5xx, transient codes);
  // "auth_error" (HTTP 401/403, signature, credential and clock-skew rejections);
  // "client_error" (other 4xx); "timeout"; "network_error" (DNS, refused, reset, TLS).
  std::string_view outcome;
  Duration duration;  // from sending the request to its answer (backoff sleeps excluded)
};

// Called on the thread that made the call, so it must be thread-safe; it must not block.
using QueryAttemptObserver = std::function<void(const QueryAttempt&)>;

// The outcome word of an AWS answer with `http_status` and error `code` ("" for none), as
// reported in QueryAttempt::outcome. The fake endpoint logs calls with the same words.
std::string_view attemptOutcome(int http_status, std::string_view code);

struct QueryClientOptions {
  std::string api_name;  // "EC2", "SNS", "CloudWatch": used in messages
  Endpoint endpoint;     // from resolveEndpoint()
  std::string version;   // API version, e.g. "2016-11-15"
  RetryOptions retry;
  Duration timeout = std::chrono::seconds(10);
  Duration connect_timeout = std::chrono::seconds(3);
  std::string user_agent = "pathpilot";
  QueryAttemptObserver on_attempt;  // optional (metrics)
};

// Randomness and sleeping, injected so that tests are deterministic and never sleep.
struct RetryHooks {
  std::function<double()> random01;     // uniform [0, 1); default: a seeded mt19937
  std::function<void(Duration)> sleep;  // default: std::this_thread::sleep_for
};

struct QueryResponse {
  int status = 0;
  std::string body;
  int attempts = 1;
};

// A failed call: the Error to report plus, when AWS answered, its parsed error (callers
// that branch on a specific AWS code, e.g. ReplaceRoute's "no route" case, read it).
struct QueryFailure {
  Error error;
  std::optional<AwsError> aws;
  int attempts = 1;
};

using QueryResult = tl::expected<QueryResponse, QueryFailure>;

class QueryClient {
 public:
  // `http`, `credentials` and `clock` must outlive the client.
  QueryClient(http::HttpClient& http, CredentialsProvider& credentials, const Clock& clock,
              QueryClientOptions options, RetryHooks hooks = {});

  // Sends `request` (its version defaults to options.version). Success: a 2xx response whose
  // body is not an AWS error document.
  [[nodiscard]] QueryResult call(QueryRequest request);

  // call() with the failure flattened into an Error.
  [[nodiscard]] Result<QueryResponse> callOrError(QueryRequest request);

  const QueryClientOptions& options() const { return options_; }
  // Learned server-minus-local clock offset (zero until a skew error was seen).
  Duration clockOffset() const { return Duration(clock_offset_ns_.load()); }
  void setClockOffsetForTest(Duration d) { clock_offset_ns_.store(d.count()); }
  const RetryQuota& retryQuota() const { return quota_; }

 private:
  http::HttpClient& http_;
  CredentialsProvider& credentials_;
  const Clock& clock_;
  QueryClientOptions options_;
  RetryHooks hooks_;
  RetryQuota quota_;
  std::atomic<Duration::rep> clock_offset_ns_{0};
};

// Replaces every occurrence of the credentials' secret key and session token (raw and
// percent-encoded) in `text` with "<redacted>".
std::string scrubSecrets(std::string text, const Credentials& credentials);

}  // namespace pathpilot::aws
