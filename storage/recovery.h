// What opening a database repairs after a crash, before any thread starts.
#pragma once

#include <string>

#include <SQLiteCpp/Database.h>

#include "core/status.h"
#include "storage/crash_policy.h"

namespace batchd::storage {

struct RecoveryReport {
  int64_t half_inserted_batches_removed = 0;
  int64_t sessions_removed = 0;
};

// PRAGMA quick_check: Ok, or kCorrupt quoting the first problems SQLite found. A database with
// damaged pages otherwise serves wrong answers without an error (a batch listing fewer sessions
// than it has) and fails claims at run time; refusing to start says so at once.
Status CheckIntegrity(SQLite::Database& db, const std::string& db_name);

// Deletes every batch still `enqueuing` (its insert was cut off by a crash: the client never
// got its 201) together with the sessions already written in its id range. One transaction.
Result<RecoveryReport> RemoveHalfInsertedBatches(SQLite::Database& db);

struct InterruptedSessions {
  int64_t requeued = 0;
  int64_t quarantined = 0;  // ended in error: they crashed the daemon quarantine_after times
};

// Puts every session a crash left in_progress back in the queue (uninitialized, due at once)
// with its session_state row kept, so it resumes instead of being lost or canceled; after a
// crash of the daemon's own (policy.previous_run_crashed), a session that was in progress at
// policy.quarantine_after such crashes ends in a permanent error "crashed the daemon N times"
// instead (the poison-pill quarantine). Only batches whose counters say they have sessions in
// progress are scanned. One transaction.
Result<InterruptedSessions> RequeueInterruptedSessions(SQLite::Database& db, int64_t now_ms,
                                                       const CrashPolicy& policy = {});

}  // namespace batchd::storage
