// The chunk-progress hook the scheduler hands to each session's op (OpContext::progress): it
// forwards the op's reports to Store::ReportProgress, where they become coalesced
// session.progress events (docs/scheduler.md, "Chunk progress").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/ops/op.h"
#include "storage/store.h"

namespace batchd::daemon {

// A reporter for one session of batch `batch_public_id`. An op may call it after every chunk,
// from any thread: reports closer than 100 ms are dropped (never the last one, chunks_done ==
// chunks_total), since the event log keeps only the latest per interval anyway. `store` must
// outlive the reporter.
pipeline::ProgressReporter ChunkProgressReporter(storage::Store& store, int64_t session_id,
                                                 std::string batch_public_id);

// The done chunks as [first, end) ranges; nullopt when there are more than `max_ranges` (a map
// that scattered is sent as counts only).
std::optional<std::vector<storage::ChunkRange>> DoneRanges(const pipeline::ProgressCursor& done,
                                                           size_t max_ranges = 512);

}  // namespace batchd::daemon
