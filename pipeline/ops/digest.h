// Content digests of chunk data, for the checksum op's per-chunk manifest. Both are pure
// functions of the bytes, safe from any thread, and allocate nothing.
#pragma once

#include <cstdint>

#include "pipeline/bytes.h"

namespace batchd::pipeline {

// XXH64 (xxHash's 64-bit hash, as `xxhsum -H1` prints it) of `data` with `seed`.
uint64_t XxHash64(ByteView data, uint64_t seed = 0);

// CRC-32C (Castagnoli, the iSCSI / ext4 / zarr v3 crc32c codec checksum: reflected polynomial
// 0x82F63B78, initial value and final XOR 0xFFFFFFFF). Uses the SSE4.2 crc32 instruction when
// the CPU has it (checked once, at run time), a table-driven loop otherwise; both give the
// same value (crc32c_paths.h).
uint32_t Crc32c(ByteView data);

}  // namespace batchd::pipeline
