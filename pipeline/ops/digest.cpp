#include "pipeline/ops/digest.h"

#include <xxhash.h>

#include "pipeline/codecs/crc32c_paths.h"

namespace batchd::pipeline {

uint64_t XxHash64(ByteView data, uint64_t seed) { return XXH64(data.data(), data.size(), seed); }

uint32_t Crc32c(ByteView data) {
  static const auto implementation =
      crc32c::HardwareAvailable() ? &crc32c::Hardware : &crc32c::Portable;
  return implementation(data);
}

}  // namespace batchd::pipeline
