#include "pipeline/engine/checkpoint_timer.h"

#include <utility>

namespace batchd::pipeline {

CheckpointTimer::CheckpointTimer(int64_t interval_ms, SteadyClock clock)
    : throttle_(interval_ms, std::move(clock)) {
  throttle_.TryPass(/*force=*/true);  // the first interval runs from the start
}

bool CheckpointTimer::TryTake(int64_t done, bool final) {
  // Nothing new done: not due, and the clock is not read.
  if (!final && done <= checkpointed_done_) return false;
  if (!throttle_.TryPass(/*force=*/final)) return false;
  checkpointed_done_ = done;
  return true;
}

}  // namespace batchd::pipeline
