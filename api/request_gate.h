// The one place that decides whether a request may reach the router or the event stream
// (docs/api.md, "Authentication" and "Browsers and CORS"). HttpSession asks it about every
// request before dispatching or upgrading, so a route added later is covered without a word.
//
// In order:
// 0. Without tokens, a request whose Host is not a loopback name or an --allowed-host:
//    403 host_not_allowed (host_allowlist.h: DNS rebinding).
// 1. A request whose Origin is neither the daemon's own nor allowed: 403 origin_not_allowed.
// 2. A CORS preflight (from an allowed origin): 204, answered here (browsers send no
//    credentials with a preflight).
// 3. Without tokens (no --token-file), or for the open paths (GET /healthz, and the dashboard's
//    files at / and /ui/, which hold no data), the request goes ahead.
// 4. No valid bearer token (credentials.h): 401 unauthorized with WWW-Authenticate: Bearer.
// 5. A read token on anything but GET/HEAD/OPTIONS: 403 forbidden. Otherwise it goes ahead.
//
// Threads: Admit and AddCorsHeaders may be called from any thread at any time, also while
// ReplaceTokens swaps the tokens (a SIGHUP reload): each request sees the old or the new set.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/cors_policy.h"
#include "api/host_allowlist.h"
#include "api/http_types.h"
#include "api/token_set.h"
#include "core/mutex.h"

namespace batchd::api {

class RequestGate {
 public:
  // `tokens` null: no authentication, and then only loopback Host values or `allowed_hosts`.
  // `cors_origins` must have passed CorsPolicy::CheckOrigin.
  RequestGate(std::vector<std::string> cors_origins, std::shared_ptr<const TokenSet> tokens,
              std::vector<std::string> allowed_hosts = {});

  // Installs a new token set (a reload). Requests already admitted are not affected.
  void ReplaceTokens(std::shared_ptr<const TokenSet> tokens);

  bool requires_tokens() const;

  // nullopt: the request may go ahead. Otherwise the complete answer to send instead (a
  // preflight's 204, or a 401/403 error with the JSON body).
  std::optional<HttpResponse> Admit(const HttpRequest& request) const;

  // The CORS headers a response to a request from `origin` carries (none unless allowed).
  void AddCorsHeaders(std::string_view origin, HttpResponse& response) const;

 private:
  std::shared_ptr<const TokenSet> tokens() const;

  const CorsPolicy cors_;
  const HostAllowlist hosts_;
  mutable Mutex mu_;
  std::shared_ptr<const TokenSet> tokens_ GUARDED_BY(mu_);
};

}  // namespace batchd::api
