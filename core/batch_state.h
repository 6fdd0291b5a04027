// A batch's state: the one vocabulary the store, the API, the event log and the CLI share
// (docs/api.md, "batch"). Stored by name in batch.state and sent by name on the wire.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace batchd {

enum class BatchState { kEnqueuing, kQueued, kRunning, kPaused, kCompleted, kFailed, kCanceled };

const char* BatchStateName(BatchState state);  // "enqueuing", "queued", ...
std::optional<BatchState> ParseBatchState(std::string_view name);

// Finished: completed, failed or canceled. A finished batch runs nothing more unless retried,
// may be deleted, and no longer counts against --max-active-batches.
bool IsFinished(BatchState state);
// The same for a state's name; false for a name that is no state.
bool IsFinished(std::string_view state_name);

// The state a stored batch's session counters imply: the one rule every store applies after
// each transition. Finished once no session is uninitialized or in progress (failed if any
// ended in error, else canceled if any was canceled, else completed); otherwise paused if
// paused, running once any session was claimed, else queued. (An enqueuing batch keeps its
// state until its last session is stored: the stores handle that before asking.)
BatchState DeriveBatchState(int64_t uninitialized, int64_t in_progress, int64_t completed,
                            int64_t error, int64_t canceled, bool paused);

}  // namespace batchd
