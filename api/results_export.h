// The results export (GET /api/v1/batches/{id}/results, docs/api.md "Results"): every session of
// a batch with its index, values, state, result and error, as JSON lines or CSV, read from the
// store one keyset page at a time and written out page by page (HttpResponse::stream), so its
// memory is that of one page whatever the batch's size.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>

#include "api/http_types.h"
#include "core/batch_expansion.h"
#include "core/batch_spec.h"
#include "core/status.h"
#include "storage/records.h"
#include "storage/store.h"

namespace batchd::api {

enum class ResultsFormat { kJsonl, kCsv };

// ?format= of the request: "jsonl" (also the default when absent) or "csv". kMalformed at
// "?format" for anything else.
Result<ResultsFormat> ParseResultsFormat(const HttpRequest& request);

// The CSV header, in column order (docs/api.md). JSON-valued columns (index, values, result) hold
// JSON text; a missing result or error is an empty cell.
inline constexpr std::array<std::string_view, 10> kResultsCsvColumns = {
    "session_id", "ordinal",  "run",    "index",      "values",
    "state",      "attempts", "result", "error_kind", "error_message"};

// What one export renders its rows with: the batch's spec and shape, parsed once.
struct ResultsLayout {
  BatchSpec spec;
  BatchShape shape;
  ResultsFormat format = ResultsFormat::kJsonl;
};

// Appends `row` to `out`: one JSON object and "\n" (JSON lines), or one CSV record.
void AppendResultRow(std::string& out, const ResultsLayout& layout,
                     const storage::SessionResultRow& row);

// The header line of the format ("" for JSON lines).
std::string ResultsHeader(ResultsFormat format);

struct ResultsPaging {
  int rows = 1000;                // sessions per page read from the store
  size_t result_bytes = 4 << 20;  // and the results' text a page may hold (at least one row)
};

// The body of one export: the header, then each page of `batch_public_id`'s sessions rendered,
// until the last. A page that fails (the batch was deleted meanwhile) cuts the body off.
std::shared_ptr<BodyStream> MakeResultsStream(storage::Store& store, std::string batch_public_id,
                                              ResultsLayout layout, ResultsPaging paging = {});

}  // namespace batchd::api
