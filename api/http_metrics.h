// HTTP requests counted by the Router (docs/metrics.md): per route and status, their latency,
// and how many are being handled. A route is its method and pattern ("GET
// /api/v1/batches/{id}"), never the raw path, so the number of series is fixed by the routes,
// whatever clients ask for; requests no route matches (404, 405) share one "unmatched" route.
//
// Recording is lock-free (relaxed atomics) and safe from any thread; routes are added only
// while the router is being built, before any request.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/latency_histogram.h"
#include "core/prometheus_text.h"

namespace batchd::api {

class RouteMetrics {
 public:
  explicit RouteMetrics(std::string label) : label_(std::move(label)) {}

  // One answered request: its status and the time from dispatch to the response.
  void Record(int status, std::chrono::nanoseconds latency);

  const std::string& label() const { return label_; }
  // Requests answered with `status` (statuses outside 100..599 are counted at the nearer end).
  uint64_t Count(int status) const;

 private:
  friend class HttpMetrics;
  static constexpr int kMinStatus = 100;
  static constexpr int kMaxStatus = 599;
  static size_t Index(int status);

  const std::string label_;
  std::array<std::atomic<uint64_t>, kMaxStatus - kMinStatus + 1> by_status_{};
  LatencyHistogram latency_;
};

class HttpMetrics {
 public:
  HttpMetrics();

  // A new route's metrics, labelled "METHOD pattern". The pointer stays valid as long as this.
  RouteMetrics* AddRoute(const std::string& method, const std::string& pattern);
  RouteMetrics& unmatched() { return *unmatched_; }

  void RequestStarted() { in_flight_.fetch_add(1, std::memory_order_relaxed); }
  void RequestEnded() { in_flight_.fetch_sub(1, std::memory_order_relaxed); }

  // The families batchd_http_requests_total, batchd_http_request_duration_seconds and
  // batchd_http_requests_in_flight. Routes appear once they have answered a request.
  void Write(PrometheusText& out) const;

 private:
  std::vector<std::unique_ptr<RouteMetrics>> routes_;  // in the order they were added
  std::unique_ptr<RouteMetrics> unmatched_;
  std::atomic<int64_t> in_flight_{0};
};

}  // namespace batchd::api
