#include "storage/pg/pg_progress_events.h"

#include "storage/batch_progress.h"

#include <set>
#include <string>

#include "storage/pg/pg_arrays.h"
#include "storage/pg/pg_events.h"

namespace batchd::storage::pg {
namespace {

bool IsFinished(std::string_view batch_state) {
  return batch_state == "completed" || batch_state == "failed" || batch_state == "canceled";
}

// How much a counter grew since `prev`, remembering `now_value`.
int64_t Grown(int64_t& prev, int64_t now_value) {
  const int64_t d = now_value >= prev ? now_value - prev : now_value;  // restarted: all new
  prev = now_value;
  return d;
}

}  // namespace

Result<int64_t> PgProgressEventWriter::Write(PgConnection& conn,
                                             const LiveProgressCoalescer::Round& round,
                                             int64_t now_ms) {
  PgTransaction tx(conn);
  RETURN_IF_ERROR(tx.begun());
  std::vector<EventRecord> events;
  std::set<int64_t> batches(round.batches.begin(), round.batches.end());
  for (const SessionLiveProgress& r : round.reports) {
    ASSIGN_OR_RETURN(std::optional<int64_t> batch_id, SessionProgress(conn, r, now_ms, events));
    if (batch_id) batches.insert(*batch_id);
  }
  RETURN_IF_ERROR(BatchProgress(conn, batches, now_ms, events));
  RETURN_IF_ERROR(AppendEvents(conn, events));
  RETURN_IF_ERROR(tx.Commit());
  return static_cast<int64_t>(events.size());
}

Result<std::optional<int64_t>> PgProgressEventWriter::SessionProgress(
    PgConnection& conn, const SessionLiveProgress& r, int64_t now_ms,
    std::vector<EventRecord>& out) {
  ASSIGN_OR_RETURN(PgResult found, conn.Exec("SELECT id FROM batch WHERE public_id = $1",
                                             {PgParam::Text(r.batch_public_id)}));
  if (found.rows() == 0) return std::optional<int64_t>();  // deleted meanwhile
  const int64_t batch_id = found.Int(0, 0);
  SessionSeen& seen = sessions_[r.session_id];
  seen.batch_id = batch_id;
  BatchProgressState& p = batches_[batch_id];
  p.chunks_done += Grown(seen.chunks, r.chunks_done);
  p.bytes_done += Grown(seen.bytes, r.bytes_done);

  EventRecord& e = out.emplace_back();
  e.time_ms = now_ms;
  e.type = EventType::kSessionProgress;
  e.batch_public_id = r.batch_public_id;
  e.session_id = r.session_id;
  e.chunks_done = r.chunks_done;
  e.chunks_total = r.chunks_total;
  e.bytes_done = r.bytes_done;
  e.done_ranges = r.done_ranges;
  return std::optional<int64_t>(batch_id);
}

void PgProgressEventWriter::ForgetBatch(int64_t batch_id, bool deleted) {
  batches_.erase(batch_id);
  if (deleted) suppressed_.erase(batch_id);
  std::erase_if(sessions_, [batch_id](const auto& s) { return s.second.batch_id == batch_id; });
}

Status PgProgressEventWriter::BatchProgress(PgConnection& conn, const std::set<int64_t>& batch_ids,
                                            int64_t now_ms, std::vector<EventRecord>& out) {
  if (batch_ids.empty()) return Status::Ok();
  PgArray ids;
  for (int64_t id : batch_ids) ids.Int(id);
  // FOR SHARE, held to this transaction's commit: the transaction that finishes a batch (an
  // outcome round, a cancel) updates its row, so it either committed before this read, which
  // then sees the batch finished and says nothing, or waits for this commit, and its
  // batch.finished is numbered after this batch.progress. A plain read could see the batch
  // running, and its batch.progress be numbered after the batch.finished committed meanwhile.
  // In id order, as outcome rounds lock batches (pg_outcome_round.cpp): no deadlock.
  ASSIGN_OR_RETURN(PgResult s, conn.Exec("SELECT id, public_id, state, session_count, "
                                         "n_uninitialized, n_in_progress, n_completed, n_error, "
                                         "n_canceled FROM batch WHERE id = ANY($1::bigint[]) "
                                         "ORDER BY id FOR SHARE",
                                         {PgParam::Text(ids.Literal())}));
  std::set<int64_t> deleted = batch_ids;
  for (int row = 0; row < s.rows(); ++row) {
    const int64_t batch_id = s.Int(row, 0);
    deleted.erase(batch_id);
    const std::string_view state = s.Text(row, 2);
    if (state == "enqueuing") continue;  // not announced yet
    if (IsFinished(state)) {
      // batch.finished (from the trigger) carries the final counters; a retry starts afresh.
      ForgetBatch(batch_id, /*deleted=*/false);
      continue;
    }
    const SessionCounts counts{s.Int(row, 4), s.Int(row, 5), s.Int(row, 6), s.Int(row, 7),
                               s.Int(row, 8)};
    const uint64_t sessions = static_cast<uint64_t>(s.Int(row, 3));
    auto found = suppressed_.find(batch_id);
    const int64_t suppressed = found != suppressed_.end() ? found->second : 0;
    std::optional<EventRecord> e =
        NextBatchProgress(batches_[batch_id], std::string(s.Text(row, 1)), state, sessions, counts,
                          suppressed, now_ms);
    if (e) out.push_back(std::move(*e));
  }
  for (int64_t batch_id : deleted) ForgetBatch(batch_id, /*deleted=*/true);
  return Status::Ok();
}

}  // namespace batchd::storage::pg
