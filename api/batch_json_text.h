// The batch resource written straight to text, for the API's hottest reads (GET
// /api/v1/batches/{id} and the list): byte for byte what BatchJson(b).dump() writes (keys in
// nlohmann's sorted order, its escaping), without building a DOM of a dozen keys first, which
// cost as much as the SQLite read behind it. json_views.h stays the definition; a test checks
// that the two agree.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "storage/records.h"

namespace batchd::api {

// Appends BatchJson(batch).dump() to `out`.
void AppendBatchJsonText(std::string& out, const storage::BatchRecord& batch);

// {"items": [batch, ...], "next_cursor": "..." | null}, as the list route answers it: the
// page's batches while they fit in `max_page_bytes` (page_budget.h; at least one), and the
// cursor after the last one shown.
std::string BatchPageJsonText(const storage::Page<storage::BatchRecord>& page,
                              size_t max_page_bytes = SIZE_MAX);

}  // namespace batchd::api
