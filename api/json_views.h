// How storage records look on the wire (docs/api.md). Fields may be added, never renamed.
#pragma once

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "storage/records.h"

namespace batchd::api {

nlohmann::json BatchJson(const storage::BatchRecord& batch);

// The short form used in session lists.
nlohmann::json SessionSummaryJson(const storage::SessionRecord& session);

// The full form: adds run, index and values, derived from the ordinal and the batch spec, and
// once the session has been dequeued its execution state, progress, result and last error.
// kInternal if the stored spec does not parse (it was validated before it was stored).
Result<nlohmann::json> SessionDetailJson(const storage::SessionDetail& detail);

// "2026-11-22T08:00:00.123Z"
std::string FormatUtcMillis(int64_t unix_ms);

}  // namespace batchd::api
