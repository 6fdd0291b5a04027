#include "pipeline/ops/stats_runs.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace batchd::pipeline {
namespace {

// The tail of a run (and the portable float loop's body): one element.
template <typename T>
void AddOne(T v, RunStats& r, double& sum) {
  if constexpr (std::is_floating_point_v<T>) {
    if (!std::isfinite(v)) return;
  }
  const double d = static_cast<double>(v);
  sum += d;
  ++r.finite;
  r.min = std::min(r.min, d);
  r.max = std::max(r.max, d);
}

// Integers: independent lanes with nothing that branches, which the compiler turns into vector
// instructions by itself. Sums of integers of up to 32 bits are exact in int64 (a chunk is at
// most 2 GiB, so its sum stays below 2^62); 64-bit integers are summed in double.
template <typename T>
void AddIntegerRun(const uint8_t* bytes, int64_t n, RunStats& r) {
  if (n <= 0) return;  // (untouched lanes would report their start values)
  constexpr int L = sizeof(T) == 8 ? 4 : 8;
  using Sum = std::conditional_t<sizeof(T) <= 4, int64_t, double>;
  Sum sum[L] = {};
  T lo[L], hi[L];
  std::fill(lo, lo + L, std::numeric_limits<T>::max());
  std::fill(hi, hi + L, std::numeric_limits<T>::lowest());
  int64_t i = 0;
  for (; i + L <= n; i += L) {
    T block[L];
    std::memcpy(block, bytes + i * sizeof(T), sizeof(block));
    for (int l = 0; l < L; ++l) {
      sum[l] += static_cast<Sum>(block[l]);
      lo[l] = std::min(lo[l], block[l]);
      hi[l] = std::max(hi[l], block[l]);
    }
  }
  Sum total = 0;
  for (int l = 0; l < L; ++l) {
    total += sum[l];
    r.min = std::min(r.min, static_cast<double>(lo[l]));
    r.max = std::max(r.max, static_cast<double>(hi[l]));
  }
  r.finite += static_cast<uint64_t>(i);
  double tail = 0;
  for (; i < n; ++i) {
    T v;
    std::memcpy(&v, bytes + i * sizeof(T), sizeof(T));
    AddOne(v, r, tail);
  }
  r.sum += static_cast<double>(total) + tail;
}

// Floats on any CPU: element by element, four lanes to shorten the dependency chains.
template <typename T>
void AddFloatRunPortable(const uint8_t* bytes, int64_t n, RunStats& r) {
  RunStats lane[4];
  double sum[4] = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    T v[4];
    std::memcpy(v, bytes + i * sizeof(T), sizeof(v));
    for (int l = 0; l < 4; ++l) AddOne(v[l], lane[l], sum[l]);
  }
  for (; i < n; ++i) {
    T v;
    std::memcpy(&v, bytes + i * sizeof(T), sizeof(T));
    AddOne(v, lane[0], sum[0]);
  }
  for (int l = 0; l < 4; ++l) {
    r.finite += lane[l].finite;
    r.min = std::min(r.min, lane[l].min);
    r.max = std::max(r.max, lane[l].max);
  }
  r.sum += (sum[0] + sum[1]) + (sum[2] + sum[3]);
}

#if defined(__x86_64__)

// The vector loops share one recipe. For each vector v of elements:
//   t = v - v               0 where v is finite, NaN where it is NaN or ±inf
//   finite = (t == 0)       all ones where finite
//   sum += double(v & finite)    non-finite elements add 0
//   m = v | t               v where finite, NaN elsewhere
//   lo = MIN(m, lo)         MINPS/MAXPS return their second operand when either is NaN, so
//   hi = MAX(m, hi)         non-finite elements leave min and max alone
//   count -= finite         all ones is -1
// Two independent sets of accumulators per step hide the latency of the adds. Min and max stay
// in the element type (converting them afterwards gives the same values); the sum is in double,
// per lane, reduced in a fixed order, so a run always gives the same sum.

