// Requests that change a batch or a session (docs/scheduler.md), each in one transaction, with
// the same answers and errors as the SQLite store (storage/lifecycle.h). A request that must
// stop sessions running on some node (cancel) also sends NOTIFY batchd_stop in its transaction
// (payload "session:<id>" or "batch:<public id>"), which every node's event hub hands to its
// scheduler. Session requests write their session.state event in the same transaction.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "storage/pg/pg_connection.h"
#include "storage/records.h"

namespace batchd::storage::pg {

Result<BatchRecord> CancelBatch(PgConnection& conn, const std::string& public_id, int64_t now_ms);
Result<BatchRecord> SetBatchPaused(PgConnection& conn, const std::string& public_id, bool paused,
                                   int64_t now_ms);
Result<BatchRecord> RetryBatch(PgConnection& conn, const std::string& public_id, int64_t now_ms);
Result<uint64_t> DeleteBatch(PgConnection& conn, const std::string& public_id);
Result<SessionRecord> CancelSession(PgConnection& conn, int64_t session_id, int64_t now_ms);
Result<SessionRecord> RetrySession(PgConnection& conn, int64_t session_id, int64_t now_ms);
Result<QueueStatus> SetQueuePaused(PgConnection& conn, bool paused);

}  // namespace batchd::storage::pg
