// Fuzzes zarr v3 metadata: the input is a `zarr.json` document (array_metadata_fuzz.h).
#include "fuzz/array_metadata_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  batchd::fuzz::FuzzArrayMetadata("zarr3", "zarr.json", data, size);
  return 0;
}
