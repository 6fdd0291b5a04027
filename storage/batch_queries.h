// The read queries behind the API, run on a reader connection. Each returns kNotFound for a
// missing batch/session and kIoError for SQLite failures; none throws.
#pragma once

#include <string_view>

#include <SQLiteCpp/Database.h>

#include "core/status.h"
#include "storage/records.h"
#include "storage/statement_cache.h"

namespace batchd::storage {

// The API's frequent reads come in two forms: with a connection's StatementCache (the reader
// pool: prepared once per connection) and with a bare connection (prepared for one use).
Result<Page<BatchRecord>> QueryBatches(StatementCache& statements, const BatchListQuery& query);
Result<Page<BatchRecord>> QueryBatches(SQLite::Database& db, const BatchListQuery& query);

Result<BatchRecord> QueryBatch(StatementCache& statements, std::string_view public_id);
Result<BatchRecord> QueryBatch(SQLite::Database& db, std::string_view public_id);

// Uses the batch's session id range, so it needs no index on session.batch_id.
Result<Page<SessionRecord>> QuerySessions(SQLite::Database& db, const SessionListQuery& query);

// Sessions of a batch still `enqueuing` are reported missing.
Result<SessionDetail> QuerySession(SQLite::Database& db, int64_t session_id);

// The session_state row of a session, decompressed; nullopt if it was never dequeued.
Result<std::optional<ExecutionRecord>> LoadExecution(SQLite::Database& db, int64_t session_id);

Result<std::string> QueryBatchSpec(SQLite::Database& db, int64_t batch_id);

Result<QueueStatus> QueryQueueStatus(StatementCache& statements);
Result<QueueStatus> QueryQueueStatus(SQLite::Database& db);

}  // namespace batchd::storage
