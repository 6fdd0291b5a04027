#include "storage/pg/pg_rescue.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "storage/pg/pg_arrays.h"
#include "storage/pg/pg_batch_writes.h"
#include "storage/pg/pg_counters.h"
#include "storage/pg/pg_events.h"
#include "storage/pg/pg_migrations.h"

namespace batchd::storage::pg {
namespace {

Status Rescue(PgConnection& conn, int64_t node_id, std::optional<int64_t> rescuer,
              const std::string& final_state, int64_t now_ms, PgSessionEvents& events,
              PgRescue& out) {
  RETURN_IF_ERROR(conn.Run("SELECT pg_advisory_xact_lock($1)", {PgParam::Int(kRescueLockKey)}));
  ASSIGN_OR_RETURN(PgResult marked,
                   conn.Exec("UPDATE node SET state = $2, ended_at = $3, rescued_by = $4 "
                             "WHERE id = $1 AND state = 'alive' RETURNING id",
                             {PgParam::Int(node_id), PgParam::Text(final_state),
                              PgParam::Int(now_ms), PgParam::Optional(rescuer)}));
  if (marked.rows() == 0) return Status::Ok();
  out.marked = true;
  ASSIGN_OR_RETURN(
      PgResult moved,
      conn.Exec("UPDATE session s SET state = 0, node_id = NULL, not_before = $2 FROM batch b "
                "WHERE s.node_id = $1 AND s.state = 1 AND b.id = s.batch_id "
                "RETURNING s.id, s.batch_id, s.attempts, b.public_id, b.session_count",
                {PgParam::Int(node_id), PgParam::Int(now_ms)}));
  PgDeltas deltas;
  PgSessionEventBatch batch_events;
  for (int i = 0; i < moved.rows(); ++i) {
    const int64_t id = moved.Int(i, 0);
    const int64_t batch_id = moved.Int(i, 1);
    out.sessions.push_back(id);
    MoveCount(deltas.For(batch_id).delta, SessionState::kInProgress, SessionState::kUninitialized);
    const auto sessions = static_cast<uint64_t>(moved.Int(i, 4));
    if (events.EveryTransition(sessions)) {
      batch_events.Add(events, batch_id, std::string(moved.Text(i, 3)), sessions, id,
                       SessionState::kInProgress, SessionState::kUninitialized, moved.Int(i, 2),
                       nullptr, now_ms);
    }
  }
  std::vector<PgBatchDelta> ordered = deltas.all();
  std::sort(ordered.begin(), ordered.end(),
            [](const PgBatchDelta& x, const PgBatchDelta& y) { return x.batch_id < y.batch_id; });
  if (!ordered.empty()) {
    PgArray batch_ids;
    for (const PgBatchDelta& d : ordered) batch_ids.Int(d.batch_id);
    RETURN_IF_ERROR(
        conn.Run("SELECT id FROM batch WHERE id = ANY($1::bigint[]) ORDER BY id "
                 "FOR UPDATE",
                 {PgParam::Text(batch_ids.Literal())}));
    RETURN_IF_ERROR(ApplyCounterDeltas(conn, ordered, now_ms));
  }
  out.changed_batches = deltas.BatchIds();
  RETURN_IF_ERROR(conn.Run("UPDATE node SET rescued = $2 WHERE id = $1",
                           {PgParam::Int(node_id), PgParam::Int(moved.rows())}));

  RETURN_IF_ERROR(conn.Run("SAVEPOINT remove_half_inserted"));
  Result<int64_t> removed = RemoveBatchesInsertedBy(conn, node_id);
  if (removed.ok()) {
    RETURN_IF_ERROR(conn.Run("RELEASE SAVEPOINT remove_half_inserted"));
  } else {
    spdlog::warn("rescue of node {}: its half-inserted batches are not removed: {}", node_id,
                 removed.status().ToString());
    RETURN_IF_ERROR(conn.Run("ROLLBACK TO SAVEPOINT remove_half_inserted"));
  }

  if (!batch_events.events.empty()) RETURN_IF_ERROR(AppendEvents(conn, batch_events.events));
  out.suppressed = std::move(batch_events.suppressed);
  // No stop notification for the requeued sessions: they are claimable at once, and a
  // "session:<id>" stop arriving after another node claimed one would cancel it there. The
  // node that lost them (if it is only cut off) finds its row dead at its next heartbeat and
  // stops them itself (pg_nodes.h); until then its outcomes for them find them gone.
  return Status::Ok();
}

}  // namespace

Result<PgRescue> RescueNode(PgConnection& conn, int64_t node_id, std::optional<int64_t> rescuer,
                            const std::string& final_state, int64_t now_ms,
                            PgSessionEvents& events) {
  PgTransaction txn(conn);
  RETURN_IF_ERROR(txn.begun());
  PgRescue out;
  RETURN_IF_ERROR(Rescue(conn, node_id, rescuer, final_state, now_ms, events, out));
  RETURN_IF_ERROR(txn.Commit());
  return out;
}

}  // namespace batchd::storage::pg
