// The two implementations behind Crc32c (digest.h). Only digest.cpp and the tests that prove
// the two agree should call these directly.
#pragma once

#include <cstdint>

#include "pipeline/bytes.h"

namespace batchd::pipeline::crc32c {

// Slicing-by-8 over lookup tables built at compile time: runs on any CPU.
uint32_t Portable(ByteView data);

// True when this CPU executes SSE4.2's crc32 instruction (always false off x86).
bool HardwareAvailable();

// The crc32 instruction, 8 bytes at a time. Only call it when HardwareAvailable().
uint32_t Hardware(ByteView data);

}  // namespace batchd::pipeline::crc32c
