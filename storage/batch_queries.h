// The read queries behind the API, run on a reader connection. Each returns kNotFound for a
// missing batch/session and kIoError for SQLite failures; none throws.
#pragma once

#include <string_view>

#include <SQLiteCpp/Database.h>

#include "core/status.h"
#include "storage/records.h"

namespace batchd::storage {

Result<Page<BatchRecord>> QueryBatches(SQLite::Database& db, const BatchListQuery& query);

Result<BatchRecord> QueryBatch(SQLite::Database& db, std::string_view public_id);

// Uses the batch's session id range, so it needs no index on session.batch_id.
Result<Page<SessionRecord>> QuerySessions(SQLite::Database& db, const SessionListQuery& query);

// Sessions of a batch still `enqueuing` are reported missing.
Result<SessionDetail> QuerySession(SQLite::Database& db, int64_t session_id);

// The session_state row of a session, decompressed; nullopt if it was never dequeued.
Result<std::optional<ExecutionRecord>> LoadExecution(SQLite::Database& db, int64_t session_id);

Result<std::string> QueryBatchSpec(SQLite::Database& db, int64_t batch_id);

Result<QueueStatus> QueryQueueStatus(SQLite::Database& db);

}  // namespace batchd::storage
