#include "storage/batch_counters.h"

#include <SQLiteCpp/Statement.h>

namespace batchd::storage {

void ApplyCounterDelta(SQLite::Database& db, int64_t batch_id, const CounterDelta& delta,
                       int64_t now_ms) {
  SQLite::Statement s(db,
                      "UPDATE batch SET n_uninitialized = n_uninitialized + ?, "
                      "n_in_progress = n_in_progress + ?, n_completed = n_completed + ?, "
                      "n_error = n_error + ?, n_canceled = n_canceled + ? WHERE id = ?");
  for (int i = 0; i < kSessionStateCount; ++i) s.bind(i + 1, delta[i]);
  s.bind(kSessionStateCount + 1, batch_id);
  s.exec();
  RefreshBatchState(db, batch_id, now_ms);
}

void RefreshBatchState(SQLite::Database& db, int64_t batch_id, int64_t now_ms) {
  // SET expressions all see the row as it was before this UPDATE.
  SQLite::Statement s(db, R"sql(
    UPDATE batch SET
      state = CASE
        WHEN n_uninitialized = 0 AND n_in_progress = 0 THEN
          CASE WHEN n_error > 0 THEN 'failed' WHEN n_canceled > 0 THEN 'canceled'
               ELSE 'completed' END
        WHEN paused THEN 'paused'
        WHEN n_in_progress + n_completed + n_error + n_canceled > 0 THEN 'running'
        ELSE 'queued' END,
      finished_at = CASE WHEN n_uninitialized = 0 AND n_in_progress = 0
                         THEN coalesce(finished_at, ?) ELSE NULL END
    WHERE id = ? AND state != 'enqueuing')sql");
  s.bind(1, now_ms);
  s.bind(2, batch_id);
  s.exec();
}

}  // namespace batchd::storage
