#include "pipeline/engine/chunk_region.h"

#include <algorithm>

namespace batchd::pipeline {

ChunkRegion::ChunkRegion(std::vector<int64_t> start, std::vector<int64_t> stop)
    : start_(std::move(start)), stop_(std::move(stop)) {
  size_ = 1;
  for (size_t d = 0; d < start_.size(); ++d) size_ *= stop_[d] - start_[d];
}

ChunkRegion ChunkRegion::All(const ArrayMetadata& array) {
  return ChunkRegion(std::vector<int64_t>(array.shape.size(), 0), array.GridShape());
}

Result<ChunkRegion> ChunkRegion::Parse(const nlohmann::json& region, const ArrayMetadata& array,
                                       const std::string& path) {
  if (region.is_null()) return All(array);
  const std::vector<int64_t> grid = array.GridShape();
  if (!region.is_array() || region.size() != grid.size()) {
    return Status::InvalidArgument(
        "region must be null or one [start, stop] pair of chunk "
        "indices per dimension (" +
            std::to_string(grid.size()) + " for this array), got " + region.dump(),
        path);
  }
  std::vector<int64_t> start(grid.size()), stop(grid.size());
  for (size_t d = 0; d < grid.size(); ++d) {
    const nlohmann::json& pair = region[d];
    const std::string at = path + "/" + std::to_string(d);
    if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number_integer() ||
        !pair[1].is_number_integer()) {
      return Status::InvalidArgument("region dimension " + std::to_string(d) +
                                         " must be [start, stop] integers, got " + pair.dump(),
                                     at);
    }
    start[d] = pair[0].get<int64_t>();
    stop[d] = pair[1].get<int64_t>();
    if (start[d] < 0 || start[d] >= stop[d] || stop[d] > grid[d]) {
      return Status::InvalidArgument(
          "region dimension " + std::to_string(d) + " is " + pair.dump() +
              "; it needs 0 <= start < stop <= " + std::to_string(grid[d]) +
              " (the number of chunks along it)",
          at);
    }
  }
  return ChunkRegion(std::move(start), std::move(stop));
}

ChunkRegion ChunkRegion::Tiled(std::vector<int64_t> tile) const {
  ChunkRegion tiled = *this;
  tiled.tile_ = std::move(tile);
  return tiled;
}

nlohmann::json ChunkRegion::ToJson() const {
  nlohmann::json json = {{"start", start_}, {"stop", stop_}};
  if (!tile_.empty()) json["tile"] = tile_;
  return json;
}

Result<ChunkRegion> ChunkRegion::FromJson(const nlohmann::json& json, const ArrayMetadata& array) {
  if (!json.is_object() || !json.contains("start") || !json.contains("stop")) {
    return Status::InvalidArgument("stored region must be {\"start\", \"stop\"}");
  }
  std::vector<int64_t> start, stop, tile;
  try {
    start = json.at("start").get<std::vector<int64_t>>();
    stop = json.at("stop").get<std::vector<int64_t>>();
    if (json.contains("tile")) tile = json.at("tile").get<std::vector<int64_t>>();
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("stored region: ") + e.what());
  }
  if (start.size() != stop.size()) return Status::InvalidArgument("stored region is ragged");
  if (!tile.empty() && (tile.size() != start.size() ||
                        std::any_of(tile.begin(), tile.end(), [](int64_t t) { return t < 1; }))) {
    return Status::InvalidArgument("stored region's tile " + nlohmann::json(tile).dump() +
                                   " must have one entry >= 1 per dimension");
  }
  if (start.empty()) return All(array);
  const std::vector<int64_t> grid = array.GridShape();
  if (start.size() != grid.size()) {
    return Status::InvalidArgument("stored region has " + std::to_string(start.size()) +
                                   " dimensions, the array " + std::to_string(grid.size()));
  }
  // Not Parse(): it refuses empty ranges from clients, but the region of an array with a
  // zero-length dimension is empty, and it is stored like any other.
  for (size_t d = 0; d < grid.size(); ++d) {
    if (start[d] < 0 || start[d] > stop[d] || stop[d] > grid[d]) {
      return Status::InvalidArgument("stored region dimension " + std::to_string(d) + " is [" +
                                     std::to_string(start[d]) + ", " + std::to_string(stop[d]) +
                                     "], outside the grid's " + std::to_string(grid[d]) +
                                     " chunks");
    }
  }
  return ChunkRegion(std::move(start), std::move(stop)).Tiled(std::move(tile));
}

void ChunkRegion::CoordsOf(int64_t i, std::span<int64_t> coords) const {
  const int r = rank();
  if (tile_.empty()) {
    for (int d = r - 1; d >= 0; --d) {
      const int64_t extent = stop_[d] - start_[d];
      coords[d] = start_[d] + i % extent;
      i /= extent;
    }
    return;
  }
  // Tiled: along each dimension in turn, the slab of whole tiles before i's tile. With the
  // tile's extents chosen along dimensions < d, a step along d covers `per_step` chunks (those
  // extents times the box's extents after d); every tile but the last along d is full, so the
  // tile index along d is i / (tile[d] * per_step).
  thread_local std::vector<int64_t> extent;  // of i's tile, clipped at the box
  extent.assign(static_cast<size_t>(r), 0);
  int64_t after = 1;  // product of the box's extents after d
  for (int d = 0; d < r; ++d) after *= stop_[d] - start_[d];
  int64_t before = 1;  // product of i's tile's extents before d
  for (int d = 0; d < r; ++d) {
    const int64_t box = stop_[d] - start_[d];
    after /= box;
    const int64_t per_step = before * after;
    const int64_t t = i / (tile_[d] * per_step);
    i -= t * tile_[d] * per_step;
    coords[d] = start_[d] + t * tile_[d];  // the tile's origin, for now
    extent[d] = std::min(tile_[d], box - t * tile_[d]);
    before *= extent[d];
  }
  // i is now the chunk's number inside its tile, in C order.
  for (int d = r - 1; d >= 0; --d) {
    coords[d] += i % extent[d];
    i /= extent[d];
  }
}

void ValidExtent(const ArrayMetadata& array, std::span<const int64_t> coords,
                 std::span<int64_t> extent) {
  for (size_t d = 0; d < coords.size(); ++d) {
    const int64_t origin = coords[d] * array.chunk_shape[d];
    extent[d] = std::clamp<int64_t>(array.shape[d] - origin, 0, array.chunk_shape[d]);
  }
}

}  // namespace batchd::pipeline
