// Deterministic chunk contents for the codec tests.
#pragma once

#include <cstddef>
#include <cstdint>

#include "pipeline/bytes.h"

namespace batchd::pipeline::testing {

// Uniformly random bytes: incompressible, so codecs take their "stored" paths.
Bytes RandomBytes(size_t size, uint64_t seed);

// The first `size` bytes of a little-endian float32 field like the one
// ../shared/anchors/make_zarr.py writes (a smooth wave plus noise, rounded to 2 decimals), laid
// out as rows of `row_length` values: what real chunks compress like.
Bytes FieldBytes(size_t size, uint64_t seed, size_t row_length = 512);

}  // namespace batchd::pipeline::testing
