#include "api/router.h"

#include "api/query_params.h"

#include "api/error_response.h"

#include <chrono>

namespace batchd::api {

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> out;
  size_t start = path.starts_with("/") ? 1 : 0;
  while (start <= path.size()) {
    const size_t slash = path.find('/', start);
    const size_t end = slash == std::string::npos ? path.size() : slash;
    out.push_back(path.substr(start, end - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return out;
}

void Router::Add(std::string method, const std::string& pattern, Handler handler) {
  RouteMetrics* metrics = metrics_->AddRoute(method, pattern);
  routes_.push_back({std::move(method), pattern, SplitPath(pattern), std::move(handler), metrics});
}

namespace {

bool Matches(const std::vector<std::string>& pattern, const std::vector<std::string>& path,
             std::map<std::string, std::string>* params) {
  if (pattern.size() != path.size()) return false;
  std::map<std::string, std::string> found;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const std::string& p = pattern[i];
    if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
      if (path[i].empty()) return false;
      found[p.substr(1, p.size() - 2)] = path[i];
    } else if (p != path[i]) {
      return false;
    }
  }
  *params = std::move(found);
  return true;
}

// Wraps `respond` so that the answer is counted for `route` when it is given.
Responder Counted(HttpMetrics& metrics, RouteMetrics& route, Responder respond) {
  metrics.RequestStarted();
  return [&metrics, &route, start = std::chrono::steady_clock::now(),
          respond = std::move(respond)](HttpResponse response) {
    route.Record(response.status, std::chrono::steady_clock::now() - start);
    metrics.RequestEnded();
    respond(std::move(response));
  };
}

}  // namespace

void Router::Dispatch(HttpRequest& request, Responder respond) const {
  if (Status repeated = RefuseRepeatedQuery(request); !repeated.ok()) {
    Counted(*metrics_, metrics_->unmatched(), std::move(respond))(ErrorResponse(repeated));
    return;
  }
  const std::vector<std::string> segments = SplitPath(request.path);
  std::string allowed;
  for (const Route& route : routes_) {
    std::map<std::string, std::string> params;
    if (!Matches(route.segments, segments, &params)) continue;
    if (route.method == request.method) {
      request.path_params = std::move(params);
      route.handler(request, Counted(*metrics_, *route.metrics, std::move(respond)));
      return;
    }
    allowed += (allowed.empty() ? "" : ", ") + route.method;
  }
  Responder answer = Counted(*metrics_, metrics_->unmatched(), std::move(respond));
  if (allowed.empty()) {
    answer(ErrorResponse(404, "not_found", "no route for " + request.path));
    return;
  }
  HttpResponse r = ErrorResponse(
      405, "method_not_allowed",
      request.method + " is not allowed on " + request.path + "; allowed: " + allowed);
  r.headers.emplace_back("Allow", allowed);
  answer(std::move(r));
}

std::vector<std::string> Router::Routes() const {
  std::vector<std::string> out;
  for (const Route& r : routes_) out.push_back(r.method + " " + r.pattern);
  return out;
}

}  // namespace batchd::api
