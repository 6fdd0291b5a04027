#include "storage/recovery.h"

#include "storage/batch_counters.h"

#include <array>
#include <vector>

#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

namespace batchd::storage {

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

Result<int64_t> RequeueInterruptedSessions(SQLite::Database& db, int64_t now_ms) {
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
    SQLite::Statement requeue(db,
                              "UPDATE session SET state = 0, not_before = ? "
                              "WHERE id >= ? AND id < ? AND state = 1");
    int64_t total = 0;
    for (const auto& [id, first, count] : batches) {
      requeue.bind(1, now_ms);
      requeue.bind(2, first);
      requeue.bind(3, first + count);
      const int64_t n = requeue.exec();
      requeue.reset();
      CounterDelta delta{};
      Move(delta, SessionState::kInProgress, SessionState::kUninitialized, n);
      ApplyCounterDelta(db, id, delta, now_ms);
      total += n;
    }
    txn.commit();
    return total;
  } catch (const SQLite::Exception& e) {
    return Status::IoError(std::string("requeueing interrupted sessions: ") + e.what());
  }
}

}  // namespace batchd::storage
