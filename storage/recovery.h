// What opening a database repairs after a crash, before any thread starts.
#pragma once

#include <SQLiteCpp/Database.h>

#include "core/status.h"

namespace batchd::storage {

struct RecoveryReport {
  int64_t half_inserted_batches_removed = 0;
  int64_t sessions_removed = 0;
};

// Deletes every batch still `enqueuing` (its insert was cut off by a crash: the client never
// got its 201) together with the sessions already written in its id range. One transaction.
Result<RecoveryReport> RemoveHalfInsertedBatches(SQLite::Database& db);

}  // namespace batchd::storage
