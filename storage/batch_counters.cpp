#include "storage/batch_counters.h"

#include <SQLiteCpp/Statement.h>

namespace batchd::storage {
namespace {

// One UPDATE moves the counters and re-derives the state, so a transition rewrites the batch
// row once. Every SET expression sees the row as it was before the UPDATE, so the new counter
// values are spelled out as `n_x + ?`. Parameters: ?1..?5 the deltas (SessionState order),
// ?6 now, ?7 the batch id, ?8 the new claim cursor or NULL to keep it. The state rule is
// DeriveBatchState (core/batch_state.h), which every connection has as the SQL function
// batch_state, with IsFinished as batch_finished (sqlite_connection.h).
constexpr char kApplyDeltaSql[] = R"sql(
  UPDATE batch SET
    claim_cursor = coalesce(?8, claim_cursor),
    n_uninitialized = n_uninitialized + ?1, n_in_progress = n_in_progress + ?2,
    n_completed = n_completed + ?3, n_error = n_error + ?4, n_canceled = n_canceled + ?5,
    state = CASE WHEN state = 'enqueuing' THEN state
      ELSE batch_state(n_uninitialized + ?1, n_in_progress + ?2, n_completed + ?3,
                       n_error + ?4, n_canceled + ?5, paused) END,
    finished_at = CASE
      WHEN state = 'enqueuing' THEN finished_at
      WHEN batch_finished(batch_state(n_uninitialized + ?1, n_in_progress + ?2, n_completed + ?3,
                                      n_error + ?4, n_canceled + ?5, paused))
        THEN coalesce(finished_at, ?6)
      ELSE NULL END
  WHERE id = ?7)sql";

void BindAndRun(SQLite::Statement& s, int64_t batch_id, const CounterDelta& delta, int64_t now_ms,
                std::optional<int64_t> claim_cursor) {
  for (int i = 0; i < kSessionStateCount; ++i) s.bind(i + 1, delta[i]);
  s.bind(kSessionStateCount + 1, now_ms);
  s.bind(kSessionStateCount + 2, batch_id);
  if (claim_cursor) {
    s.bind(kSessionStateCount + 3, *claim_cursor);
  } else {
    s.bind(kSessionStateCount + 3);  // NULL
  }
  s.exec();
}

}  // namespace

void ApplyCounterDelta(SQLite::Database& db, int64_t batch_id, const CounterDelta& delta,
                       int64_t now_ms) {
  SQLite::Statement s(db, kApplyDeltaSql);
  BindAndRun(s, batch_id, delta, now_ms, std::nullopt);
}

void ApplyCounterDelta(StatementCache& statements, int64_t batch_id, const CounterDelta& delta,
                       int64_t now_ms, std::optional<int64_t> claim_cursor) {
  BindAndRun(*statements.Use(kApplyDeltaSql), batch_id, delta, now_ms, claim_cursor);
}

void RefreshBatchState(SQLite::Database& db, int64_t batch_id, int64_t now_ms) {
  ApplyCounterDelta(db, batch_id, CounterDelta{}, now_ms);
}

}  // namespace batchd::storage
