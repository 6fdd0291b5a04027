// The `command` op with a "source" (docs/command.md, "Chunk streaming"): one program per
// session gets the session's chunks, decoded by the chunk pipeline, on its stdin and answers
// each on its stdout (chunk_stream_protocol.h), with a result to fold or, with a "sink", an
// output chunk that is encoded and written to a zarr v2 array (finalized like transcode):
//
//   {"op": "command", "argv": [...], "env": {...}, "timeout_s": N,
//    "source": {...}, "region": ..., "limits": {...},
//    "sink": {"url": ..., "codec": {...}, "separator": ".", "dtype": "<f4", "fill_value": 0},
//    "reduce": {"member": "sum" | "min" | "max" | "count"}}
//
// A chunk is done (its reservation of the byte budget released, its number marked in the
// cursor) when its answer has been read and, with a sink, its output written: the budget
// bounds chunks queued for the program's stdin, being answered and being written together, and
// a session resumed after a crash sends the program only the chunks not answered by then.
#pragma once

#include <memory>

#include "pipeline/ops/chunk_op.h"
#include "pipeline/ops/command_op.h"
#include "pipeline/process/process_records.h"
#include "pipeline/process/run_threads.h"

namespace batchd::pipeline {

// `options`, `records` and `threads` belong to the command op and outlive the returned op.
std::unique_ptr<Op> MakeCommandStreamOp(const ChunkServices& services,
                                        const CommandOptions& options,
                                        const ProcessRecords& records, RunThreads& threads);

// Whether a session's result is a chunk stream's (it folds by ResultFold), and the fold of one
// into a batch's aggregate (null before the first).
bool IsStreamResult(const nlohmann::json& result);
Result<nlohmann::json> FoldStreamResult(const nlohmann::json& aggregate,
                                        const nlohmann::json& result);

}  // namespace batchd::pipeline
