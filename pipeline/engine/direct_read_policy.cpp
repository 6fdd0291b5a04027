#include "pipeline/engine/direct_read_policy.h"

namespace batchd::pipeline {

void DirectReadPolicy::EndBatch(const Tries& tries, size_t position) {
  if (tries.unsupported_) enabled_ = false;
  // A hit in the batch ends the earlier run of misses; its trailing misses start a new one.
  misses_in_a_row_ =
      tries.any_hit_ ? tries.misses_in_a_row_ : misses_in_a_row_ + tries.misses_in_a_row_;
  if (misses_in_a_row_ >= kMissesInARow) {
    resume_at_ = position + kColdStretch;  // the data is not cached: GetMany for a while
    misses_in_a_row_ = 0;
  }
}

}  // namespace batchd::pipeline
