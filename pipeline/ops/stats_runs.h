// The inner loops of the stats kernel (stats_kernel.h): the figures of one contiguous run of
// elements. They run over every decoded byte of a stats session, right after the codec, so
// they must cost a small fraction of a decode: floats are handled with vector instructions
// (SSE2, or AVX2 or AVX-512 when the CPU has them, chosen once at run time), integers with
// independent lanes the compiler vectorizes.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "pipeline/formats/dtype.h"

namespace batchd::pipeline {

// What runs add up to. `finite` counts the elements that take part (for integers, all of
// them); non-finite floats (NaN, ±inf) take no part in min, max or sum.
struct RunStats {
  uint64_t finite = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  double sum = 0;
};

// Adds the `n` elements at `bytes` (native byte order, no alignment needed) to `stats`. Within
// a run the summation order is fixed, so the same run always gives the same sum.
using RunFunction = void (*)(const uint8_t* bytes, int64_t n, RunStats& stats);

// The loop for `dtype`, the fastest this CPU runs.
RunFunction RunFunctionFor(const DataType& dtype);

// Every loop this CPU can run for `dtype`, named ("portable", "sse2", "avx2", "avx512"), so
// the tests can check that they agree.
struct NamedRunFunction {
  std::string name;
  RunFunction run;
};
std::vector<NamedRunFunction> AllRunFunctionsFor(const DataType& dtype);

}  // namespace batchd::pipeline
