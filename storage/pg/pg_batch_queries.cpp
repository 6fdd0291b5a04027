#include "storage/pg/pg_batch_queries.h"

namespace batchd::storage::pg {
namespace {
Status NotYet(const char* what) {
  return Status::Internal(std::string("PostgreSQL ") + what + ": not written yet");
}
}  // namespace

Result<Page<BatchRecord>> QueryBatches(PgConnection&, const BatchListQuery&) {
  return NotYet("QueryBatches");
}
Result<BatchRecord> QueryBatch(PgConnection&, const std::string&) { return NotYet("QueryBatch"); }
Result<Page<SessionRecord>> QuerySessions(PgConnection&, const SessionListQuery&) {
  return NotYet("QuerySessions");
}
Result<Page<SessionResultRow>> QuerySessionResults(PgConnection&, const SessionResultsQuery&) {
  return NotYet("QuerySessionResults");
}
Result<SessionDetail> QuerySession(PgConnection&, int64_t) { return NotYet("QuerySession"); }
Result<std::string> QueryBatchSpec(PgConnection&, int64_t) { return NotYet("QueryBatchSpec"); }
Result<QueueStatus> QueryQueueStatus(PgConnection&) { return NotYet("QueryQueueStatus"); }

}  // namespace batchd::storage::pg
