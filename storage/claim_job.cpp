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

bool QueuePaused(StatementCache& statements) {
  auto s = statements.Use("SELECT value FROM meta WHERE key = 'queue_paused'");
  return s->executeStep() && s->getColumn(0).getInt64() != 0;
}

std::vector<ClaimableBatch> ClaimableBatches(StatementCache& statements) {
  auto s = statements.Use(
      "SELECT id, public_id, first_session_id, session_count, claim_cursor, "
      "max_running, n_in_progress, max_attempts FROM batch "
      "WHERE state IN ('queued', 'running') AND n_uninitialized > 0 "
      "ORDER BY priority DESC, id");
  std::vector<ClaimableBatch> out;
  while (s->executeStep()) {
    ClaimableBatch b;
    b.id = s->getColumn(0).getInt64();
    b.public_id = s->getColumn(1).getString();
    b.first_id = s->getColumn(2).getInt64();
    b.end_id = b.first_id + s->getColumn(3).getInt64();
    b.cursor = std::max(b.first_id, s->getColumn(4).getInt64());
    if (!s->getColumn(5).isNull()) b.max_running = s->getColumn(5).getInt64();
    b.in_progress = s->getColumn(6).getInt64();
    b.max_attempts = s->getColumn(7).getInt64();
    out.push_back(std::move(b));
  }
  return out;
}

// Steps a statement yielding (id, ordinal, attempts after the claim) and appends the sessions.
void CollectClaimed(SQLite::Statement& s, const ClaimableBatch& b,
                    std::vector<ClaimedSession>& out) {
  while (s.executeStep()) {
    ClaimedSession& c = out.emplace_back();
    c.id = s.getColumn(0).getInt64();
    c.batch_id = b.id;
    c.batch_public_id = b.public_id;
    c.ordinal = static_cast<uint64_t>(s.getColumn(1).getInt64());
    c.attempts = s.getColumn(2).getInt64();
    c.max_attempts = b.max_attempts;
  }
}

// Sessions that ran before and are due again (retries, backoff, recovery), with the execution
// state they built then. Read first, then moved one by one: nearly always there are none, and
// the read alone is one probe of the small partial index session_requeued.
Status ClaimRequeued(StatementCache& statements, const ClaimableBatch& b, int64_t take,
                     int64_t now_ms, std::vector<ClaimedSession>& out) {
  const size_t before = out.size();
  {
    auto s = statements.Use(
        "SELECT id, ordinal, attempts + 1 FROM session WHERE batch_id = ? AND state = 0 AND "
        "not_before IS NOT NULL AND not_before <= ? ORDER BY id LIMIT ?");
    s->bind(1, b.id);
    s->bind(2, now_ms);
    s->bind(3, take);
    CollectClaimed(*s, b, out);
  }
  for (size_t i = before; i < out.size(); ++i) {
    {
      auto s = statements.Use(
          "UPDATE session SET state = 1, attempts = attempts + 1, not_before = NULL "
          "WHERE id = ?");
      s->bind(1, out[i].id);
      s->exec();
    }
    ASSIGN_OR_RETURN(std::optional<ExecutionRecord> execution,
                     LoadExecution(statements.db(), out[i].id));
    if (execution) {
      out[i].execution = std::make_shared<const ExecutionRecord>(std::move(*execution));
    }
  }
  return Status::Ok();
}

// Fresh sessions, in id order from the batch's claim cursor. Everything at or past the cursor
// is fresh unless canceled, so a plain id range does it (no subquery, no sort, no index); a
// range holding canceled rows just yields fewer sessions this time. The rows are read first and
// then updated by the same condition, rather than with UPDATE ... RETURNING: nothing else
// writes between the two (one writer, one transaction), and RETURNING buffers every row in a
// temporary table, which doubled the cost of a large claim. Returns the new claim cursor.
int64_t ClaimFresh(StatementCache& statements, const ClaimableBatch& b, int64_t take,
                   std::vector<ClaimedSession>& out) {
  const int64_t range_end = std::min(b.end_id, b.cursor + take);
  {
    auto s = statements.Use(
        "SELECT id, ordinal, attempts + 1 FROM session "
        "WHERE id >= ? AND id < ? AND state = 0 AND not_before IS NULL");
    s->bind(1, b.cursor);
    s->bind(2, range_end);
    CollectClaimed(*s, b, out);
  }
  {
    auto s = statements.Use(
        "UPDATE session SET state = 1, attempts = attempts + 1 "
        "WHERE id >= ? AND id < ? AND state = 0 AND not_before IS NULL");
    s->bind(1, b.cursor);
    s->bind(2, range_end);
    s->exec();
  }
  return range_end;
}

// The earliest retry backoff still running, so the scheduler can wake for it without polling.
// The partial index session_requeued holds only waiting sessions, so this reads a few rows.
std::optional<int64_t> NextDue(StatementCache& statements, int64_t now_ms) {
  auto s = statements.Use(
      "SELECT min(not_before) FROM session WHERE state = 0 AND "
      "not_before IS NOT NULL AND not_before > ?");
  s->bind(1, now_ms);
  if (s->executeStep() && !s->getColumn(0).isNull()) return s->getColumn(0).getInt64();
  return std::nullopt;
}

}  // namespace

Result<WriteJob::Progress> ClaimJob::Step(SQLite::Database&) {
  if (outcomes_ != nullptr) RETURN_IF_ERROR(outcomes_->ReadyForClaims());
  if (QueuePaused(statements_)) return Progress::kDone;
  int64_t remaining = max_sessions_;
  for (const ClaimableBatch& b : ClaimableBatches(statements_)) {
    if (remaining <= 0) break;
    int64_t take = remaining;
    if (b.max_running) take = std::min(take, *b.max_running - b.in_progress);
    if (take <= 0) continue;
    const size_t before = result_.sessions.size();
    RETURN_IF_ERROR(ClaimRequeued(statements_, b, take, now_ms_, result_.sessions));
    const int64_t took_requeued = static_cast<int64_t>(result_.sessions.size() - before);
    std::optional<int64_t> cursor;
    if (take > took_requeued && b.cursor < b.end_id) {
      cursor = ClaimFresh(statements_, b, take - took_requeued, result_.sessions);
    }
    // Within a batch, run in id (= ordinal) order; across batches keep the claim order.
    std::sort(result_.sessions.begin() + static_cast<std::ptrdiff_t>(before),
              result_.sessions.end(),
              [](const ClaimedSession& x, const ClaimedSession& y) { return x.id < y.id; });
    const int64_t claimed = static_cast<int64_t>(result_.sessions.size() - before);
    if (claimed > 0 || cursor) {
      CounterDelta delta{};
      Move(delta, SessionState::kUninitialized, SessionState::kInProgress, claimed);
      ApplyCounterDelta(statements_, b.id, delta, now_ms_, cursor);
      if (observer_ && claimed > 0) {
        observer_->OnClaimed(statements_.db(), std::span(result_.sessions).subspan(before));
      }
    }
    remaining -= claimed;
  }
  result_.next_due_ms = NextDue(statements_, now_ms_);
  return Progress::kDone;
}

}  // namespace batchd::storage
