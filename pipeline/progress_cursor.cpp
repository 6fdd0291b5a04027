#include "pipeline/progress_cursor.h"

namespace batchd::pipeline {

ProgressCursor::ProgressCursor(int64_t total)
    : total_(total), bits_(static_cast<size_t>((total + 63) / 64), 0) {}

void ProgressCursor::MarkDone(int64_t chunk) {
  uint64_t& word = bits_[static_cast<size_t>(chunk >> 6)];
  const uint64_t bit = uint64_t{1} << (chunk & 63);
  if (word & bit) return;
  word |= bit;
  ++done_;
}

std::optional<std::vector<std::pair<int64_t, int64_t>>> ProgressCursor::Runs(
    size_t max_runs) const {
  std::vector<std::pair<int64_t, int64_t>> runs;
  // Whole words that are all done (or all not done) are stepped over at once.
  auto word = [&](int64_t i) { return bits_[static_cast<size_t>(i >> 6)]; };
  int64_t i = 0;
  while (i < total_) {
    if (!IsDone(i)) {
      i += ((i & 63) == 0 && word(i) == 0) ? 64 : 1;
      continue;
    }
    const int64_t first = i;
    while (i < total_ && IsDone(i)) i += ((i & 63) == 0 && word(i) == ~uint64_t{0}) ? 64 : 1;
    if (runs.size() == max_runs) return std::nullopt;
    runs.emplace_back(first, std::min(i, total_));
  }
  return runs;
}

nlohmann::json ProgressCursor::ToJson() const {
  nlohmann::json runs = nlohmann::json::array();
  const auto all = Runs();  // a named value: a range-for over *Runs() would dangle
  for (const auto& [first, end] : *all) runs.push_back({first, end});
  return runs;
}

Result<ProgressCursor> ProgressCursor::FromJson(const nlohmann::json& runs, int64_t total) {
  ProgressCursor cursor(total);
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
    for (int64_t c = first; c < end; ++c) cursor.MarkDone(c);
    previous_end = end;
  }
  return cursor;
}

}  // namespace batchd::pipeline
