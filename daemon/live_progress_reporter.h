// The live progress hook the scheduler hands to each session's op (OpContext::live_progress): it
// forwards the op's reports to Store::ReportLiveProgress, where they become coalesced
// session.progress events (docs/scheduler.md, "Checkpoints and live progress").
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "pipeline/ops/op.h"
#include "storage/store.h"

namespace batchd::daemon {

// Where the reports that pass go.
using LiveProgressSink = std::function<void(storage::SessionLiveProgress)>;

// A reporter for one session of batch `batch_public_id`. An op may call it after every chunk,
// from any thread: a report less than kLiveProgressIntervalMs (core/live_progress_interval.h)
// after the last one forwarded is dropped (never the last one, chunks_done == chunks_total),
// since the event log keeps only the latest per interval anyway. Time comes from `clock`.
pipeline::LiveProgressReporter MakeLiveProgressReporter(LiveProgressSink sink, int64_t session_id,
                                                        std::string batch_public_id,
                                                        SteadyClock clock = SteadyMillis);
// The same, forwarding to store.ReportLiveProgress. `store` must outlive the reporter.
pipeline::LiveProgressReporter MakeLiveProgressReporter(storage::Store& store, int64_t session_id,
                                                        std::string batch_public_id,
                                                        SteadyClock clock = SteadyMillis);

// The done chunks as [first, end) ranges; nullopt when there are more than `max_ranges` (a map
// that scattered is sent as counts only).
std::optional<std::vector<storage::ChunkRange>> DoneRanges(const pipeline::ChunkCursor& done,
                                                           size_t max_ranges = 512);

}  // namespace batchd::daemon
