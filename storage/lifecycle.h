// The lifecycle mutations behind Store's cancel/pause/retry/delete calls, each run inside one
// writer transaction (see Store for their contracts).
#pragma once

#include <SQLiteCpp/Database.h>

#include "core/status.h"
#include "storage/records.h"

namespace batchd::storage {

Result<BatchRecord> CancelBatchTxn(SQLite::Database& db, const std::string& public_id,
                                   int64_t now_ms);
Result<BatchRecord> SetBatchPausedTxn(SQLite::Database& db, const std::string& public_id,
                                      bool paused, int64_t now_ms);
Result<BatchRecord> RetryBatchTxn(SQLite::Database& db, const std::string& public_id,
                                  int64_t now_ms);
Result<uint64_t> DeleteBatchTxn(SQLite::Database& db, const std::string& public_id);
Result<SessionRecord> CancelSessionTxn(SQLite::Database& db, int64_t session_id, int64_t now_ms);
Result<SessionRecord> RetrySessionTxn(SQLite::Database& db, int64_t session_id, int64_t now_ms);
Result<QueueStatus> SetQueuePausedTxn(SQLite::Database& db, bool paused);

}  // namespace batchd::storage
