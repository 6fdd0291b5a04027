#include "storage/pg/pg_scheduling.h"

namespace batchd::storage::pg {

Result<std::unique_ptr<PgScheduling>> PgScheduling::Start(PgSchedulingOptions) {
  return Status::Internal("PostgreSQL scheduling: not written yet");
}

}  // namespace batchd::storage::pg
