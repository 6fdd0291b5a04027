// The event table's statements that only the event hub runs (storage/pg/pg_events.h has the
// ones the store runs too): retention. No threads, no state.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "storage/pg/pg_connection.h"

namespace batchd::storage::pg {

struct EventRetention {
  int64_t max_events = 0;       // the log keeps at most this many sequenced events...
  int64_t min_time_ms = 0;      // ...none older than this (unix ms)
  int64_t max_delete = 10'000;  // deleted at most in this one slice
  int64_t delivered_seq = 0;    // never deleted beyond it: the local follower's last delivered
};

// Deletes one slice of the oldest sequenced events that retention lets go, in its own
// transaction (`conn` must not be in one), and answers how many went. It may empty the log
// (LatestEventSeq then answers the sequence's value). Unsequenced rows are never touched.
Result<int64_t> DeleteExpiredEvents(PgConnection& conn, const EventRetention& retention);

}  // namespace batchd::storage::pg
