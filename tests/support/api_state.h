// Everything the read API shows about a daemon's batches and sessions, gathered into one JSON
// document, so a test can prove that a restart (or a crash) changed none of it.
#pragma once

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "tests/support/http_client.h"

namespace batchd::testing {

// {"batches": [batch list, all pages],
//  "batch_details": {"<batch id>": GET /api/v1/batches/{id}},
//  "sessions": {"<batch id>": [short sessions, all pages]},
//  "session_details": {"<session id>": GET /api/v1/sessions/{id}}}
// Small page sizes are used on purpose, so cursors are exercised too.
Result<nlohmann::json> CaptureApiState(HttpClient& client);

}  // namespace batchd::testing
