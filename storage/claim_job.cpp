#include "storage/claim_job.h"

#include <algorithm>

#include <SQLiteCpp/Statement.h>

#include "storage/batch_counters.h"
#include "storage/batch_queries.h"

namespace batchd::storage {
namespace {

struct ClaimableBatch {
  int64_t id;
  std::string public_id;
  int64_t first_id;
  int64_t end_id;  // one past the last session id
  int64_t cursor;
  std::optional<int64_t> max_running;
  int64_t in_progress;
  int64_t max_attempts;
};

std::vector<ClaimableBatch> ClaimableBatches(SQLite::Database& db) {
  SQLite::Statement s(db,
                      "SELECT id, public_id, first_session_id, session_count, claim_cursor, "
                      "max_running, n_in_progress, max_attempts FROM batch "
                      "WHERE state IN ('queued', 'running') AND n_uninitialized > 0 "
                      "ORDER BY priority DESC, id");
  std::vector<ClaimableBatch> out;
  while (s.executeStep()) {
    ClaimableBatch b;
    b.id = s.getColumn(0).getInt64();
    b.public_id = s.getColumn(1).getString();
    b.first_id = s.getColumn(2).getInt64();
    b.end_id = b.first_id + s.getColumn(3).getInt64();
    b.cursor = std::max(b.first_id, s.getColumn(4).getInt64());
    if (!s.getColumn(5).isNull()) b.max_running = s.getColumn(5).getInt64();
    b.in_progress = s.getColumn(6).getInt64();
    b.max_attempts = s.getColumn(7).getInt64();
    out.push_back(std::move(b));
  }
  return out;
}

// Runs an `UPDATE ... RETURNING id, ordinal, attempts` and appends the claimed sessions.
void CollectClaimed(SQLite::Statement& s, const ClaimableBatch& b,
                    std::vector<ClaimedSession>& out) {
  while (s.executeStep()) {
    ClaimedSession c;
    c.id = s.getColumn(0).getInt64();
    c.batch_id = b.id;
    c.batch_public_id = b.public_id;
    c.ordinal = static_cast<uint64_t>(s.getColumn(1).getInt64());
    c.attempts = s.getColumn(2).getInt64();
    c.max_attempts = b.max_attempts;
    out.push_back(std::move(c));
  }
}

}  // namespace

Result<WriteJob::Progress> ClaimJob::Step(SQLite::Database& db) {
  if (db.execAndGet("SELECT value FROM meta WHERE key = 'queue_paused'").getInt64() != 0) {
    return Progress::kDone;
  }
  int64_t remaining = max_sessions_;
  for (const ClaimableBatch& b : ClaimableBatches(db)) {
    if (remaining <= 0) break;
    int64_t take = remaining;
    if (b.max_running) take = std::min(take, *b.max_running - b.in_progress);
    if (take <= 0) continue;
    const size_t before = result_.sessions.size();

    // Sessions that ran before and are due again: they carry their execution state.
    SQLite::Statement requeued(db,
                               "UPDATE session SET state = 1, attempts = attempts + 1, "
                               "not_before = NULL WHERE id IN (SELECT id FROM session "
                               "WHERE batch_id = ? AND state = 0 AND not_before IS NOT NULL "
                               "AND not_before <= ? ORDER BY id LIMIT ?) "
                               "RETURNING id, ordinal, attempts");
    requeued.bind(1, b.id);
    requeued.bind(2, now_ms_);
    requeued.bind(3, take);
    CollectClaimed(requeued, b, result_.sessions);
    for (size_t i = before; i < result_.sessions.size(); ++i) {
      ASSIGN_OR_RETURN(result_.sessions[i].execution, LoadExecution(db, result_.sessions[i].id));
    }
    const int64_t took_requeued = static_cast<int64_t>(result_.sessions.size() - before);

    // Fresh sessions, in id order from the batch's claim cursor. Everything at or past the
    // cursor is fresh unless canceled, so a plain id range does it (no subquery, no sort); a
    // range holding canceled rows just yields fewer sessions this time.
    if (take > took_requeued && b.cursor < b.end_id) {
      const int64_t range_end = std::min(b.end_id, b.cursor + (take - took_requeued));
      SQLite::Statement fresh(db,
                              "UPDATE session SET state = 1, attempts = attempts + 1 "
                              "WHERE id >= ? AND id < ? AND state = 0 AND not_before IS NULL "
                              "RETURNING id, ordinal, attempts");
      fresh.bind(1, b.cursor);
      fresh.bind(2, range_end);
      CollectClaimed(fresh, b, result_.sessions);
      SQLite::Statement move(db, "UPDATE batch SET claim_cursor = ? WHERE id = ?");
      move.bind(1, range_end);
      move.bind(2, b.id);
      move.exec();
    }

    // Within a batch, run in id (= ordinal) order; across batches keep the claim order.
    std::sort(result_.sessions.begin() + static_cast<std::ptrdiff_t>(before),
              result_.sessions.end(),
              [](const ClaimedSession& x, const ClaimedSession& y) { return x.id < y.id; });
    const int64_t claimed = static_cast<int64_t>(result_.sessions.size() - before);
    if (claimed > 0) {
      CounterDelta delta{};
      Move(delta, SessionState::kUninitialized, SessionState::kInProgress, claimed);
      ApplyCounterDelta(db, b.id, delta, now_ms_);
      if (observer_) {
        observer_->OnClaimed(db, std::span(result_.sessions).subspan(before));
      }
    }
    remaining -= claimed;
  }

  SQLite::Statement due(db,
                        "SELECT min(not_before) FROM session WHERE state = 0 AND "
                        "not_before IS NOT NULL AND not_before > ?");
  due.bind(1, now_ms_);
  if (due.executeStep() && !due.getColumn(0).isNull()) {
    result_.next_due_ms = due.getColumn(0).getInt64();
  }
  return Progress::kDone;
}

}  // namespace batchd::storage
