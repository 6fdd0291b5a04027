#include "storage/lifecycle.h"

#include <SQLiteCpp/Statement.h>

#include "storage/batch_counters.h"
#include "storage/batch_queries.h"

namespace batchd::storage {
namespace {

Status RefuseEnqueuing(const BatchRecord& b) {
  if (b.state == BatchState::kEnqueuing) {
    return Status::Conflict("batch " + b.public_id + " is still being stored");
  }
  return Status::Ok();
}

// Moves every session of `b` in state `from` to `to`; returns how many moved.
int64_t MoveAll(SQLite::Database& db, const BatchRecord& b, SessionState from, SessionState to,
                std::optional<int64_t> not_before) {
  SQLite::Statement s(db,
                      "UPDATE session SET state = ?, not_before = ? "
                      "WHERE id >= ? AND id < ? AND state = ?");
  s.bind(1, static_cast<int>(to));
  if (not_before) {
    s.bind(2, *not_before);
  } else {
    s.bind(2);
  }
  s.bind(3, b.first_session_id);
  s.bind(4, b.first_session_id + static_cast<int64_t>(b.session_count));
  s.bind(5, static_cast<int>(from));
  return s.exec();
}

Result<SessionRecord> LoadSession(SQLite::Database& db, int64_t session_id) {
  ASSIGN_OR_RETURN(SessionDetail d, QuerySession(db, session_id));
  return d.session;
}

}  // namespace

Result<BatchRecord> CancelBatchTxn(SQLite::Database& db, const std::string& public_id,
                                   int64_t now_ms) {
  ASSIGN_OR_RETURN(BatchRecord b, QueryBatch(db, public_id));
  RETURN_IF_ERROR(RefuseEnqueuing(b));
  if (b.state == BatchState::kCompleted || b.state == BatchState::kFailed) {
    return Status::Conflict("batch " + public_id + " is already " + BatchStateName(b.state));
  }
  const int64_t n = MoveAll(db, b, SessionState::kUninitialized, SessionState::kCanceled, {});
  CounterDelta delta{};
  Move(delta, SessionState::kUninitialized, SessionState::kCanceled, n);
  ApplyCounterDelta(db, b.id, delta, now_ms);
  return QueryBatch(db, public_id);
}

Result<BatchRecord> SetBatchPausedTxn(SQLite::Database& db, const std::string& public_id,
                                      bool paused, int64_t now_ms) {
  ASSIGN_OR_RETURN(BatchRecord b, QueryBatch(db, public_id));
  RETURN_IF_ERROR(RefuseEnqueuing(b));
  if (IsFinished(b.state)) {
    return Status::Conflict("batch " + public_id + " is already " + BatchStateName(b.state));
  }
  SQLite::Statement s(db, "UPDATE batch SET paused = ? WHERE id = ?");
  s.bind(1, paused ? 1 : 0);
  s.bind(2, b.id);
  s.exec();
  RefreshBatchState(db, b.id, now_ms);
  return QueryBatch(db, public_id);
}

Result<BatchRecord> RetryBatchTxn(SQLite::Database& db, const std::string& public_id,
                                  int64_t now_ms) {
  ASSIGN_OR_RETURN(BatchRecord b, QueryBatch(db, public_id));
  RETURN_IF_ERROR(RefuseEnqueuing(b));
  CounterDelta delta{};
  for (SessionState from : {SessionState::kError, SessionState::kCanceled}) {
    const int64_t n = MoveAll(db, b, from, SessionState::kUninitialized, now_ms);
    Move(delta, from, SessionState::kUninitialized, n);
  }
  ApplyCounterDelta(db, b.id, delta, now_ms);
  return QueryBatch(db, public_id);
}

Result<uint64_t> DeleteBatchTxn(SQLite::Database& db, const std::string& public_id) {
  ASSIGN_OR_RETURN(BatchRecord b, QueryBatch(db, public_id));
  if (!IsFinished(b.state)) {
    return Status::Conflict("batch " + public_id + " is " + BatchStateName(b.state) +
                            "; cancel it or let it finish before deleting it");
  }
  const int64_t end = b.first_session_id + static_cast<int64_t>(b.session_count);
  for (const char* sql : {"DELETE FROM session_state WHERE session_id >= ? AND session_id < ?",
                          "DELETE FROM session WHERE id >= ? AND id < ?"}) {
    SQLite::Statement s(db, sql);
    s.bind(1, b.first_session_id);
    s.bind(2, end);
    s.exec();
  }
  SQLite::Statement drop(db, "DELETE FROM batch WHERE id = ?");
  drop.bind(1, b.id);
  drop.exec();
  return b.session_count;
}

Result<SessionRecord> CancelSessionTxn(SQLite::Database& db, int64_t session_id, int64_t now_ms) {
  ASSIGN_OR_RETURN(SessionRecord s, LoadSession(db, session_id));
  switch (s.state) {
    case SessionState::kUninitialized: {
      SQLite::Statement u(db, "UPDATE session SET state = ?, not_before = NULL WHERE id = ?");
      u.bind(1, static_cast<int>(SessionState::kCanceled));
      u.bind(2, session_id);
      u.exec();
      CounterDelta delta{};
      Move(delta, SessionState::kUninitialized, SessionState::kCanceled);
      ApplyCounterDelta(db, s.batch_id, delta, now_ms);
      return LoadSession(db, session_id);
    }
    case SessionState::kInProgress:  // the scheduler stops it and records the cancel
    case SessionState::kCanceled:
      return s;
    default:
      return Status::Conflict("session " + std::to_string(session_id) + " is already " +
                              SessionStateName(s.state));
  }
}

Result<SessionRecord> RetrySessionTxn(SQLite::Database& db, int64_t session_id, int64_t now_ms) {
  ASSIGN_OR_RETURN(SessionRecord s, LoadSession(db, session_id));
  if (s.state != SessionState::kError && s.state != SessionState::kCanceled) {
    return Status::Conflict("session " + std::to_string(session_id) + " is " +
                            SessionStateName(s.state) +
                            "; only error or canceled sessions can be retried");
  }
  SQLite::Statement u(db, "UPDATE session SET state = 0, not_before = ? WHERE id = ?");
  u.bind(1, now_ms);
  u.bind(2, session_id);
  u.exec();
  CounterDelta delta{};
  Move(delta, s.state, SessionState::kUninitialized);
  ApplyCounterDelta(db, s.batch_id, delta, now_ms);
  return LoadSession(db, session_id);
}

Result<QueueStatus> SetQueuePausedTxn(SQLite::Database& db, bool paused) {
  SQLite::Statement s(db, "UPDATE meta SET value = ? WHERE key = 'queue_paused'");
  s.bind(1, paused ? 1 : 0);
  s.exec();
  return QueryQueueStatus(db);
}

}  // namespace batchd::storage
