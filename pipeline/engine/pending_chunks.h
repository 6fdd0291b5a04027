// The chunk numbers a session still has to do, in ascending order, addressed by position: the
// pipeline walks them front to back (At(next++)). Kept as [first, end) runs with their running
// counts, so its memory is proportional to the runs left by a resumed session's checkpoint,
// never to the region's chunk count (a 2^34-chunk region is one run).
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "pipeline/engine/chunk_cursor.h"

namespace batchd::pipeline {

class PendingChunks {
 public:
  PendingChunks() = default;
  // The chunks of [0, done.total()) that `done` does not hold.
  explicit PendingChunks(const ChunkCursor& done) : runs_(done.PendingRuns()) {
    starts_.reserve(runs_.size());
    for (const auto& [first, end] : runs_) {
      starts_.push_back(size_);
      size_ += static_cast<size_t>(end - first);
    }
  }

  size_t size() const { return size_; }
  // The chunk number at `position` (0 <= position < size()). O(log runs).
  int64_t At(size_t position) const {
    const size_t run =
        static_cast<size_t>(std::upper_bound(starts_.begin(), starts_.end(), position) -
                            starts_.begin()) -
        1;
    return runs_[run].first + static_cast<int64_t>(position - starts_[run]);
  }

 private:
  std::vector<std::pair<int64_t, int64_t>> runs_;
  std::vector<size_t> starts_;  // position of each run's first chunk
  size_t size_ = 0;
};

}  // namespace batchd::pipeline
