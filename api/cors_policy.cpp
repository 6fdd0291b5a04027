#include "api/cors_policy.h"

#include <algorithm>

namespace batchd::api {
namespace {

// Browsers cache a preflight's answer this long (seconds).
constexpr const char* kPreflightMaxAge = "600";

// "host:port" of a lower-cased origin, without the scheme's default port; "" if `origin` has
// no http(s) scheme.
std::string Authority(std::string_view origin) {
  std::string_view default_port;
  if (origin.starts_with("http://")) {
    origin.remove_prefix(7);
    default_port = ":80";
  } else if (origin.starts_with("https://")) {
    origin.remove_prefix(8);
    default_port = ":443";
  } else {
    return {};
  }
  if (origin.ends_with(default_port)) origin.remove_suffix(default_port.size());
  return std::string(origin);
}

}  // namespace

CorsPolicy::CorsPolicy(std::vector<std::string> allowed) {
  for (const std::string& origin : allowed) allowed_.push_back(AsciiLower(origin));
}

Status CorsPolicy::CheckOrigin(std::string_view origin) {
  const std::string lower = AsciiLower(origin);
  std::string_view rest = lower;
  if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
  } else {
    return Status::InvalidArgument(
        "a CORS origin starts with http:// or https://, got '" + std::string(origin) + "'",
        "--cors-origin");
  }
  const bool has_host = !rest.empty() && rest.front() != ':';
  const bool only_authority = rest.find_first_of("/?#@ ") == std::string_view::npos;
  if (!has_host || !only_authority) {
    return Status::InvalidArgument(
        "a CORS origin is scheme://host[:port] with nothing after it (as a browser sends it in "
        "its Origin header), got '" +
            std::string(origin) + "'",
        "--cors-origin");
  }
  return Status::Ok();
}

bool CorsPolicy::IsAllowed(std::string_view origin) const {
  const std::string lower = AsciiLower(origin);
  return std::find(allowed_.begin(), allowed_.end(), lower) != allowed_.end();
}

bool CorsPolicy::IsSameOrigin(std::string_view origin, std::string_view host_header) {
  const std::string lower_origin = AsciiLower(origin);
  const std::string authority = Authority(lower_origin);
  if (authority.empty() || host_header.empty()) return false;
  std::string host = AsciiLower(host_header);
  const std::string_view default_port = lower_origin.starts_with("https://") ? ":443" : ":80";
  if (std::string_view(host).ends_with(default_port))
    host.resize(host.size() - default_port.size());
  return host == authority;
}

bool CorsPolicy::IsPreflight(const HttpRequest& request) {
  return request.method == "OPTIONS" && !request.header("origin").empty() &&
         !request.header("access-control-request-method").empty();
}

HttpResponse CorsPolicy::Preflight(const HttpRequest& request) const {
  HttpResponse r;
  r.status = 204;
  r.content_type.clear();
  AddHeaders(request.header("origin"), r);
  r.headers.emplace_back("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
  r.headers.emplace_back("Access-Control-Allow-Headers", "Authorization, Content-Type");
  r.headers.emplace_back("Access-Control-Max-Age", kPreflightMaxAge);
  return r;
}

void CorsPolicy::AddHeaders(std::string_view origin, HttpResponse& response) const {
  if (origin.empty() || !IsAllowed(origin)) return;
  // Idempotent: a preflight's answer already has them, and every answer passes here again.
  for (const auto& [name, value] : response.headers) {
    if (name == "Access-Control-Allow-Origin") return;
  }
  response.headers.emplace_back("Access-Control-Allow-Origin", std::string(origin));
  // Caches must not hand this answer to another origin.
  response.headers.emplace_back("Vary", "Origin");
  response.headers.emplace_back(
      "Access-Control-Expose-Headers",
      "Location, WWW-Authenticate, Batchd-Log-Offset, Batchd-Log-Next-Offset, Batchd-Log-Size, "
      "Batchd-Log-Finished, Batchd-Log-Complete, Batchd-Log-Restarted");
}

}  // namespace batchd::api
