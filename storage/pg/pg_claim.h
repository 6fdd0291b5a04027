// One claim transaction of the PostgreSQL store (PgScheduling::ClaimSessions, the semantics of
// storage/claim_job.cpp across nodes):
//   - this node's row is read FOR SHARE first: a rescue marking it dead waits for the claim to
//     commit (and then requeues what it claimed), and a claim after the rescue claims nothing
//     (kUnavailable) instead of giving sessions to a dead node that nobody would rescue again;
//   - meta.queue_paused stops it;
//   - batches queued/running, not paused, with uninitialized sessions, by priority descending
//     then id, are locked one at a time FOR UPDATE SKIP LOCKED: a batch another node claims
//     from (or an outcome round is closing) is skipped, never waited for; n_in_progress read
//     under that lock makes max_running exact over all nodes;
//   - from each, up to max_running - n_in_progress: requeued sessions due (not_before <= now,
//     SKIP LOCKED) with their execution records, then fresh ones from claim_cursor in id order;
//     state 1, attempts + 1, node_id = this node;
//   - the counters and cursors (one statement), session.state events if the policy wants them.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "core/status.h"
#include "storage/pg/pg_connection.h"
#include "storage/pg/pg_session_events.h"
#include "storage/records.h"

namespace batchd::storage::pg {

struct PgClaim {
  ClaimResult result;
  std::vector<int64_t> changed_batches;
  std::vector<std::pair<int64_t, int64_t>> suppressed;  // session.state events refused
  // A claimable batch was skipped because it was locked: what it holds may be claimable in a
  // moment (set only when fewer sessions than asked were claimed).
  bool skipped_locked = false;
};

// Runs the claim in one transaction on `conn` (committed on success, rolled back on failure).
// `wait`: lock the batches FOR UPDATE without SKIP LOCKED (waiting up to 200 ms for a row,
// then failing): for a second try after a claim that came back short because a batch was
// locked, when there is nothing else to claim and the holder (a claim or the tail of an
// outcome round) commits in a moment. The wait is shorter than the server's deadlock_timeout
// (1 s): a waiting claim holding one batch row while an outcome round holding the next wants
// the first gives up first, instead of stalling both for the deadlock check.
// kUnavailable if this node is no longer alive or on a serialization failure, deadlock or lost
// connection (try again); kIoError for other server errors; kIoError if a stored execution
// state does not decompress.
Result<PgClaim> ClaimInTransaction(PgConnection& conn, int64_t node_id, int max_sessions,
                                   int64_t now_ms, PgSessionEvents& events, bool wait = false);

}  // namespace batchd::storage::pg
