// Storing a batch with COPY, sliced like the SQLite path (storage/batch_insert_job.h), and
// removing what a dead node left half-inserted. Each function runs its own transactions on
// `conn`.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "storage/pg/pg_connection.h"
#include "storage/records.h"

namespace batchd::storage::pg {

struct PgInsertOptions {
  uint64_t slice_rows = 65536;      // session rows per COPY transaction
  uint64_t max_active_batches = 0;  // 0: no limit
  int64_t node_id = 0;              // recorded in batch.inserted_by while enqueuing
};

// The batch row (state enqueuing, inserted_by = node) and its id range in one transaction,
// then the sessions in slices of COPY, then the batch becomes queued (its batch.enqueued event
// comes from the trigger). kLimitExceeded (writing nothing) at max_active_batches. On a failure
// after the first slice, what was written is removed before answering (best effort: a node that
// dies instead leaves it to the rescue, RemoveBatchesInsertedBy).
Result<BatchCreated> InsertBatch(PgConnection& conn, const NewBatch& batch,
                                 const PgInsertOptions& options, int64_t now_ms);

// Deletes the batches still enqueuing that `node_id` was inserting, with their sessions, inside
// the caller's transaction. Answers how many batches.
Result<int64_t> RemoveBatchesInsertedBy(PgConnection& conn, int64_t node_id);

}  // namespace batchd::storage::pg
