#include "storage/pg/pg_counters.h"

#include "storage/pg/pg_arrays.h"

namespace batchd::storage::pg {
namespace {

// The new counters are b.n_x + d.dx: every SET expression sees the row as it was. The CASE is
// DeriveBatchState (core/batch_state.h).
constexpr char kApplySql[] = R"sql(
  UPDATE batch b SET
    claim_cursor = coalesce(d.cursor, b.claim_cursor),
    n_uninitialized = b.n_uninitialized + d.du, n_in_progress = b.n_in_progress + d.di,
    n_completed = b.n_completed + d.dc, n_error = b.n_error + d.de,
    n_canceled = b.n_canceled + d.dx,
    state = CASE
      WHEN b.state = 'enqueuing' THEN b.state
      WHEN b.n_uninitialized + d.du = 0 AND b.n_in_progress + d.di = 0 THEN
        CASE WHEN b.n_error + d.de > 0 THEN 'failed'
             WHEN b.n_canceled + d.dx > 0 THEN 'canceled' ELSE 'completed' END
      WHEN b.paused <> 0 THEN 'paused'
      WHEN b.n_in_progress + d.di + b.n_completed + d.dc + b.n_error + d.de
           + b.n_canceled + d.dx > 0 THEN 'running'
      ELSE 'queued' END,
    finished_at = CASE
      WHEN b.state = 'enqueuing' THEN b.finished_at
      WHEN b.n_uninitialized + d.du = 0 AND b.n_in_progress + d.di = 0
        THEN coalesce(b.finished_at, $8)
      ELSE NULL END
  FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[],
              $6::bigint[], $7::bigint[]) AS d(id, du, di, dc, de, dx, cursor)
  WHERE b.id = d.id)sql";

}  // namespace

PgBatchDelta& PgDeltas::For(int64_t batch_id) {
  for (PgBatchDelta& d : deltas_) {
    if (d.batch_id == batch_id) return d;
  }
  PgBatchDelta& d = deltas_.emplace_back();
  d.batch_id = batch_id;
  return d;
}

std::vector<int64_t> PgDeltas::BatchIds() const {
  std::vector<int64_t> ids;
  ids.reserve(deltas_.size());
  for (const PgBatchDelta& d : deltas_) ids.push_back(d.batch_id);
  return ids;
}

Status ApplyCounterDeltas(PgConnection& conn, const std::vector<PgBatchDelta>& deltas,
                          int64_t now_ms) {
  if (deltas.empty()) return Status::Ok();
  std::array<PgArray, kSessionStateCount> by_state;
  PgArray ids, cursors;
  for (const PgBatchDelta& d : deltas) {
    ids.Int(d.batch_id);
    for (int i = 0; i < kSessionStateCount; ++i) by_state[i].Int(d.delta[i]);
    if (d.claim_cursor) {
      cursors.Int(*d.claim_cursor);
    } else {
      cursors.Null();
    }
  }
  std::vector<PgParam> params;
  params.push_back(PgParam::Text(ids.Literal()));
  for (const PgArray& a : by_state) params.push_back(PgParam::Text(a.Literal()));
  params.push_back(PgParam::Text(cursors.Literal()));
  params.push_back(PgParam::Int(now_ms));
  return conn.Run(kApplySql, params);
}

}  // namespace batchd::storage::pg
