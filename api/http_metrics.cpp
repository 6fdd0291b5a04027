#include "api/http_metrics.h"

#include <algorithm>

namespace batchd::api {

size_t RouteMetrics::Index(int status) {
  return static_cast<size_t>(std::clamp(status, kMinStatus, kMaxStatus) - kMinStatus);
}

void RouteMetrics::Record(int status, std::chrono::nanoseconds latency) {
  by_status_[Index(status)].fetch_add(1, std::memory_order_relaxed);
  latency_.Observe(latency);
}

uint64_t RouteMetrics::Count(int status) const {
  return by_status_[Index(status)].load(std::memory_order_relaxed);
}

HttpMetrics::HttpMetrics() : unmatched_(std::make_unique<RouteMetrics>("unmatched")) {}

RouteMetrics* HttpMetrics::AddRoute(const std::string& method, const std::string& pattern) {
  routes_.push_back(std::make_unique<RouteMetrics>(method + " " + pattern));
  return routes_.back().get();
}

void HttpMetrics::Write(PrometheusText& out) const {
  std::vector<const RouteMetrics*> all;
  for (const auto& r : routes_) all.push_back(r.get());
  all.push_back(unmatched_.get());

  out.Family("batchd_http_requests_total", MetricType::kCounter,
             "HTTP requests answered, by route (method and pattern, or \"unmatched\") and status "
             "code.");
  std::vector<LatencyHistogram::Snapshot> latencies;
  latencies.reserve(all.size());
  for (const RouteMetrics* r : all) {
    for (size_t i = 0; i < r->by_status_.size(); ++i) {
      const uint64_t n = r->by_status_[i].load(std::memory_order_relaxed);
      if (n == 0) continue;
      const std::string code = std::to_string(static_cast<int>(i) + RouteMetrics::kMinStatus);
      out.Sample({{"route", r->label()}, {"code", code}}, static_cast<int64_t>(n));
    }
    latencies.push_back(r->latency_.Read());
  }
  out.Family("batchd_http_request_duration_seconds", MetricType::kHistogram,
             "Time from dispatching an HTTP request to its response being ready, by route.");
  for (size_t i = 0; i < all.size(); ++i) {
    if (latencies[i].count > 0) out.Histogram({{"route", all[i]->label()}}, latencies[i]);
  }
  out.Family("batchd_http_requests_in_flight", MetricType::kGauge,
             "HTTP requests dispatched and not yet answered.");
  out.Sample(in_flight_.load(std::memory_order_relaxed));
}

}  // namespace batchd::api
