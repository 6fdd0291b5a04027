// Maps (method, path) to a Handler. Patterns are literal segments and `{name}` placeholders,
// e.g. "/api/v1/batches/{id}/sessions"; a placeholder matches one non-empty segment and is
// passed to the handler in HttpRequest::path_params. Every request is counted by route and
// status, with its latency (http_metrics.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "api/http_metrics.h"
#include "api/http_types.h"

namespace batchd::api {

class Router {
 public:
  void Add(std::string method, const std::string& pattern, Handler handler);

  // Runs the matching handler. No route for the path: 404 not_found. A route for the path but
  // not the method: 405 method_not_allowed with an Allow header.
  void Dispatch(HttpRequest& request, Responder respond) const;

  // "METHOD pattern" of every route, in the order they were added (for docs and tests).
  std::vector<std::string> Routes() const;

  // What Dispatch has counted so far. Safe to read while requests are dispatched.
  const HttpMetrics& metrics() const { return *metrics_; }

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
    RouteMetrics* metrics;  // owned by metrics_
  };
  std::vector<Route> routes_;
  // Counted from the const Dispatch: counting is not a change of the routing table.
  std::unique_ptr<HttpMetrics> metrics_ = std::make_unique<HttpMetrics>();
};

// Splits "/a/b/c" into {"a", "b", "c"}; empty segments are kept so "/a//b" matches nothing.
std::vector<std::string> SplitPath(const std::string& path);

}  // namespace batchd::api
