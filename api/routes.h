// The v1 REST routes (docs/api.md) wired to the store. Handlers validate on a worker pool and
// query through the store's own threads, so an HTTP thread only parses and writes bytes.
#pragma once

#include <cstdint>

#include "api/router.h"
#include "core/worker_pool.h"
#include "storage/store.h"

namespace batchd::api {

struct ApiOptions {
  uint64_t max_sessions_per_batch = 10'000'000;
};

// Adds every route to `router`. `store` and `cpu` must outlive every request the router
// dispatches (the daemon stops the HTTP server before closing them).
void RegisterRoutes(Router& router, storage::Store& store, WorkerPool& cpu,
                    const ApiOptions& options);

}  // namespace batchd::api
