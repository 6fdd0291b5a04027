#include "pipeline/ops/stats_kernel.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "pipeline/ops/stats_runs.h"

namespace batchd::pipeline {
namespace {

double JsonDouble(const nlohmann::json& v) {
  return v.is_null() ? std::numeric_limits<double>::quiet_NaN() : v.get<double>();
}

}  // namespace

void StatsAccumulator::Add(const ChunkStats& chunk) {
  count += chunk.count;
  nan_count += chunk.nan_count;
  min = std::min(min, chunk.min);
  max = std::max(max, chunk.max);
  sum.Add(chunk.sum);
}

void StatsAccumulator::Merge(const StatsAccumulator& other) {
  count += other.count;
  nan_count += other.nan_count;
  min = std::min(min, other.min);
  max = std::max(max, other.max);
  sum.Add(other.sum);
}

nlohmann::json StatsAccumulator::ToResult() const {
  const uint64_t finite = count - nan_count;
  const double total = sum.Value();
  nlohmann::json r = {
      {"count", count}, {"nan_count", nan_count}, {"sum", total}, {"exact_sum", sum.Serialize()}};
  if (finite == 0) {
    r["min"] = nullptr;
    r["max"] = nullptr;
    r["mean"] = nullptr;
  } else {
    r["min"] = min;
    r["max"] = max;
    r["mean"] = total / static_cast<double>(finite);
  }
  return r;
}

nlohmann::json StatsAccumulator::ToState() const {
  const bool any = count > nan_count;
  return {{"count", count},
          {"nan_count", nan_count},
          {"min", any ? nlohmann::json(min) : nlohmann::json()},
          {"max", any ? nlohmann::json(max) : nlohmann::json()},
          {"sum", sum.Serialize()}};
}

Result<StatsAccumulator> StatsAccumulator::FromResult(const nlohmann::json& result) {
  // The same members as the checkpoint form, with the exact sum under its result name.
  if (!result.is_object() || !result.contains("exact_sum")) {
    return Status::InvalidArgument("a stats result needs \"exact_sum\"");
  }
  nlohmann::json state = result;
  state["sum"] = result["exact_sum"];
  return FromState(state);
}

Result<StatsAccumulator> StatsAccumulator::FromState(const nlohmann::json& state) {
  StatsAccumulator acc;
  try {
    acc.count = state.at("count").get<uint64_t>();
    acc.nan_count = state.at("nan_count").get<uint64_t>();
    if (acc.count > acc.nan_count) {
      acc.min = JsonDouble(state.at("min"));
      acc.max = JsonDouble(state.at("max"));
    }
    ASSIGN_OR_RETURN(acc.sum, ExactSum::Parse(state.at("sum").get<std::string>()));
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("stats checkpoint: ") + e.what());
  }
  return acc;
}

ChunkStats ComputeChunkStats(const uint8_t* data, const DataType& dtype,
                             std::span<const int64_t> chunk_shape,
                             std::span<const int64_t> extent) {
  const RunFunction run = RunFunctionFor(dtype);
  const size_t rank = chunk_shape.size();
  RunStats stats;
  uint64_t elements = 1;
  for (int64_t e : extent) elements *= static_cast<uint64_t>(e);
  if (elements == 0) return {};

  if (rank == 0) {
    run(data, 1, stats);
  } else {
    // Walk the data box as contiguous runs. The last dimension is one run per row; every
    // dimension after `inner` that the data fills whole joins the run, so a full chunk is one
    // run (a call per short row would cost as much as the row).
    size_t inner = rank - 1;
    while (inner > 0 && extent[inner] == chunk_shape[inner]) --inner;
    int64_t run_length = 1;
    for (size_t d = inner; d < rank; ++d) run_length *= extent[d];
    std::vector<int64_t> strides(rank, 1);  // in elements, C order over the full chunk
    for (size_t d = rank - 1; d > 0; --d) strides[d - 1] = strides[d] * chunk_shape[d];
    std::vector<int64_t> outer(inner, 0);  // an odometer over the dimensions before `inner`
    for (;;) {
      int64_t offset = 0;
      for (size_t d = 0; d < inner; ++d) offset += outer[d] * strides[d];
      run(data + offset * dtype.size, run_length, stats);
      int d = static_cast<int>(inner) - 1;
      while (d >= 0 && ++outer[d] == extent[d]) outer[d--] = 0;
      if (d < 0) break;
    }
  }
  return {.count = elements,
          .nan_count = elements - stats.finite,
          .min = stats.min,
          .max = stats.max,
          .sum = stats.sum};
}

}  // namespace batchd::pipeline
