// The stats kernel against a plain reference loop: every dtype, padding excluded, non-finite
// values counted but not summed, and the accumulator's checkpoint round trip.
#include "pipeline/ops/stats_kernel.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace batchd::pipeline {
namespace {

// Elements of a 3-d chunk in C order, `value(i, j, k)` inside `extent`, 999 (or NaN) outside,
// which must never be counted.
template <typename T>
std::vector<uint8_t> MakeChunk(const std::vector<int64_t>& shape,
                               const std::vector<int64_t>& extent,
                               T (*value)(int64_t, int64_t, int64_t), T padding) {
  std::vector<uint8_t> bytes(static_cast<size_t>(shape[0] * shape[1] * shape[2]) * sizeof(T));
  T* p = reinterpret_cast<T*>(bytes.data());
  for (int64_t i = 0; i < shape[0]; ++i)
    for (int64_t j = 0; j < shape[1]; ++j)
      for (int64_t k = 0; k < shape[2]; ++k) {
        const bool inside = i < extent[0] && j < extent[1] && k < extent[2];
        p[(i * shape[1] + j) * shape[2] + k] = inside ? value(i, j, k) : padding;
      }
  return bytes;
}

struct Reference {
  uint64_t count = 0, nan_count = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  long double sum = 0;
};

template <typename T>
Reference ReferenceStats(const std::vector<int64_t>& extent,
                         T (*value)(int64_t, int64_t, int64_t)) {
  Reference r;
  for (int64_t i = 0; i < extent[0]; ++i)
    for (int64_t j = 0; j < extent[1]; ++j)
      for (int64_t k = 0; k < extent[2]; ++k) {
        const T v = value(i, j, k);
        ++r.count;
        if constexpr (std::is_floating_point_v<T>) {
          if (!std::isfinite(v)) {
            ++r.nan_count;
            continue;
          }
        }
        r.min = std::min(r.min, static_cast<double>(v));
        r.max = std::max(r.max, static_cast<double>(v));
        r.sum += static_cast<long double>(v);
      }
  return r;
}

template <typename T>
void ExpectMatches(const DataType& dtype, T (*value)(int64_t, int64_t, int64_t), T padding) {
  const std::vector<int64_t> shape = {5, 7, 9};
  for (const std::vector<int64_t>& extent :
       {std::vector<int64_t>{5, 7, 9}, {3, 7, 9}, {5, 2, 9}, {5, 7, 1}, {1, 1, 1}, {2, 3, 4}}) {
    SCOPED_TRACE(dtype.ToNumpy() + " extent " + std::to_string(extent[0]) + "," +
                 std::to_string(extent[1]) + "," + std::to_string(extent[2]));
    const std::vector<uint8_t> chunk = MakeChunk<T>(shape, extent, value, padding);
    const ChunkStats got = ComputeChunkStats(chunk.data(), dtype, shape, extent);
    const Reference want = ReferenceStats<T>(extent, value);
    EXPECT_EQ(got.count, want.count);
    EXPECT_EQ(got.nan_count, want.nan_count);
    EXPECT_EQ(got.min, want.min);
    EXPECT_EQ(got.max, want.max);
    EXPECT_NEAR(got.sum, static_cast<double>(want.sum),
                1e-9 * std::abs(static_cast<double>(want.sum)));
  }
}

TEST(StatsKernelTest, Float32WithNonFiniteValues) {
  auto value = +[](int64_t i, int64_t j, int64_t k) -> float {
    if ((i + j + k) % 11 == 0) return std::numeric_limits<float>::quiet_NaN();
    if ((i * j + k) % 13 == 0) return -std::numeric_limits<float>::infinity();
    return 280.0f + 0.25f * static_cast<float>(i) - 1.5f * static_cast<float>(j * k);
  };
  ExpectMatches<float>({DataType::Kind::kFloat, 4, false}, value, 1e30f);
}

TEST(StatsKernelTest, Float64) {
  auto value = +[](int64_t i, int64_t j, int64_t k) -> double {
    return std::sin(static_cast<double>(i * 100 + j * 10 + k)) * 1e5;
  };
  ExpectMatches<double>({DataType::Kind::kFloat, 8, false}, value,
                        std::numeric_limits<double>::quiet_NaN());
}

TEST(StatsKernelTest, Int16) {
  auto value = +[](int64_t i, int64_t j, int64_t k) -> int16_t {
    return static_cast<int16_t>((i * 1000 - j * 300 + k * 7) % 30000);
  };
  ExpectMatches<int16_t>({DataType::Kind::kInt, 2, false}, value, int16_t{32767});
}

TEST(StatsKernelTest, Uint8) {
  auto value = +[](int64_t i, int64_t j, int64_t k) -> uint8_t {
    return static_cast<uint8_t>(i * 40 + j * 3 + k);
  };
  ExpectMatches<uint8_t>({DataType::Kind::kUint, 1, false}, value, uint8_t{255});
}

TEST(StatsKernelTest, Int64AndUint32) {
  auto i64 = +[](int64_t i, int64_t j, int64_t k) -> int64_t {
    return (i - 2) * 1'000'000'000'000 + j * k;
  };
  ExpectMatches<int64_t>({DataType::Kind::kInt, 8, false}, i64, INT64_MAX);
  auto u32 = +[](int64_t i, int64_t j, int64_t k) -> uint32_t {
    return static_cast<uint32_t>(4'000'000'000u - static_cast<uint32_t>(i * j * k));
  };
  ExpectMatches<uint32_t>({DataType::Kind::kUint, 4, false}, u32, 0u);
}

TEST(StatsKernelTest, OneDimensionalAndScalar) {
  std::vector<float> v = {1, 2, 3, 4, 100, 100};  // the last two are padding
  const std::vector<int64_t> shape = {6}, extent = {4};
  ChunkStats s = ComputeChunkStats(reinterpret_cast<const uint8_t*>(v.data()),
                                   {DataType::Kind::kFloat, 4, false}, shape, extent);
  EXPECT_EQ(s.count, 4u);
  EXPECT_EQ(s.sum, 10.0);
  EXPECT_EQ(s.max, 4.0);

  const double scalar = -3.5;
  s = ComputeChunkStats(reinterpret_cast<const uint8_t*>(&scalar),
                        {DataType::Kind::kFloat, 8, false}, {}, {});
  EXPECT_EQ(s.count, 1u);
  EXPECT_EQ(s.min, -3.5);
}

TEST(StatsKernelTest, EmptyExtentCountsNothing) {
  std::vector<float> v(12, 1.0f);
  const std::vector<int64_t> shape = {3, 4}, extent = {0, 4};
  const ChunkStats s = ComputeChunkStats(reinterpret_cast<const uint8_t*>(v.data()),
                                         {DataType::Kind::kFloat, 4, false}, shape, extent);
  EXPECT_EQ(s.count, 0u);
}

TEST(StatsAccumulatorTest, AllNonFiniteGivesNullMinMaxMean) {
  StatsAccumulator acc;
  acc.Add({.count = 3, .nan_count = 3});
  const nlohmann::json r = acc.ToResult();
  EXPECT_EQ(r["count"], 3);
  EXPECT_EQ(r["nan_count"], 3);
  EXPECT_TRUE(r["min"].is_null());
  EXPECT_TRUE(r["mean"].is_null());
  EXPECT_EQ(r["sum"], 0.0);
}

TEST(StatsAccumulatorTest, CheckpointRoundTripIsExact) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(-1e6, 1e6);
  StatsAccumulator acc;
  for (int i = 0; i < 100; ++i) {
    const double x = u(rng), y = u(rng);
    acc.Add(
        {.count = 10, .nan_count = 1, .min = std::min(x, y), .max = std::max(x, y), .sum = x + y});
  }
  Result<StatsAccumulator> back = StatsAccumulator::FromState(acc.ToState());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->ToResult(), acc.ToResult());
  EXPECT_EQ(back->sum, acc.sum);
  EXPECT_FALSE(StatsAccumulator::FromState({{"count", "x"}}).ok());
}

TEST(StatsAccumulatorTest, MeanIsOverFiniteElements) {
  StatsAccumulator acc;
  acc.Add({.count = 4, .nan_count = 1, .min = 1, .max = 5, .sum = 9});
  const nlohmann::json r = acc.ToResult();
  EXPECT_EQ(r["mean"], 3.0);
  EXPECT_EQ(r["min"], 1.0);
}

}  // namespace
}  // namespace batchd::pipeline
