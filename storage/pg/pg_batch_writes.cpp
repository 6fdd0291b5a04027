#include "storage/pg/pg_batch_writes.h"

namespace batchd::storage::pg {

Result<BatchCreated> InsertBatch(PgConnection&, const NewBatch&, const PgInsertOptions&, int64_t) {
  return Status::Internal("PostgreSQL InsertBatch: not written yet");
}

Result<int64_t> RemoveBatchesInsertedBy(PgConnection&, int64_t) {
  return Status::Internal("PostgreSQL RemoveBatchesInsertedBy: not written yet");
}

}  // namespace batchd::storage::pg