// Adds the lane values of the accumulators to `r`, in a fixed order.
template <size_t kSums, size_t kMinMax, typename Element>
void Reduce(const double (&sums)[kSums], const Element (&lo)[kMinMax], const Element (&hi)[kMinMax],
            int64_t finite, RunStats& r, double tail) {
  double total = 0;
  for (double s : sums) total += s;
  for (size_t l = 0; l < kMinMax; ++l) {
    r.min = std::min(r.min, static_cast<double>(lo[l]));
    r.max = std::max(r.max, static_cast<double>(hi[l]));
  }
  r.sum += total + tail;
  r.finite += static_cast<uint64_t>(finite);
}

// The elements after the last whole step, one at a time (their sum goes to `tail`).
template <typename T>
void AddTail(const uint8_t* bytes, int64_t i, int64_t n, RunStats& r, double& tail) {
  for (; i < n; ++i) {
    T v;
    std::memcpy(&v, bytes + i * sizeof(T), sizeof(T));
    AddOne(v, r, tail);
  }
}

void AddFloat32RunSse2(const uint8_t* bytes, int64_t n, RunStats& r) {
  const float* p = reinterpret_cast<const float*>(bytes);
  const __m128 zero = _mm_setzero_ps();
  __m128d sum[4] = {_mm_setzero_pd(), _mm_setzero_pd(), _mm_setzero_pd(), _mm_setzero_pd()};
  __m128 lo[2] = {_mm_set1_ps(INFINITY), _mm_set1_ps(INFINITY)};
  __m128 hi[2] = {_mm_set1_ps(-INFINITY), _mm_set1_ps(-INFINITY)};
  __m128i count[2] = {_mm_setzero_si128(), _mm_setzero_si128()};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 2; ++k) {
      const __m128 v = _mm_loadu_ps(p + i + 4 * k);
      const __m128 t = _mm_sub_ps(v, v);
      const __m128 finite = _mm_cmpeq_ps(t, zero);
      const __m128 x = _mm_and_ps(v, finite);
      sum[2 * k] = _mm_add_pd(sum[2 * k], _mm_cvtps_pd(x));
      sum[2 * k + 1] = _mm_add_pd(sum[2 * k + 1], _mm_cvtps_pd(_mm_movehl_ps(x, x)));
      const __m128 m = _mm_or_ps(v, t);
      lo[k] = _mm_min_ps(m, lo[k]);
      hi[k] = _mm_max_ps(m, hi[k]);
      count[k] = _mm_sub_epi32(count[k], _mm_castps_si128(finite));
    }
  }
  double sums[8];
  float los[8], his[8];
  int32_t counts[8];
  for (int k = 0; k < 4; ++k) _mm_storeu_pd(sums + 2 * k, sum[k]);
  for (int k = 0; k < 2; ++k) {
    _mm_storeu_ps(los + 4 * k, lo[k]);
    _mm_storeu_ps(his + 4 * k, hi[k]);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(counts + 4 * k), count[k]);
  }
  int64_t finite = 0;
  for (int32_t c : counts) finite += c;
  double tail = 0;
  AddTail<float>(bytes, i, n, r, tail);
  Reduce(sums, los, his, finite, r, tail);
}

