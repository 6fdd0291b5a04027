// An exact sum of doubles. Chunks finish in whatever order the decode threads reach them, and
// a resumed session adds its remaining chunks to a sum saved at a checkpoint, so a floating
// point running sum would differ from run to run in its last bits. ExactSum holds the sum of
// every double added as an exact fixed-point number (a few kilobits wide), so the result is
// the same whatever the order, and Value() is within one rounding of the true sum.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "core/status.h"

namespace batchd::pipeline {

class ExactSum {
 public:
  // Adds a finite double (NaN and infinities must be filtered by the caller; they are
  // ignored here).
  void Add(double x);
  void Add(const ExactSum& other);

  // The sum, rounded to a double (the same double for the same set of inputs).
  double Value() const;

  // A compact text form for checkpoints and results; Parse(Serialize()) is equal.
  std::string Serialize() const;
  static Result<ExactSum> Parse(const std::string& text);

  friend bool operator==(const ExactSum& a, const ExactSum& b);

 private:
  // Limb i holds digits of weight 2^(32 i - 1152) (exact_sum.cpp). Limbs are signed 64-bit so
  // that adds can skip carry propagation until kAddsBeforeNormalize of them have accumulated.
  static constexpr int kLimbs = 70;  // 2240 bits: the whole double range plus carry room
  static constexpr int kAddsBeforeNormalize = 1 << 20;

  void Normalize();

  std::array<int64_t, kLimbs> limbs_{};
  int pending_adds_ = 0;
};

}  // namespace batchd::pipeline
