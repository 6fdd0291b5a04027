#include "storage/pg/pg_lifecycle.h"

#include <optional>
#include <span>

#include "storage/pg/pg_batch_queries.h"
#include "storage/pg/pg_batch_rows.h"
#include "storage/pg/pg_events.h"

namespace batchd::storage::pg {
namespace {

Status RefuseEnqueuing(const BatchRecord& b) {
  if (b.state == BatchState::kEnqueuing) {
    return Status::Conflict("batch " + b.public_id + " is still being stored");
  }
  return Status::Ok();
}

int64_t EndOf(const BatchRecord& b) {
  return b.first_session_id + static_cast<int64_t>(b.session_count);
}

// Moves every session of `b` in state `from` to `to` (not_before set or cleared); answers how
// many moved. The caller holds the batch row locked.
Result<int64_t> MoveAll(PgConnection& conn, const BatchRecord& b, SessionState from,
                        SessionState to, std::optional<int64_t> not_before) {
  ASSIGN_OR_RETURN(PgResult r,
                   conn.Exec("UPDATE session SET state = $1, not_before = $2 "
                             "WHERE id >= $3 AND id < $4 AND state = $5",
                             {PgParam::Int(static_cast<int>(to)), PgParam::Optional(not_before),
                              PgParam::Int(b.first_session_id), PgParam::Int(EndOf(b)),
                              PgParam::Int(static_cast<int>(from))}));
  return r.affected();
}

// Tells every node to stop what it runs of `target` ("session:<id>" or "batch:<public id>");
// sent when the transaction commits.
Status NotifyStop(PgConnection& conn, const std::string& target) {
  return conn.Run("SELECT pg_notify('batchd_stop', $1)", {PgParam::Text(target)});
}

// A session request's transaction so far: its batch row locked. The session row is read, not
// locked, under the batch lock: every change out of the states a request changes (uninitialized,
// error, canceled) is made under that lock too (claims, requests), and a session in progress is
// never changed by a request, so an outcome writer holding it cannot deadlock with one. The
// session row is locked only by the UPDATE that changes it: batch first, then session, the lock
// order of every writer.
struct LockedSession {
  LockedBatch batch;
  SessionRecord session;
};

Result<LockedSession> LockSession(PgConnection& conn, int64_t session_id) {
  const Status missing = Status::NotFound("no session with id " + std::to_string(session_id));
  // A session's batch never changes, so it can be read before any lock is held.
  ASSIGN_OR_RETURN(PgResult owner, conn.Exec("SELECT batch_id FROM session WHERE id = $1",
                                             {PgParam::Int(session_id)}));
  if (owner.rows() == 0) return missing;
  Result<LockedBatch> batch = LockBatchById(conn, owner.Int(0, 0));
  if (!batch.ok()) return batch.status().code() == StatusCode::kNotFound ? missing : batch.status();
  // Sessions of a batch still being stored do not exist yet, as for QuerySession.
  if (batch->batch.state == BatchState::kEnqueuing) return missing;
  ASSIGN_OR_RETURN(PgResult s, conn.Exec("SELECT id, batch_id, ordinal, state, attempts "
                                         "FROM session WHERE id = $1",
                                         {PgParam::Int(session_id)}));
  if (s.rows() == 0) return missing;  // deleted with its batch meanwhile
  LockedSession locked{std::move(batch).value(), {}};
  locked.session = ReadSessionRow(s, 0, 0, locked.batch.batch.public_id);
  return locked;
}

// Moves the session to `to` (not_before as given), its batch's counters with it, and writes
// the request's session.state event, all in the caller's transaction.
Result<SessionRecord> MoveSession(PgConnection& conn, const LockedSession& locked, SessionState to,
                                  std::optional<int64_t> not_before, int64_t now_ms) {
  const SessionRecord& before = locked.session;
  ASSIGN_OR_RETURN(
      PgResult moved,
      conn.Exec("UPDATE session SET state = $1, not_before = $2 "
                "WHERE id = $3 AND state = $4",
                {PgParam::Int(static_cast<int>(to)), PgParam::Optional(not_before),
                 PgParam::Int(before.id), PgParam::Int(static_cast<int>(before.state))}));
  if (moved.affected() != 1) {  // not expected (see LockSession): refuse rather than miscount
    return Status::Unavailable("session " + std::to_string(before.id) +
                               " changed during the request; try again");
  }
  SessionCounts counts = locked.batch.batch.counts;
  MoveCounts(counts, before.state, to);
  RETURN_IF_ERROR(WriteBatchCounts(conn, locked.batch, counts, now_ms));
  SessionRecord after = before;
  after.state = to;
  // A request about one session always gets its event (the SQLite store's policy lets every
  // single-session request through as well; the rate bucket is per node and not kept here).
  EventRecord e;
  e.time_ms = now_ms;
  e.type = EventType::kSessionState;
  e.batch_public_id = before.batch_public_id;
  e.session_id = before.id;
  e.from = SessionStateName(before.state);
  e.to = SessionStateName(to);
  e.attempt = after.attempts;
  RETURN_IF_ERROR(AppendEvents(conn, std::span<const EventRecord>(&e, 1)));
  return after;
}

// Runs `change` in one transaction and commits what it answers; an error rolls it back.
template <typename T, typename Change>
Result<T> InTransaction(PgConnection& conn, Change change) {
  PgTransaction txn(conn);
  RETURN_IF_ERROR(txn.begun());
  Result<T> result = change();
  if (!result.ok()) return result;
  RETURN_IF_ERROR(txn.Commit());
  return result;
}

}  // namespace

Result<BatchRecord> CancelBatch(PgConnection& conn, const std::string& public_id, int64_t now_ms) {
  return InTransaction<BatchRecord>(conn, [&]() -> Result<BatchRecord> {
    ASSIGN_OR_RETURN(LockedBatch locked, LockBatch(conn, public_id));
    const BatchRecord& b = locked.batch;
    RETURN_IF_ERROR(RefuseEnqueuing(b));
    if (b.state == BatchState::kCompleted || b.state == BatchState::kFailed) {
      return Status::Conflict("batch " + public_id + " is already " + BatchStateName(b.state));
    }
    ASSIGN_OR_RETURN(int64_t n,
                     MoveAll(conn, b, SessionState::kUninitialized, SessionState::kCanceled, {}));
    SessionCounts counts = b.counts;
    MoveCounts(counts, SessionState::kUninitialized, SessionState::kCanceled, n);
    RETURN_IF_ERROR(WriteBatchCounts(conn, locked, counts, now_ms));
    // Sessions in progress (on any node) are stopped by the node running them, which then
    // reports their kCanceled outcomes: told at once by NOTIFY, and at its next heartbeat by
    // the flag if the notification was lost (the partial index on in-progress sessions keeps
    // this to the sessions running anywhere, not the batch's).
    RETURN_IF_ERROR(
        conn.Run("UPDATE session SET stop_requested = 1 WHERE state = 1 AND "
                 "node_id IS NOT NULL AND batch_id = $1",
                 {PgParam::Int(b.id)}));
    RETURN_IF_ERROR(NotifyStop(conn, "batch:" + public_id));
    return QueryBatch(conn, public_id);
  });
}

Result<BatchRecord> SetBatchPaused(PgConnection& conn, const std::string& public_id, bool paused,
                                   int64_t now_ms) {
  return InTransaction<BatchRecord>(conn, [&]() -> Result<BatchRecord> {
    ASSIGN_OR_RETURN(LockedBatch locked, LockBatch(conn, public_id));
    const BatchRecord& b = locked.batch;
    RETURN_IF_ERROR(RefuseEnqueuing(b));
    if (IsFinished(b.state)) {
      return Status::Conflict("batch " + public_id + " is already " + BatchStateName(b.state));
    }
    RETURN_IF_ERROR(WriteBatchCounts(conn, locked, b.counts, now_ms, paused));
    return QueryBatch(conn, public_id);
  });
}

Result<BatchRecord> RetryBatch(PgConnection& conn, const std::string& public_id, int64_t now_ms) {
  return InTransaction<BatchRecord>(conn, [&]() -> Result<BatchRecord> {
    ASSIGN_OR_RETURN(LockedBatch locked, LockBatch(conn, public_id));
    const BatchRecord& b = locked.batch;
    RETURN_IF_ERROR(RefuseEnqueuing(b));
    SessionCounts counts = b.counts;
    for (SessionState from : {SessionState::kError, SessionState::kCanceled}) {
      ASSIGN_OR_RETURN(int64_t n, MoveAll(conn, b, from, SessionState::kUninitialized, now_ms));
      MoveCounts(counts, from, SessionState::kUninitialized, n);
    }
    RETURN_IF_ERROR(WriteBatchCounts(conn, locked, counts, now_ms));
    return QueryBatch(conn, public_id);
  });
}

Result<uint64_t> DeleteBatch(PgConnection& conn, const std::string& public_id) {
  return InTransaction<uint64_t>(conn, [&]() -> Result<uint64_t> {
    ASSIGN_OR_RETURN(LockedBatch locked, LockBatch(conn, public_id));
    const BatchRecord& b = locked.batch;
    if (!IsFinished(b.state)) {
      return Status::Conflict("batch " + public_id + " is " + BatchStateName(b.state) +
                              "; cancel it or let it finish before deleting it");
    }
    const std::vector<PgParam> range{PgParam::Int(b.first_session_id), PgParam::Int(EndOf(b))};
    RETURN_IF_ERROR(
        conn.Run("DELETE FROM session_state WHERE session_id >= $1 AND session_id < $2", range));
    RETURN_IF_ERROR(conn.Run("DELETE FROM session WHERE id >= $1 AND id < $2", range));
    // The delete trigger writes batch.deleted.
    RETURN_IF_ERROR(conn.Run("DELETE FROM batch WHERE id = $1", {PgParam::Int(b.id)}));
    return b.session_count;
  });
}

Result<SessionRecord> CancelSession(PgConnection& conn, int64_t session_id, int64_t now_ms) {
  return InTransaction<SessionRecord>(conn, [&]() -> Result<SessionRecord> {
    ASSIGN_OR_RETURN(LockedSession locked, LockSession(conn, session_id));
    const SessionRecord& s = locked.session;
    switch (s.state) {
      case SessionState::kUninitialized:
        return MoveSession(conn, locked, SessionState::kCanceled, std::nullopt, now_ms);
      case SessionState::kInProgress:
        // The node running it stops it and records the cancel (its kCanceled outcome): told at
        // once by NOTIFY, and at its next heartbeat by the flag if the notification was lost.
        RETURN_IF_ERROR(conn.Run("UPDATE session SET stop_requested = 1 WHERE id = $1",
                                 {PgParam::Int(session_id)}));
        RETURN_IF_ERROR(NotifyStop(conn, "session:" + std::to_string(session_id)));
        return s;
      case SessionState::kCanceled:
        return s;
      default:
        return Status::Conflict("session " + std::to_string(session_id) + " is already " +
                                SessionStateName(s.state));
    }
  });
}

Result<SessionRecord> RetrySession(PgConnection& conn, int64_t session_id, int64_t now_ms) {
  return InTransaction<SessionRecord>(conn, [&]() -> Result<SessionRecord> {
    ASSIGN_OR_RETURN(LockedSession locked, LockSession(conn, session_id));
    const SessionRecord& s = locked.session;
    if (s.state != SessionState::kError && s.state != SessionState::kCanceled) {
      return Status::Conflict("session " + std::to_string(session_id) + " is " +
                              SessionStateName(s.state) +
                              "; only error or canceled sessions can be retried");
    }
    return MoveSession(conn, locked, SessionState::kUninitialized, now_ms, now_ms);
  });
}

Result<QueueStatus> SetQueuePaused(PgConnection& conn, bool paused) {
  return InTransaction<QueueStatus>(conn, [&]() -> Result<QueueStatus> {
    RETURN_IF_ERROR(conn.Run("UPDATE meta SET value = $1 WHERE key = 'queue_paused'",
                             {PgParam::Int(paused ? 1 : 0)}));
    return QueryQueueStatus(conn);
  });
}

}  // namespace batchd::storage::pg
