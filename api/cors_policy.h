// Which web pages may call the API from a browser (docs/api.md, "Browsers and CORS"). Nothing
// but the daemon's own origin (its dashboard) by default; `--cors-origin` adds exact origins.
//
// Browsers send an Origin header with cross-origin requests, with POSTs and with WebSocket
// upgrades. A page from an origin that is neither the daemon's own nor allowed is refused
// outright (RequestGate): CORS alone would only hide the response from it, after a simple POST
// had already submitted or canceled something. Clients that are not browsers (curl, the CLI)
// send no Origin and are not concerned.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/http_types.h"
#include "core/host_port.h"  // AsciiLower
#include "core/status.h"

namespace batchd::api {

class CorsPolicy {
 public:
  // `allowed` must have passed CheckOrigin.
  explicit CorsPolicy(std::vector<std::string> allowed);

  // Whether `origin` is usable with --cors-origin: `http://HOST[:PORT]` or
  // `https://HOST[:PORT]`, with no path, query or trailing slash. kInvalidArgument saying why.
  static Status CheckOrigin(std::string_view origin);

  bool empty() const { return allowed_.empty(); }

  // Whether `origin` is in the allowlist (scheme and host compared without regard to case).
  bool IsAllowed(std::string_view origin) const;

  // Whether `origin` is the daemon's own as the client addressed it: its host and port equal
  // the Host header (a default port may be left out of either).
  static bool IsSameOrigin(std::string_view origin, std::string_view host_header);

  // Whether `request` is a CORS preflight (OPTIONS with Origin and
  // Access-Control-Request-Method).
  static bool IsPreflight(const HttpRequest& request);

  // The answer to a preflight from an allowed origin: 204 with the methods and headers the API
  // takes (Authorization, Content-Type).
  HttpResponse Preflight(const HttpRequest& request) const;

  // Adds Access-Control-Allow-Origin (and Vary, Expose-Headers) to a response for a request
  // from `origin`, if it is allowed and they are not there yet; nothing otherwise.
  void AddHeaders(std::string_view origin, HttpResponse& response) const;

 private:
  std::vector<std::string> allowed_;  // lower-cased
};

}  // namespace batchd::api
