#include "aws/query_client.h"

#include <mutex>
#include <random>
#include <thread>

#include "aws/sigv4.h"

namespace pathpilot::aws {

namespace {

// An auth failure is treated as clock skew when the server's Date is this far from ours
// (AWS accepts requests signed within 5 minutes of its time).
constexpr auto kSkewThreshold = std::chrono::minutes(5);

RetryHooks withDefaults(RetryHooks hooks) {
  if (!hooks.random01) {
    auto state = std::make_shared<std::pair<std::mutex, std::mt19937_64>>();
    state->second.seed(std::random_device{}());
    hooks.random01 = [state] {
      std::lock_guard lock(state->first);
      return std::uniform_real_distribution<double>(0.0, 1.0)(state->second);
    };
  }
  if (!hooks.sleep) {
    hooks.sleep = [](Duration d) { std::this_thread::sleep_for(d); };
  }
  return hooks;
}

bool isAuthCode(std::string_view code) {
  return code == "AuthFailure" || code == "SignatureDoesNotMatch" ||
         code == "InvalidSignatureException";
}

Duration absDuration(Duration d) { return d < Duration::zero() ? -d : d; }

}  // namespace

// Classified as the retry policy does (aws/retry.h), so that "throttled" in the metrics means
// exactly the answers that were backed off as throttling.
std::string_view attemptOutcome(int http_status, std::string_view code) {
  if (http_status >= 200 && http_status < 300 && code.empty()) {
    return "ok";
  }
  switch (classifyAwsError(http_status, code)) {
    case RetryKind::Throttling:
      return "throttled";
    case RetryKind::ClockSkew:
      return "auth_error";
    case RetryKind::Transient:
    case RetryKind::Timeout:
      return "server_error";
    case RetryKind::NotRetryable:
      break;
  }
  if (http_status >= 500) {
    return "server_error";
  }
  return http_status == 401 || http_status == 403 || isAuthCode(code) ? "auth_error"
                                                                      : "client_error";
}

std::string scrubSecrets(std::string text, const Credentials& credentials) {
  for (const std::string& secret : {credentials.sessionToken(), credentials.secretAccessKey()}) {
    if (secret.size() < 8) {
      continue;  // too short to be a real secret; replacing it would mangle the text
    }
    for (const std::string& needle : {uriEncode(secret, false), secret}) {
      for (auto pos = text.find(needle); pos != std::string::npos;
           pos = text.find(needle, pos)) {
        text.replace(pos, needle.size(), "<redacted>");
        pos += 10;
      }
    }
  }
  return text;
}

QueryClient::QueryClient(http::HttpClient& http, CredentialsProvider& credentials,
                         const Clock& clock, QueryClientOptions options, RetryHooks hooks)
    : http_(http),
      credentials_(credentials),
      clock_(clock),
      options_(std::move(options)),
      hooks_(withDefaults(std::move(hooks))),
      quota_(options_.retry) {}

QueryResult QueryClient::call(QueryRequest request) {
  if (request.version.empty()) {
    request.version = options_.version;
  }
  const std::string what = options_.api_name + " " + request.action;
  const std::string body = encodeQueryBody(request);
  RetryState state(options_.retry);

  // One iteration per attempt. Credentials are asked for on every attempt, not once per
  // call: an instance-role refresh may happen while we back off, and a retried request must
  // be signed again anyway (new X-Amz-Date, possibly a new clock offset).
  while (true) {
    auto creds = credentials_.credentials();
    if (!creds) {
      return tl::unexpected(QueryFailure{creds.error().withContext(what), std::nullopt,
                                         state.attempts()});
    }
    http::Request http_req;
    http_req.method = "POST";
    http_req.url = options_.endpoint.url.toString();
    http_req.timeout = options_.timeout;
    http_req.connect_timeout = options_.connect_timeout;
    http_req.body = body;
    http_req.headers = {
        {"Host", options_.endpoint.url.hostHeader()},
        {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
        {"User-Agent", options_.user_agent},
    };
    SigV4Params params;
    params.region = options_.endpoint.signing_region;
    params.service = options_.endpoint.signing_name;
    params.time = clock_.wallNow() + std::chrono::duration_cast<WallTime::duration>(clockOffset());
    if (auto signed_ok = signHttpRequest(http_req, *creds, params); !signed_ok) {
      return tl::unexpected(QueryFailure{signed_ok.error().withContext(what), std::nullopt,
                                         state.attempts()});
    }

    // Transport errors (DNS, refused, timeout) and AWS error documents take different
    // classification paths but end in the same retry decision below.
    const MonoTime sent = clock_.now();
    auto response = http_.send(http_req);
    const Duration took = clock_.now() - sent;
    auto report = [&](std::string_view outcome) {
      if (options_.on_attempt) {
        options_.on_attempt({options_.api_name, request.action, outcome, took});
      }
    };
    RetryKind kind = RetryKind::NotRetryable;
    QueryFailure failure{Error(ErrorCode::Internal, ""), std::nullopt, state.attempts()};
    if (!response) {
      kind = classifyTransportError(response.error());
      report(kind == RetryKind::Timeout ? "timeout" : "network_error");
      failure.error = Error(response.error().code(),
                            what + " failed: " + scrubSecrets(response.error().message(), *creds));
    } else if (response->status >= 200 && response->status < 300 &&
               !isAwsErrorDocument(response->body)) {
      report("ok");
      state.onSuccess(quota_);
      return QueryResponse{response->status, std::move(response->body), state.attempts()};
    } else {
      AwsError aws = parseAwsError(response->status, response->body);
      aws.message = scrubSecrets(std::move(aws.message), *creds);
      // A 200 carrying an error document is that error (some proxies do this).
      report(attemptOutcome(aws.http_status == 200 && !aws.code.empty() ? 400 : aws.http_status,
                            aws.code));
      kind = classifyAwsError(aws.http_status, aws.code);
      // Clock skew: learn the server's time from its Date header and retry at once.
      if (kind == RetryKind::ClockSkew || isAuthCode(aws.code)) {
        std::optional<WallTime> server_time;
        if (auto date = response->header("Date")) {
          if (auto parsed = parseHttpDate(*date)) {
            server_time = *parsed;
          }
        }
        kind = RetryKind::NotRetryable;
        if (server_time) {
          Duration new_offset = *server_time - clock_.wallNow();
          bool skewed = absDuration(new_offset) > kSkewThreshold ||
                        (aws.code == "RequestTimeTooSkewed" || aws.code == "RequestExpired" ||
                         aws.code == "RequestInTheFuture");
          // Retry only when the correction changes what we sign.
          if (skewed && absDuration(new_offset - clockOffset()) > std::chrono::seconds(1)) {
            clock_offset_ns_.store(new_offset.count());
            kind = RetryKind::ClockSkew;
          }
        }
      }
      failure.error = toError(aws, options_.api_name, request.action);
      failure.aws = std::move(aws);
    }

    // The retry state decides (attempt budget, shared quota); the sleep happens here, on the
    // calling worker thread, never on the engine loop.
    auto delay = state.onFailure(kind, hooks_.random01(), quota_);
    if (!delay) {
      failure.attempts = state.attempts();
      if (state.attempts() > 1 || state.stopReason() == "retry quota empty") {
        failure.error = Error(failure.error.code(),
                              failure.error.message() + " [after " +
                                  std::to_string(state.attempts()) + " attempts; " +
                                  std::string(state.stopReason()) + "]");
      }
      return tl::unexpected(std::move(failure));
    }
    if (*delay > Duration::zero()) {
      hooks_.sleep(*delay);
    }
  }
}

Result<QueryResponse> QueryClient::callOrError(QueryRequest request) {
  auto r = call(std::move(request));
  if (!r) {
    return fail(std::move(r.error().error));
  }
  return std::move(*r);
}

}  // namespace pathpilot::aws
