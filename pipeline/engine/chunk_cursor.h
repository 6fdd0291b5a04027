// Which chunks of a session's region are done: a set of [first, end) runs of chunk numbers,
// saved in checkpoints as those runs and read back when a session resumes, so it never redoes a
// finished chunk. Memory is proportional to the number of runs, never to the region's chunk
// count: chunks finish roughly in order, so the done prefix is one run and the runs beyond it
// are the chunks finished ahead of a slower one (bounded by the chunks in flight). A region of
// 2^34 chunks costs a few runs, not 2 GiB of bitmap.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace batchd::pipeline {

class ChunkCursor {
 public:
  explicit ChunkCursor(int64_t total = 0) : total_(total) {}

  int64_t total() const { return total_; }
  int64_t done() const { return done_; }
  // Whether `chunk` is done; O(log runs).
  bool IsDone(int64_t chunk) const;
  // Marks `chunk` (0 <= chunk < total) done; marking it again changes nothing. O(log runs).
  void MarkDone(int64_t chunk);
  // Marks every chunk of [first, end) done (0 <= first <= end <= total).
  void MarkDone(int64_t first, int64_t end);
  size_t run_count() const { return runs_.size(); }

  // The [first, end) runs of done chunks, ascending; nullopt when there are more than
  // `max_runs` (a map that scattered is better sent as counts only).
  std::optional<std::vector<std::pair<int64_t, int64_t>>> Runs(size_t max_runs = SIZE_MAX) const;
  // The [first, end) runs of chunks not done, ascending (the complement of Runs in [0, total)).
  std::vector<std::pair<int64_t, int64_t>> PendingRuns() const;

  // [[first, last_exclusive], ...] of done chunks, ascending.
  nlohmann::json ToJson() const;
  // kInvalidArgument when the runs are malformed, overlap, or leave [0, total).
  static Result<ChunkCursor> FromJson(const nlohmann::json& runs, int64_t total);

 private:
  int64_t total_;
  int64_t done_ = 0;
  std::map<int64_t, int64_t> runs_;  // first -> end, disjoint and not adjacent
};

}  // namespace batchd::pipeline
