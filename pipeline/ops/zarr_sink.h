// What the ops that write a zarr sink array (transcode, the command op's chunk stream)
// share: the fill value a .zarray can hold, and the refusal of a sink that holds another array.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "pipeline/formats/array_metadata.h"
#include "pipeline/stores/chunk_store.h"

namespace batchd::pipeline {

// zarr v2 spells non-finite float fill values as strings and has no bit-pattern form (zarr v3
// "0x7fc00000"): `array`'s fill value as a .zarray can hold it.
nlohmann::json FillValueForZarrV2(const ArrayMetadata& array);

// A sink that already holds an array of another shape, chunking or dtype would end up a
// mixture of two arrays: kInvalidArgument at "/sink/url" (naming `op`) before anything is
// written. Ok for an empty sink or one holding the same array (zarr v2 `.zarray`, or zarr v3
// `zarr.json` when out.format is "zarr3": the same grid and inner chunks).
Status CheckSinkIsCompatible(ChunkStore& sink, const ArrayMetadata& out, const std::string& op);

}  // namespace batchd::pipeline