void AddFloat64RunSse2(const uint8_t* bytes, int64_t n, RunStats& r) {
  const double* p = reinterpret_cast<const double*>(bytes);
  const __m128d zero = _mm_setzero_pd();
  __m128d sum[2] = {_mm_setzero_pd(), _mm_setzero_pd()};
  __m128d lo[2] = {_mm_set1_pd(INFINITY), _mm_set1_pd(INFINITY)};
  __m128d hi[2] = {_mm_set1_pd(-INFINITY), _mm_set1_pd(-INFINITY)};
  __m128i count[2] = {_mm_setzero_si128(), _mm_setzero_si128()};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    for (int k = 0; k < 2; ++k) {
      const __m128d v = _mm_loadu_pd(p + i + 2 * k);
      const __m128d t = _mm_sub_pd(v, v);
      const __m128d finite = _mm_cmpeq_pd(t, zero);
      sum[k] = _mm_add_pd(sum[k], _mm_and_pd(v, finite));
      const __m128d m = _mm_or_pd(v, t);
      lo[k] = _mm_min_pd(m, lo[k]);
      hi[k] = _mm_max_pd(m, hi[k]);
      count[k] = _mm_sub_epi64(count[k], _mm_castpd_si128(finite));
    }
  }
  double sums[4], los[4], his[4];
  int64_t counts[4];
  for (int k = 0; k < 2; ++k) {
    _mm_storeu_pd(sums + 2 * k, sum[k]);
    _mm_storeu_pd(los + 2 * k, lo[k]);
    _mm_storeu_pd(his + 2 * k, hi[k]);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(counts + 2 * k), count[k]);
  }
  int64_t finite = 0;
  for (int64_t c : counts) finite += c;
  double tail = 0;
  AddTail<double>(bytes, i, n, r, tail);
  Reduce(sums, los, his, finite, r, tail);
}

__attribute__((target("avx2"))) void AddFloat32RunAvx2(const uint8_t* bytes, int64_t n,
                                                       RunStats& r) {
  const float* p = reinterpret_cast<const float*>(bytes);
  const __m256 zero = _mm256_setzero_ps();
  __m256d sum[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(),
                    _mm256_setzero_pd()};
  __m256 lo[2] = {_mm256_set1_ps(INFINITY), _mm256_set1_ps(INFINITY)};
  __m256 hi[2] = {_mm256_set1_ps(-INFINITY), _mm256_set1_ps(-INFINITY)};
  __m256i count[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int k = 0; k < 2; ++k) {
      const __m256 v = _mm256_loadu_ps(p + i + 8 * k);
      const __m256 t = _mm256_sub_ps(v, v);
      const __m256 finite = _mm256_cmp_ps(t, zero, _CMP_EQ_OQ);
      const __m256 x = _mm256_and_ps(v, finite);
      sum[2 * k] = _mm256_add_pd(sum[2 * k], _mm256_cvtps_pd(_mm256_castps256_ps128(x)));
      sum[2 * k + 1] = _mm256_add_pd(sum[2 * k + 1], _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)));
      const __m256 m = _mm256_or_ps(v, t);
      lo[k] = _mm256_min_ps(m, lo[k]);
      hi[k] = _mm256_max_ps(m, hi[k]);
      count[k] = _mm256_sub_epi32(count[k], _mm256_castps_si256(finite));
    }
  }
  double sums[16];
  float los[16], his[16];
  int32_t counts[16];
  for (int k = 0; k < 4; ++k) _mm256_storeu_pd(sums + 4 * k, sum[k]);
  for (int k = 0; k < 2; ++k) {
    _mm256_storeu_ps(los + 8 * k, lo[k]);
    _mm256_storeu_ps(his + 8 * k, hi[k]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(counts + 8 * k), count[k]);
  }
  int64_t finite = 0;
  for (int32_t c : counts) finite += c;
  double tail = 0;
  AddTail<float>(bytes, i, n, r, tail);
  Reduce(sums, los, his, finite, r, tail);
}

