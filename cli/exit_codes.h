// The CLI's exit codes, for scripts (docs/api.md, "Command line").
#pragma once

namespace batchd::cli {

inline constexpr int kExitOk = 0;             // done; for submit --watch and watch: completed
inline constexpr int kExitBatchFailed = 1;    // the batch finished failed (some session errored)
inline constexpr int kExitUsage = 2;          // bad arguments, unreadable file
inline constexpr int kExitBatchCanceled = 3;  // the batch finished canceled
inline constexpr int kExitRefused = 4;        // the daemon refused: invalid batch, no such id, ...
inline constexpr int kExitUnreachable = 5;    // the daemon could not be reached (or was lost)

}  // namespace batchd::cli
