#include "pipeline/stats_kernel.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace batchd::pipeline {
namespace {

// One chunk's figures before they join the session's accumulator. The sum is a plain double
// here: within a chunk the order is fixed, so it is reproducible.
struct RunStats {
  uint64_t finite = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  double sum = 0;
};

// Four independent lanes break the add/compare dependency chains, so the loop runs at the
// throughput of the units rather than their latency; the lane order is fixed, so the result is
// reproducible.
template <typename T>
void AddRun(const uint8_t* bytes, int64_t n, RunStats& r) {
  constexpr bool kFloat = std::is_floating_point_v<T>;
  double sum[4] = {0, 0, 0, 0};
  double lo[4], hi[4];
  uint64_t finite[4] = {0, 0, 0, 0};
  std::fill(lo, lo + 4, r.min);
  std::fill(hi, hi + 4, r.max);
  auto add = [&](int lane, T raw) {
    const double v = static_cast<double>(raw);
    if constexpr (kFloat) {
      if (!std::isfinite(raw)) return;
    }
    sum[lane] += v;
    lo[lane] = v < lo[lane] ? v : lo[lane];
    hi[lane] = v > hi[lane] ? v : hi[lane];
    ++finite[lane];
  };
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    T v[4];
    std::memcpy(v, bytes + i * sizeof(T), sizeof(v));
    add(0, v[0]);
    add(1, v[1]);
    add(2, v[2]);
    add(3, v[3]);
  }
  for (; i < n; ++i) {
    T v;
    std::memcpy(&v, bytes + i * sizeof(T), sizeof(T));
    add(0, v);
  }
  r.sum += (sum[0] + sum[1]) + (sum[2] + sum[3]);
  r.finite += finite[0] + finite[1] + finite[2] + finite[3];
  r.min = std::min({lo[0], lo[1], lo[2], lo[3]});
  r.max = std::max({hi[0], hi[1], hi[2], hi[3]});
}

using RunFunction = void (*)(const uint8_t*, int64_t, RunStats&);

RunFunction RunFor(const DataType& dtype) {
  switch (dtype.kind) {
    case DataType::Kind::kFloat:
      return dtype.size == 4 ? &AddRun<float> : &AddRun<double>;
    case DataType::Kind::kInt:
      switch (dtype.size) {
        case 1:
          return &AddRun<int8_t>;
        case 2:
          return &AddRun<int16_t>;
        case 4:
          return &AddRun<int32_t>;
        default:
          return &AddRun<int64_t>;
      }
    case DataType::Kind::kUint:
      switch (dtype.size) {
        case 1:
          return &AddRun<uint8_t>;
        case 2:
          return &AddRun<uint16_t>;
        case 4:
          return &AddRun<uint32_t>;
        default:
          return &AddRun<uint64_t>;
      }
  }
  return nullptr;
}

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
  const RunFunction run = RunFor(dtype);
  const size_t rank = chunk_shape.size();
  RunStats stats;
  uint64_t elements = 1;
  for (int64_t e : extent) elements *= static_cast<uint64_t>(e);
  if (elements == 0) return {};

  if (rank == 0) {
    run(data, 1, stats);
  } else {
    // Walk the data box as contiguous runs along the last dimension.
    const int64_t run_length = extent[rank - 1];
    std::vector<int64_t> strides(rank, 1);  // in elements, C order over the full chunk
    for (size_t d = rank - 1; d > 0; --d) strides[d - 1] = strides[d] * chunk_shape[d];
    std::vector<int64_t> outer(rank - 1, 0);  // an odometer over every dimension but the last
    for (;;) {
      int64_t offset = 0;
      for (size_t d = 0; d + 1 < rank; ++d) offset += outer[d] * strides[d];
      run(data + offset * dtype.size, run_length, stats);
      int d = static_cast<int>(rank) - 2;
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
