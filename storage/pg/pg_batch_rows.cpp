#include "storage/pg/pg_batch_rows.h"
#include "storage/batch_identity.h"

#include <charconv>

namespace batchd::storage::pg {
namespace {

int64_t& CountOf(SessionCounts& counts, SessionState state) {
  switch (state) {
    case SessionState::kUninitialized:
      return counts.uninitialized;
    case SessionState::kInProgress:
      return counts.in_progress;
    case SessionState::kCompleted:
      return counts.completed;
    case SessionState::kError:
      return counts.error;
    case SessionState::kCanceled:
      return counts.canceled;
  }
  return counts.error;
}

Result<LockedBatch> LockWhere(PgConnection& conn, const char* where, PgParam key,
                              const std::string& what) {
  ASSIGN_OR_RETURN(PgResult r,
                   conn.Exec(std::string("SELECT ") + kPgBatchColumns +
                                 ", b.paused FROM batch b WHERE " + where + " FOR UPDATE OF b",
                             {std::move(key)}));
  if (r.rows() == 0) return Status::NotFound("no batch with id " + what);
  return LockedBatch{ReadBatchRow(r, 0), r.Int(0, kPgBatchColumnCount) != 0};
}

}  // namespace

const char* const kPgBatchColumns =
    "b.id, b.public_id, b.name, b.priority, b.runs, b.max_running, b.max_attempts, b.state, "
    "b.session_count, b.first_session_id, b.shape, b.n_uninitialized, b.n_in_progress, "
    "b.n_completed, b.n_error, b.n_canceled, b.created_at, b.finished_at, b.result, "
    // max() over the unique index on seq: one index probe (NULLs, not yet sequenced, skipped).
    "(SELECT coalesce(max(seq), 0) FROM event)";

BatchRecord ReadBatchRow(const PgResult& r, int row, int first) {
  auto col = [&](int i) { return first + i; };
  BatchRecord b;
  b.id = r.Int(row, col(0));
  b.public_id = std::string(r.Text(row, col(1)));
  b.name = std::string(r.Text(row, col(2)));
  b.priority = r.Int(row, col(3));
  b.runs = r.Int(row, col(4));
  b.max_running = r.OptionalInt(row, col(5));
  b.max_attempts = r.Int(row, col(6));
  b.state = ParseBatchState(r.Text(row, col(7))).value_or(BatchState::kQueued);
  b.session_count = static_cast<uint64_t>(r.Int(row, col(8)));
  b.first_session_id = r.Int(row, col(9));
  b.group_lengths = SplitShape(r.Text(row, col(10)));
  b.counts = {r.Int(row, col(11)), r.Int(row, col(12)), r.Int(row, col(13)), r.Int(row, col(14)),
              r.Int(row, col(15))};
  b.created_at_ms = r.Int(row, col(16));
  b.finished_at_ms = r.OptionalInt(row, col(17));
  b.result_json = r.OptionalText(row, col(18));
  b.event_seq = r.Int(row, col(19));
  return b;
}

SessionRecord ReadSessionRow(const PgResult& r, int row, int first,
                             const std::string& batch_public_id) {
  SessionRecord s;
  s.id = r.Int(row, first);
  s.batch_id = r.Int(row, first + 1);
  s.ordinal = static_cast<uint64_t>(r.Int(row, first + 2));
  s.state = static_cast<SessionState>(r.Int(row, first + 3));
  s.attempts = r.Int(row, first + 4);
  s.batch_public_id = batch_public_id;
  return s;
}

Result<LockedBatch> LockBatch(PgConnection& conn, std::string_view public_id) {
  return LockWhere(conn, "b.public_id = $1", PgParam::Text(std::string(public_id)),
                   std::string(public_id));
}

Result<LockedBatch> LockBatchById(PgConnection& conn, int64_t batch_id) {
  return LockWhere(conn, "b.id = $1", PgParam::Int(batch_id), std::to_string(batch_id));
}

Status WriteBatchCounts(PgConnection& conn, const LockedBatch& locked, const SessionCounts& counts,
                        int64_t now_ms, std::optional<bool> paused) {
  const BatchRecord& b = locked.batch;
  const bool now_paused = paused.value_or(locked.paused);
  BatchState state = b.state;
  std::optional<int64_t> finished_at = b.finished_at_ms;
  if (state != BatchState::kEnqueuing) {
    state = DeriveBatchState(counts.uninitialized, counts.in_progress, counts.completed,
                             counts.error, counts.canceled, now_paused);
    finished_at =
        IsFinished(state) ? std::optional(b.finished_at_ms.value_or(now_ms)) : std::nullopt;
  }
  return conn.Run(
      "UPDATE batch SET n_uninitialized = $2, n_in_progress = $3, n_completed = $4, "
      "n_error = $5, n_canceled = $6, state = $7, finished_at = $8, paused = $9 WHERE id = $1",
      {PgParam::Int(b.id), PgParam::Int(counts.uninitialized), PgParam::Int(counts.in_progress),
       PgParam::Int(counts.completed), PgParam::Int(counts.error), PgParam::Int(counts.canceled),
       PgParam::Text(BatchStateName(state)), PgParam::Optional(finished_at),
       PgParam::Int(now_paused ? 1 : 0)});
}

void MoveCounts(SessionCounts& counts, SessionState from, SessionState to, int64_t n) {
  CountOf(counts, from) -= n;
  CountOf(counts, to) += n;
}

}  // namespace batchd::storage::pg