__attribute__((target("avx2"))) void AddFloat64RunAvx2(const uint8_t* bytes, int64_t n,
                                                       RunStats& r) {
  const double* p = reinterpret_cast<const double*>(bytes);
  const __m256d zero = _mm256_setzero_pd();
  __m256d sum[2] = {_mm256_setzero_pd(), _mm256_setzero_pd()};
  __m256d lo[2] = {_mm256_set1_pd(INFINITY), _mm256_set1_pd(INFINITY)};
  __m256d hi[2] = {_mm256_set1_pd(-INFINITY), _mm256_set1_pd(-INFINITY)};
  __m256i count[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 2; ++k) {
      const __m256d v = _mm256_loadu_pd(p + i + 4 * k);
      const __m256d t = _mm256_sub_pd(v, v);
      const __m256d finite = _mm256_cmp_pd(t, zero, _CMP_EQ_OQ);
      sum[k] = _mm256_add_pd(sum[k], _mm256_and_pd(v, finite));
      const __m256d m = _mm256_or_pd(v, t);
      lo[k] = _mm256_min_pd(m, lo[k]);
      hi[k] = _mm256_max_pd(m, hi[k]);
      count[k] = _mm256_sub_epi64(count[k], _mm256_castpd_si256(finite));
    }
  }
  double sums[8], los[8], his[8];
  int64_t counts[8];
  for (int k = 0; k < 2; ++k) {
    _mm256_storeu_pd(sums + 4 * k, sum[k]);
    _mm256_storeu_pd(los + 4 * k, lo[k]);
    _mm256_storeu_pd(his + 4 * k, hi[k]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(counts + 4 * k), count[k]);
  }
  int64_t finite = 0;
  for (int64_t c : counts) finite += c;
  double tail = 0;
  AddTail<double>(bytes, i, n, r, tail);
  Reduce(sums, los, his, finite, r, tail);
}

// AVX-512: the same per-element logic with mask registers instead of the bit tricks: the
// finite lanes take part in min, max and sum (masked operations), and the count only needs work
// when a vector holds a non-finite element.
__attribute__((target("avx512f,avx512dq"))) void AddFloat32RunAvx512(const uint8_t* bytes,
                                                                     int64_t n, RunStats& r) {
  const float* p = reinterpret_cast<const float*>(bytes);
  constexpr int kNotFinite = 0x01 | 0x08 | 0x10 | 0x80;  // QNaN, +inf, -inf, SNaN
  __m512d sum[4] = {_mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(),
                    _mm512_setzero_pd()};
  __m512 lo[2] = {_mm512_set1_ps(INFINITY), _mm512_set1_ps(INFINITY)};
  __m512 hi[2] = {_mm512_set1_ps(-INFINITY), _mm512_set1_ps(-INFINITY)};
  int64_t rejected = 0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int k = 0; k < 2; ++k) {
      const __m512 v = _mm512_loadu_ps(p + i + 16 * k);
      const __mmask16 finite = static_cast<__mmask16>(~_mm512_fpclass_ps_mask(v, kNotFinite));
      lo[k] = _mm512_mask_min_ps(lo[k], finite, lo[k], v);
      hi[k] = _mm512_mask_max_ps(hi[k], finite, hi[k], v);
      // (The maskz forms: GCC 12's unmasked ones trip -Wmaybe-uninitialized, GCC bug 105593.)
      const __m512d low = _mm512_maskz_cvtps_pd(0xFF, _mm512_maskz_extractf32x8_ps(0xFF, v, 0));
      const __m512d high = _mm512_maskz_cvtps_pd(0xFF, _mm512_maskz_extractf32x8_ps(0xFF, v, 1));
      sum[2 * k] = _mm512_mask_add_pd(sum[2 * k], static_cast<__mmask8>(finite), sum[2 * k], low);
      sum[2 * k + 1] = _mm512_mask_add_pd(sum[2 * k + 1], static_cast<__mmask8>(finite >> 8),
                                          sum[2 * k + 1], high);
      if (finite != 0xFFFF) rejected += 16 - __builtin_popcount(finite);
    }
  }
  double sums[32];
  float los[32], his[32];
  for (int k = 0; k < 4; ++k) _mm512_storeu_pd(sums + 8 * k, sum[k]);
  for (int k = 0; k < 2; ++k) {
    _mm512_storeu_ps(los + 16 * k, lo[k]);
    _mm512_storeu_ps(his + 16 * k, hi[k]);
  }
  double tail = 0;
  AddTail<float>(bytes, i, n, r, tail);
  Reduce(sums, los, his, i - rejected, r, tail);
}

