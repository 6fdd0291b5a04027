#include "pipeline/ops/exact_sum.h"

#include <cmath>
#include <cstdlib>

namespace batchd::pipeline {
namespace {

// A double is m * 2^e with |m| < 2^53 and -1126 <= e <= 971. Bit positions are shifted by
// this bias so that the smallest subnormal lands at a non-negative position.
constexpr int kPositionBias = 1152;
constexpr int64_t kDigit = int64_t{1} << 32;

}  // namespace

void ExactSum::Add(double x) {
  if (!std::isfinite(x) || x == 0) return;
  int exponent = 0;
  const double fraction = std::frexp(x, &exponent);  // x = fraction * 2^exponent
  const auto mantissa = static_cast<int64_t>(std::ldexp(fraction, 53));  // exact
  const int position = exponent - 53 + kPositionBias;
  const int limb = position / 32;
  const unsigned __int128 magnitude = static_cast<unsigned __int128>(std::llabs(mantissa))
                                      << (position % 32);
  const int64_t sign = mantissa < 0 ? -1 : 1;
  limbs_[limb] += sign * static_cast<int64_t>(magnitude & 0xffffffffu);
  limbs_[limb + 1] += sign * static_cast<int64_t>((magnitude >> 32) & 0xffffffffu);
  limbs_[limb + 2] += sign * static_cast<int64_t>(magnitude >> 64);
  if (++pending_adds_ >= kAddsBeforeNormalize) Normalize();
}

void ExactSum::Add(const ExactSum& other) {
  ExactSum normalized = other;
  normalized.Normalize();
  Normalize();
  for (int i = 0; i < kLimbs; ++i) limbs_[i] += normalized.limbs_[i];
  Normalize();
}

void ExactSum::Normalize() {
  // Afterwards every limb but the last is a digit in [0, 2^32); the last carries the sign.
  for (int i = 0; i + 1 < kLimbs; ++i) {
    const int64_t carry = limbs_[i] >> 32;  // floor division by 2^32
    limbs_[i] -= carry * kDigit;
    limbs_[i + 1] += carry;
  }
  pending_adds_ = 0;
}

double ExactSum::Value() const {
  ExactSum v = *this;
  v.Normalize();
  // With digits non-negative, the sign is the sign of the last limb. Work on the magnitude so
  // the top limbs hold the leading bits without cancellation.
  const bool negative = v.limbs_[kLimbs - 1] < 0;
  if (negative) {
    for (int64_t& limb : v.limbs_) limb = -limb;
    v.Normalize();
  }
  int top = kLimbs - 1;
  while (top >= 0 && v.limbs_[top] == 0) --top;
  if (top < 0) return 0.0;
  // Three 32-bit digits carry 64+ significant bits; a fourth decides the rounding of the
  // third's last bits. Summing from the smallest keeps every partial sum exact until the last.
  double value = 0;
  for (int i = std::max(0, top - 3); i <= top; ++i) {
    value += std::ldexp(static_cast<double>(v.limbs_[i]), 32 * i - kPositionBias);
  }
  return negative ? -value : value;
}

std::string ExactSum::Serialize() const {
  ExactSum v = *this;
  v.Normalize();
  std::string out;
  for (int i = 0; i < kLimbs; ++i) {
    if (v.limbs_[i] == 0) continue;
    if (!out.empty()) out += ',';
    out += std::to_string(i) + ':' + std::to_string(v.limbs_[i]);
  }
  return out;
}

Result<ExactSum> ExactSum::Parse(const std::string& text) {
  ExactSum sum;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t colon = text.find(':', pos);
    const size_t comma = std::min(text.find(',', pos), text.size());
    if (colon == std::string::npos || colon > comma) {
      return Status::InvalidArgument("exact sum \"" + text + "\" is malformed");
    }
    char* end = nullptr;
    const long index = std::strtol(text.c_str() + pos, &end, 10);
    if (end != text.c_str() + colon || index < 0 || index >= kLimbs) {
      return Status::InvalidArgument("exact sum \"" + text + "\" has a bad limb index");
    }
    const long long value = std::strtoll(text.c_str() + colon + 1, &end, 10);
    if (comma == colon + 1 || end != text.c_str() + comma) {
      return Status::InvalidArgument("exact sum \"" + text + "\" has a bad limb value");
    }
    sum.limbs_[index] = value;
    pos = comma + 1;
  }
  sum.Normalize();
  return sum;
}

bool operator==(const ExactSum& a, const ExactSum& b) {
  ExactSum x = a, y = b;
  x.Normalize();
  y.Normalize();
  return x.limbs_ == y.limbs_;
}

}  // namespace batchd::pipeline
