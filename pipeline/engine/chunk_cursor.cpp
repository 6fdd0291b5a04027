#include "pipeline/engine/chunk_cursor.h"

#include <algorithm>

namespace batchd::pipeline {

bool ChunkCursor::IsDone(int64_t chunk) const {
  auto after = runs_.upper_bound(chunk);
  if (after == runs_.begin()) return false;
  return chunk < std::prev(after)->second;
}

void ChunkCursor::MarkDone(int64_t chunk) { MarkDone(chunk, chunk + 1); }

void ChunkCursor::MarkDone(int64_t first, int64_t end) {
  if (first >= end) return;
  // Merges every run that overlaps or touches [first, end) into one; done_ grows by the chunks
  // of [first, end) that no run covered.
  int64_t newly_done = end - first;
  int64_t merged_first = first, merged_end = end;
  auto it = runs_.upper_bound(first);
  if (it != runs_.begin() && std::prev(it)->second >= first) --it;
  while (it != runs_.end() && it->first <= end) {
    newly_done -= std::max<int64_t>(0, std::min(end, it->second) - std::max(first, it->first));
    merged_first = std::min(merged_first, it->first);
    merged_end = std::max(merged_end, it->second);
    it = runs_.erase(it);
  }
  done_ += newly_done;
  runs_.emplace(merged_first, merged_end);
}

std::optional<std::vector<std::pair<int64_t, int64_t>>> ChunkCursor::Runs(size_t max_runs) const {
  if (runs_.size() > max_runs) return std::nullopt;
  return std::vector<std::pair<int64_t, int64_t>>(runs_.begin(), runs_.end());
}

std::vector<std::pair<int64_t, int64_t>> ChunkCursor::PendingRuns() const {
  std::vector<std::pair<int64_t, int64_t>> pending;
  int64_t at = 0;
  for (const auto& [first, end] : runs_) {
    if (first > at) pending.emplace_back(at, first);
    at = end;
  }
  if (at < total_) pending.emplace_back(at, total_);
  return pending;
}

nlohmann::json ChunkCursor::ToJson() const {
  nlohmann::json runs = nlohmann::json::array();
  for (const auto& [first, end] : runs_) runs.push_back({first, end});
  return runs;
}

Result<ChunkCursor> ChunkCursor::FromJson(const nlohmann::json& runs, int64_t total) {
  ChunkCursor cursor(total);
  if (!runs.is_array()) return Status::InvalidArgument("progress runs must be a list");
  int64_t previous_end = 0;
  for (const auto& run : runs) {
    if (!run.is_array() || run.size() != 2 || !run[0].is_number_integer() ||
        !run[1].is_number_integer()) {
      return Status::InvalidArgument("progress run " + run.dump() + " is not [first, end]");
    }
    const int64_t first = run[0].get<int64_t>();
    const int64_t end = run[1].get<int64_t>();
    if (first < previous_end || first >= end || end > total) {
      return Status::InvalidArgument("progress run " + run.dump() + " is out of order or range");
    }
    cursor.MarkDone(first, end);
    previous_end = end;
  }
  return cursor;
}

}  // namespace batchd::pipeline
