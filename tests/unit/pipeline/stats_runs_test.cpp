// The stats kernel's run loops: every implementation this CPU has (portable, SSE2, AVX2) gives
// the same count, min and max as a plain loop, and a sum within rounding of it, on every length
// and alignment, with NaN and infinities anywhere.
#include "pipeline/ops/stats_runs.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace batchd::pipeline {
namespace {

template <typename T>
RunStats PlainLoop(const std::vector<T>& values, size_t first, size_t n) {
  RunStats r;
  long double sum = 0;
  for (size_t i = first; i < first + n; ++i) {
    const T v = values[i];
    if (!std::isfinite(v)) continue;
    ++r.finite;
    r.min = std::min(r.min, static_cast<double>(v));
    r.max = std::max(r.max, static_cast<double>(v));
    sum += v;
  }
  r.sum = static_cast<double>(sum);
  return r;
}

// Values around 280 (like the benchmark's field), with non-finite ones sprinkled in at a rate
// of `special_every` (0: none); min and max sit at random places.
template <typename T>
std::vector<T> Values(size_t count, int special_every, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(280.0, 10.0);
  std::vector<T> v(count);
  for (T& x : v) x = static_cast<T>(noise(rng));
  if (special_every > 0) {
    const T specials[] = {std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::infinity(),
                          -std::numeric_limits<T>::infinity(),
                          -std::numeric_limits<T>::signaling_NaN()};
    for (size_t i = 0; i < count; ++i) {
      if (rng() % static_cast<uint64_t>(special_every) == 0) v[i] = specials[rng() % 4];
    }
  }
  if (count > 2) {
    v[rng() % count] = static_cast<T>(-1e6);
    v[rng() % count] = static_cast<T>(1e6);
  }
  return v;
}

template <typename T>
void ExpectEveryLoopAgrees(const DataType& dtype) {
  const std::vector<NamedRunFunction> loops = AllRunFunctionsFor(dtype);
  ASSERT_FALSE(loops.empty());
#if defined(__x86_64__)
  EXPECT_GE(loops.size(), 2u) << "x86-64 always has SSE2";
#endif
  for (int special_every : {0, 7, 1}) {
    const std::vector<T> values = Values<T>(300, special_every, 11 + special_every);
    // Every length up to a few vector steps and a long one, at every alignment of a vector.
    for (size_t first = 0; first < 8; ++first) {
      for (size_t n :
           {size_t{0}, size_t{1}, size_t{3}, size_t{7}, size_t{8}, size_t{15}, size_t{16},
            size_t{17}, size_t{31}, size_t{33}, size_t{64}, size_t{100}, size_t{290}}) {
        const RunStats want = PlainLoop(values, first, n);
        for (const NamedRunFunction& loop : loops) {
          SCOPED_TRACE(loop.name + " first " + std::to_string(first) + " n " + std::to_string(n) +
                       " special_every " + std::to_string(special_every));
          RunStats got;
          loop.run(reinterpret_cast<const uint8_t*>(values.data() + first), static_cast<int64_t>(n),
                   got);
          EXPECT_EQ(got.finite, want.finite);
          EXPECT_EQ(got.min, want.min);
          EXPECT_EQ(got.max, want.max);
          EXPECT_NEAR(got.sum, want.sum, 1e-12 * std::max(1.0, std::abs(want.sum)));
        }
      }
    }
  }
}

TEST(StatsRunsTest, Float32LoopsAgreeWithAPlainLoop) {
  ExpectEveryLoopAgrees<float>({DataType::Kind::kFloat, 4, false});
}

TEST(StatsRunsTest, Float64LoopsAgreeWithAPlainLoop) {
  ExpectEveryLoopAgrees<double>({DataType::Kind::kFloat, 8, false});
}

TEST(StatsRunsTest, RunsAddToWhatIsAlreadyThere) {
  const std::vector<float> values = {5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21};
  for (const NamedRunFunction& loop : AllRunFunctionsFor({DataType::Kind::kFloat, 4, false})) {
    SCOPED_TRACE(loop.name);
    RunStats r{.finite = 2, .min = 1, .max = 30, .sum = 31};
    loop.run(reinterpret_cast<const uint8_t*>(values.data()), static_cast<int64_t>(values.size()),
             r);
    EXPECT_EQ(r.finite, 2u + values.size());
    EXPECT_EQ(r.min, 1);
    EXPECT_EQ(r.max, 30);
    EXPECT_EQ(r.sum, 31 + 17 * 13);
  }
}

TEST(StatsRunsTest, IntegerRunsAreExactAtTheExtremes) {
  const std::vector<int32_t> values(1000, std::numeric_limits<int32_t>::min());
  RunStats r;
  RunFunctionFor({DataType::Kind::kInt, 4, false})(reinterpret_cast<const uint8_t*>(values.data()),
                                                   1000, r);
  EXPECT_EQ(r.finite, 1000u);
  EXPECT_EQ(r.sum, -2147483648000.0);
  EXPECT_EQ(r.min, -2147483648.0);
  EXPECT_EQ(r.max, -2147483648.0);

  const std::vector<uint64_t> big = {std::numeric_limits<uint64_t>::max(), 0, 5};
  r = RunStats();
  RunFunctionFor({DataType::Kind::kUint, 8, false})(reinterpret_cast<const uint8_t*>(big.data()), 3,
                                                    r);
  EXPECT_EQ(r.min, 0.0);
  EXPECT_EQ(r.max, 18446744073709551615.0);
}

}  // namespace
}  // namespace batchd::pipeline
