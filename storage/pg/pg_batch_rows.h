// The batch and session rows as the PostgreSQL store's reads and requests see them: the columns
// they select, how a result row becomes a record, and locking a batch row for a change. Shared
// by pg_batch_queries, pg_lifecycle and pg_batch_writes; no transaction of its own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "storage/pg/pg_connection.h"
#include "storage/records.h"

namespace batchd::storage::pg {

// Columns of `batch` (table alias b) in the order ReadBatchRow expects them, ending with the
// highest sequenced event seq, read in the same statement and so from the same snapshot.
extern const char* const kPgBatchColumns;
inline constexpr int kPgBatchColumnCount = 20;

// The kPgBatchColumns of `row`, starting at column `first`.
BatchRecord ReadBatchRow(const PgResult& result, int row, int first = 0);

// Columns id, batch_id, ordinal, state, attempts of `session` at `first`.
SessionRecord ReadSessionRow(const PgResult& result, int row, int first,
                             const std::string& batch_public_id);

// batch.shape: the group lengths, comma-separated.

// A batch row locked (FOR UPDATE) by the caller's transaction, with its pause flag.
struct LockedBatch {
  BatchRecord batch;
  bool paused = false;
};

// Locks the batch row in the caller's transaction (waiting for other writers, e.g. another
// node's claim) and reads it as it is then. Every change to a batch and its sessions locks the
// batch row first, then sessions: one lock order across nodes. kNotFound if there is none.
Result<LockedBatch> LockBatch(PgConnection& conn, std::string_view public_id);
Result<LockedBatch> LockBatchById(PgConnection& conn, int64_t batch_id);

// Writes `counts` as the locked batch's counters, with the state they imply (DeriveBatchState,
// core/batch_state.h) and finished_at set once when it finishes (cleared when it runs again),
// inside the caller's transaction; the state triggers write the batch.state events. `paused`,
// when given, replaces the pause flag. An enqueuing batch keeps its state.
Status WriteBatchCounts(PgConnection& conn, const LockedBatch& locked, const SessionCounts& counts,
                        int64_t now_ms, std::optional<bool> paused = std::nullopt);

// Moves `n` sessions' worth of counts from `from` to `to`.
void MoveCounts(SessionCounts& counts, SessionState from, SessionState to, int64_t n = 1);

}  // namespace batchd::storage::pg
