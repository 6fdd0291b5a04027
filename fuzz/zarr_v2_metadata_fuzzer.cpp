// Fuzzes zarr v2 metadata: the input is a `.zarray` document (array_metadata_fuzz.h).
#include "fuzz/array_metadata_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  batchd::fuzz::FuzzArrayMetadata("zarr2", ".zarray", data, size);
  return 0;
}
