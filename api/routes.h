// The v1 REST routes (docs/api.md) wired to the store and the scheduler. Handlers validate on a
// worker pool and query through the store's own threads, so an HTTP thread only parses and
// writes bytes.
#pragma once

#include <cstdint>

#include "api/event_hub.h"
#include "api/page_budget.h"
#include "api/router.h"
#include "api/scheduler_control.h"
#include "api/session_log_source.h"
#include "core/clock.h"
#include "core/worker_pool.h"
#include "pipeline/ops/op_registry.h"
#include "storage/store.h"

namespace batchd::api {

struct ApiOptions {
  uint64_t max_sessions_per_batch = 10'000'000;
  // What the items of one list page may take (page_budget.h): the page ends early, with its
  // cursor, before the item that would pass it.
  size_t max_page_bytes = kDefaultMaxPageBytes;
};

// Everything the handlers use. All of it must outlive every request the router dispatches (the
// daemon stops the HTTP server before stopping any of these).
struct ApiContext {
  storage::Store& store;
  WorkerPool& cpu;  // parsing and validating submitted batches
  SchedulerControl& scheduler;
  const pipeline::OpRegistry& ops;
  ApiOptions options;
  EventHub* events = nullptr;    // for /healthz figures; the stream itself is served by Server
  WallClock clock = UnixMillis;  // the time a retry is asked at (core/clock.h)
  // Session logs (GET /api/v1/sessions/{id}/log, and removed with their batch); null: the log
  // route answers 404 no_log.
  SessionLogSource* logs = nullptr;
};

// A log answer's size when `max_bytes` is not given, and the most it may ask for.
inline constexpr uint64_t kDefaultLogBytes = 64 << 10;
inline constexpr uint64_t kMaxLogBytes = 1 << 20;

// Adds every route to `router`: batches and sessions (routes.cpp), lifecycle and queue
// (lifecycle_routes.cpp).
void RegisterRoutes(Router& router, const ApiContext& context);

// The lifecycle and queue routes alone.
void RegisterLifecycleRoutes(Router& router, const ApiContext& context);

// GET /api/v1/events without an upgrade: a page of the stored event log (event_routes.cpp).
void RegisterEventRoutes(Router& router, const ApiContext& context);

// GET /api/v1/nodes (node_routes.cpp).
void RegisterNodeRoutes(Router& router, const ApiContext& context);

// GET /api/v1/sessions/{id}/log (log_route.cpp).
void RegisterLogRoute(Router& router, const ApiContext& context);

// GET /metrics in Prometheus text (metrics_route.cpp; docs/metrics.md). Reports the requests
// `router` counts, so `router` must be the one the route is added to.
void RegisterMetricsRoute(Router& router, const ApiContext& context);

}  // namespace batchd::api
