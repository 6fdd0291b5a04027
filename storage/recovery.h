// What opening a database repairs after a crash, before any thread starts.
#pragma once

#include <SQLiteCpp/Database.h>

#include "core/status.h"

namespace batchd::storage {

struct RecoveryReport {
  int64_t half_inserted_batches_removed = 0;
  int64_t sessions_removed = 0;
  int64_t sessions_requeued = 0;
};

// Deletes every batch still `enqueuing` (its insert was cut off by a crash: the client never
// got its 201) together with the sessions already written in its id range. One transaction.
Result<RecoveryReport> RemoveHalfInsertedBatches(SQLite::Database& db);

// Puts every session a crash left in_progress back in the queue (uninitialized, due at once)
// with its session_state row kept, so it resumes instead of being lost or canceled. Only
// batches whose counters say they have sessions in progress are scanned. One transaction.
Result<int64_t> RequeueInterruptedSessions(SQLite::Database& db, int64_t now_ms);

}  // namespace batchd::storage
