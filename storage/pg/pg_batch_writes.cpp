#include "storage/pg/pg_batch_writes.h"
#include "storage/batch_identity.h"

#include <algorithm>
#include <chrono>
#include <random>

#include <spdlog/spdlog.h>

#include "storage/json_blob.h"
#include "storage/pg/pg_batch_rows.h"
#include "storage/pg/pg_session_copy.h"

namespace batchd::storage::pg {
namespace {

constexpr char kCopySessions[] = "COPY session (id, batch_id, ordinal) FROM STDIN";

// The batch row in its own transaction: the id range reserved from meta (whose row lock also
// serializes the limit check: two inserts cannot both take the last place), the limit checked,
// the row written as enqueuing by this node.
struct InsertedBatchRow {
  int64_t id = 0;
  int64_t first_session_id = 0;
};

Result<InsertedBatchRow> InsertBatchRow(PgConnection& conn, const NewBatch& batch,
                                        const std::string& public_id,
                                        const PgInsertOptions& options, int64_t now_ms) {
  PgTransaction txn(conn);
  RETURN_IF_ERROR(txn.begun());
  const int64_t n = static_cast<int64_t>(batch.session_count);
  ASSIGN_OR_RETURN(PgResult reserved,
                   conn.Exec("UPDATE meta SET value = value + $1 WHERE key = 'next_session_id' "
                             "RETURNING value - $1",
                             {PgParam::Int(n)}));
  if (reserved.rows() != 1) return Status::Internal("meta.next_session_id is missing");
  InsertedBatchRow row{.first_session_id = reserved.Int(0, 0)};
  if (options.max_active_batches > 0) {
    // Read after taking the meta row's lock, so every earlier insert's batch row is visible.
    ASSIGN_OR_RETURN(PgResult active,
                     conn.Exec("SELECT count(*) FROM batch "
                               "WHERE state IN ('enqueuing', 'queued', 'running', 'paused')"));
    const int64_t count = active.Int(0, 0);
    if (count >= static_cast<int64_t>(options.max_active_batches)) {
      return Status::LimitExceeded("there are already " + std::to_string(count) +
                                   " unfinished batches, the daemon's limit (" +
                                   std::to_string(options.max_active_batches) +
                                   "); submit again once some have finished");
    }
  }
  ASSIGN_OR_RETURN(
      PgResult inserted,
      conn.Exec("INSERT INTO batch (public_id, name, priority, runs, max_running, max_attempts, "
                "spec, shape, session_count, first_session_id, state, created_at, inserted_by) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'enqueuing', $11, $12) "
                "RETURNING id",
                {PgParam::Text(public_id), PgParam::Text(batch.name), PgParam::Int(batch.priority),
                 PgParam::Int(batch.runs), PgParam::Optional(batch.max_running),
                 PgParam::Int(batch.max_attempts), PgParam::Bytes(CompressJson(batch.spec_json)),
                 PgParam::Text(JoinShape(batch.group_lengths)), PgParam::Int(n),
                 PgParam::Int(row.first_session_id), PgParam::Int(now_ms),
                 PgParam::Int(options.node_id)}));
  row.id = inserted.Int(0, 0);
  RETURN_IF_ERROR(txn.Commit());
  return row;
}

// The sessions in slices of COPY, each its own transaction; the last one also makes the batch
// queued (its counters set, inserted_by cleared; the trigger writes batch.enqueued).
Status InsertSessions(PgConnection& conn, const NewBatch& batch, const InsertedBatchRow& row,
                      uint64_t slice_rows) {
  std::string rows;  // reused: grows to one slice's text once
  uint64_t inserted = 0;
  do {
    const uint64_t n = std::min(slice_rows, batch.session_count - inserted);
    const bool last = inserted + n == batch.session_count;
    PgTransaction txn(conn);
    RETURN_IF_ERROR(txn.begun());
    if (n > 0) {
      BuildSessionCopyRows(rows, row.first_session_id, row.id, inserted, n);
      ASSIGN_OR_RETURN(int64_t copied, conn.CopyIn(kCopySessions, rows));
      if (copied != static_cast<int64_t>(n)) {
        return Status::Internal("COPY stored " + std::to_string(copied) + " of " +
                                std::to_string(n) + " sessions");
      }
    }
    if (last) {
      ASSIGN_OR_RETURN(PgResult queued,
                       conn.Exec("UPDATE batch SET state = 'queued', n_uninitialized = "
                                 "session_count, inserted_by = NULL "
                                 "WHERE id = $1 AND state = 'enqueuing'",
                                 {PgParam::Int(row.id)}));
      if (queued.affected() != 1) {
        // Removed meanwhile: this node was thought dead and a survivor cleaned up after it.
        return Status::Unavailable("the batch being inserted was removed by another node");
      }
    }
    RETURN_IF_ERROR(txn.Commit());
    inserted += n;
  } while (inserted < batch.session_count);
  return Status::Ok();
}

// Removes what a failed insert committed: the batch row (if still enqueuing) and every session
// of its reserved id range (no other batch has ids there).
Status RemoveHalfInserted(PgConnection& conn, const InsertedBatchRow& row, uint64_t sessions) {
  PgTransaction txn(conn);
  RETURN_IF_ERROR(txn.begun());
  RETURN_IF_ERROR(
      conn.Run("DELETE FROM batch WHERE id = $1 AND state = 'enqueuing'", {PgParam::Int(row.id)}));
  RETURN_IF_ERROR(conn.Run("DELETE FROM session WHERE id >= $1 AND id < $2",
                           {PgParam::Int(row.first_session_id),
                            PgParam::Int(row.first_session_id + static_cast<int64_t>(sessions))}));
  return txn.Commit();
}

}  // namespace

Result<BatchCreated> InsertBatch(PgConnection& conn, const NewBatch& batch,
                                 const PgInsertOptions& options, int64_t now_ms) {
  const auto started = std::chrono::steady_clock::now();
  const std::string public_id = NewPublicId();
  ASSIGN_OR_RETURN(InsertedBatchRow row, InsertBatchRow(conn, batch, public_id, options, now_ms));
  if (Status s = InsertSessions(conn, batch, row, std::max<uint64_t>(options.slice_rows, 1));
      !s.ok()) {
    if (Status removed = RemoveHalfInserted(conn, row, batch.session_count); !removed.ok()) {
      // The batch stays enqueuing with inserted_by = this node: removed when the node is
      // found dead (RemoveBatchesInsertedBy), or by the next try of the operator.
      spdlog::warn("could not remove half-inserted batch {}: {}", public_id, removed.ToString());
    }
    return s;
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  return BatchCreated{row.id, public_id, batch.session_count, ms};
}

Result<int64_t> RemoveBatchesInsertedBy(PgConnection& conn, int64_t node_id) {
  // Both deletes in one statement; the batch delete trigger writes no event for enqueuing rows.
  ASSIGN_OR_RETURN(
      PgResult r,
      conn.Exec("WITH gone AS (DELETE FROM batch WHERE state = 'enqueuing' AND inserted_by = $1 "
                "RETURNING first_session_id, session_count), "
                "sessions AS (DELETE FROM session s USING gone "
                "WHERE s.id >= gone.first_session_id "
                "AND s.id < gone.first_session_id + gone.session_count RETURNING 1) "
                "SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM sessions)",
                {PgParam::Int(node_id)}));
  return r.Int(0, 0);
}

}  // namespace batchd::storage::pg
