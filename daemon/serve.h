// `batchd serve`: wires storage, the API and the HTTP server together, runs until SIGINT or
// SIGTERM, and shuts down in the order that answers every request in flight.
#pragma once

#include "daemon/serve_config.h"

namespace batchd::daemon {

// Returns the process exit code: 0 after a clean stop, 1 if start-up failed (the reason is
// logged). Must be called with SIGINT and SIGTERM blocked in every thread (see main.cpp).
int RunServe(const ServeConfig& config);

}  // namespace batchd::daemon
