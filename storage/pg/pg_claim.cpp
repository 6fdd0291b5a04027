#include "storage/pg/pg_claim.h"

#include <algorithm>

#include "storage/json_blob.h"
#include "storage/pg/pg_arrays.h"
#include "storage/pg/pg_counters.h"
#include "storage/pg/pg_events.h"

namespace batchd::storage::pg {
namespace {

// How long a waiting claim waits for a batch row at most (then it fails: nothing claimed).
constexpr int64_t kLockWaitMs = 200;

struct ClaimableBatch {
  int64_t id;
  std::string public_id;
  int64_t priority;
  int64_t end_id;  // one past the last session id
  int64_t cursor;
  std::optional<int64_t> max_running;
  int64_t in_progress;
  int64_t max_attempts;
  uint64_t sessions;
};

constexpr char kBatchColumns[] =
    "id, public_id, priority, first_session_id, session_count, claim_cursor, max_running, "
    "n_in_progress, max_attempts";
constexpr char kClaimable[] =
    "state IN ('queued', 'running') AND paused = 0 AND n_uninitialized > 0";

// The same statement waiting for locked rows instead of skipping them.
std::string WithoutSkipLocked(std::string sql) {
  const size_t at = sql.find(" SKIP LOCKED");
  if (at != std::string::npos) sql.erase(at, 12);
  return sql;
}

// Reads the batch columns at `col` of row 0 (NULL id: none).
std::optional<ClaimableBatch> BatchAt(const PgResult& r, int col) {
  if (r.rows() == 0 || r.IsNull(0, col)) return std::nullopt;
  ClaimableBatch b;
  b.id = r.Int(0, col);
  b.public_id = std::string(r.Text(0, col + 1));
  b.priority = r.Int(0, col + 2);
  const int64_t first = r.Int(0, col + 3);
  b.sessions = static_cast<uint64_t>(r.Int(0, col + 4));
  b.end_id = first + r.Int(0, col + 4);
  b.cursor = std::max(first, r.Int(0, col + 5));
  b.max_running = r.OptionalInt(0, col + 6);
  b.in_progress = r.Int(0, col + 7);
  b.max_attempts = r.Int(0, col + 8);
  return b;
}

// What the claim starts from, in one statement: this node's row (FOR SHARE), the queue's pause
// flag, the earliest retry still waiting (the claim only takes those due, so it does not move
// it), and the first claimable batch, locked. No batch is locked if the node is not alive or
// the queue is paused.
struct Gate {
  std::string node_state;
  bool queue_paused = false;
  std::optional<int64_t> next_due_ms;
  std::optional<ClaimableBatch> first;
};

Result<Gate> OpenGate(PgConnection& conn, int64_t node_id, int64_t now_ms, bool wait) {
  static const std::string skip_sql =
      std::string(
          "SELECT g.node_state, g.paused, g.next_due, b.* FROM (SELECT "
          "(SELECT state FROM node WHERE id = $1 FOR SHARE) AS node_state, "
          "(SELECT value FROM meta WHERE key = 'queue_paused') AS paused, "
          "(SELECT min(not_before) FROM session WHERE state = 0 AND not_before IS NOT "
          "NULL AND not_before > $2) AS next_due) g "
          "LEFT JOIN LATERAL (SELECT ") +
      kBatchColumns + " FROM batch WHERE " + kClaimable +
      " AND g.node_state = 'alive' AND g.paused = 0 "
      "ORDER BY priority DESC, id LIMIT 1 FOR UPDATE SKIP LOCKED) b ON true";
  static const std::string wait_sql = WithoutSkipLocked(skip_sql);
  ASSIGN_OR_RETURN(PgResult r, conn.Exec(wait ? wait_sql : skip_sql,
                                         {PgParam::Int(node_id), PgParam::Int(now_ms)}));
  Gate g;
  g.node_state = std::string(r.Text(0, 0));
  g.queue_paused = r.Int(0, 1) != 0;
  g.next_due_ms = r.OptionalInt(0, 2);
  g.first = BatchAt(r, 3);
  return g;
}

// The next claimable batch after `after` in claim order, locked; nullopt if none is left
// unlocked.
Result<std::optional<ClaimableBatch>> NextBatch(PgConnection& conn, const ClaimableBatch& after,
                                                bool wait) {
  static const std::string skip_sql = std::string("SELECT ") + kBatchColumns +
                                      " FROM batch WHERE " + kClaimable +
                                      " AND (priority < $1 OR (priority = $1 AND id > $2)) "
                                      "ORDER BY priority DESC, id LIMIT 1 FOR UPDATE SKIP LOCKED";
  static const std::string wait_sql = WithoutSkipLocked(skip_sql);
  ASSIGN_OR_RETURN(PgResult r, conn.Exec(wait ? wait_sql : skip_sql,
                                         {PgParam::Int(after.priority), PgParam::Int(after.id)}));
  return BatchAt(r, 0);
}

void Collect(const PgResult& r, const ClaimableBatch& b, std::vector<ClaimedSession>& out) {
  for (int i = 0; i < r.rows(); ++i) {
    ClaimedSession& c = out.emplace_back();
    c.id = r.Int(i, 0);
    c.batch_id = b.id;
    c.batch_public_id = b.public_id;
    c.ordinal = static_cast<uint64_t>(r.Int(i, 1));
    c.attempts = r.Int(i, 2);
    c.max_attempts = b.max_attempts;
  }
}

// The execution records of sessions that ran before, attached to their claims.
Status LoadExecutions(PgConnection& conn, std::span<ClaimedSession> claimed) {
  PgArray ids;
  for (const ClaimedSession& c : claimed) ids.Int(c.id);
  ASSIGN_OR_RETURN(PgResult r,
                   conn.Exec("SELECT session_id, state, chunks_done, chunks_total, result, "
                             "error_kind, error_message, checkpoint FROM session_state "
                             "WHERE session_id = ANY($1::bigint[])",
                             {PgParam::Text(ids.Literal())}));
  for (int i = 0; i < r.rows(); ++i) {
    ExecutionRecord e;
    if (!r.IsNull(i, 1)) {
      ASSIGN_OR_RETURN(e.state_json, DecompressJson(r.Bytes(i, 1)));
    }
    e.chunks_done = r.Int(i, 2);
    e.chunks_total = r.Int(i, 3);
    e.result_json = r.OptionalText(i, 4);
    e.error_kind = r.OptionalText(i, 5);
    e.error_message = r.OptionalText(i, 6);
    e.checkpoint_json = r.OptionalText(i, 7);
    const int64_t id = r.Int(i, 0);
    for (ClaimedSession& c : claimed) {
      if (c.id == id) c.execution = std::make_shared<const ExecutionRecord>(std::move(e));
    }
  }
  return Status::Ok();
}

// From one locked batch, up to `take`: requeued sessions due first (SKIP LOCKED: a lifecycle
// request may hold one), then fresh ones from the cursor. Everything at or past the cursor is
// fresh unless canceled, and no other node claims from this batch while the claim holds its
// row, so a plain id range does it; the range shrinks by the requeued sessions taken. One
// statement (the two UPDATEs touch disjoint rows: not_before set or not). Answers the new
// cursor if the fresh range was tried.
Result<std::optional<int64_t>> ClaimFromBatch(PgConnection& conn, int64_t node_id,
                                              const ClaimableBatch& b, int64_t take, int64_t now_ms,
                                              std::vector<ClaimedSession>& out) {
  const int64_t fresh_end = b.cursor < b.end_id ? b.end_id : b.cursor;
  ASSIGN_OR_RETURN(
      PgResult r,
      conn.Exec("WITH rq AS (UPDATE session SET state = 1, attempts = attempts + 1, "
                "not_before = NULL, node_id = $5, stop_requested = 0 "
                "WHERE id IN (SELECT id FROM session WHERE "
                "batch_id = $1 AND state = 0 AND not_before IS NOT NULL AND not_before <= $2 "
                "ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING id, ordinal, attempts), "
                "fr AS (UPDATE session SET state = 1, attempts = attempts + 1, node_id = $5, "
                "stop_requested = 0 "
                "WHERE id >= $4 AND id < least($6, $4 + $3 - (SELECT count(*) FROM rq)) AND "
                "state = 0 AND not_before IS NULL RETURNING id, ordinal, attempts) "
                "SELECT id, ordinal, attempts, true FROM rq UNION ALL "
                "SELECT id, ordinal, attempts, false FROM fr",
                {PgParam::Int(b.id), PgParam::Int(now_ms), PgParam::Int(take),
                 PgParam::Int(b.cursor), PgParam::Int(node_id), PgParam::Int(fresh_end)}));
  const size_t before = out.size();
  Collect(r, b, out);
  int64_t requeued = 0;
  for (int i = 0; i < r.rows(); ++i) requeued += r.Bool(i, 3) ? 1 : 0;
  if (requeued > 0) {
    // Only requeued sessions have a session_state row: fresh ones match nothing.
    RETURN_IF_ERROR(LoadExecutions(conn, std::span(out).subspan(before)));
  }
  if (take <= requeued || b.cursor >= b.end_id) return std::optional<int64_t>();
  return std::optional<int64_t>(std::min(b.end_id, b.cursor + take - requeued));
}

// Whether a batch with room was left out because another transaction held its row.
Result<bool> SkippedLocked(PgConnection& conn, const std::vector<int64_t>& seen) {
  PgArray ids;
  for (int64_t id : seen) ids.Int(id);
  ASSIGN_OR_RETURN(
      PgResult r,
      conn.Exec("SELECT EXISTS (SELECT 1 FROM batch WHERE state IN ('queued', 'running') AND "
                "paused = 0 AND n_uninitialized > 0 AND "
                "(max_running IS NULL OR n_in_progress < max_running) AND "
                "NOT (id = ANY($1::bigint[])))",
                {PgParam::Text(ids.Literal())}));
  return r.Bool(0, 0);
}

Status Claim(PgConnection& conn, int64_t node_id, int max_sessions, int64_t now_ms, bool wait,
             PgSessionEvents& events, PgClaim& claim) {
  if (wait) {
    RETURN_IF_ERROR(conn.Run("SET LOCAL lock_timeout = " + std::to_string(kLockWaitMs)));
  }
  ASSIGN_OR_RETURN(Gate gate, OpenGate(conn, node_id, now_ms, wait));
  if (gate.node_state != "alive") {
    return Status::Unavailable("node " + std::to_string(node_id) +
                               " is not alive (declared dead or stopped): it claims nothing");
  }
  claim.result.next_due_ms = gate.next_due_ms;
  if (gate.queue_paused) return Status::Ok();
  std::vector<ClaimedSession>& sessions = claim.result.sessions;
  PgDeltas deltas;
  PgSessionEventBatch batch_events;
  std::vector<int64_t> seen;
  int64_t remaining = max_sessions;
  std::optional<ClaimableBatch> b = std::move(gate.first);
  while (remaining > 0 && b) {
    seen.push_back(b->id);
    int64_t take = remaining;
    if (b->max_running) take = std::min(take, *b->max_running - b->in_progress);
    if (take > 0) {
      const size_t before = sessions.size();
      ASSIGN_OR_RETURN(std::optional<int64_t> cursor,
                       ClaimFromBatch(conn, node_id, *b, take, now_ms, sessions));
      std::sort(sessions.begin() + static_cast<std::ptrdiff_t>(before), sessions.end(),
                [](const ClaimedSession& x, const ClaimedSession& y) { return x.id < y.id; });
      const int64_t claimed = static_cast<int64_t>(sessions.size() - before);
      if (claimed > 0 || cursor) {
        PgBatchDelta& d = deltas.For(b->id);
        MoveCount(d.delta, SessionState::kUninitialized, SessionState::kInProgress, claimed);
        d.claim_cursor = cursor;
      }
      if (claimed > 0 && events.EveryTransition(b->sessions)) {
        for (size_t i = before; i < sessions.size(); ++i) {
          batch_events.Add(events, b->id, b->public_id, b->sessions, sessions[i].id,
                           SessionState::kUninitialized, SessionState::kInProgress,
                           sessions[i].attempts, nullptr, now_ms);
        }
      }
      remaining -= claimed;
    }
    if (remaining <= 0) break;
    ASSIGN_OR_RETURN(b, NextBatch(conn, *b, wait));
  }
  RETURN_IF_ERROR(ApplyCounterDeltas(conn, deltas.all(), now_ms));
  if (!batch_events.events.empty()) RETURN_IF_ERROR(AppendEvents(conn, batch_events.events));
  if (remaining > 0) {
    ASSIGN_OR_RETURN(claim.skipped_locked, SkippedLocked(conn, seen));
  }
  claim.changed_batches = deltas.BatchIds();
  claim.suppressed = std::move(batch_events.suppressed);
  return Status::Ok();
}

}  // namespace

Result<PgClaim> ClaimInTransaction(PgConnection& conn, int64_t node_id, int max_sessions,
                                   int64_t now_ms, PgSessionEvents& events, bool wait) {
  PgTransaction txn(conn);
  RETURN_IF_ERROR(txn.begun());
  PgClaim claim;
  RETURN_IF_ERROR(Claim(conn, node_id, max_sessions, now_ms, wait, events, claim));
  RETURN_IF_ERROR(txn.Commit());
  return claim;
}

}  // namespace batchd::storage::pg
