// One pass of the event sequencer (docs/scale-out.md "Events"): numbers committed event rows
// from the one sequence event_seq, in the order of their id.
//
// Why numbers are handed out after commit, not by a column default at insert: a default would
// give a row its seq when it is inserted, and transactions commit in any order, so a reader could
// see seq 11 committed while seq 10 is still in flight, move its cursor past 10 and never see it.
// Numbering only committed rows, one pass at a time, means that whoever sees seq N also sees every
// seq below N that will ever exist: every node reading by seq replays the same sequence.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "storage/pg/pg_connection.h"

namespace batchd::storage::pg {

// One pass in its own transaction (`conn` must not be in one): waits for the advisory lock
// kSequencerLockKey (every node runs a sequencer; only one pass runs at a time), numbers up to
// `limit` unsequenced rows in id order, and NOTIFY batchd_events (payload: the newest seq) at
// commit. Answers the rows numbered; a pass that numbered `limit` rows may have left more.
// The lock is waited for, not tried: a pass that skipped because another held the lock could
// miss rows committed after that other pass took its snapshot, and nothing would wake it again.
Result<int64_t> RunSequencerPass(PgConnection& conn, int64_t limit);

}  // namespace batchd::storage::pg
