// The body shared by the zarr metadata fuzzers: plant the fuzzer's bytes as an array's metadata
// document in a MemoryChunkStore, open it through the real FormatRegistry, and check what the
// pipeline relies on for every array a format accepts (see array_metadata_fuzz.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

namespace batchd::fuzz {

// `format` is a registered format name ("zarr2", "zarr3"); `document_key` is where that format
// reads its metadata (".zarray", "zarr.json"). Aborts (a libFuzzer crash) on a broken property.
void FuzzArrayMetadata(const char* format, const char* document_key, const uint8_t* data,
                       size_t size);

}  // namespace batchd::fuzz
