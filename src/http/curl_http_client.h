// http/curl_http_client.h — the real HttpClient, on libcurl's easy interface.
//
// Purpose: outbound HTTP(S) for the AWS query APIs and IMDS. One instance owns one curl easy
// handle, so consecutive requests to the same host reuse the TCP/TLS connection
// (keep-alive); give each worker thread its own instance (a worker pool of N clients gives
// N parallel connections). TLS peer and host verification are always on (system CA store,
// or `ca_file`). Redirects are not followed (AWS APIs never redirect; a redirect means a
// proxy or a wrong endpoint and is returned as the response). Names under the RFC 6761
// ".invalid" TLD fail at once without a DNS query.
// Threading: send() is serialised by an internal mutex; concurrent callers on one instance
// wait for each other.
// Metrics: none here (callers count per API).
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

#include "http/http_client.h"

namespace pathpilot::http {

// The options of a CurlHttpClient are those of any client (http/http_client.h).
using CurlOptions = ClientOptions;

// The factory of real clients (one CurlHttpClient per call).
HttpClientFactory curlClients();

class CurlHttpClient final : public HttpClient {
 public:
  explicit CurlHttpClient(CurlOptions options = {});
  ~CurlHttpClient() override;
  CurlHttpClient(const CurlHttpClient&) = delete;
  CurlHttpClient& operator=(const CurlHttpClient&) = delete;

  // http::HttpClient
  // Transport errors: Timeout (connect or total limit), Unavailable (DNS, refused, reset,
  // TLS), InvalidArgument (bad URL or method), Internal (response too large).
  Result<Response> send(const Request& request) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::mutex mu_;
};

}  // namespace pathpilot::http
