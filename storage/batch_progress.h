// batch.progress as both engines' progress writers make it (storage/progress_event_writer.h,
// storage/pg/pg_progress_events.h): what the last one said about a batch, the windows its rates
// come from, and the next one given the batch's counters now.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "storage/event_record.h"
#include "storage/rate_window.h"
#include "storage/records.h"

namespace batchd::storage {

struct BatchProgressState {
  std::optional<SessionCounts> counts;  // what the last batch.progress said
  int64_t chunks_done = 0;              // summed over its sessions' reports
  int64_t bytes_done = 0;
  int64_t chunks_reported = -1;  // chunks_done when last written (-1: never)
  int64_t suppressed_reported = 0;
  RateWindow sessions_rate;
  RateWindow chunks_rate;
  RateWindow bytes_rate;
};

// The batch.progress event for a batch (not enqueuing, not finished) whose counters are
// `counts` now, or nullopt when it would say nothing new: nothing started yet (batch.enqueued
// or batch.state says it all), or the counters, chunks and suppressed count are what the last
// one said. Updates `p` when it answers an event.
std::optional<EventRecord> NextBatchProgress(BatchProgressState& p, std::string public_id,
                                             std::string_view state, uint64_t sessions,
                                             const SessionCounts& counts, int64_t suppressed,
                                             int64_t now_ms);

}  // namespace batchd::storage