__attribute__((target("avx512f,avx512dq"))) void AddFloat64RunAvx512(const uint8_t* bytes,
                                                                     int64_t n, RunStats& r) {
  const double* p = reinterpret_cast<const double*>(bytes);
  constexpr int kNotFinite = 0x01 | 0x08 | 0x10 | 0x80;  // QNaN, +inf, -inf, SNaN
  __m512d sum[2] = {_mm512_setzero_pd(), _mm512_setzero_pd()};
  __m512d lo[2] = {_mm512_set1_pd(INFINITY), _mm512_set1_pd(INFINITY)};
  __m512d hi[2] = {_mm512_set1_pd(-INFINITY), _mm512_set1_pd(-INFINITY)};
  int64_t rejected = 0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int k = 0; k < 2; ++k) {
      const __m512d v = _mm512_loadu_pd(p + i + 8 * k);
      const __mmask8 finite = static_cast<__mmask8>(~_mm512_fpclass_pd_mask(v, kNotFinite));
      lo[k] = _mm512_mask_min_pd(lo[k], finite, lo[k], v);
      hi[k] = _mm512_mask_max_pd(hi[k], finite, hi[k], v);
      sum[k] = _mm512_mask_add_pd(sum[k], finite, sum[k], v);
      if (finite != 0xFF) rejected += 8 - __builtin_popcount(finite);
    }
  }
  double sums[16], los[16], his[16];
  for (int k = 0; k < 2; ++k) {
    _mm512_storeu_pd(sums + 8 * k, sum[k]);
    _mm512_storeu_pd(los + 8 * k, lo[k]);
    _mm512_storeu_pd(his + 8 * k, hi[k]);
  }
  double tail = 0;
  AddTail<double>(bytes, i, n, r, tail);
  Reduce(sums, los, his, i - rejected, r, tail);
}

bool HasAvx512() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
  return has;
}

bool HasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}

#endif  // __x86_64__

RunFunction IntegerRunFor(const DataType& dtype) {
  const bool is_signed = dtype.kind == DataType::Kind::kInt;
  switch (dtype.size) {
    case 1:
      return is_signed ? &AddIntegerRun<int8_t> : &AddIntegerRun<uint8_t>;
    case 2:
      return is_signed ? &AddIntegerRun<int16_t> : &AddIntegerRun<uint16_t>;
    case 4:
      return is_signed ? &AddIntegerRun<int32_t> : &AddIntegerRun<uint32_t>;
    default:
      return is_signed ? &AddIntegerRun<int64_t> : &AddIntegerRun<uint64_t>;
  }
}

}  // namespace

std::vector<NamedRunFunction> AllRunFunctionsFor(const DataType& dtype) {
  if (dtype.kind != DataType::Kind::kFloat) return {{"portable", IntegerRunFor(dtype)}};
  const bool f32 = dtype.size == 4;
  std::vector<NamedRunFunction> all = {
      {"portable", f32 ? &AddFloatRunPortable<float> : &AddFloatRunPortable<double>}};
#if defined(__x86_64__)
  all.push_back({"sse2", f32 ? &AddFloat32RunSse2 : &AddFloat64RunSse2});
  if (HasAvx2()) all.push_back({"avx2", f32 ? &AddFloat32RunAvx2 : &AddFloat64RunAvx2});
  if (HasAvx512()) all.push_back({"avx512", f32 ? &AddFloat32RunAvx512 : &AddFloat64RunAvx512});
#endif
  return all;
}

RunFunction RunFunctionFor(const DataType& dtype) {
  if (dtype.kind != DataType::Kind::kFloat) return IntegerRunFor(dtype);
  const bool f32 = dtype.size == 4;
#if defined(__x86_64__)
  if (HasAvx512()) return f32 ? &AddFloat32RunAvx512 : &AddFloat64RunAvx512;
  if (HasAvx2()) return f32 ? &AddFloat32RunAvx2 : &AddFloat64RunAvx2;
  return f32 ? &AddFloat32RunSse2 : &AddFloat64RunSse2;
#else
  return f32 ? &AddFloatRunPortable<float> : &AddFloatRunPortable<double>;
#endif
}

}  // namespace batchd::pipeline
