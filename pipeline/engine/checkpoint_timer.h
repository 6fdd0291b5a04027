// When a running chunk session saves a durable checkpoint (its done chunks and the op's state,
// ChunkJob::save_checkpoint): a checkpoint costs a database write and the op's SaveState, so one
// is taken at most once per `interval_ms` (--checkpoint-interval-ms) and only when chunks were
// done since the last one; and always at the end of the run, whatever the reason it ends. The
// first interval runs from the timer's construction (the start of the run), so a run shorter
// than one interval saves only its final checkpoint.
//
// Not thread-safe: the pipeline keeps it under its lock (where the done count is read anyway).
// Which of two checkpoints taken one after the other reaches the store is the pipeline's business
// (it skips the older when they arrive out of order).
#pragma once

#include <cstdint>

#include "core/clock.h"
#include "core/interval_throttle.h"

namespace batchd::pipeline {

class CheckpointTimer {
 public:
  // `interval_ms` >= 0; the interval starts now.
  explicit CheckpointTimer(int64_t interval_ms, SteadyClock clock = SteadyMillis);

  // Whether to take a checkpoint now, with `done` chunks done (a count that never goes down).
  // True when `final`, or when more chunks are done than at the last checkpoint this timer let
  // through (0 before the first, even for a resumed run) and an interval has passed since it (or
  // since the start); that checkpoint then counts as the last one, and its interval starts now.
  bool TryTake(int64_t done, bool final);

 private:
  IntervalThrottle throttle_;
  int64_t checkpointed_done_ = 0;  // the done count of the last checkpoint taken
};

}  // namespace batchd::pipeline
