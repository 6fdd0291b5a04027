// A session's share of an array: a box of the chunk grid, `[[start, stop], ...]` per dimension
// in chunk coordinates (stop exclusive), or the whole grid. Its chunks are numbered 0..size()-1
// in C order, or, for a tiled region (Tiled: transcode into a sharded sink), tile by tile: the
// tiles of the box (tile-shaped blocks from its start, clipped at its stop) in C order, and the
// chunks of each tile in C order, so a tile's chunks are visited together. That number is what
// the chunk cursor records, so it must never change for a stored execution state (it depends
// only on the box and the tile, both stored).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "pipeline/formats/array_metadata.h"

namespace batchd::pipeline {

class ChunkRegion {
 public:
  ChunkRegion() = default;  // no chunks

  // The whole chunk grid of `array`.
  static ChunkRegion All(const ArrayMetadata& array);

  // Parses the job's "region": null (every chunk) or one [start, stop] pair of integers per
  // dimension, 0 <= start < stop <= chunks along that dimension. kInvalidArgument with the
  // offending part's JSON Pointer under `path` (e.g. "/region/1/0") otherwise.
  static Result<ChunkRegion> Parse(const nlohmann::json& region, const ArrayMetadata& array,
                                   const std::string& path);

  // The same box numbered tile by tile; `tile` has rank() entries, each >= 1 (empty: C order).
  ChunkRegion Tiled(std::vector<int64_t> tile) const;
  const std::vector<int64_t>& tile() const { return tile_; }

  // Round trip through the execution state: {"start": [...], "stop": [...]} (and "tile" when
  // tiled). FromJson takes
  // back every region ToJson wrote, including the empty one of an array with a zero-length
  // dimension (which Parse refuses from clients).
  nlohmann::json ToJson() const;
  static Result<ChunkRegion> FromJson(const nlohmann::json& json, const ArrayMetadata& array);

  int rank() const { return static_cast<int>(start_.size()); }
  int64_t size() const { return size_; }
  const std::vector<int64_t>& start() const { return start_; }
  const std::vector<int64_t>& stop() const { return stop_; }

  // Grid coordinates of chunk number `i` (0 <= i < size()) into `coords` (rank() entries).
  void CoordsOf(int64_t i, std::span<int64_t> coords) const;

 private:
  ChunkRegion(std::vector<int64_t> start, std::vector<int64_t> stop);

  std::vector<int64_t> start_;
  std::vector<int64_t> stop_;
  std::vector<int64_t> tile_;  // empty: plain C order
  int64_t size_ = 0;
};

// Elements of the chunk at `coords` that hold data along each dimension: the chunk shape,
// except at the array's far edge, where the stored chunk is padded past the array's end.
void ValidExtent(const ArrayMetadata& array, std::span<const int64_t> coords,
                 std::span<int64_t> extent);

}  // namespace batchd::pipeline
