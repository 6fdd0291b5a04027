#include "api/request_gate.h"

#include "api/credentials.h"
#include "api/error_response.h"

namespace batchd::api {
namespace {

constexpr const char* kChallenge = "Bearer realm=\"batchd\"";

// What anyone may fetch: the health check (for load balancers and probes) and the dashboard's
// own files, which hold no data. The data they show comes from the API, which needs a token.
bool IsOpen(const HttpRequest& request) {
  if (request.method != "GET") return false;
  return request.path == "/healthz" || request.path == "/" || request.path.starts_with("/ui/");
}

bool OnlyReads(const std::string& method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS";
}

HttpResponse Unauthorized(const std::string& message, const char* error) {
  HttpResponse r = ErrorResponse(401, "unauthorized", message);
  std::string challenge = kChallenge;
  if (error != nullptr) challenge += std::string(", error=\"") + error + "\"";
  r.headers.emplace_back("WWW-Authenticate", challenge);
  return r;
}

}  // namespace

RequestGate::RequestGate(std::vector<std::string> cors_origins,
                         std::shared_ptr<const TokenSet> tokens,
                         std::vector<std::string> allowed_hosts)
    : cors_(std::move(cors_origins)),
      hosts_(std::move(allowed_hosts)),
      tokens_(std::move(tokens)) {}

void RequestGate::ReplaceTokens(std::shared_ptr<const TokenSet> tokens) {
  MutexLock lock(mu_);
  tokens_ = std::move(tokens);
}

std::shared_ptr<const TokenSet> RequestGate::tokens() const {
  MutexLock lock(mu_);
  return tokens_;
}

bool RequestGate::requires_tokens() const { return tokens() != nullptr; }

std::optional<HttpResponse> RequestGate::Admit(const HttpRequest& request) const {
  const std::shared_ptr<const TokenSet> tokens = this->tokens();
  if (tokens == nullptr && !hosts_.IsAllowed(request.header("host"))) {
    // The Host is quoted without a byte that is not printable ASCII: it may be anything.
    std::string host;
    for (char c : request.header("host").substr(0, 255)) host += (c >= 0x20 && c < 0x7f) ? c : '?';
    return ErrorResponse(403, "host_not_allowed",
                         "this daemon has no tokens, so it answers only loopback names "
                         "(localhost, 127.0.0.1, [::1]) and --allowed-host names, not Host: " +
                             host);
  }
  const std::string& origin = request.header("origin");
  if (!origin.empty() && !cors_.IsAllowed(origin) &&
      !CorsPolicy::IsSameOrigin(origin, request.header("host"))) {
    return ErrorResponse(403, "origin_not_allowed",
                         "requests from web pages at " + origin +
                             " are not allowed (the daemon's --cors-origin list)");
  }
  if (CorsPolicy::IsPreflight(request)) return cors_.Preflight(request);

  if (tokens == nullptr || IsOpen(request)) return std::nullopt;

  const Credentials credentials = PresentedCredentials(request);
  switch (credentials.kind) {
    case Credentials::Kind::kNone:
      return Unauthorized("this daemon needs a bearer token (Authorization: Bearer TOKEN)",
                          nullptr);
    case Credentials::Kind::kUnsupported:
      return Unauthorized("credentials must be a bearer token (Authorization: Bearer TOKEN)",
                          "invalid_request");
    case Credentials::Kind::kBearer:
      break;
  }
  const std::optional<Role> role = tokens->Find(credentials.token);
  if (!role) return Unauthorized("the bearer token is not valid", "invalid_token");
  if (*role == Role::kRead && !OnlyReads(request.method)) {
    HttpResponse r = ErrorResponse(403, "forbidden",
                                   "a read token cannot " + request.method + " " + request.path +
                                       "; this needs an admin token");
    r.headers.emplace_back("WWW-Authenticate",
                           std::string(kChallenge) + ", error=\"insufficient_scope\"");
    return r;
  }
  return std::nullopt;
}

void RequestGate::AddCorsHeaders(std::string_view origin, HttpResponse& response) const {
  cors_.AddHeaders(origin, response);
}

}  // namespace batchd::api
