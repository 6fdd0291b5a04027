// What the pipeline needs to know about an array, whatever format described it: its shape, the
// regular chunk grid, the element type, the fill value, the codec chain of the chunks and how
// chunk keys are spelled. Formats (array_format.h) produce it from .zarray, zarr.json or a raw
// source spec; it is stored in a session's execution state at dequeue (ToJson/FromJson), so a
// resumed session never re-reads metadata that could have changed underneath it.
// The exact formats are in docs/pipeline.md.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "pipeline/formats/dtype.h"

namespace batchd::pipeline {

// How chunk grid coordinates become a store key.
struct ChunkKeyEncoding {
  std::string prefix;  // "" (zarr v2, raw, zarr v3 "v2" encoding) or "c" (zarr v3 "default")
  char separator = '.';

  // zarr v2: "1.2" or "1/2" ("0" for a 0-d array); zarr v3 default: "c/1/2" ("c" for 0-d).
  std::string Key(std::span<const int64_t> grid_coords) const;

  friend bool operator==(const ChunkKeyEncoding&, const ChunkKeyEncoding&) = default;
};

struct ArrayMetadata {
  std::string format;  // the format that described it: "zarr2", "zarr3" or "raw"
  std::vector<int64_t> shape;
  std::vector<int64_t> chunk_shape;  // same rank as shape, every entry >= 1
  DataType dtype;
  // As the metadata spelled it: a number, "NaN", "Infinity", "-Infinity", a "0x..." bit
  // pattern (zarr v3 floats), or null (zarr v2: no fill value; missing chunks then read as 0).
  nlohmann::json fill_value;
  // The bytes -> bytes codec of every chunk (CodecRegistry config, {"id": "raw"} when the
  // chunks are stored uncompressed).
  nlohmann::json codec = {{"id", "raw"}};
  // The array -> array filters between the array and the codec, in encode order
  // (FilterRegistry configs; chunk_codec_chain.h): zarr v2 "filters", and a "transpose" first
  // for a zarr v2 F-order array or a zarr v3 transpose codec. Empty for most arrays.
  nlohmann::json filters = nlohmann::json::array();
  // Bytes -> bytes codecs after `codec`, in encode order (CodecRegistry configs whose decoded
  // size follows from their input): a zarr v3 crc32c. Empty for most arrays.
  nlohmann::json outer_codecs = nlohmann::json::array();
  ChunkKeyEncoding keys;

  int rank() const { return static_cast<int>(shape.size()); }
  // Chunks along each dimension (the last one may be partial).
  std::vector<int64_t> GridShape() const;
  int64_t ChunkElements() const;
  size_t ChunkBytes() const { return static_cast<size_t>(ChunkElements()) * dtype.size; }

  // One element holding fill_value, in native byte order (the first dtype.size bytes).
  // kInvalidArgument when fill_value does not fit the dtype (a fraction for an integer type,
  // 300 for uint8, a string that is not one of the spellings above).
  Result<std::array<uint8_t, 8>> FillElement() const;

  // Shapes of equal rank, positive chunk sizes, non-negative shape, a chunk small enough to
  // hold in memory (at most 2 GiB decoded), fewer than 2^63 chunks in the grid, and a valid
  // fill value. Formats call it.
  Status Validate() const;

  nlohmann::json ToJson() const;
  // kInvalidArgument when `json` is not what ToJson writes.
  static Result<ArrayMetadata> FromJson(const nlohmann::json& json);
};

}  // namespace batchd::pipeline
