#include "http/curl_http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>

#include "base/check.h"
#include "http/url.h"

namespace pathpilot::http {

namespace {

// curl_global_init is not thread-safe; do it once before the first handle.
void globalInit() {
  static std::once_flag once;
  std::call_once(once, [] { PP_CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK); });
}

struct Collect {
  Response* response = nullptr;
  std::size_t limit = 0;
  bool too_large = false;
};

std::size_t onBody(char* data, std::size_t size, std::size_t count, void* user) {
  auto* c = static_cast<Collect*>(user);
  std::size_t n = size * count;
  if (c->response->body.size() + n > c->limit) {
    c->too_large = true;
    return 0;  // makes curl fail with CURLE_WRITE_ERROR
  }
  c->response->body.append(data, n);
  return n;
}

std::size_t onHeader(char* data, std::size_t size, std::size_t count, void* user) {
  auto* c = static_cast<Collect*>(user);
  std::size_t n = size * count;
  std::string_view line(data, n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
    line.remove_suffix(1);
  }
  if (line.substr(0, 5) == "HTTP/") {
    // A new response (after 100 Continue or an informational answer): start over.
    c->response->headers.clear();
    return n;
  }
  std::size_t colon = line.find(':');
  if (colon != std::string_view::npos && colon > 0) {
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    c->response->headers.push_back({std::string(line.substr(0, colon)), std::string(value)});
  }
  return n;
}

ErrorCode classify(CURLcode rc) {
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      return ErrorCode::Timeout;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return ErrorCode::InvalidArgument;
    case CURLE_OUT_OF_MEMORY:
      return ErrorCode::Internal;
    default:
      // DNS, refused, reset, TLS handshake or verification, proxy: the peer is not
      // usable right now.
      return ErrorCode::Unavailable;
  }
}

long toMillis(Duration d) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  return static_cast<long>(std::max<std::int64_t>(ms, 1));
}

bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

struct CurlHttpClient::Impl {
  CURL* easy = nullptr;
  CurlOptions options;
};

CurlHttpClient::CurlHttpClient(CurlOptions options) : impl_(std::make_unique<Impl>()) {
  globalInit();
  impl_->easy = curl_easy_init();
  PP_CHECK_MSG(impl_->easy != nullptr, "curl_easy_init failed");
  impl_->options = std::move(options);
}

CurlHttpClient::~CurlHttpClient() {
  if (impl_ && impl_->easy != nullptr) {
    curl_easy_cleanup(impl_->easy);
  }
}

Result<Response> CurlHttpClient::send(const Request& request) {
  const std::string what = request.method + " " + redactUrl(request.url);
  auto url = parseUrl(request.url);
  if (!url) {
    return fail(url.error().withContext(what));
  }
  // RFC 6761 §6.4: ".invalid" never resolves; answer at once, without asking DNS.
  if (endsWith(url->host, ".invalid") || url->host == "invalid") {
    return fail(ErrorCode::Unavailable,
                what + " failed: cannot resolve host '" + url->host + "' (reserved .invalid name)");
  }
  if (request.method.empty() ||
      request.method.find_first_of(" \r\n\t") != std::string::npos) {
    return fail(ErrorCode::InvalidArgument, what + ": invalid HTTP method");
  }

  // One easy handle per instance: requests on it are sequential by nature, and keeping the
  // handle (rather than making one per request) is what keeps the connection alive.
  std::lock_guard lock(mu_);
  CURL* h = impl_->easy;
  // Reset options but keep the connection cache, so the next request reuses the socket.
  curl_easy_reset(h);

  Response response;
  Collect collect{&response, impl_->options.max_response_bytes, false};
  char errbuf[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
  // No SIGALRM-based DNS timeouts: signals and threads do not mix (worker pools).
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  if (request.bypass_proxy) {
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  }
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!impl_->options.ca_file.empty()) {
    curl_easy_setopt(h, CURLOPT_CAINFO, impl_->options.ca_file.c_str());
  }
  if (!impl_->options.cert_file.empty()) {
    curl_easy_setopt(h, CURLOPT_SSLCERT, impl_->options.cert_file.c_str());
    curl_easy_setopt(h, CURLOPT_SSLKEY, impl_->options.key_file.c_str());
  }
  Duration total = request.timeout;
  Duration connect = std::min(request.connect_timeout, request.timeout);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, toMillis(total));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, toMillis(connect));
  curl_easy_setopt(h, CURLOPT_MAXAGE_CONN,
                   static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(
                                         impl_->options.max_idle)
                                         .count()));
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &onBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &collect);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &onHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &collect);

  if (request.method == "GET") {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else {
    if (request.method != "POST") {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  }

  struct curl_slist* headers = nullptr;
  bool has_user_agent = false;
  bool has_content_type = false;
  for (const Header& hdr : request.headers) {
    if (hdr.name.find_first_of(":\r\n") != std::string::npos ||
        hdr.value.find_first_of("\r\n") != std::string::npos) {
      curl_slist_free_all(headers);
      return fail(ErrorCode::InvalidArgument,
                  what + ": header '" + hdr.name + "' contains a line break or colon");
    }
    has_user_agent = has_user_agent || equalsIgnoreCase(hdr.name, "user-agent");
    has_content_type = has_content_type || equalsIgnoreCase(hdr.name, "content-type");
    std::string line = hdr.value.empty() ? hdr.name + ";" : hdr.name + ": " + hdr.value;
    headers = curl_slist_append(headers, line.c_str());
  }
  // No "Expect: 100-continue" round trip for bodies over 1 KiB; AWS answers at once.
  headers = curl_slist_append(headers, "Expect:");
  if (!has_content_type && request.method != "GET" && request.method != "HEAD") {
    // curl would otherwise add application/x-www-form-urlencoded; be explicit per caller.
    headers = curl_slist_append(headers, "Content-Type:");
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  if (!has_user_agent) {
    curl_easy_setopt(h, CURLOPT_USERAGENT, impl_->options.user_agent.c_str());
  }

  CURLcode rc = curl_easy_perform(h);
  curl_slist_free_all(headers);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);

  if (rc != CURLE_OK) {
    if (collect.too_large) {
      return fail(ErrorCode::Internal,
                  what + " failed: response larger than " +
                      std::to_string(impl_->options.max_response_bytes) + " bytes");
    }
    std::string detail = errbuf[0] != '\0' ? std::string(errbuf) : curl_easy_strerror(rc);
    while (!detail.empty() && (detail.back() == '\n' || detail.back() == ' ')) {
      detail.pop_back();
    }
    return fail(classify(rc), what + " failed: " + detail);
  }
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  return response;
}

HttpClientFactory curlClients() {
  return [](const ClientOptions& options) -> std::unique_ptr<HttpClient> {
    return std::make_unique<CurlHttpClient>(options);
  };
}

}  // namespace pathpilot::http
