// Taking a node's sessions back (docs/scale-out.md "Rescue"): what a survivor does to a node
// whose heartbeat stopped, what a restarted node does to its predecessor, and what a node
// stopping does to whatever it still has in progress. One transaction under the advisory lock
// kRescueLockKey (rescues never interleave, so counters move once):
//   - the node row alive -> `final_state` (dead or stopped), only if still alive: exactly once
//     however many nodes try;
//   - its in_progress sessions go back to uninitialized with not_before = now (claimable at
//     once, as requeued sessions), node_id cleared, attempts, execution state and checkpoint
//     kept, so they resume where they were; counters moved (batch rows locked ascending after
//     the session rows, as an outcome round does);
//   - the batches it was still inserting are removed (RemoveBatchesInsertedBy; a failure there
//     is logged and does not stop the rescue: it is rolled back to a savepoint);
//   - session.state events as the policy wants. No stop notification: the node, if only cut
//     off, stops them itself when its heartbeat finds its row dead (pg_nodes.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "storage/pg/pg_connection.h"
#include "storage/pg/pg_session_events.h"

namespace batchd::storage::pg {

struct PgRescue {
  bool marked = false;            // this call moved the node out of alive
  std::vector<int64_t> sessions;  // the sessions it requeued
  std::vector<int64_t> changed_batches;
  std::vector<std::pair<int64_t, int64_t>> suppressed;  // session.state events refused
};

// `rescuer`: the node doing it (recorded in rescued_by), nullopt for a node's own stop.
// `final_state`: "dead" or "stopped". Answers marked = false (nothing done) if the node was not
// alive. kUnavailable on a lost connection or deadlock; kIoError otherwise.
Result<PgRescue> RescueNode(PgConnection& conn, int64_t node_id, std::optional<int64_t> rescuer,
                            const std::string& final_state, int64_t now_ms,
                            PgSessionEvents& events);

}  // namespace batchd::storage::pg
