// The query behind the results export (GET /api/v1/batches/{id}/results, docs/api.md): a
// batch's sessions joined with their outcomes, one keyset page at a time.
#pragma once

#include "core/status.h"
#include "storage/records.h"
#include "storage/statement_cache.h"

namespace batchd::storage {

// The sessions of `query.batch_public_id` after `query.after_id`, in id order, each with its
// result and error if it has been dequeued. Bounded by the batch's session id range (no index on
// session.batch_id needed) and by query.limit and query.max_bytes; next_cursor is set while rows
// remain. kNotFound if the batch does not exist, kIoError on SQLite failures.
Result<Page<SessionResultRow>> QuerySessionResults(StatementCache& statements,
                                                   const SessionResultsQuery& query);

}  // namespace batchd::storage
