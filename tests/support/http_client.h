// A minimal blocking HTTP/1.1 client for black-box tests: one connection per request
// ("Connection: close"), bounded by a timeout, against 127.0.0.1:port. It is deliberately
// independent of Beast so the tests do not share the daemon's HTTP code (and its bugs).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace batchd::testing {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased; repeated names joined by ", "
  std::string body;                            // de-chunked

  // The body parsed as JSON, or a `discarded` value when it is not JSON (check is_discarded()).
  nlohmann::json Json() const;
  // "HTTP 404: {...}" for assertion messages.
  std::string Describe() const;
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

class HttpClient {
 public:
  explicit HttpClient(uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(30))
      : port_(port), timeout_(timeout) {}

  Result<HttpResponse> Get(std::string_view target) { return Request("GET", target, "", {}); }
  Result<HttpResponse> Post(std::string_view target, std::string_view body,
                            std::string_view content_type = "application/json");

  // Sends `method target` with `body` (a Content-Length is always sent when the body is not
  // empty or the method is POST/PUT) plus `headers`. Fails with kUnavailable when nothing
  // listens on the port, kIoError on timeouts and resets, kMalformed on an unparsable response.
  Result<HttpResponse> Request(std::string_view method, std::string_view target,
                               std::string_view body, const HttpHeaders& headers);

  uint16_t port() const { return port_; }

 private:
  uint16_t port_;
  std::chrono::milliseconds timeout_;
};

// Percent-encodes everything but RFC 3986 unreserved characters, for query values such as
// opaque cursors.
std::string UrlEncode(std::string_view value);

}  // namespace batchd::testing
