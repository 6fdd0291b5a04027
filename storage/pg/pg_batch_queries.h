// The read side of the PostgreSQL store: the same answers as storage/batch_queries.h and
// storage/session_results.h give from SQLite. Each reads one snapshot (a REPEATABLE READ
// transaction where it reads more than one statement) and writes nothing. BatchRecord's
// event_seq is the highest sequenced event seq in that snapshot.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "storage/pg/pg_connection.h"
#include "storage/records.h"

namespace batchd::storage::pg {

Result<Page<BatchRecord>> QueryBatches(PgConnection& conn, const BatchListQuery& query);
Result<BatchRecord> QueryBatch(PgConnection& conn, const std::string& public_id);  // kNotFound
Result<Page<SessionRecord>> QuerySessions(PgConnection& conn, const SessionListQuery& query);
Result<Page<SessionResultRow>> QuerySessionResults(PgConnection& conn,
                                                   const SessionResultsQuery& query);
Result<SessionDetail> QuerySession(PgConnection& conn, int64_t session_id);  // kNotFound
Result<std::string> QueryBatchSpec(PgConnection& conn, int64_t batch_id);    // decompressed
Result<QueueStatus> QueryQueueStatus(PgConnection& conn);

}  // namespace batchd::storage::pg
