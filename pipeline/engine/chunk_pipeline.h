// One session's chunk pipeline: fetch -> byte-bounded queue -> decode -> op, then finalize.
//
//   store.GetMany(window of keys)      up to fetch_concurrency reads in flight
//     -> fetched chunks, waiting       bytes_in_flight bounds every chunk from the start of its
//                                      read to the end of its processing (at its decoded size);
//                                      reads are not started while the budget is spent, except
//                                      that one chunk larger than the whole budget passes alone
//     -> decode pool (shared, cores)   codec chain (codec, filters), byte order, fill value
//     -> consumer.Process / Fold       the op's work, folded under the pipeline's lock
//     -> cursor + checkpoint           done chunks and the op's state, saved every interval
//     -> consumer.Finish               the result
//
// Direct reads: when the store can read a chunk on the calling thread without waiting
// (ChunkStore::ReadNow: file:// over the page cache), the decode threads read the chunks
// themselves, in order, within the same budget, and the fetch stage is skipped: a cached read
// costs CPU like a decode, and handing each chunk from an I/O thread to a decode thread costs
// more than reading it. A chunk that is not at hand goes through GetMany, with the stretch of
// chunks after it (data that is not cached tends to come in runs); a store without the fast path
// is read with GetMany only. Decode threads take chunks in batches (about 256 KiB of decoded
// bytes, one chunk when larger) and fold a batch under one lock.
//
// Nothing blocks a thread: stages hand chunks on by callbacks, and "producers wait" means no
// new read is started until the budget has room. Cancel stops new reads at once; chunks in
// flight are dropped. A resumed session starts from its last checkpoint and never fetches a
// chunk the checkpoint records as done. docs/pipeline.md has the whole story.
//
// The rules have their own classes, each with its contract and tests: byte_budget.h (what the
// budget grants), direct_read_policy.h (when decode threads read for themselves),
// checkpoint_timer.h and core/interval_throttle.h (when a checkpoint or a progress report is due),
// decode_tasks.h (decode tasks per session, and why the session waits for their submitters),
// decode_batch.h (a decode thread's batch and its thread-local scope). chunk_pipeline.cpp
// wires them together under one lock.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/worker_pool.h"
#include "pipeline/engine/cancel_token.h"
#include "pipeline/engine/chunk_consumer.h"
#include "pipeline/engine/chunk_cursor.h"
#include "pipeline/engine/chunk_region.h"
#include "pipeline/filters/chunk_codec_chain.h"
#include "pipeline/formats/array_metadata.h"
#include "pipeline/ops/op.h"
#include "pipeline/stores/chunk_store.h"

namespace batchd::pipeline {

struct PipelineLimits {
  int fetch_concurrency = 64;             // reads in flight
  int64_t bytes_in_flight = 64ll << 20;   // see above
  int64_t checkpoint_interval_ms = 1000;  // at most one checkpoint per interval while running
};

// Where a session stands: saved by checkpoints, read back when it resumes.
struct ChunkCheckpoint {
  ChunkCursor cursor;
  nlohmann::json op_state;  // ChunkConsumer::SaveState

  // {"done": [[first, end], ...], "op": {...}}
  nlohmann::json ToJson() const;
  // kInvalidArgument when it does not describe a region of `total` chunks.
  static Result<ChunkCheckpoint> FromJson(const nlohmann::json& json, int64_t total);
};

struct ChunkJob {
  std::shared_ptr<ChunkStore> store;
  ArrayMetadata array;
  ChunkRegion region;
  std::shared_ptr<const ChunkCodecChain> codec;  // the bytes codec and any filters
  PipelineLimits limits;
  std::unique_ptr<ChunkConsumer> consumer;
  std::shared_ptr<CancelToken> cancel;
  // Where the session resumes from; nullopt for a first run.
  std::optional<ChunkCheckpoint> resume;
  // Persists a checkpoint. Called from pipeline threads, in order, never concurrently; the
  // last call comes before `done`.
  std::function<void(const ChunkCheckpoint&)> save_checkpoint;
  // Live progress (session.progress events, the dashboard's chunk map): called at most every
  // kLiveProgressIntervalMs (core/live_progress_interval.h) while chunks are being done, and once
  // at the end, under the pipeline's lock (it must be quick). May be empty.
  LiveProgressReporter report_live_progress;
  // The time the checkpoint and progress intervals are measured in (tests step it by hand).
  // Called from pipeline threads, possibly concurrently.
  SteadyClock clock = SteadyMillis;
};

// Starts the pipeline and returns at once. `done` is called exactly once: Completed with the
// consumer's result; Failed with the first chunk's error ("chunk 3.1: zstd: frame is
// truncated"; kIoError/kUnavailable from the store stay transient, so the scheduler retries
// the session, which resumes from its checkpoint); Canceled after a cancel. `decode` must stay
// running until `done` has been called; the pipeline does not touch it from other threads
// after that, so its owner may then stop and destroy it.
void RunChunkPipeline(ChunkJob job, WorkerPool& decode, int decode_threads, OpDone done);

}  // namespace batchd::pipeline
