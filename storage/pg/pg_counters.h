// Keeping batches' per-state counters and derived state true in the PostgreSQL store, in the
// transaction that moves the sessions (the rule of storage/batch_counters.h and
// DeriveBatchState, core/batch_state.h, spelled in SQL). One statement for every batch a
// claim, an outcome round or a rescue touched.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/status.h"
#include "storage/pg/pg_connection.h"
#include "storage/records.h"

namespace batchd::storage::pg {

// Per-state deltas, indexed by SessionState.
using PgCounterDelta = std::array<int64_t, kSessionStateCount>;

inline void MoveCount(PgCounterDelta& delta, SessionState from, SessionState to, int64_t n = 1) {
  delta[static_cast<int>(from)] -= n;
  delta[static_cast<int>(to)] += n;
}

struct PgBatchDelta {
  int64_t batch_id = 0;
  PgCounterDelta delta{};
  std::optional<int64_t> claim_cursor;  // a claim moves it
};

// Deltas of one transaction by batch; few batches per transaction, so a vector.
class PgDeltas {
 public:
  PgBatchDelta& For(int64_t batch_id);
  const std::vector<PgBatchDelta>& all() const { return deltas_; }
  std::vector<int64_t> BatchIds() const;

 private:
  std::vector<PgBatchDelta> deltas_;
};

// Adds the deltas to the batches' counters, moves claim cursors, and re-derives each batch's
// state and finished_at (set once finished, cleared otherwise); an enqueuing batch keeps its
// state. The batch.state trigger writes the events of state changes. The caller holds (or
// takes here, in the order of the rows) the batch rows' locks: lock them ascending first when
// several transactions may touch the same batches.
Status ApplyCounterDeltas(PgConnection& conn, const std::vector<PgBatchDelta>& deltas,
                          int64_t now_ms);

}  // namespace batchd::storage::pg
