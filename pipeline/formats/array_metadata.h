// What the pipeline needs to know about an array, whatever format described it: its shape, the
// regular chunk grid, the element type, the fill value, the codec chain of the chunks and how
// chunk keys are spelled. Formats (array_format.h) produce it from .zarray, zarr.json or a raw
// source spec; it is stored in a session's execution state at dequeue (ToJson/FromJson), so a
// resumed session never re-reads metadata that could have changed underneath it.
// The exact formats are in docs/pipeline.md.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
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

// Parses a key Key() wrote for a chunk of a `rank`-dimensional grid back into its coordinates;
// nullopt for any other string (another prefix or separator, a sign, a leading "+", too many or
// too few numbers, a number over 2^63 - 1).
std::optional<std::vector<int64_t>> ParseChunkKey(const ChunkKeyEncoding& keys,
                                                  std::string_view key, int rank);

// A zarr v3 "sharding_indexed" array: every stored object (a shard, keyed by its coordinates
// in the grid of shards) holds chunks_per_shard inner chunks, whose encoded bytes it locates
// with an index of (offset, nbytes) little-endian uint64 pairs, one per inner chunk in C order
// ((2^64 - 1, 2^64 - 1): the inner chunk is missing, so it reads as the fill value), followed
// by its CRC-32C when index_crc32c. The index is the shard's first or last IndexBytes() bytes.
// ArrayMetadata::chunk_shape is then the inner chunk shape: the pipeline's chunk is the inner
// chunk, and `codec`, `filters` and `outer_codecs` are the inner chunks' codecs.
struct ShardLayout {
  std::vector<int64_t> chunks_per_shard;  // along each dimension, every entry >= 1
  bool index_at_start = false;            // index_location "start" (default "end")
  bool index_crc32c = false;              // index_codecs [bytes, crc32c] (else [bytes])

  int64_t InnerChunks() const;
  uint64_t IndexBytes() const {
    return static_cast<uint64_t>(InnerChunks()) * 16 + (index_crc32c ? 4 : 0);
  }
  friend bool operator==(const ShardLayout&, const ShardLayout&) = default;
};

// At most this many inner chunks per shard (an index of 16 MiB): a bound on what one shard's
// metadata can make the daemon allocate.
constexpr int64_t kMaxInnerChunksPerShard = int64_t{1} << 20;

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
  // Set for a sharded array (zarr v3 sharding_indexed); `keys` then names shards, by shard
  // coordinates, and an inner chunk at grid coordinates c lies in shard c / chunks_per_shard.
  std::optional<ShardLayout> shards;

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
  // hold in memory (at most 2 GiB decoded), fewer than 2^63 chunks in the grid, a valid fill
  // value, and for a sharded array a layout of the array's rank with at most
  // kMaxInnerChunksPerShard inner chunks per shard. Formats call it.
  Status Validate() const;

  nlohmann::json ToJson() const;
  // kInvalidArgument when `json` is not what ToJson writes.
  static Result<ArrayMetadata> FromJson(const nlohmann::json& json);
};

}  // namespace batchd::pipeline
