// `batchd watch ID` (and `submit --watch`): follows a batch over the event stream until it
// finishes, redrawing a progress bar on a terminal or printing one line per update otherwise,
// and reconnecting with `since` when the connection drops, so no update is lost.
#pragma once

#include <string>

#include "cli/command_context.h"

namespace batchd::cli {

// Returns the exit code the batch's end means: kExitOk (completed), kExitBatchFailed,
// kExitBatchCanceled; kExitRefused if there is no such batch or it was deleted;
// kExitUnreachable if the daemon cannot be reached for a minute.
int WatchBatch(CommandContext& ctx, const std::string& batch_id);

}  // namespace batchd::cli
