// Keeping a batch's per-state counters and its derived state true. Every change to session
// states goes through here, in the same transaction as the change itself.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include <SQLiteCpp/Database.h>

#include "storage/records.h"
#include "storage/statement_cache.h"

namespace batchd::storage {

// Per-state deltas, indexed by SessionState.
using CounterDelta = std::array<int64_t, kSessionStateCount>;

inline void Move(CounterDelta& delta, SessionState from, SessionState to, int64_t n = 1) {
  delta[static_cast<int>(from)] -= n;
  delta[static_cast<int>(to)] += n;
}

// Adds `delta` to the batch's n_<state> counters and re-derives its state (the rule below), in
// one UPDATE. Throws SQLite::Exception on failure, like the statements around it.
void ApplyCounterDelta(SQLite::Database& db, int64_t batch_id, const CounterDelta& delta,
                       int64_t now_ms);
// The same with the writer's cached statement (writer thread only); a claim also moves the
// batch's claim cursor to `claim_cursor` in the same UPDATE.
void ApplyCounterDelta(StatementCache& statements, int64_t batch_id, const CounterDelta& delta,
                       int64_t now_ms, std::optional<int64_t> claim_cursor = std::nullopt);

// Derives batch.state from its counters and pause flag by DeriveBatchState (core/batch_state.h,
// docs/scheduler.md); finished_at is set once when it is finished. An `enqueuing` batch is left
// alone.
void RefreshBatchState(SQLite::Database& db, int64_t batch_id, int64_t now_ms);

}  // namespace batchd::storage
