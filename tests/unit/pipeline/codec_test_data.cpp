#include "codec_test_data.h"

#include <cmath>
#include <cstring>
#include <random>

namespace batchd::pipeline::testing {

Bytes RandomBytes(size_t size, uint64_t seed) {
  std::mt19937_64 random(seed);
  Bytes bytes(size);
  for (uint8_t& byte : bytes) byte = static_cast<uint8_t>(random());
  return bytes;
}

Bytes FieldBytes(size_t size, uint64_t seed, size_t row_length) {
  std::mt19937_64 random(seed);
  std::normal_distribution<double> noise(0.0, 0.5);
  const size_t values = (size + 3) / 4;
  Bytes bytes(values * 4);
  for (size_t i = 0; i < values; ++i) {
    const double grid = static_cast<double>(i / row_length + i % row_length);
    const double value = 280.0 + 15.0 * std::sin(grid / 97.0) + noise(random);
    const float rounded = static_cast<float>(std::round(value * 100.0) / 100.0);
    std::memcpy(bytes.data() + 4 * i, &rounded, 4);  // x86-64 and every CI host: little-endian
  }
  bytes.resize(size);
  return bytes;
}

}  // namespace batchd::pipeline::testing
