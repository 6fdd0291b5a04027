#include "storage/pg/pg_lifecycle.h"

namespace batchd::storage::pg {
namespace {
Status NotYet(const char* what) {
  return Status::Internal(std::string("PostgreSQL ") + what + ": not written yet");
}
}  // namespace

Result<BatchRecord> CancelBatch(PgConnection&, const std::string&, int64_t) {
  return NotYet("CancelBatch");
}
Result<BatchRecord> SetBatchPaused(PgConnection&, const std::string&, bool, int64_t) {
  return NotYet("SetBatchPaused");
}
Result<BatchRecord> RetryBatch(PgConnection&, const std::string&, int64_t) {
  return NotYet("RetryBatch");
}
Result<uint64_t> DeleteBatch(PgConnection&, const std::string&) { return NotYet("DeleteBatch"); }
Result<SessionRecord> CancelSession(PgConnection&, int64_t, int64_t) {
  return NotYet("CancelSession");
}
Result<SessionRecord> RetrySession(PgConnection&, int64_t, int64_t) {
  return NotYet("RetrySession");
}
Result<QueueStatus> SetQueuePaused(PgConnection&, bool) { return NotYet("SetQueuePaused"); }

}  // namespace batchd::storage::pg
