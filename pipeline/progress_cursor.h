// Which chunks of a session's region are done: a bitmap over the region's chunk numbers, saved
// in checkpoints as runs (chunks finish roughly in order, so a million done chunks is usually
// one run) and read back when a session resumes, so it never redoes a finished chunk.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace batchd::pipeline {

class ProgressCursor {
 public:
  explicit ProgressCursor(int64_t total = 0);

  int64_t total() const { return total_; }
  int64_t done() const { return done_; }
  bool IsDone(int64_t chunk) const { return (bits_[chunk >> 6] >> (chunk & 63)) & 1; }
  // Marks `chunk` (0 <= chunk < total) done; marking it again changes nothing.
  void MarkDone(int64_t chunk);

  // The [first, end) runs of done chunks, ascending; nullopt when there are more than
  // `max_runs` (a map that scattered is better sent as counts only).
  std::optional<std::vector<std::pair<int64_t, int64_t>>> Runs(size_t max_runs = SIZE_MAX) const;

  // [[first, last_exclusive], ...] of done chunks, ascending.
  nlohmann::json ToJson() const;
  // kInvalidArgument when the runs are malformed, overlap, or leave [0, total).
  static Result<ProgressCursor> FromJson(const nlohmann::json& runs, int64_t total);

 private:
  int64_t total_;
  int64_t done_ = 0;
  std::vector<uint64_t> bits_;
};

}  // namespace batchd::pipeline
