// Moving finished sessions out of in_progress, for the outcome flush (outcome_buffer.h).
#pragma once

#include <vector>

#include "storage/records.h"
#include "storage/statement_cache.h"

namespace batchd::storage {

// Moves each outcome's session from in_progress to its target state (with the requeue time
// for kRequeue), but only if it is still in_progress. Returns, per outcome, whether it moved:
// a duplicate or late outcome does not, so nothing is ever counted twice.
//
// Sessions finish mostly in id order (claims take id ranges and exec threads run them in
// order), so runs of consecutive ids going to the same final state are moved with one ranged
// UPDATE, after checking in the same transaction that every one of them is in_progress; the
// rest, and every run with a session that is not, are moved one by one. Writer thread only;
// throws SQLite::Exception like the statements it runs.
std::vector<bool> MoveFinishedSessions(StatementCache& statements,
                                       const std::vector<const SessionOutcome*>& outcomes);

}  // namespace batchd::storage
