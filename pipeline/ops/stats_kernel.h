// The statistics the `stats` op computes, with the definitions of make_zarr.py's numpy oracle:
// `count` is every element, `nan_count` the non-finite ones (NaN and ±infinity), and `min`,
// `max`, `sum` and `mean` are over the finite ones. Padding past the array's edge in edge
// chunks is not data and is never counted.
#pragma once

#include <cstdint>
#include <limits>
#include <span>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "pipeline/formats/dtype.h"
#include "pipeline/ops/exact_sum.h"

namespace batchd::pipeline {

// One chunk's figures. Within a chunk the summation order is fixed, so its double sum is
// reproducible; chunks then join the session's exact sum.
struct ChunkStats {
  uint64_t count = 0;
  uint64_t nan_count = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  double sum = 0;
};

struct StatsAccumulator {
  uint64_t count = 0;
  uint64_t nan_count = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  ExactSum sum;  // exact, so the result does not depend on the order chunks finish in

  void Add(const ChunkStats& chunk);
  void Merge(const StatsAccumulator& other);

  // {"count", "nan_count", "min", "max", "sum", "mean", "exact_sum"}; min, max and mean are
  // null when there is no finite element. exact_sum is the sum as ExactSum's exact text, so
  // results fold (FromResult, Merge) without rounding.
  nlohmann::json ToResult() const;
  static Result<StatsAccumulator> FromResult(const nlohmann::json& result);

  // Checkpoint form (exact: the sum keeps every bit) and back.
  nlohmann::json ToState() const;
  static Result<StatsAccumulator> FromState(const nlohmann::json& state);
};

// The figures of one decoded chunk's data elements: `data` holds a full chunk of
// `chunk_shape` elements of `dtype` in native byte order (C order); `extent` is how many
// elements along each dimension are data (ValidExtent), the rest is padding.
ChunkStats ComputeChunkStats(const uint8_t* data, const DataType& dtype,
                             std::span<const int64_t> chunk_shape, std::span<const int64_t> extent);

}  // namespace batchd::pipeline
