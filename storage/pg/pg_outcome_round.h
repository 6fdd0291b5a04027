// One group-commit round of the PostgreSQL store's scheduling writes (PgScheduling): the
// execution states, checkpoints and outcomes queued since the last round, in call order, in
// one transaction, with set-based statements (unnest over arrays: one statement per kind of
// write, not per session). The semantics of storage/outcome_buffer.cpp and session_moves.cpp,
// conditional on this node still owning each session:
//   - checkpoints first (the latest per session), only while in_progress on this node;
//   - outcomes (the first per session; a later duplicate is not applied) move a session only
//     WHERE state = in_progress AND node_id = this node: false when it already left or was
//     lost to a rescue, and then nothing is counted;
//   - an applied outcome's session_state row takes the state saved in the same round, if any;
//     other saved states are written only for sessions still in progress on this node;
//   - then the touched batches' rows are locked in ascending id order, their counters and
//     state move, completed results fold into the batch result (ResultMerger), session.state
//     events are appended as the policy wants.
// Lock order: the session rows first (only this node's in-progress sessions, which no claim
// ever waits for), then the batch rows ascending, held only for the tail of the round, so that
// claims on other nodes skip a batch (SKIP LOCKED) as briefly as possible and two rounds (or a
// round and a rescue) touching the same batches cannot deadlock on them.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/status.h"
#include "storage/pg/pg_connection.h"
#include "storage/pg/pg_session_events.h"
#include "storage/records.h"
#include "storage/store.h"

namespace batchd::storage::pg {

struct PgSavedState {
  int64_t session_id = 0;
  std::string state_blob;  // compressed (json_blob.h)
  int64_t started_at_ms = 0;
};
struct PgFinished {
  SessionOutcome outcome;
  Callback<bool> done;
};
using PgScheduleEntry = std::variant<PgSavedState, CheckpointUpdate, PgFinished>;

struct PgRound {
  std::vector<bool> applied;  // per entry: a PgFinished whose outcome moved its session
  std::vector<int64_t> finished_sessions;  // every outcome's session (applied or not)
  std::vector<int64_t> changed_batches;
  std::vector<std::pair<int64_t, int64_t>> suppressed;  // session.state events refused
};

// Writes `entries` in one transaction (committed on success, rolled back on failure).
// kUnavailable on a serialization failure, deadlock or lost connection; kIoError otherwise.
Result<PgRound> WriteRoundInTransaction(PgConnection& conn, int64_t node_id,
                                        const std::vector<PgScheduleEntry>& entries,
                                        const ResultMerger& merge_results, PgSessionEvents& events);

}  // namespace batchd::storage::pg
