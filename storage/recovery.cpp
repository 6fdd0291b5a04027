#include "storage/recovery.h"

#include "storage/batch_counters.h"

#include <array>
#include <vector>

#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

namespace batchd::storage {

Status CheckIntegrity(SQLite::Database& db, const std::string& db_name) {
  constexpr int kProblemsQuoted = 5;
  try {
    SQLite::Statement check(db, "PRAGMA quick_check(" + std::to_string(kProblemsQuoted) + ")");
    std::string problems;
    while (check.executeStep()) {
      const std::string line = check.getColumn(0).getString();
      if (line == "ok") return Status::Ok();
      problems += (problems.empty() ? "" : "; ") + line;
    }
    return Status::Corrupt(db_name +
                           " failed its integrity check (PRAGMA quick_check): " + problems);
  } catch (const SQLite::Exception& e) {
    return Status::Corrupt(db_name +
                           " failed its integrity check (PRAGMA quick_check): " + e.what());
  }
}

Result<RecoveryReport> RemoveHalfInsertedBatches(SQLite::Database& db) {
  try {
    RecoveryReport report;
    SQLite::Transaction txn(db);
    SQLite::Statement find(db,
                           "SELECT id, first_session_id, session_count FROM batch "
                           "WHERE state = 'enqueuing'");
    SQLite::Statement drop_sessions(db, "DELETE FROM session WHERE id >= ? AND id < ?");
    SQLite::Statement drop_batch(db, "DELETE FROM batch WHERE id = ?");
    std::vector<std::array<int64_t, 3>> doomed;
    while (find.executeStep()) {
      doomed.push_back({find.getColumn(0).getInt64(), find.getColumn(1).getInt64(),
                        find.getColumn(2).getInt64()});
    }
    for (const auto& [id, first, count] : doomed) {
      drop_sessions.bind(1, first);
      drop_sessions.bind(2, first + count);
      report.sessions_removed += drop_sessions.exec();
      drop_sessions.reset();
      drop_batch.bind(1, id);
      drop_batch.exec();
      drop_batch.reset();
      ++report.half_inserted_batches_removed;
    }
    txn.commit();
    return report;
  } catch (const SQLite::Exception& e) {
    return Status::IoError(std::string("removing half-inserted batches: ") + e.what());
  }
}

Result<InterruptedSessions> RequeueInterruptedSessions(SQLite::Database& db, int64_t now_ms,
                                                       const CrashPolicy& policy) {
  try {
    SQLite::Transaction txn(db);
    SQLite::Statement find(db,
                           "SELECT id, first_session_id, session_count FROM batch "
                           "WHERE n_in_progress > 0");
    std::vector<std::array<int64_t, 3>> batches;
    while (find.executeStep()) {
      batches.push_back({find.getColumn(0).getInt64(), find.getColumn(1).getInt64(),
                         find.getColumn(2).getInt64()});
    }
    SQLite::Statement count_crash(db,
                                  "UPDATE session SET fatal_crashes = fatal_crashes + 1 "
                                  "WHERE id >= ? AND id < ? AND state = 1");
    // The error goes where outcomes go; the row may not exist yet (a session can crash the
    // daemon before its execution state is committed).
    SQLite::Statement record_quarantine(
        db,
        "INSERT INTO session_state (session_id, error_kind, error_message, finished_at) "
        "SELECT id, 'permanent', 'crashed the daemon ' || fatal_crashes || ' times (it was in "
        "progress at each of its last crashes); not requeued again', ? FROM session "
        "WHERE id >= ? AND id < ? AND state = 1 AND fatal_crashes >= ? "
        "ON CONFLICT (session_id) DO UPDATE SET error_kind = excluded.error_kind, "
        "error_message = excluded.error_message, finished_at = excluded.finished_at");
    SQLite::Statement quarantine(db,
                                 "UPDATE session SET state = 3 "
                                 "WHERE id >= ? AND id < ? AND state = 1 AND fatal_crashes >= ?");
    SQLite::Statement requeue(db,
                              "UPDATE session SET state = 0, not_before = ? "
                              "WHERE id >= ? AND id < ? AND state = 1");
    InterruptedSessions total;
    for (const auto& [id, first, count] : batches) {
      int64_t quarantined = 0;
      if (policy.previous_run_crashed) {
        count_crash.bind(1, first);
        count_crash.bind(2, first + count);
        count_crash.exec();
        count_crash.reset();
        record_quarantine.bind(1, now_ms);
        record_quarantine.bind(2, first);
        record_quarantine.bind(3, first + count);
        record_quarantine.bind(4, policy.quarantine_after);
        record_quarantine.exec();
        record_quarantine.reset();
        quarantine.bind(1, first);
        quarantine.bind(2, first + count);
        quarantine.bind(3, policy.quarantine_after);
        quarantined = quarantine.exec();
        quarantine.reset();
      }
      requeue.bind(1, now_ms);
      requeue.bind(2, first);
      requeue.bind(3, first + count);
      const int64_t requeued = requeue.exec();
      requeue.reset();
      CounterDelta delta{};
      Move(delta, SessionState::kInProgress, SessionState::kError, quarantined);
      Move(delta, SessionState::kInProgress, SessionState::kUninitialized, requeued);
      ApplyCounterDelta(db, id, delta, now_ms);
      total.requeued += requeued;
      total.quarantined += quarantined;
    }
    txn.commit();
    return total;
  } catch (const SQLite::Exception& e) {
    return Status::IoError(std::string("requeueing interrupted sessions: ") + e.what());
  }
}

}  // namespace batchd::storage
